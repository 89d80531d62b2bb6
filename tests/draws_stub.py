"""A stand-in for a Bayesian fit: posterior-like draws around a REML fit.

Used to exercise the draws path of variance/effects/plots until (and alongside) the real
BayesFit: anything with ``.design`` and ``.components()`` returning ``Components(draws=True)``.
"""

from __future__ import annotations

import numpy as np

from bayesmixed.results.components import Components


class DrawsFit:
    """Minimal Bayesian-fit interface over a fixed Components object."""

    def __init__(self, comp: Components):
        self.design = comp.design
        self._comp = comp

    def components(self) -> Components:
        return self._comp


def perturbed_draws(fit, draws: int = 400, seed: int = 0, spread: float = 1.0) -> DrawsFit:
    """Draws of (γ, σ, Σ, b) scattered around the REML estimates of ``fit``.

    γ ~ N(γ̂, V̂), σ = σ̂·exp(N(0, 0.05)), Σ = D Σ̂ D with D = diag(exp(N(0, 0.2))) (stays
    positive semi-definite), b ~ N(b̂, conditional variance). ``spread`` scales the noise;
    ``spread=0`` repeats the point estimate ``draws`` times.
    """
    rng = np.random.default_rng(seed)
    c = fit.components()
    S = draws
    V = fit.vcov().to_numpy()
    L = np.linalg.cholesky(V + 1e-12 * np.eye(len(V)))
    beta = c.beta[None, :] + spread * rng.standard_normal((S, len(c.beta))) @ L.T
    sigma = float(c.sigma) * np.exp(spread * rng.normal(0.0, 0.05, S))
    covs, bs = [], []
    condvar = getattr(fit, "_condvar", None)
    for i, (cov, b) in enumerate(zip(c.cov, c.b, strict=True)):
        k = cov.shape[0]
        D = np.exp(spread * rng.normal(0.0, 0.2, (S, k)))
        covs.append(D[:, :, None] * cov[None, :, :] * D[:, None, :])
        sd = np.sqrt(np.diagonal(condvar[i], axis1=1, axis2=2)) if condvar is not None else 0.0
        bs.append(b[None] + spread * rng.standard_normal((S, *b.shape)) * sd)
    return DrawsFit(Components(design=c.design, beta=beta, sigma=sigma, cov=covs, b=bs, draws=True))


def repeated_draws(fit, draws: int = 3) -> DrawsFit:
    """The REML point estimate repeated: every posterior summary must equal the REML value."""
    return perturbed_draws(fit, draws=draws, spread=0.0)
