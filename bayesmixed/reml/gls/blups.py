"""BLUPs of the random effects of a :class:`GLSFit` and their conditional covariances.

With a residual structure the marginal covariance of subject i is
``V_i = σ² (Z_i G Z_i' + R_i)`` (G, R relative to σ²) and the random effects' best linear
unbiased predictors, at β̂, are

    b̂ = G Z_i' V_i⁻¹ (y_i − X_i β̂),    var(b | y) = σ² (G − G Z_i' V_i⁻¹ Z_i G)

(V_i relative to σ²), the conditional covariance given β = β̂ — what lme4's ``condVar`` is for
independent residuals, where it equals σ² (G⁻¹ + Z'Z)⁻¹. Every level of a random term lies in
one subject (the nesting the residual design checks), so each level's covariance comes from
its subject's block alone.
"""

from __future__ import annotations

import numpy as np

__all__ = ["blup_estimates", "conditional_vcov"]


def blup_estimates(crit, phi: np.ndarray, beta: np.ndarray) -> list[np.ndarray]:
    """b̂ of each random-effect term, (m, k) per term (levels × columns)."""
    if not crit.design.terms:
        return []
    u = crit.whitened_residuals(phi, beta)
    G = crit.relative_g(phi)
    return [t.level_sums(u) @ g.T for t, g in zip(crit.design.terms, G, strict=True)]


def conditional_vcov(crit, phi: np.ndarray, sigma: float) -> list[np.ndarray]:
    """var(b | y) of each term's levels, (m, k, k) per term (see the module notes).

    Examples
    --------
    >>> import numpy as np, pandas as pd, bayesmixed as bm
    >>> rng = np.random.default_rng(4)
    >>> d = pd.DataFrame({"id": np.repeat(np.arange(20), 3), "visit": ["a", "b", "c"] * 20})
    >>> d["y"] = np.repeat(rng.normal(size=20), 3) + rng.normal(size=60)
    >>> fit = bm.MixedModel("y ~ 1 + (1 | id)", d, residual=bm.residual.AR1(time="visit",
    ...                     group="id")).fit_reml()
    >>> cv = conditional_vcov(fit.criterion_fn, fit.phi, fit.sigma)
    >>> cv[0].shape, bool(np.all(cv[0] < fit.covs[0]))
    ((20, 1, 1), True)
    """
    terms = crit.design.terms
    G = crit.relative_g(phi)
    out = [np.tile(g, (t.m, 1, 1)) for t, g in zip(terms, G, strict=True)]
    for bi, Li, _, _ in crit._whiten(phi):
        rows = crit.rd.batches[bi].rows  # (B, m)
        Li = np.broadcast_to(Li, (rows.shape[0],) + Li.shape[-2:])
        Vi = np.swapaxes(Li, -1, -2) @ Li  # V⁻¹ = L⁻ᵀ L⁻¹, per subject
        for ti, (t, g) in enumerate(zip(terms, G, strict=True)):
            Xt, codes = t.X[rows], t.codes[rows]  # (B, m, k), (B, m)
            # the level at each visit position: its columns of Z are Xt masked to its rows
            for a in range(rows.shape[1]):
                lev = codes[:, a]
                Z = Xt * (codes == lev[:, None])[..., None]
                Q = np.swapaxes(Z, -1, -2) @ Vi @ Z  # (B, k, k)
                out[ti][lev] = g - g @ Q @ g
    return [sigma**2 * v for v in out]
