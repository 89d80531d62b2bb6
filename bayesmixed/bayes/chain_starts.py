"""Where the chains start: the REML estimates (or least squares) on the sampler's scale."""

from __future__ import annotations

import warnings

import numpy as np

from ..design.build import Design

__all__: list[str] = []


def _reml_values(design: Design, start=None) -> tuple[np.ndarray, float, list]:
    """(β, σ, [covariance per term]) from ``start`` — a callable the model passes (its REML
    fit), so this engine never imports the other one; without it, or if it fails, least
    squares on the data scale."""
    sy = float(np.std(design.y)) or 1.0
    try:
        if start is None:
            raise LookupError("no start given")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            beta, sigma, covs = start()
        beta = np.array(beta, dtype=float)
        sigma = max(float(sigma), 1e-3 * sy)
    except Exception:  # a start is only a start: fall back to the data scale
        beta = np.linalg.lstsq(design.X, design.y, rcond=None)[0]
        sigma = sy
        covs = [np.eye(t.k) * sy**2 for t in design.terms]
    return beta, sigma, covs


def _init_from_reml(design: Design, mp, xmeans, values) -> np.ndarray:
    """Centre of the starting points: the REML estimates ``values`` (β, σ, covariances) on
    the unconstrained scale (each chain then jitters it by U(−1, 1))."""
    beta, sigma, covs = values
    beta = np.array(beta, dtype=float)
    if design.has_intercept:
        j = design.xnames.index("(Intercept)")
        beta[j] = beta[j] + float(xmeans @ beta)
    sds, cors = [], []
    for t, C in zip(design.terms, covs, strict=True):
        sd = np.sqrt(np.clip(np.diag(C), 0.0, None))
        # a singular REML fit has zero SDs and ±1 correlations: start strictly inside
        sd = np.maximum(sd, 0.05 * sigma)
        scale = np.sqrt(np.clip(np.diag(C), 1e-300, None))
        R = 0.8 * (C / np.outer(scale, scale)) + 0.2 * np.eye(t.k)
        np.fill_diagonal(R, 1.0)
        sds.append(sd)
        cors.append(R)
    return mp.to_unconstrained(beta, sigma, sds, cors)
