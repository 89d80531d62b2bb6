"""Parametric bootstrap pieces: responses simulated from a fit, refits to them, percentiles.

lme4's ``simulate()`` draws new responses from the fitted model — random effects from their
estimated covariance, residuals with SD σ̂ — and ``bootMer`` refits the model to each. The
refits here go through the fit's injected ``refitter`` on a copy of the design with only the
response replaced (the model matrices, Z and the grouping are the same), so a replicate
costs one optimization and no model-frame work. Used by ``REMLFit.confint(method="boot")``
and by the bootstrap of ``bm.anova``.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from scipy import stats

from ..design.build import Design

__all__ = ["simulate_response", "refit_to", "boot_percentile", "psd_factor"]


def psd_factor(cov: np.ndarray) -> np.ndarray:
    """A square root F of a positive semi-definite matrix (F F' = cov), singular ones too."""
    w, V = np.linalg.eigh(np.asarray(cov, float))
    return V * np.sqrt(np.clip(w, 0.0, None))[None, :]


def simulate_response(
    design: Design, beta: np.ndarray, covs, sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """One response vector drawn from the fitted model: Xβ + Σ_t Z_t b_t + σ ε.

    Parameters
    ----------
    design : Design
    beta : array, shape (p,)
    covs : list of (k, k) arrays
        Covariance of one level's random effects, per term (empty without random terms).
    sigma : float
    rng : numpy.random.Generator

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> y = simulate_response(fit.design, fit.beta, fit.covs, fit.sigma, np.random.default_rng(1))
    >>> y.shape
    (30,)
    """
    y = design.X @ np.asarray(beta, float)
    for t, cov in zip(design.terms, covs, strict=True):
        b = rng.standard_normal((t.m, t.k)) @ psd_factor(cov).T  # (levels, k)
        y = y + np.einsum("nk,nk->n", t.X, b[t.codes])
    return y + float(sigma) * rng.standard_normal(design.n)


def refit_to(design: Design, y: np.ndarray, refitter, reml: bool):
    """The fit of the same model to response ``y`` (warnings of the refit are silenced:
    singular refits are expected in a bootstrap)."""
    new = dataclasses.replace(design, y=np.asarray(y, float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return refitter(new, reml=reml)


def boot_percentile(t: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval as ``boot.ci(type="perc")``: order statistics at (R+1)α,
    interpolated on the normal-quantile scale (boot's ``norm.inter``); NaN values dropped.

    Examples
    --------
    >>> [round(x, 6) for x in boot_percentile(np.arange(1.0, 200.0), 0.95)]
    [5.0, 195.0]
    """
    t = np.sort(np.asarray(t, float)[np.isfinite(t)])
    R = len(t)
    if R < 2:
        return (np.nan, np.nan)
    out = []
    for a in ((1 - level) / 2, (1 + level) / 2):
        rk = (R + 1) * a
        k = int(np.trunc(rk))
        if k == rk and 0 < k <= R:
            out.append(float(t[k - 1]))
        elif k <= 0:
            out.append(float(t[0]))
        elif k >= R:
            out.append(float(t[-1]))
        else:
            z, z0, z1 = stats.norm.ppf([a, k / (R + 1), (k + 1) / (R + 1)])
            out.append(float(t[k - 1] + (z - z0) / (z1 - z0) * (t[k] - t[k - 1])))
    return out[0], out[1]
