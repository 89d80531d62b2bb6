"""The residual structure's index into the data: subjects, visit positions, by-levels.

From the data and a ``residual=`` object (:mod:`bayesmixed.spec.residual`) this builds a
:class:`ResidualDesign`: per row the subject code, the visit position (or numeric time) and
the by-level; the covariance structure of each by-level
(:mod:`bayesmixed.covariance.residual`); and the subjects grouped into :class:`Batch` es of
one visit pattern, so that the engine factors one matrix per pattern (or a stack of them)
instead of one per subject. The checks name the column, subject or visit at fault.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..covariance.residual import STRUCTURES, ResidualStructure
from ..errors import ColumnError, DataError, IdentifiabilityError, MissingDataWarning
from ..spec import ModelSpec
from ..spec.residual import ResidualSpec
from .build import Design, build_design
from .frame import factorize, is_numeric_column, required_columns
from .naming import level_name

__all__ = ["Batch", "ResidualDesign", "build_residual_design", "check_nesting"]


@dataclass
class Batch:
    """Subjects of one by-level sharing a visit pattern (numeric times: one size).

    ``rows`` (B, m): each subject's rows in visit order; ``pos``: the visit positions (m,)
    shared by the batch, or the numeric times (B, m); ``subjects`` (B,): subject codes.
    """

    by: int
    rows: np.ndarray
    pos: np.ndarray
    subjects: np.ndarray

    @property
    def shared(self) -> bool:
        """One visit pattern for every subject of the batch (one matrix to factor)."""
        return self.pos.ndim == 1


@dataclass
class ResidualDesign:
    """Where every row sits in the residual structure (see :func:`build_residual_design`)."""

    spec: ResidualSpec
    structures: list[ResidualStructure]
    subject_codes: np.ndarray
    subjects: list[str]
    time_levels: list[str]
    time_pos: np.ndarray | None
    times: np.ndarray | None
    by_codes: np.ndarray
    by_levels: list[str]
    batches: list[Batch]
    data: pd.DataFrame = field(repr=False)

    @property
    def n_levels(self) -> int:
        """Number of by-levels (1 without ``by``)."""
        return len(self.by_levels)

    @property
    def group_names(self) -> list[str]:
        """``Residual`` or ``Residual:<by>=<level>`` per by-level (tidy's ``group``)."""
        if self.spec.by is None:
            return ["Residual"]
        return [f"Residual:{self.spec.by}={lv}" for lv in self.by_levels]

    def subject_rows(self, subject) -> np.ndarray:
        """Rows of one subject in visit order."""
        name = level_name(subject) if not isinstance(subject, str) else subject
        if name not in self.subjects:
            close = difflib.get_close_matches(name, self.subjects, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise DataError(f"subject {name!r} is not in column {self.spec.group!r}.{hint}")
        code = self.subjects.index(name)
        rows = np.flatnonzero(self.subject_codes == code)
        key = self.times[rows] if self.times is not None else self.time_pos[rows]
        return rows[np.argsort(key, kind="stable")]

    def row_labels(self, rows: np.ndarray) -> list[str]:
        """Visit labels of rows (numeric times as text)."""
        if self.times is not None:
            return [level_name(t) for t in self.times[rows]]
        return [self.time_levels[i] for i in self.time_pos[rows]]


def _column(data: pd.DataFrame, col: str, role: str, structure: ResidualSpec) -> None:
    if col not in data.columns:
        close = difflib.get_close_matches(col, [str(c) for c in data.columns], n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ColumnError(
            f"column {col!r} given as {role} of residual={structure!r} is not in the data.{hint}",
            col,
        )


def _clean(spec: ModelSpec, data: pd.DataFrame, structure: ResidualSpec, na_action: str):
    """The rows complete in every column the model and the structure use."""
    for col, role in zip(structure.columns, ("group", "time", "by"), strict=False):
        _column(data, col, role, structure)
    needed = set(structure.columns)
    needed |= required_columns(spec.response, "the response")
    needed |= required_columns(spec.fixed, "the fixed part")
    for t in spec.random:
        needed |= required_columns(t.expr, f"random term {t.source}") | set(t.factors)
    cols = [c for c in data.columns if c in needed]
    bad = data[cols].isna().any(axis=1).to_numpy()
    if bad.any() and na_action == "raise":
        per_col = data[cols].isna().sum()
        detail = ", ".join(f"{c}: {int(k)}" for c, k in per_col.items() if k)
        raise DataError(
            f"{int(bad.sum())} rows have missing values ({detail}); drop them first or use "
            "na_action='drop'"
        )
    if bad.any():
        warnings.warn(
            f"dropped {int(bad.sum())} of {len(data)} rows with missing values",
            MissingDataWarning,
            stacklevel=5,
        )
        data = data.loc[~bad]
    return data.reset_index(drop=True)


def _time_index(data: pd.DataFrame, structure: ResidualSpec):
    """(visit positions, level names, numeric times or None)."""
    col = structure.time
    numeric = is_numeric_column(data, col)
    if structure.name == "CAR1" and not numeric:
        raise ColumnError(
            f"CAR1 needs a numeric time, but column {col!r} has dtype {data[col].dtype}; "
            "convert it with pandas.to_numeric, or use AR1 for visits in order",
            col,
        )
    if structure.numeric_time and numeric:
        t = data[col].to_numpy(dtype=float)
        if structure.name == "AR1" and not np.allclose(t, np.rint(t), rtol=0, atol=1e-8):
            bad = t[np.abs(t - np.rint(t)) > 1e-8][0]
            raise DataError(
                f"AR1 on the numeric time {col!r} needs whole-number times (steps), got "
                f"{bad!r}; use CAR1 for continuous times or make {col!r} categorical"
            )
        uniq, pos = np.unique(t, return_inverse=True)
        return pos.astype(np.int64), [level_name(u) for u in uniq], t
    pos, levels = factorize(data[col])
    return pos, levels, None


def _check_counts(rd: ResidualDesign, design: Design, structure: ResidualSpec) -> None:
    T = len(rd.time_levels)
    if T < 2:
        raise DataError(
            f"time column {structure.time!r} has one level ({rd.time_levels[0]!r}): a "
            "residual structure needs at least two visits per subject"
        )
    # one row per subject and visit
    key = rd.subject_codes * T + rd.time_pos
    uniq, counts = np.unique(key, return_counts=True)
    if (counts > 1).any():
        k = int(uniq[counts > 1][0])
        raise DataError(
            f"subject {rd.subjects[k // T]!r} (column {structure.group!r}) has visit "
            f"{rd.time_levels[k % T]!r} (column {structure.time!r}) more than once: give "
            "each subject one row per visit, or use a random-effects model instead"
        )
    if structure.by is not None:
        per = np.unique(np.stack([rd.subject_codes, rd.by_codes]), axis=1)
        if per.shape[1] != len(rd.subjects):
            s = int(pd.Series(per[0]).value_counts().index[0])
            raise DataError(
                f"subject {rd.subjects[s]!r} has several levels of by={structure.by!r}: the "
                "by factor must be constant within each subject"
            )
    cov = rd.structures[0]
    for lv in range(rd.n_levels):
        rows = rd.by_codes == lv
        if cov.heterogeneous or cov.name in ("UN", "TOEP", "TOEPH", "AD"):
            seen = np.bincount(rd.time_pos[rows], minlength=T)
            if (seen == 0).any():
                missing = rd.time_levels[int(np.flatnonzero(seen == 0)[0])]
                where = f" for {structure.by}={rd.by_levels[lv]}" if structure.by else ""
                raise IdentifiabilityError(
                    f"{cov.name} has a parameter for visit {missing!r}, which no subject "
                    f"has{where}; drop the visit or use a structure with fewer parameters"
                )
        if cov.name == "UN":
            M = np.zeros((len(rd.subjects), T), bool)
            M[rd.subject_codes[rows], rd.time_pos[rows]] = True
            together = M.T.astype(int) @ M.astype(int)
            a, b = np.nonzero(np.triu(together == 0, 1))
            if len(a):
                raise IdentifiabilityError(
                    f"UN has a correlation for visits {rd.time_levels[a[0]]!r} and "
                    f"{rd.time_levels[b[0]]!r}, but no subject has both; use a structure "
                    "with fewer parameters (TOEPH, AD, CSH)"
                )
    npar = rd.n_levels * (cov.n_params + 1) + design.ntheta
    if npar >= design.n - design.p:
        raise IdentifiabilityError(
            f"{cov.name} over {T} visits{' per by-level' if structure.by else ''} has {npar} "
            f"covariance parameters, more than the {design.n} observations minus {design.p} "
            "fixed effects support; use a structure with fewer parameters"
        )


def _batches(rd: ResidualDesign) -> list[Batch]:
    numeric = rd.times is not None
    order = np.lexsort((rd.time_pos, rd.subject_codes))
    codes = rd.subject_codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    groups: dict[tuple, list[np.ndarray]] = {}
    for s, e in zip(starts, ends, strict=True):
        rows = order[s:e]
        pat = (e - s,) if numeric else tuple(rd.time_pos[rows].tolist())
        groups.setdefault((int(rd.by_codes[rows[0]]), pat), []).append(rows)
    out = []
    for (by, pat), rows_list in sorted(groups.items(), key=lambda kv: kv[0]):
        rows = np.stack(rows_list)
        pos = rd.times[rows] if numeric else np.asarray(pat, dtype=np.int64)
        out.append(Batch(by, rows, pos, rd.subject_codes[rows[:, 0]]))
    return out


def build_residual_design(
    spec: ModelSpec, data: pd.DataFrame, structure: ResidualSpec, na_action: str = "drop"
) -> tuple[Design, ResidualDesign]:
    """The model's :class:`~bayesmixed.design.Design` and its :class:`ResidualDesign`.

    Rows incomplete in any column of the model or the structure are dropped first (with a
    :class:`~bayesmixed.errors.MissingDataWarning`), so both index the same rows.

    Examples
    --------
    >>> import pandas as pd, bayesmixed as bm
    >>> from bayesmixed.spec import parse_formula
    >>> d = pd.DataFrame({"id": list("aabbcc"), "visit": ["T1", "T0"] * 3,
    ...                   "y": [1.0, 2.0, 3.0, 5.0, 4.0, 4.0]})
    >>> design, rd = build_residual_design(parse_formula("y ~ 1"), d,
    ...                                    bm.residual.CS(time="visit", group="id"))
    >>> rd.time_levels, rd.subjects, [b.rows.tolist() for b in rd.batches]
    (['T0', 'T1'], ['a', 'b', 'c'], [[[1, 0], [3, 2], [5, 4]]])
    """
    if not isinstance(data, pd.DataFrame) or na_action not in ("drop", "raise"):
        build_design(spec, data, na_action=na_action)  # raises the design's own error
    clean = _clean(spec, data, structure, na_action)
    design = build_design(spec, clean, na_action=na_action)
    subj, subjects = factorize(clean[structure.group])
    pos, levels, times = _time_index(clean, structure)
    if structure.by is not None:
        by_codes, by_levels = factorize(clean[structure.by])
    else:
        by_codes, by_levels = np.zeros(len(clean), np.int64), [""]
    cls = STRUCTURES[structure.name]
    grid = np.unique(times) if times is not None else None
    rd = ResidualDesign(
        spec=structure,
        structures=[cls(levels, grid) for _ in by_levels],
        subject_codes=subj,
        subjects=subjects,
        time_levels=levels,
        time_pos=pos,
        times=times,
        by_codes=by_codes,
        by_levels=by_levels,
        batches=[],
        data=clean,
    )
    _check_counts(rd, design, structure)
    check_nesting(design, rd)
    rd.batches = _batches(rd)
    return design, rd


def check_nesting(design: Design, rd: ResidualDesign) -> None:
    """Every random-effect grouping factor must be the subject or nested in it (each of its
    levels within one subject), so that the marginal covariance is block diagonal."""
    for t in design.terms:
        pairs = np.unique(np.stack([t.codes, rd.subject_codes]), axis=1)
        if pairs.shape[1] != t.m:
            raise IdentifiabilityError(
                f"random term ({t.expr} | {t.group}) is not nested in the residual group "
                f"{rd.spec.group!r}: a level of {t.group!r} spans several subjects. With "
                "residual=, random effects must be grouped by the subject or by a factor "
                "nested in it"
            )
