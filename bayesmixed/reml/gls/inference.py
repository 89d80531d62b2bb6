"""Satterthwaite degrees of freedom for the fixed effects of a :class:`GLSFit`.

As lmerTest: the covariance parameters ψ = (φ, log σ²) have asymptotic covariance
A = 2 H⁻¹, H the Hessian of the (non-profiled in σ², β-profiled) −2 log-likelihood at the
optimum; for a contrast l, ``var(l'β̂) = l' Φ(ψ) l`` with Φ(ψ) = σ² (X'V(φ)⁻¹X)⁻¹ and

    df = 2 (l'Φl)² / (g' A g),   g = ∇_ψ (l'Φ(ψ)l),

both derivatives by Richardson-extrapolated central differences. Parameters on a bound
(a random-effect SD at 0, a correlation at ±1) are held fixed. The df are invariant to the
parameterization of ψ because the gradient of the criterion vanishes at the optimum.
"""

from __future__ import annotations

import numpy as np

from ..._threads import limit_blas
from .derivatives import hessian, jacobian

__all__ = ["satterthwaite_df", "vcov_jacobian"]


def _psi(fit):
    crit = fit.criterion_fn
    lower, upper = crit.lower, crit.upper
    free = np.flatnonzero((fit.phi - lower > 1e-6) & (upper - fit.phi > 1e-6))
    psi0 = np.concatenate([fit.phi[free], [np.log(fit.sigma**2)]])

    def unpack(psi):
        phi = fit.phi.copy()
        phi[free] = psi[:-1]
        return phi, psi[-1]

    return psi0, unpack


def vcov_jacobian(fit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Φ at ψ̂, ∂Φ/∂ψ_k stacked (K, p, p), A = 2 H⁻¹ (K, K))."""
    crit = fit.criterion_fn
    psi0, unpack = _psi(fit)

    def phi_of(psi):
        phi, ls2 = unpack(psi)
        s = crit.solution(phi)
        return np.exp(ls2) * np.linalg.inv(s.xtvx)

    def f(psi):
        phi, ls2 = unpack(psi)
        return crit.full(phi, ls2, fit.reml)

    H = hessian(f, psi0, 1e-3)
    A = 2.0 * np.linalg.pinv(H)
    J = jacobian(phi_of, psi0, 1e-3)
    return phi_of(psi0), J, A


def satterthwaite_df(fit, L: np.ndarray | None = None, parts=None) -> np.ndarray:
    """Satterthwaite df of each row of ``L`` (default: each fixed effect).

    ``parts``: the fit's :func:`vcov_jacobian`, if already computed (it costs ~2K² criterion
    evaluations, K covariance parameters).

    Examples
    --------
    >>> import numpy as np, pandas as pd, bayesmixed as bm
    >>> rng = np.random.default_rng(3)
    >>> d = pd.DataFrame({"id": np.repeat(np.arange(30), 3), "visit": ["a", "b", "c"] * 30})
    >>> d["y"] = np.repeat(rng.normal(size=30), 3) + rng.normal(size=90)
    >>> fit = bm.MixedModel("y ~ visit", d, residual=bm.residual.CS(time="visit",
    ...                     group="id")).fit_reml()
    >>> df = satterthwaite_df(fit)
    >>> bool(df[0] < 88 and df[1] > 50)
    True
    """
    if parts is None:
        with limit_blas(1):
            parts = vcov_jacobian(fit)
    Phi, J, A = parts
    L = np.eye(Phi.shape[0]) if L is None else np.atleast_2d(np.asarray(L, float))
    out = np.empty(L.shape[0])
    for i, row in enumerate(L):
        v = row @ Phi @ row
        g = np.einsum("i,kij,j->k", row, J, row)
        denom = g @ A @ g
        out[i] = 2.0 * v**2 / denom if denom > 0 else np.inf
    return out
