"""Inference for REML/ML fits: lmerTest's Satterthwaite t and F tests.

lmerTest (Kuznetsova, Brockhoff & Christensen 2017, JSS 82(13)) works on the variance
parameters ``varpar = (θ, σ)``:

* ``A = 2 H⁻¹`` with H the Hessian of the unprofiled −2 log-likelihood (REML or ML) at the
  optimum (a Moore–Penrose inverse over eigenvalues above 1e-8, as lmerTest does);
* ``J_i = ∂ Cov(β̂) / ∂ varpar_i`` with ``Cov(β̂) = σ² (R_X'R_X)⁻¹``;
* for a contrast L: ``df = 2 (L'CL)² / (g'Ag)`` with ``g_i = L'J_iL``.

Derivatives are taken numerically by Richardson extrapolation of central differences
(initial step 10% of the coordinate, 4 halvings), the scheme numDeriv uses, so the
degrees of freedom agree with lmerTest to many digits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "richardson_jacobian",
    "richardson_hessian",
    "Satterthwaite",
    "fstat_ddf",
]

_D = 0.1
_EPS = 1e-4
_ZERO_TOL = np.sqrt(np.finfo(float).eps / 7e-7)
_R = 4
_V = 2.0


def _steps(x: np.ndarray) -> np.ndarray:
    return np.abs(_D * x) + _EPS * (np.abs(x) < _ZERO_TOL)


def _richardson(table: np.ndarray) -> np.ndarray:
    """Combine estimates at steps h, h/2, h/4, ... (last axis) into one extrapolated value."""
    a = table
    for m in range(1, a.shape[-1]):
        w = 4.0**m
        a = (a[..., 1:] * w - a[..., :-1]) / (w - 1.0)
    return a[..., 0]


def richardson_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Jacobian of a vector function by Richardson-extrapolated central differences.

    Returns an array of shape ``f(x).shape + (len(x),)``.

    Examples
    --------
    >>> J = richardson_jacobian(lambda v: np.array([v[0] ** 2, v[0] * v[1]]), np.array([1.0, 2.0]))
    >>> np.round(J, 8).tolist()
    [[2.0, 0.0], [2.0, 1.0]]
    """
    x = np.asarray(x, dtype=float)
    f0 = np.asarray(f(x), dtype=float)
    h0 = _steps(x)
    out = np.empty(f0.shape + (x.size,))
    for i in range(x.size):
        table = np.empty(f0.shape + (_R,))
        h = h0[i]
        for k in range(_R):
            e = np.zeros_like(x)
            e[i] = h
            table[..., k] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2.0 * h)
            h /= _V
        out[..., i] = _richardson(table)
    return out


def richardson_hessian(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Hessian of a scalar function by Richardson extrapolation (numDeriv's scheme).

    Examples
    --------
    >>> H = richardson_hessian(lambda v: v[0] ** 2 * v[1] + v[1] ** 3, np.array([1.0, 2.0]))
    >>> np.round(H, 6).tolist()
    [[4.0, 2.0], [2.0, 12.0]]
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    f0 = float(f(x))
    h0 = _steps(x)
    H = np.empty((n, n))
    for i in range(n):
        table = np.empty(_R)
        h = h0[i]
        for k in range(_R):
            e = np.zeros(n)
            e[i] = h
            table[k] = (f(x + e) - 2.0 * f0 + f(x - e)) / (h * h)
            h /= _V
        H[i, i] = _richardson(table)
    for i in range(n):
        for j in range(i):
            table = np.empty(_R)
            hi, hj = h0[i], h0[j]
            for k in range(_R):
                e = np.zeros(n)
                e[i] = hi
                e[j] = hj
                table[k] = (
                    f(x + e) - 2.0 * f0 + f(x - e) - H[i, i] * hi * hi - H[j, j] * hj * hj
                ) / (2.0 * hi * hj)
                hi /= _V
                hj /= _V
            H[i, j] = H[j, i] = _richardson(table)
    return H


def fstat_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    """Denominator df of a multi-df F test from the per-direction t dfs (lmerTest)."""
    nu = np.asarray(nu, dtype=float)
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(nu.mean())
    if np.any(nu <= 2):
        return 2.0
    E = np.sum(nu / (nu - 2.0))
    return float(2.0 * E / (E - nu.size))


@dataclass
class Satterthwaite:
    """Satterthwaite machinery at the optimum of a REML/ML fit.

    Attributes
    ----------
    vcov_beta : ndarray (p, p)
        Cov(β̂) at the optimum.
    vcov_varpar : ndarray (v, v)
        Asymptotic covariance of (θ, σ): 2 H⁻¹.
    jac : ndarray (v, p, p)
        ∂ Cov(β̂) / ∂ varpar.
    hessian_eigenvalues : ndarray
        Eigenvalues of H (negative or ~0 ones mean a non-converged or singular fit).
    """

    beta: np.ndarray
    vcov_beta: np.ndarray
    vcov_varpar: np.ndarray
    jac: np.ndarray
    hessian_eigenvalues: np.ndarray

    @classmethod
    def compute(cls, deviance, theta: np.ndarray, sigma: float, reml: bool, beta, vcov_beta):
        """Compute from a :class:`~bayesmixed.reml.deviance.ProfiledDeviance`."""
        varpar = np.concatenate([np.asarray(theta, float), [sigma]])

        def dev(vp: np.ndarray) -> float:
            return deviance.deviance_varpar(vp, reml)

        def covbeta(vp: np.ndarray) -> np.ndarray:
            f = deviance.factor(vp[:-1])
            return vp[-1] ** 2 * deviance.unscaled_vcov(f)

        H = richardson_hessian(dev, varpar)
        H = 0.5 * (H + H.T)
        evals, evecs = np.linalg.eigh(H)
        pos = evals > 1e-8
        Hinv = (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
        J = richardson_jacobian(covbeta, varpar)  # (p, p, v)
        return cls(
            beta=np.asarray(beta, float),
            vcov_beta=np.asarray(vcov_beta, float),
            vcov_varpar=2.0 * Hinv,
            jac=np.moveaxis(J, -1, 0),
            hessian_eigenvalues=evals,
        )

    def df_1d(self, L: np.ndarray) -> float:
        """Satterthwaite df of the contrast ``L @ beta``."""
        L = np.asarray(L, float)
        var_con = L @ self.vcov_beta @ L
        g = np.einsum("i,vij,j->v", L, self.jac, L)
        denom = g @ self.vcov_varpar @ g
        if denom <= 0 or not np.isfinite(denom):
            return np.nan
        return float(2.0 * var_con**2 / denom)

    def test_1d(self, L: np.ndarray) -> dict:
        """Estimate, SE, df, t and two-sided p of one contrast."""
        L = np.asarray(L, float)
        est = float(L @ self.beta)
        se = float(np.sqrt(L @ self.vcov_beta @ L))
        df = self.df_1d(L)
        t = est / se
        p = float(2.0 * stats.t.sf(abs(t), df)) if np.isfinite(df) else np.nan
        return {"estimate": est, "std_error": se, "df": df, "statistic": t, "p_value": p}

    def test_md(self, L: np.ndarray) -> dict:
        """Multi-df F test of ``L @ beta = 0`` with Satterthwaite denominator df."""
        L = np.atleast_2d(np.asarray(L, float))
        VL = L @ self.vcov_beta @ L.T
        d, P = np.linalg.eigh(VL)
        order = np.argsort(d)[::-1]
        d, P = d[order], P[:, order]
        tol = max(1e-8 * d[0], 0.0)
        pos = d > tol
        q = int(pos.sum())
        PtL = (P.T @ L)[:q]
        t2 = (PtL @ self.beta) ** 2 / d[:q]
        F = float(t2.sum() / q)
        nu = np.empty(q)
        for m in range(q):
            g = np.einsum("i,vij,j->v", PtL[m], self.jac, PtL[m])
            nu[m] = 2.0 * d[m] ** 2 / (g @ self.vcov_varpar @ g)
        ddf = fstat_ddf(nu)
        p = float(stats.f.sf(F, q, ddf))
        return {"num_df": q, "den_df": ddf, "statistic": F, "p_value": p}
