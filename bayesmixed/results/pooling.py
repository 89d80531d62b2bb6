"""Partial pooling (§3.4): how far each cluster's estimate is pulled towards the population.

For a random intercept, cluster j's estimate is a precision-weighted average of its own mean
and the population value,

    λ_j = (n_j / σ²) / (n_j / σ² + 1 / τ00),
    partial_j = λ_j · no_pooling_j + (1 − λ_j) · complete_pooling,

so clusters with few observations (or a small τ00 relative to σ²) are pulled furthest.

General models (random slopes, several terms)
---------------------------------------------
For each term t and cluster j, with X_j the term's model-matrix rows of the cluster,
G_j = X_j'X_j, Σ the term's covariance matrix and r_j the cluster's *partial residual*
y − Xγ − (the other terms' random effects):

* ``no_pooling``: γ_k + d_jk with d_j = G_j⁻¹ X_j' r_j, the cluster's own least-squares
  estimate of its deviation given the fixed effects and the other terms (for
  ``y ~ 1 + (1 | g)`` exactly the cluster mean ȳ_j); NaN when G_j is singular (e.g. one
  observation and a slope);
* ``partial_pooling``: γ_k + b_jk, the BLUP (REML) or posterior draw (Bayes). It satisfies
  b_j = (G_j + σ² Σ⁻¹)⁻¹ G_j d_j: a matrix version of λ_j;
* ``complete_pooling``: γ_k, the fixed coefficient of the same name (0 if the fixed part has
  no such column);
* ``weight``: 1 − C_j,kk / Σ_kk with C_j = (G_j / σ² + Σ⁻¹)⁻¹ the conditional covariance of
  b_j given the data (and γ, θ): the share of the prior variance the cluster's own data
  remove. It equals λ_j for a random intercept, always lies in [0, 1], and, unlike the ratio
  b_jk / d_jk, is stable when d_jk is near zero. It is 0 when Σ_kk = 0 (complete pooling).

For Bayesian fits all of this is computed per posterior draw; the table reports posterior
means, plus equal-tailed intervals of ``weight`` and ``partial_pooling``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from .draws import as_components, check_ci
from .predictor import linear_predictor, term_contribution

__all__ = ["shrinkage", "pooling_weight", "SHRINKAGE_COLUMNS"]

SHRINKAGE_COLUMNS = [
    "group",
    "level",
    "term",
    "n",
    "weight",
    "no_pooling",
    "partial_pooling",
    "complete_pooling",
]

# draws are processed in chunks so that (draws × observations) arrays stay below ~160 MB
_CHUNK_ELEMENTS = 20_000_000


def pooling_weight(n: np.ndarray | float, tau00: float, sigma2: float) -> np.ndarray | float:
    """λ = (n/σ²) / (n/σ² + 1/τ00): the weight of a cluster's own mean under a random intercept.

    Parameters
    ----------
    n : float or array
        Cluster size(s).
    tau00 : float
        Random-intercept variance τ00 (0 gives λ = 0).
    sigma2 : float
        Residual variance σ².

    Examples
    --------
    >>> round(pooling_weight(5, tau00=4.0, sigma2=20.0), 3)
    0.5
    """
    if sigma2 <= 0:
        raise ArgumentError(f"sigma2 must be positive, got {sigma2}")
    if tau00 < 0:
        raise ArgumentError(f"tau00 must be non-negative, got {tau00}")
    n = np.asarray(n, dtype=float)
    out = n * tau00 / (n * tau00 + sigma2)
    return float(out) if out.ndim == 0 else out


def _solve_no_pooling(G: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """G_j⁻¹ rhs_j for every cluster and draw; NaN where G_j is (numerically) singular."""
    m, k, _ = G.shape
    w = np.linalg.eigvalsh(G)
    ok = w[:, 0] > 1e-10 * np.maximum(w[:, -1], 1e-300)
    out = np.full(rhs.shape, np.nan)
    if ok.any():
        Ginv = np.linalg.inv(G[ok])
        out[:, ok, :] = np.einsum("mkl,sml->smk", Ginv, rhs[:, ok, :])
    return out


def _one_chunk(design, beta, sigma, cov, b):
    """Per-term (weight, d, b) arrays for a block of draws."""
    y, X = design.y, design.X
    # Z_t b_t of every term, (S, n): each term's partial residual adds its own back
    contrib = [term_contribution(t.codes, t.X, bt) for t, bt in zip(design.terms, b, strict=True)]
    resid = y[None, :] - linear_predictor(X, beta) - np.sum(contrib, axis=0)
    s2 = sigma**2
    out = []
    for i, t in enumerate(design.terms):
        r_t = resid + contrib[i]
        rhs = np.moveaxis(t.level_sums(r_t.T), -1, 0)  # (S, m, k)
        d = _solve_no_pooling(t.ZtZ_blocks, rhs)
        Sig = cov[i]  # (S, k, k)
        eye = np.eye(t.k)
        # C = (G/σ² + Σ⁻¹)⁻¹ = Σ (I + GΣ/σ²)⁻¹, which needs no inverse of a singular Σ
        A = eye + np.einsum("mkl,slj->smkj", t.ZtZ_blocks, Sig) / s2[:, None, None, None]
        C = np.swapaxes(np.linalg.solve(np.swapaxes(A, -1, -2), Sig[:, None, :, :]), -1, -2)
        prior = np.diagonal(Sig, axis1=-2, axis2=-1)[:, None, :]  # (S, 1, k)
        cond = np.diagonal(C, axis1=-2, axis2=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            weight = np.where(prior > 0, 1.0 - cond / np.where(prior > 0, prior, 1.0), 0.0)
        out.append((np.clip(weight, 0.0, 1.0), d, b[i]))
    return out


def shrinkage(fit: object, *, ci: float = 0.95) -> pd.DataFrame:
    """No-pooling, partial-pooling and complete-pooling estimates side by side, per cluster.

    See the module notes for the definitions; for a random-intercept model ``weight`` is
    λ_j = (n_j/σ²) / (n_j/σ² + 1/τ00) and
    ``partial_pooling = weight · no_pooling + (1 − weight) · complete_pooling``.

    Parameters
    ----------
    fit : REMLFit, BayesFit or Components
        A model with random effects (Components must carry ``b``).
    ci : float
        Interval probability for the ``*_low``/``*_high`` columns of Bayesian fits.

    Returns
    -------
    DataFrame
        Columns group, level, term, n, weight, no_pooling, partial_pooling, complete_pooling,
        one row per cluster and random-effect column (terms in the order of ``fit.ranef()``).
        Bayesian fits report posterior means and add weight_low, weight_high,
        partial_pooling_low, partial_pooling_high.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> tab = shrinkage(fit)
    >>> round(float(tab["weight"].iloc[0]), 4)
    0.7825
    """
    ci = check_ci(ci)
    raw = as_components(fit)
    design = raw.design
    if not design.terms:
        raise ArgumentError("shrinkage() needs a model with random effects; this fit has none")
    if raw.b is None:
        raise ArgumentError(
            "shrinkage() needs the random effects b, but these Components carry none; pass "
            "the fit itself"
        )
    c = raw.as_draws()
    beta = np.atleast_2d(np.asarray(c.beta, float))
    sigma = np.asarray(c.sigma, float).reshape(-1)
    S = sigma.shape[0]
    covs = [
        np.asarray(cv, float).reshape(S, t.k, t.k)
        for cv, t in zip(c.cov, design.terms, strict=True)
    ]
    bs = [
        np.asarray(bt, float).reshape(S, t.m, t.k) for bt, t in zip(c.b, design.terms, strict=True)
    ]
    step = max(1, _CHUNK_ELEMENTS // max(design.n, 1))
    pieces = []
    for s0 in range(0, S, step):
        sl = slice(s0, s0 + step)
        pieces.append(
            _one_chunk(design, beta[sl], sigma[sl], [cv[sl] for cv in covs], [bt[sl] for bt in bs])
        )
    xindex = {name: j for j, name in enumerate(design.xnames)}
    frames = []
    for i, t in enumerate(design.terms):
        weight = np.concatenate([p[i][0] for p in pieces], axis=0)  # (S, m, k)
        dev = np.concatenate([p[i][1] for p in pieces], axis=0)
        bt = np.concatenate([p[i][2] for p in pieces], axis=0)
        for k, cname in enumerate(t.cnames):
            j = xindex.get(cname)
            gamma = beta[:, j] if j is not None else np.zeros(S)
            no_pool = gamma[:, None] + dev[:, :, k]
            partial = gamma[:, None] + bt[:, :, k]
            row = {
                "group": t.group,
                "level": t.levels,
                "term": cname,
                "n": t.counts.astype(int),
                "weight": weight[:, :, k].mean(axis=0),
                "no_pooling": no_pool.mean(axis=0),
                "partial_pooling": partial.mean(axis=0),
                "complete_pooling": float(gamma.mean()),
            }
            if raw.draws:
                q = [(1.0 - ci) / 2.0, (1.0 + ci) / 2.0]
                row["weight_low"], row["weight_high"] = np.quantile(weight[:, :, k], q, axis=0)
                row["partial_pooling_low"], row["partial_pooling_high"] = np.quantile(
                    partial, q, axis=0
                )
            frames.append(pd.DataFrame(row))
    return pd.concat(frames, ignore_index=True)
