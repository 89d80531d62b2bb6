"""ModelSpec + DataFrame → :class:`Design`: the matrices both engines work from.

The design holds

* the model frame (rows kept after NA handling) and the response ``y``;
* the dense fixed-effects matrix ``X`` with R's column names (aliased columns dropped);
* one :class:`ReTerm` per random-effects term (group codes, level names, raw columns),
  ordered as lme4 orders them (decreasing number of levels, stable);
* the sparse ``Z`` (``scipy.sparse``, never dense) and the θ → Λ template;
* cached cross-products ``X'X, X'y, y'y, Z'X, Z'y, Z'Z`` shared by the REML fitter and the
  marginalized PyMC likelihood.
"""

from __future__ import annotations

import ast
import difflib
import re
import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp
from formulaic import Formula, model_matrix
from formulaic.errors import FormulaicError
from formulaic.transforms import TRANSFORMS

from ..errors import (
    ColumnError,
    DataError,
    FormulaError,
    IdentifiabilityError,
    MissingDataWarning,
    RankDeficiencyWarning,
)
from ..spec.formula import ModelSpec, RandomTerm, simple_terms

__all__ = ["ReTerm", "Design", "build_design", "r_column_name"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m|⧛|⧚")

# R's factor() / as.factor() as formulaic's categorical encoder (column names stay R's)
_CONTEXT = {"factor": TRANSFORMS["C"], "as_factor": TRANSFORMS["C"]}


# --------------------------------------------------------------------------- naming helpers
def _r_part(part: str) -> str:
    part = part.strip()
    if part == "Intercept":
        return "(Intercept)"
    m = re.match(r"^(.*)\[T\.(.*)\]$", part, flags=re.S)
    if m is None:
        m = re.match(r"^(.*)\[(.*)\]$", part, flags=re.S)
    if m is not None:
        level = m.group(2)
        # logical levels print as R's TRUE / FALSE
        part = m.group(1) + {"True": "TRUE", "False": "FALSE"}.get(level, level)
    part = re.sub(r"\bnp\.", "", part)
    part = part.replace("as_factor(", "as.factor(")
    # R deparses a power without spaces: I(x^2)
    return re.sub(r"\s*\*\*\s*", "^", part)


def _split_colon(name: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(name):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == ":" and depth == 0:
            parts.append(name[start:i])
            start = i + 1
    parts.append(name[start:])
    return parts


def r_column_name(name: str) -> str:
    """Translate a formulaic column name into the name R gives the same column.

    Examples
    --------
    >>> r_column_name("Intercept"), r_column_name("x:g[T.b]"), r_column_name("np.log(w)")
    ('(Intercept)', 'x:gb', 'log(w)')
    """
    return ":".join(_r_part(p) for p in _split_colon(name))


def _r_sort_key(s: str) -> tuple[str, str]:
    # R (ICU collation in the usual UTF-8 locales) orders case-insensitively, lower case first.
    return (s.casefold(), s.swapcase())


def _level_name(v: object) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.15g}"
    return str(v)


def _factorize(col: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes and level names of one grouping column, levels in R's factor() order."""
    # Work on integer codes throughout: comparing or looking up every row per level is
    # O(rows × levels) in Python, which dominated design time for thousands of levels.
    if isinstance(col.dtype, pd.CategoricalDtype):
        raw = col.cat.codes.to_numpy().astype(np.int64)
        used = np.bincount(raw[raw >= 0], minlength=len(col.cat.categories)) > 0
        remap = np.cumsum(used) - 1
        codes = np.where(raw >= 0, remap[raw], -1)
        return codes, [_level_name(c) for c in col.cat.categories[used]]
    values = col.to_numpy()
    if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        uniq, codes = np.unique(values, return_inverse=True)
        return codes.astype(np.int64), [_level_name(u) for u in uniq]
    return _text_codes(col)


def _text_codes(col: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes and level names (``col.astype(str)`` values, R's order) of a text column."""
    strs = col.astype(str)
    if len(strs) <= 50_000:
        # a dict beats pandas' factorize (and its fixed overhead) on small columns
        lookup: dict[str, int] = {}
        first_seen = np.fromiter(
            (lookup.setdefault(v, len(lookup)) for v in strs.tolist()),
            dtype=np.int64,
            count=len(strs),
        )
        uniq = list(lookup)
    else:
        first_seen, uniq = pd.factorize(strs)
        uniq = [str(u) for u in uniq]
    order = sorted(range(len(uniq)), key=lambda i: _r_sort_key(uniq[i]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[first_seen], [uniq[i] for i in order]


# --------------------------------------------------------------------------- random-effects term
@dataclass
class ReTerm:
    """One random-effects term (MixedModels.jl's ``ReMat``).

    Attributes
    ----------
    group : str
        Grouping factor as written / as lme4 names it (``"Subject"``, ``"cask:batch"``).
    name : str
        Unique name among the terms (lme4's VarCorr name): ``"Subject.1"`` for a second term
        on ``Subject``, as broom.mixed reports it.
    factors : tuple of str
        Columns forming the grouping factor.
    expr : str
        Left side of the bar (formulaic syntax).
    cnames : list of str
        Column names of the term in R's spelling (``"(Intercept)"``, ``"Days"``).
    levels : list of str
        Level names of the grouping factor (observed levels only).
    codes : ndarray of int, shape (n,)
        Level index of every observation.
    X : ndarray, shape (n, k)
        The term's raw model-matrix columns.
    """

    group: str
    name: str
    factors: tuple[str, ...]
    expr: str
    cnames: list[str]
    levels: list[str]
    codes: np.ndarray
    X: np.ndarray
    source: str = ""
    model_spec: object = field(default=None, repr=False)

    @property
    def k(self) -> int:
        """Number of random effects per level."""
        return self.X.shape[1]

    @property
    def m(self) -> int:
        """Number of levels."""
        return len(self.levels)

    @property
    def q(self) -> int:
        """Number of random effects in the term (levels × columns)."""
        return self.k * self.m

    @property
    def ntheta(self) -> int:
        """Number of covariance parameters (lower triangle of the k×k relative factor)."""
        return self.k * (self.k + 1) // 2

    @cached_property
    def tril(self) -> tuple[np.ndarray, np.ndarray]:
        """Row/column indices of θ within the k×k factor, in lme4's column-major order."""
        rows, cols = [], []
        for j in range(self.k):
            for i in range(j, self.k):
                rows.append(i)
                cols.append(j)
        return np.array(rows), np.array(cols)

    @property
    def theta0(self) -> np.ndarray:
        """lme4's starting value: identity factor."""
        r, c = self.tril
        return (r == c).astype(float)

    @property
    def lower(self) -> np.ndarray:
        """Lower bounds: 0 on the diagonal, unbounded off it."""
        r, c = self.tril
        return np.where(r == c, 0.0, -np.inf)

    def factor(self, theta: np.ndarray) -> np.ndarray:
        """k×k lower-triangular relative covariance factor T for this term's θ."""
        T = np.zeros((self.k, self.k))
        r, c = self.tril
        T[r, c] = theta
        return T

    @cached_property
    def Z(self) -> sp.csc_matrix:
        """Sparse n × (m·k) indicator-times-columns matrix, level-major columns (as lme4)."""
        n, k = self.X.shape
        rows = np.repeat(np.arange(n), k)
        cols = (self.codes[:, None] * k + np.arange(k)[None, :]).ravel()
        return sp.csc_matrix((self.X.ravel(), (rows, cols)), shape=(n, self.q))

    @cached_property
    def counts(self) -> np.ndarray:
        """Observations per level."""
        return np.bincount(self.codes, minlength=self.m)

    @cached_property
    def ZtZ_blocks(self) -> np.ndarray:
        """Per-level k×k cross-products of the raw columns, shape (m, k, k)."""
        k = self.k
        out = np.empty((self.m, k, k))
        for a in range(k):
            for b in range(a, k):
                v = np.bincount(self.codes, weights=self.X[:, a] * self.X[:, b], minlength=self.m)
                out[:, a, b] = v
                out[:, b, a] = v
        return out

    def level_sums(self, v: np.ndarray) -> np.ndarray:
        """Z' v for a vector or the columns of a matrix, shape (m, k) or (m, k, ncol)."""
        v = np.asarray(v, dtype=float)
        if v.ndim == 1:
            out = np.empty((self.m, self.k))
            for a in range(self.k):
                out[:, a] = np.bincount(self.codes, weights=self.X[:, a] * v, minlength=self.m)
            return out
        out = np.empty((self.m, self.k, v.shape[1]))
        for a in range(self.k):
            w = self.X[:, a][:, None] * v
            for c in range(v.shape[1]):
                out[:, a, c] = np.bincount(self.codes, weights=w[:, c], minlength=self.m)
        return out


# --------------------------------------------------------------------------- the design
@dataclass
class Design:
    """Everything the engines need, built once from a ModelSpec and a DataFrame.

    Use :func:`build_design` to construct one.
    """

    spec: ModelSpec
    frame: pd.DataFrame
    y: np.ndarray
    X: np.ndarray
    xnames: list[str]
    terms: list[ReTerm]
    dropped: list[str] = field(default_factory=list)
    nrows_dropped: int = 0
    fixed_spec: object = field(default=None, repr=False)
    fixed_keep: np.ndarray | None = field(default=None, repr=False)
    fixed_term_of_column: list[str] = field(default_factory=list)
    response_name: str = ""

    # ----------------------------------------------------------------- sizes
    @property
    def n(self) -> int:
        """Number of observations used."""
        return self.y.shape[0]

    @property
    def p(self) -> int:
        """Number of fixed-effects columns (after dropping aliased ones)."""
        return self.X.shape[1]

    @property
    def q(self) -> int:
        """Total number of random effects."""
        return sum(t.q for t in self.terms)

    @property
    def has_intercept(self) -> bool:
        """Whether the fixed part has an intercept column."""
        return "(Intercept)" in self.xnames

    # ----------------------------------------------------------------- θ layout
    @cached_property
    def theta_slices(self) -> list[slice]:
        """Slice of the full θ vector belonging to each term."""
        out, start = [], 0
        for t in self.terms:
            out.append(slice(start, start + t.ntheta))
            start += t.ntheta
        return out

    @property
    def ntheta(self) -> int:
        """Length of θ."""
        return sum(t.ntheta for t in self.terms)

    @property
    def theta0(self) -> np.ndarray:
        """Starting θ (identity relative factors)."""
        return np.concatenate([t.theta0 for t in self.terms]) if self.terms else np.zeros(0)

    @property
    def lower(self) -> np.ndarray:
        """Lower bounds of θ."""
        return np.concatenate([t.lower for t in self.terms]) if self.terms else np.zeros(0)

    @cached_property
    def theta_names(self) -> list[str]:
        """lme4's names for θ, e.g. ``Subject.(Intercept)``, ``Subject.Days.(Intercept)``."""
        names = []
        for t in self.terms:
            r, c = t.tril
            for i, j in zip(r, c, strict=True):
                if i == j:
                    names.append(f"{t.group}.{t.cnames[i]}")
                else:
                    names.append(f"{t.group}.{t.cnames[i]}.{t.cnames[j]}")
        return names

    @cached_property
    def term_offsets(self) -> np.ndarray:
        """Start of each term's block of columns in Z (and one past the end)."""
        return np.concatenate([[0], np.cumsum([t.q for t in self.terms])]).astype(int)

    def factors(self, theta: np.ndarray) -> list[np.ndarray]:
        """Per-term k×k relative covariance factors T_i(θ)."""
        return [t.factor(theta[s]) for t, s in zip(self.terms, self.theta_slices, strict=True)]

    def Lambda(self, theta: np.ndarray) -> sp.csc_matrix:
        """Sparse block-diagonal relative covariance factor Λθ (q × q)."""
        blocks = [
            sp.kron(sp.identity(t.m, format="csc"), sp.csc_matrix(T), format="csc")
            for t, T in zip(self.terms, self.factors(theta), strict=True)
        ]
        if not blocks:
            return sp.csc_matrix((0, 0))
        return sp.block_diag(blocks, format="csc")

    # ----------------------------------------------------------------- matrices
    @cached_property
    def Z(self) -> sp.csc_matrix:
        """Sparse n × q random-effects model matrix (terms in ``self.terms`` order)."""
        if not self.terms:
            return sp.csc_matrix((self.n, 0))
        return sp.hstack([t.Z for t in self.terms], format="csc")

    @cached_property
    def XtX(self) -> np.ndarray:
        """X'X."""
        return self.X.T @ self.X

    @cached_property
    def Xty(self) -> np.ndarray:
        """X'y."""
        return self.X.T @ self.y

    @cached_property
    def yty(self) -> float:
        """y'y."""
        return float(self.y @ self.y)

    @cached_property
    def ZtX(self) -> np.ndarray:
        """Z'X (dense, q × p)."""
        return np.asarray(self.Z.T @ self.X)

    @cached_property
    def Zty(self) -> np.ndarray:
        """Z'y (dense, length q)."""
        return np.asarray(self.Z.T @ self.y).ravel()

    @cached_property
    def ZtZ(self) -> sp.csc_matrix:
        """Z'Z (sparse, q × q)."""
        return (self.Z.T @ self.Z).tocsc()

    # ----------------------------------------------------------------- new data
    def fixed_model_spec(self):
        """formulaic ModelSpec of the fixed part (built on first use for simple formulas)."""
        if self.fixed_spec is None:
            self.fixed_spec = model_matrix(
                self.spec.fixed, self.frame, na_action="ignore", context=_CONTEXT
            ).model_spec
        return self.fixed_spec

    def term_model_spec(self, t: ReTerm):
        """formulaic ModelSpec of a random term's columns (built on first use if simple)."""
        if t.model_spec is None:
            t.model_spec = model_matrix(
                t.expr, self.frame, na_action="ignore", context=_CONTEXT
            ).model_spec
        return t.model_spec

    def new_matrices(
        self, newdata: pd.DataFrame, re: bool = True
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Fixed matrix and per-term (codes, columns) for new data.

        Levels not seen in the fitting data get code -1 (population-level prediction).
        """
        if not isinstance(newdata, pd.DataFrame):
            raise DataError(f"newdata must be a pandas DataFrame, got {type(newdata).__name__}")
        frame = _prepare_columns(newdata, self.frame)
        for col in sorted(_required(self.spec.fixed, "the fixed part", self.spec)):
            if col not in newdata.columns:
                raise ColumnError(
                    f"newdata lacks column {col!r} used by the fixed part; add it to newdata",
                    col,
                )
        try:
            Xn = np.asarray(
                self.fixed_model_spec().get_model_matrix(
                    frame, na_action="raise", context=_CONTEXT
                ),
                float,
            )
        except (FormulaicError, ValueError) as exc:
            raise DataError(f"cannot build the fixed effects for newdata: {_clean(exc)}") from None
        except KeyError as exc:
            raise ColumnError(
                f"newdata lacks column {exc.args[0]!r} used by the fixed part", str(exc.args[0])
            ) from None
        Xn = Xn[:, self.fixed_keep]
        blocks = []
        if re:
            for t in self.terms:
                for col in t.factors:
                    if col not in newdata.columns:
                        raise ColumnError(
                            f"newdata lacks grouping column {col!r} of term ({t.expr} | {t.group});"
                            " add it or predict with re=False",
                            col,
                        )
                spec_t = self.term_model_spec(t)
                Xt = np.asarray(
                    spec_t.get_model_matrix(frame, na_action="raise", context=_CONTEXT), float
                )
                names = _group_names(newdata, t.factors)
                lookup = {lv: i for i, lv in enumerate(t.levels)}
                codes = np.array([lookup.get(s, -1) for s in names], dtype=np.int64)
                blocks.append((codes, Xt))
        return Xn, blocks


def _clean(message: object) -> str:
    return _ANSI.sub("", str(message)).strip()


def _group_names(frame: pd.DataFrame, factors: tuple[str, ...]) -> list[str]:
    cols = [frame[c].map(_level_name).astype(str).to_numpy() for c in factors]
    if len(cols) == 1:
        return cols[0].tolist()
    return [":".join(vals) for vals in zip(*cols, strict=True)]


def _prepare_columns(
    data: pd.DataFrame, reference: pd.DataFrame | None = None, codes_out: dict | None = None
) -> pd.DataFrame:
    """Give text and logical columns R's factor levels (sorted as R sorts them).

    ``codes_out``, if given, receives (codes, levels) of each text column — the grouping
    factors' codes, so that building the design does not factorize them a second time.
    """
    out = data.copy()
    for c in out.columns:
        col = out[c]
        if reference is not None and c in reference.columns:
            ref = reference[c]
            if isinstance(ref.dtype, pd.CategoricalDtype):
                vals = (
                    col.map(_level_name) if not isinstance(col.dtype, pd.CategoricalDtype) else col
                )
                out[c] = pd.Categorical(
                    vals.astype(object)
                    if not isinstance(vals.dtype, pd.CategoricalDtype)
                    else vals,
                    categories=ref.cat.categories,
                    ordered=ref.cat.ordered,
                )
            continue
        if isinstance(col.dtype, pd.CategoricalDtype):
            continue
        if pd.api.types.is_bool_dtype(col.dtype):
            out[c] = pd.Categorical(
                np.where(col.to_numpy(), "TRUE", "FALSE"), categories=["FALSE", "TRUE"]
            )
        elif not pd.api.types.is_numeric_dtype(col.dtype):
            codes, levels = _text_codes(col)
            # an explicit dtype skips from_codes' category inference, the costly part
            dtype = pd.CategoricalDtype(pd.Index(levels))
            out[c] = pd.Categorical.from_codes(codes, dtype=dtype)
            if codes_out is not None:
                codes_out[c] = (codes, levels)
    return out


_NOT_COLUMNS = {"np", "numpy", "math", "scipy", "pd", "True", "False", "None"}


def _names_in(expr: str) -> set[str]:
    """Data names an expression reads (function names and modules excluded)."""
    expr = expr.strip()
    if expr.startswith("`") and expr.endswith("`"):
        return {expr[1:-1]}
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return {expr}
    funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {
        n.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and id(n) not in funcs and n.id not in _NOT_COLUMNS
    }


def _required(formula_rhs: str, what: str, spec: ModelSpec) -> set[str]:
    """Columns a formula side needs. formulaic's ``required_variables`` misses the arguments
    of stateful transforms such as ``scale(x)``, so the factor expressions are read here."""
    simple = simple_terms(formula_rhs)
    if simple is not None:
        return set(simple[1])
    try:
        f = Formula(formula_rhs)
    except FormulaicError as exc:
        raise FormulaError(f"cannot parse {what} {formula_rhs!r}: {_clean(exc)}") from None
    out = set(f.required_variables) - set(_CONTEXT)
    for term in f:
        for factor in term.factors:
            if str(factor) not in ("1", "0"):
                out |= _names_in(str(factor.expr))
    return out


def _check_columns(data: pd.DataFrame, needed: dict[str, str]) -> None:
    for col, where in needed.items():
        if col not in data.columns:
            close = difflib.get_close_matches(col, [str(c) for c in data.columns], n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ColumnError(
                f"column {col!r} used in {where} is not in the data.{hint} "
                f"Available columns: {', '.join(map(str, data.columns[:20]))}"
                + (" ..." if len(data.columns) > 20 else ""),
                col,
            )


def _aliased(X: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Boolean mask of columns to keep: a column is dropped when it lies (to relative
    tolerance ``tol``) in the span of the columns before it, as R's dqrdc2 decides."""
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


def _numeric_column(frame: pd.DataFrame, name: str) -> bool:
    if name not in frame.columns:
        return False
    dtype = frame[name].dtype  # one lookup: DataFrame indexing costs ~0.1 ms in pandas 3
    return (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not isinstance(dtype, pd.CategoricalDtype)
    )


def _simple_matrix(rhs: str, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]] | None:
    """Model matrix and R column names of a side made of ``1``/``0`` and numeric columns.

    The same matrix formulaic builds, without its parser and materializer (milliseconds per
    call, more than a small fit takes); None when the side needs formulaic (factors,
    interactions, transforms).
    """
    simple = simple_terms(rhs)
    if simple is None:
        return None
    intercept, names = simple
    if not all(_numeric_column(frame, v) for v in names):
        return None
    cols = ([np.ones(len(frame))] if intercept else []) + [
        frame[v].to_numpy(dtype=float) for v in names
    ]
    X = np.column_stack(cols) if cols else np.empty((len(frame), 0))
    return X, (["(Intercept)"] if intercept else []) + list(names)


def term_label(term: object) -> str:
    """R's label of a formulaic term (``"f:x"``, ``"log(w)"``; ``"(Intercept)"`` for 1)."""
    return ":".join(_r_part(str(f)) for f in term.factors) if str(term) != "1" else "(Intercept)"


def _column_terms(model_spec: object) -> list[str]:
    """Formula term (R spelling) producing each model-matrix column."""
    out = []
    for term, _scoped, cols in model_spec.structure:
        out.extend([term_label(term)] * len(cols))
    return out


def build_design(spec: ModelSpec, data: pd.DataFrame, na_action: str = "drop") -> Design:
    """Build the :class:`Design` for ``spec`` on ``data``.

    Parameters
    ----------
    spec : ModelSpec
        Parsed formula (:func:`bayesmixed.spec.parse_formula`).
    data : pandas.DataFrame
        One row per observation.
    na_action : {"drop", "raise"}
        ``"drop"`` removes incomplete rows of the columns the model uses and warns with the
        count; ``"raise"`` refuses data with missing values.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> from bayesmixed.spec import parse_formula
    >>> d = build_design(parse_formula("Reaction ~ Days + (Days | Subject)"),
    ...                  bm.datasets.load("sleepstudy"))
    >>> d.n, d.p, d.q
    (180, 2, 36)
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"data must be a pandas DataFrame, got {type(data).__name__}; "
            "convert it with pandas.DataFrame(...)"
        )
    if na_action not in ("drop", "raise"):
        raise DataError(f"na_action must be 'drop' or 'raise', got {na_action!r}")
    if data.shape[0] == 0:
        raise DataError("data has no rows")
    if not all(isinstance(c, str) for c in data.columns):
        data = data.copy()
        data.columns = [str(c) for c in data.columns]

    needed: dict[str, str] = {}
    for v in sorted(_required(spec.response, "the response", spec)):
        needed.setdefault(v, "the response")
    for v in sorted(_required(spec.fixed, "the fixed part", spec)):
        needed.setdefault(v, "the fixed part")
    for t in spec.random:
        for v in sorted(_required(t.expr, f"random term {t.source}", spec)):
            needed.setdefault(v, f"random term {t.source}")
        for v in t.factors:
            needed.setdefault(v, f"grouping factor of {t.source}")
    _check_columns(data, needed)
    cols = list(needed)

    # ---- missing values
    # column by column: selecting data[cols] first costs more than the checks themselves
    bad = np.zeros(len(data), dtype=bool)
    for c in cols:
        bad |= np.asarray(data[c].isna(), dtype=bool)
    nbad = int(bad.sum())
    if nbad:
        per_col = data[cols].isna().sum()
        detail = ", ".join(f"{c}: {int(k)}" for c, k in per_col.items() if k)
        if na_action == "raise":
            raise DataError(
                f"{nbad} rows have missing values ({detail}); drop them first or use "
                "na_action='drop'"
            )
        warnings.warn(
            f"dropped {nbad} of {len(data)} rows with missing values ({detail})",
            MissingDataWarning,
            stacklevel=3,
        )
    if data.columns.is_unique:
        keep_rows = ~bad
        raw = pd.DataFrame(
            {c: (data[c].array[keep_rows] if nbad else data[c].array) for c in cols}, copy=False
        )
    else:
        raw = data.loc[~bad, cols].reset_index(drop=True)
    if raw.shape[0] == 0:
        raise DataError("no complete rows remain after dropping missing values")
    text_codes: dict = {}
    frame = _prepare_columns(raw, codes_out=text_codes)

    # ---- response
    resp = spec.response
    if resp in raw.columns and not (
        pd.api.types.is_numeric_dtype(raw[resp].dtype) and not pd.api.types.is_bool_dtype(raw[resp])
    ):
        raise ColumnError(
            f"response {resp!r} must be numeric, but it has dtype {raw[resp].dtype}; "
            "convert it with pandas.to_numeric",
            resp,
        )
    if simple_terms(resp) == (True, [resp]) and _numeric_column(frame, resp):
        ymat = frame[[resp]]  # a plain numeric column: formulaic would return it unchanged
    else:
        try:
            # incomplete rows are gone; NaN made by a transform (log of a negative) is
            # reported by the finiteness checks below, which name the column
            ymat = model_matrix(f"{resp} ~ 0", frame, na_action="ignore", context=_CONTEXT).lhs
        except FormulaicError as exc:
            raise FormulaError(f"cannot evaluate the response {resp!r}: {_clean(exc)}") from None
    if ymat.shape[1] != 1:
        raise ColumnError(f"response {resp!r} must be a single numeric column", resp)
    y = np.asarray(ymat, dtype=float).ravel()
    if not np.all(np.isfinite(y)):
        nbad_y = int((~np.isfinite(y)).sum())
        raise DataError(
            f"response {resp!r} has {nbad_y} infinite or undefined values; remove those rows "
            "or fix the transform"
        )

    # ---- fixed effects
    fast = _simple_matrix(spec.fixed, frame)
    if fast is not None:
        X, fnames = fast
        fterms = list(fnames)
        fixed_spec = None  # built on first use by Design.fixed_model_spec
    else:
        try:
            mm = model_matrix(spec.fixed, frame, na_action="ignore", context=_CONTEXT)
        except FormulaicError as exc:
            raise FormulaError(
                f"cannot build the fixed part {spec.fixed!r}: {_clean(exc)}"
            ) from None
        X = np.asarray(mm, dtype=float)
        fnames = [r_column_name(c) for c in mm.columns]
        fterms = _column_terms(mm.model_spec)
        fixed_spec = mm.model_spec
    for j, name in enumerate(fnames):
        if not np.all(np.isfinite(X[:, j])):
            raise DataError(
                f"fixed-effect column {name!r} has infinite or undefined values "
                f"({int((~np.isfinite(X[:, j])).sum())} rows); check the data or the transform"
            )
    keep = _aliased(X)
    dropped = [n for n, k in zip(fnames, keep, strict=True) if not k]
    if dropped:
        warnings.warn(
            "fixed-effect model matrix is rank deficient so dropping "
            f"{len(dropped)} column{'s' if len(dropped) > 1 else ''}: {', '.join(dropped)}",
            RankDeficiencyWarning,
            stacklevel=3,
        )
    X = np.ascontiguousarray(X[:, keep])
    xnames = [n for n, k in zip(fnames, keep, strict=True) if k]
    xterms = [t for t, k in zip(fterms, keep, strict=True) if k]

    # ---- random effects
    n = len(y)
    terms = [_build_term(t, frame, raw, n, text_codes) for t in spec.random]
    order = sorted(range(len(terms)), key=lambda i: -terms[i].m)
    terms = [terms[i] for i in order]
    seen: dict[str, int] = {}
    for t in terms:
        if t.group in seen:
            t.name = f"{t.group}.{seen[t.group]}"
            seen[t.group] += 1
        else:
            seen[t.group] = 1
            t.name = t.group

    design = Design(
        spec=spec,
        frame=frame,
        y=y,
        X=X,
        xnames=xnames,
        terms=terms,
        dropped=dropped,
        nrows_dropped=nbad,
        fixed_spec=fixed_spec,
        fixed_keep=keep,
        fixed_term_of_column=xterms,
        response_name=resp,
    )
    _check_identifiable(design)
    return design


def _factorize_cached(raw: pd.DataFrame, col: str, text_codes: dict | None):
    """_factorize(raw[col]), reusing codes _prepare_columns computed for a text column."""
    if text_codes is not None and col in text_codes:
        return text_codes[col]
    return _factorize(raw[col])


def _build_term(
    t: RandomTerm, frame: pd.DataFrame, raw: pd.DataFrame, n: int, text_codes: dict | None = None
) -> ReTerm:
    fast = _simple_matrix(t.expr, frame)
    if fast is not None:
        Xt, cnames = fast
        term_spec = None  # built on first use by Design.term_model_spec
    else:
        try:
            mm = model_matrix(t.expr, frame, na_action="ignore", context=_CONTEXT)
        except FormulaicError as exc:
            raise FormulaError(
                f"cannot build the random-effect term {t.source}: {_clean(exc)}"
            ) from None
        Xt = np.asarray(mm, dtype=float)
        cnames = [r_column_name(c) for c in mm.columns]
        term_spec = mm.model_spec
    if Xt.ndim == 1:
        Xt = Xt[:, None]
    if Xt.shape[1] == 0:
        raise FormulaError(f"random-effect term {t.source} has no columns; give '1' or a predictor")
    for j, name in enumerate(cnames):
        if not np.all(np.isfinite(Xt[:, j])):
            raise DataError(
                f"column {name!r} of random-effect term {t.source} has infinite or undefined "
                "values; check the data or the transform"
            )
    if len(t.factors) == 1:
        codes, levels = _factorize_cached(raw, t.factors[0], text_codes)
    else:
        parts = [_factorize_cached(raw, c, text_codes) for c in t.factors]
        combo = np.zeros(n, dtype=np.int64)
        for codes_c, levels_c in parts:
            combo = combo * len(levels_c) + codes_c
        uniq, codes = np.unique(combo, return_inverse=True)
        levels = []
        for u in uniq:
            names = []
            for _codes, levels_c in reversed(parts):
                names.append(levels_c[u % len(levels_c)])
                u //= len(levels_c)
            levels.append(":".join(reversed(names)))
        codes = codes.astype(np.int64)
    return ReTerm(
        group=t.group,
        name=t.group,
        factors=t.factors,
        expr=t.expr,
        cnames=cnames,
        levels=levels,
        codes=codes,
        X=np.ascontiguousarray(Xt),
        source=t.source,
        model_spec=term_spec,
    )


def _check_identifiable(d: Design) -> None:
    n = d.n
    if d.p == 0 and not d.terms:
        raise FormulaError("the model has no fixed effects and no random effects to estimate")
    for t in d.terms:
        label = f"({t.expr} | {t.group})"
        if t.m < 2:
            raise IdentifiabilityError(
                f"grouping factor {t.group!r} of term {label} has only {t.m} level in the data: "
                "a variance cannot be estimated from one group; drop the term or fit "
                "the factor as a fixed effect"
            )
        if t.m >= n:
            raise IdentifiabilityError(
                f"grouping factor {t.group!r} has {t.m} levels for {n} observations: "
                "the number of levels of each grouping factor must be less than the number "
                "of observations; remove the term (it is confounded with the residual)"
            )
        if t.q >= n:
            raise IdentifiabilityError(
                f"term {label} has {t.q} random effects ({t.m} levels × {t.k} columns) for "
                f"{n} observations: the random effects and the residual variance are "
                "unidentifiable; simplify the term, e.g. use '||' or fewer slopes"
            )
    if d.n <= d.p:
        raise IdentifiabilityError(
            f"{n} observations cannot estimate {d.p} fixed effects; simplify the fixed part"
        )
