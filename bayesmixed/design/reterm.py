"""One random-effects term: its grouping factor's codes, its columns, Z and level sums.

The term's covariance (lme4's θ template: number of parameters, start, bounds, relative
factor) is its structure, :attr:`ReTerm.cov` (:mod:`bayesmixed.covariance`); the term
itself holds only data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..covariance import CovStructure, Unstructured
from ..errors import DataError, FormulaError
from ..spec import RandomTerm
from .fixed import side_matrix
from .frame import factorize

__all__ = ["ReTerm", "build_term", "per_level_sums"]


def per_level_sums(codes: np.ndarray, X: np.ndarray, m: int, v: np.ndarray) -> np.ndarray:
    """Σ over each level's rows of X[:, a]·v: Z'v per level, shape (m, k) or (m, k, ncol).

    Examples
    --------
    >>> import numpy as np
    >>> per_level_sums(np.array([0, 0, 1]), np.ones((3, 1)), 2, np.array([1.0, 2, 3])).tolist()
    [[3.0], [3.0]]
    """
    v = np.asarray(v, dtype=float)
    k = X.shape[1]
    if v.ndim == 1:
        out = np.empty((m, k))
        for a in range(k):
            out[:, a] = np.bincount(codes, weights=X[:, a] * v, minlength=m)
        return out
    out = np.empty((m, k, v.shape[1]))
    for a in range(k):
        w = X[:, a][:, None] * v
        for c in range(v.shape[1]):
            out[:, a, c] = np.bincount(codes, weights=w[:, c], minlength=m)
    return out


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
    cov : CovStructure
        Covariance structure of one level's k random effects (default: lme4's
        unstructured block, :class:`~bayesmixed.covariance.Unstructured`).
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
    cov: CovStructure = field(default=None, repr=False)

    def __post_init__(self):
        if self.cov is None:
            self.cov = Unstructured(self.cnames, self.group)

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
        return per_level_sums(self.codes, self.X, self.m, v)


def _factorize_cached(raw: pd.DataFrame, col: str, text_codes: dict | None):
    """factorize(raw[col]), reusing the codes the model frame computed for a text column."""
    if text_codes is not None and col in text_codes:
        return text_codes[col]
    return factorize(raw[col])


def build_term(
    t: RandomTerm, frame: pd.DataFrame, raw: pd.DataFrame, n: int, text_codes: dict | None = None
) -> ReTerm:
    """The :class:`ReTerm` of one parsed bar on the model frame (``raw``: uncoded columns)."""
    Xt, cnames, term_spec = side_matrix(t.expr, frame, f"random-effect term {t.source}")
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
