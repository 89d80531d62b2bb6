"""The fixed-effects matrix X: built by formulaic (or directly for plain sides), with R's
column names, aliased columns detected and dropped as R drops them, and rebuilt on new data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from formulaic import model_matrix
from formulaic.errors import FormulaicError

from ..errors import ColumnError, DataError, FormulaError, RankDeficiencyWarning
from ..spec.rsyntax import clean_message, simple_terms
from .frame import (
    FORMULAIC_CONTEXT,
    group_names,
    is_numeric_column,
    prepare_columns,
    required_columns,
)
from .naming import column_terms, r_column_name

__all__ = [
    "FixedPart",
    "fixed_part",
    "aliased_columns",
    "simple_matrix",
    "side_matrix",
    "new_matrices",
]


@dataclass
class FixedPart:
    """X after dropping aliased columns, with R's names and the formula term of each
    column; ``keep`` marks the kept columns of the full matrix, ``dropped`` names the
    others; ``model_spec`` is formulaic's (None when X was built without formulaic)."""

    X: np.ndarray
    names: list[str]
    terms: list[str]
    keep: np.ndarray
    dropped: list[str]
    model_spec: object = None


def aliased_columns(X: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Boolean mask of columns to keep: a column is dropped when it lies (to relative
    tolerance ``tol``) in the span of the columns before it, as R's dqrdc2 decides.

    Examples
    --------
    >>> import numpy as np
    >>> aliased_columns(np.array([[1.0, 1, 2], [1, 0, 2], [1, 1, 2]])).tolist()
    [True, True, False]
    """
    if X.shape[1] == 0:
        return np.zeros(0, dtype=bool)
    norms = np.linalg.norm(X, axis=0)
    keep = norms > 0
    Q = np.zeros((X.shape[0], 0))
    for j in range(X.shape[1]):
        if not keep[j]:
            continue
        v = X[:, j] - Q @ (Q.T @ X[:, j])
        v = v - Q @ (Q.T @ v)  # re-orthogonalise for stability
        r = np.linalg.norm(v)
        if r <= tol * norms[j]:
            keep[j] = False
        else:
            Q = np.column_stack([Q, v / r])
    return keep


def simple_matrix(rhs: str, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]] | None:
    """Model matrix and R column names of a side made of ``1``/``0`` and numeric columns.

    The same matrix formulaic builds, without its parser and materializer (milliseconds per
    call, more than a small fit takes); None when the side needs formulaic (factors,
    interactions, transforms).
    """
    simple = simple_terms(rhs)
    if simple is None:
        return None
    intercept, names = simple
    if not all(is_numeric_column(frame, v) for v in names):
        return None
    cols = ([np.ones(len(frame))] if intercept else []) + [
        frame[v].to_numpy(dtype=float) for v in names
    ]
    X = np.column_stack(cols) if cols else np.empty((len(frame), 0))
    return X, (["(Intercept)"] if intercept else []) + list(names)


def side_matrix(
    rhs: str, frame: pd.DataFrame, what: str
) -> tuple[np.ndarray, list[str], object | None]:
    """Model matrix, R column names and formulaic model spec of one formula side.

    The one builder of the fixed part and of every random-effect term: directly by
    :func:`simple_matrix` when the side allows it (the spec is then None, built on first use
    by :meth:`Design.fixed_model_spec` / :meth:`Design.term_model_spec`), else by formulaic.
    ``what`` names the side in the :class:`~bayesmixed.errors.FormulaError` raised when
    formulaic fails (``"fixed part 'x'"``).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"x": [1.0, 2, 3], "g": ["a", "b", "a"]})
    >>> X, names, spec = side_matrix("x", frame, "fixed part 'x'")
    >>> names, spec is None
    (['(Intercept)', 'x'], True)
    >>> side_matrix("g", frame, "fixed part 'g'")[1]
    ['(Intercept)', 'gb']
    """
    fast = simple_matrix(rhs, frame)
    if fast is not None:
        return fast[0], fast[1], None
    try:
        mm = model_matrix(rhs, frame, na_action="ignore", context=FORMULAIC_CONTEXT)
    except FormulaicError as exc:
        raise FormulaError(f"cannot build the {what}: {clean_message(exc)}") from None
    return np.asarray(mm, dtype=float), [r_column_name(c) for c in mm.columns], mm.model_spec


def fixed_part(rhs: str, frame: pd.DataFrame, stacklevel: int = 4) -> FixedPart:
    """Build X for the fixed part ``rhs`` on the model frame; warn about aliased columns.

    Examples
    --------
    >>> import pandas as pd
    >>> f = fixed_part("x", pd.DataFrame({"x": [1.0, 2, 3, 4]}))
    >>> f.names, f.X.shape, f.dropped
    (['(Intercept)', 'x'], (4, 2), [])
    """
    X, fnames, spec = side_matrix(rhs, frame, f"fixed part {rhs!r}")
    # a directly built X has one column per term; formulaic's spec knows each column's term
    fterms = list(fnames) if spec is None else column_terms(spec)
    for j, name in enumerate(fnames):
        if not np.all(np.isfinite(X[:, j])):
            raise DataError(
                f"fixed-effect column {name!r} has infinite or undefined values "
                f"({int((~np.isfinite(X[:, j])).sum())} rows); check the data or the transform"
            )
    keep = aliased_columns(X)
    dropped = [n for n, k in zip(fnames, keep, strict=True) if not k]
    if dropped:
        warnings.warn(
            "fixed-effect model matrix is rank deficient so dropping "
            f"{len(dropped)} column{'s' if len(dropped) > 1 else ''}: {', '.join(dropped)} "
            "(a linear combination of the other columns, up to a relative 1e-7); remove or "
            "recode the predictor, or centre and rescale predictors that are nearly collinear",
            RankDeficiencyWarning,
            stacklevel=stacklevel,
        )
    return FixedPart(
        X=np.ascontiguousarray(X[:, keep]),
        names=[n for n, k in zip(fnames, keep, strict=True) if k],
        terms=[t for t, k in zip(fterms, keep, strict=True) if k],
        keep=keep,
        dropped=dropped,
        model_spec=spec,
    )


def new_matrices(
    design, newdata: pd.DataFrame, re: bool = True
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Fixed matrix and per-term (codes, columns) of ``design`` for new data.

    Levels not seen in the fitting data get code -1 (population-level prediction).
    """
    if not isinstance(newdata, pd.DataFrame):
        raise DataError(f"newdata must be a pandas DataFrame, got {type(newdata).__name__}")
    frame = prepare_columns(newdata, design.frame)
    for col in sorted(required_columns(design.spec.fixed, "the fixed part")):
        if col not in newdata.columns:
            raise ColumnError(
                f"newdata lacks column {col!r} used by the fixed part; add it to newdata",
                col,
            )
    try:
        Xn = np.asarray(
            design.fixed_model_spec().get_model_matrix(
                frame, na_action="raise", context=FORMULAIC_CONTEXT
            ),
            float,
        )
    except (FormulaicError, ValueError) as exc:
        raise DataError(
            f"cannot build the fixed effects for newdata: {clean_message(exc)}"
        ) from None
    except KeyError as exc:
        raise ColumnError(
            f"newdata lacks column {exc.args[0]!r} used by the fixed part", str(exc.args[0])
        ) from None
    Xn = Xn[:, design.fixed_keep]
    blocks = []
    if re:
        for t in design.terms:
            for col in t.factors:
                if col not in newdata.columns:
                    raise ColumnError(
                        f"newdata lacks grouping column {col!r} of term ({t.expr} | {t.group});"
                        " add it or predict with re=False",
                        col,
                    )
            spec_t = design.term_model_spec(t)
            Xt = np.asarray(
                spec_t.get_model_matrix(frame, na_action="raise", context=FORMULAIC_CONTEXT),
                float,
            )
            names = group_names(newdata, t.factors)
            lookup = {lv: i for i, lv in enumerate(t.levels)}
            codes = np.array([lookup.get(s, -1) for s in names], dtype=np.int64)
            blocks.append((codes, Xt))
    return Xn, blocks
