"""Hypothesis matrices of ANOVA tables for the fixed effects (lmerTest's ``anova(fit)``).

One contrast matrix per model term, over the fitted coefficients; the F test of each is
:meth:`~bayesmixed.reml.result.REMLFit.contest` with Satterthwaite denominator df.

* **Type III** (lmerTest's default, SAS's "Type III"): Goodnight's (1976) rule on the general
  form of estimable functions of the over-parameterized model (every factor coded with all its
  levels). A term's hypothesis keeps the estimable functions that involve the term and the
  terms containing it, with the unrelated terms eliminated, and is orthogonalized against its
  containing terms. With treatment coding, a main effect is tested averaged over the levels of
  the factors it interacts with, at 0 of the covariates it interacts with.
* **Type I**: sequential, from the Doolittle (LDLᵀ) factorization of X'X: each term adjusted
  for the terms before it.

Only the fixed-effect design and the term structure enter: the same matrices serve REML, ML
and (for a posterior of Lβ) the Bayesian fits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from formulaic import model_matrix

from ...design import Design, r_column_name, term_label
from ...design.frame import FORMULAIC_CONTEXT as _CONTEXT
from ...errors import ArgumentError

__all__ = ["term_contrasts"]

_EPS = 1e-8


def _fixed_terms(design: Design) -> list[tuple[str, list[str], list[bool]]]:
    """(R term label, factor expressions, is-numeric flags) of each fixed term but the intercept."""
    ms = design.fixed_model_spec()
    out = []
    for term, _scoped, _cols in ms.structure:
        if str(term) == "1":
            continue
        exprs = [str(f) for f in term.factors]
        numeric = [ms.encoder_state[e][0].value == "numerical" for e in exprs]
        out.append((term_label(term), exprs, numeric))
    return out


def _full_columns(design: Design, expr: str, numeric: bool) -> tuple[np.ndarray, list[str]]:
    """One factor of a term in the over-parameterized coding: all levels, or the covariate."""
    mm = model_matrix(f"0 + {expr}", design.frame, na_action="ignore", context=_CONTEXT)
    if numeric:
        return np.asarray(mm, float), [r_column_name(expr)]
    return np.asarray(mm, float), [r_column_name(c) for c in mm.columns]


def _rank_deficient_X(design: Design, terms) -> tuple[np.ndarray, list[str], list[str]]:
    """The over-parameterized X, its column names and the term of each column."""
    blocks = [np.ones((design.n, 1))] if design.has_intercept else []
    names = ["(Intercept)"] if design.has_intercept else []
    owner = ["(Intercept)"] if design.has_intercept else []
    for label, exprs, numeric in terms:
        M, nm = np.ones((design.n, 1)), [""]
        for e, is_num in zip(exprs, numeric, strict=True):
            F, fn = _full_columns(design, e, is_num)
            M = (M[:, :, None] * F[:, None, :]).reshape(design.n, -1)
            nm = [f"{a}:{b}" if a else b for a in nm for b in fn]
        blocks.append(M)
        names.extend(nm)
        owner.extend([label] * len(nm))
    return np.hstack(blocks), names, owner


def _contains(t1, t2) -> bool:
    """``t2`` contains ``t1``: every variable of t1 is in t2 and both have the same covariates
    (lmerTest's ``relatives``)."""
    v1, v2 = set(t1[1]), set(t2[1])
    num1 = {e for e, n in zip(t1[1], t1[2], strict=True) if n}
    num2 = {e for e, n in zip(t2[1], t2[2], strict=True) if n}
    return v1 <= v2 and num1 == num2


def _type3_rows(L: np.ndarray, term_cols: np.ndarray, related: np.ndarray) -> np.ndarray:
    """Goodnight's elimination for one term on the general-form L (pp × pp)."""
    L = L.copy()
    pp = L.shape[1]
    unrelated = np.setdiff1d(np.arange(pp), np.union1d(term_cols, related))
    for col in unrelated:
        piv = np.flatnonzero(np.abs(L[:, col]) > _EPS)
        if piv.size:
            first = piv[0]
            L[first] /= L[first, col]
            for r in piv[1:]:
                L[r] -= L[r, col] * L[first]
            L[first] = 0.0
    L = L[np.abs(L).sum(axis=1) != 0]
    if L.shape[0] <= 1:
        return L
    # rows that only involve containing terms: project them out of the others
    zero_rows = np.flatnonzero(np.abs(L[:, term_cols]).sum(axis=1) == 0)
    for z in zero_rows:
        w = L[z].copy()
        for i in range(L.shape[0]):
            if i != z and np.abs(L[i]).sum() != 0:
                L[i] -= (w @ L[i]) / (w @ w) * w
        L[z] = 0.0
    L[np.abs(L) < 1e-6] = 0.0
    return L[np.abs(L).sum(axis=1) != 0]


def _type3(design: Design) -> dict[str, np.ndarray]:
    terms = _fixed_terms(design)
    if not terms:
        return {}
    rdX, names, owner = _rank_deficient_X(design, terms)
    pos = {n: i for i, n in enumerate(names)}
    missing = [n for n in design.xnames if n not in pos]
    if missing:  # pragma: no cover - would mean the two codings disagree on names
        raise ArgumentError(
            f"type III tests are not available for this model's coding (coefficients "
            f"{', '.join(missing)} have no counterpart in the full coding): use anova(type=1)"
        )
    is_coef = np.array([pos[n] for n in design.xnames])
    xtx = rdX.T @ rdX
    g2 = np.zeros_like(xtx)
    g2[np.ix_(is_coef, is_coef)] = np.linalg.inv(xtx[np.ix_(is_coef, is_coef)])
    g2[np.abs(g2) < 1e-10] = 0.0
    L = g2 @ xtx
    L[np.abs(L) < 1e-6] = 0.0
    owner = np.array(owner)
    out = {}
    for t in terms:
        cols = np.flatnonzero(owner == t[0])
        rel = [u[0] for u in terms if u[0] != t[0] and _contains(t, u)]
        related = np.flatnonzero(np.isin(owner, rel))
        out[t[0]] = _type3_rows(L, cols, related)[:, is_coef]
    return out


def _type1(design: Design) -> dict[str, np.ndarray]:
    """Rows of the unit upper factor U of X'X = Uᵀ D U, grouped by term: the hypothesis of a
    term involves its own coefficients and the later ones, i.e. it is adjusted only for the
    terms before it."""
    X = design.X
    xtx = X.T @ X
    p = xtx.shape[0]
    U = np.zeros((p, p))
    A = xtx.copy()
    for k in range(p):
        if abs(A[k, k]) > _EPS * max(1.0, abs(xtx[k, k])):
            U[k, k:] = A[k, k:] / A[k, k]
            A[k:, k:] -= np.outer(A[k:, k], U[k, k:])
    U[np.abs(U) < 1e-6] = 0.0  # as lmerTest's doolittle()
    owner = np.array(design.fixed_term_of_column)
    out = {}
    for label, *_ in _fixed_terms(design):
        rows = U[owner == label]
        out[label] = rows[np.abs(rows).sum(axis=1) != 0]
    return out


def term_contrasts(design: Design, type: int = 3) -> dict[str, np.ndarray]:
    """Hypothesis matrix of every fixed term (intercept excluded), as lmerTest builds them.

    Parameters
    ----------
    design : Design
    type : {1, 3}
        Sequential (1) or Goodnight/SAS type III (3).

    Returns
    -------
    dict
        Term label (R spelling, e.g. ``"f:x"``) → matrix with one column per coefficient.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    >>> term_contrasts(m.design)["Days"].round(12).tolist()
    [[0.0, 1.0]]
    """
    if type == 3:
        return _type3(design)
    if type == 1:
        return _type1(design)
    raise ArgumentError(f"type must be 1 or 3, not {type!r}")


def anova_table(fit, type: int = 3, ddf: str = "Satterthwaite") -> pd.DataFrame:
    """lmerTest's ``anova(fit, type=, ddf=)`` from a fit with ``contest`` and ``sigma``."""
    rows = []
    for term, L in term_contrasts(fit.design, type).items():
        if L.shape[0] == 0:
            rows.append({"term": term, "sum_sq": np.nan, "mean_sq": np.nan, "num_df": 0})
            continue
        r = fit.contest(L, joint=True, ddf=ddf).iloc[0]
        # Kenward-Roger: lmerTest's mean square uses the unscaled F, its F the scaled one
        mean_sq = float(r["mean_sq"]) if "mean_sq" in r else float(r["statistic"]) * fit.sigma**2
        rows.append(
            {
                "term": term,
                "sum_sq": mean_sq * int(r["num_df"]),
                "mean_sq": mean_sq,
                "num_df": int(r["num_df"]),
                "den_df": float(r["den_df"]),
                "statistic": float(r["statistic"]),
                "p_value": float(r["p_value"]),
            }
        )
    cols = ["term", "sum_sq", "mean_sq", "num_df", "den_df", "statistic", "p_value"]
    return pd.DataFrame(rows).reindex(columns=cols)
