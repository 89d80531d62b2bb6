"""Kenward–Roger small-sample inference for the fixed effects (Kenward & Roger 1997).

The covariance of y is written as a sum V = Σ_r γ_r G_r over the covariance parameters: every
element (a ≤ b) of every term's covariance matrix Σ_t, with G = Z_t (I ⊗ E_ab) Z_tᵀ, and the
residual variance with G = I. From these, as pbkrtest (Halekoh & Højsgaard 2014) computes them:

* P_r = −Xᵀ V⁻¹ G_r V⁻¹ X,  Q_rs = Xᵀ V⁻¹ G_r V⁻¹ G_s V⁻¹ X,
* the expected information of γ, I_rs = ½[tr(V⁻¹G_rV⁻¹G_s) − 2 tr(Φ Q_rs) + tr(Φ P_r Φ P_s)],
  and W = I⁻¹ (the asymptotic covariance of γ̂),
* the adjusted covariance Φ_A = Φ + 2Φ [Σ_rs W_rs (Q_rs − P_r Φ P_s)] Φ, with Φ = vcov(β̂),
* for a hypothesis Lβ = 0 of rank q: the scaled Wald statistic and its denominator df from
  A₁ = Σ W_rs tr(ΘΦP_rΦ) tr(ΘΦP_sΦ) and A₂ = Σ W_rs tr(ΘΦP_rΦΘΦP_sΦ), Θ = Lᵀ(LΦLᵀ)⁻¹L.

lmerTest reports t tests with SE from Φ_A and these df, and F tables whose mean squares use
the unscaled statistic (Lβ)ᵀ(LΦ_ALᵀ)⁻¹(Lβ)/q while F and its p-value use the scaled one.

Nothing n × n is formed: V⁻¹ enters through Woodbury in the random-effects space
(:mod:`~bayesmixed.reml.inference.kr_traces`), so the cost grows like that of the fit.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from ...errors import ArgumentError, BayesMixedWarning
from .kr_traces import MAX_DENSE, WoodburyTraces

__all__ = ["MAX_DENSE", "KenwardRoger", "ml_fallback"]


def ml_fallback(ddf: str, reml: bool) -> str:
    """``ddf``, or ``"satterthwaite"`` (with a warning) when Kenward–Roger is asked of an
    ML fit: the hook behind emmeans and contrasts of REML and GLS fits, as for lmer fits.

    The warning points at the caller of ``Fit.emmeans``/``contrast`` (the hook's caller's
    caller's caller).
    """
    if ddf == "kenward-roger" and not reml:
        warnings.warn(
            "Kenward-Roger's method needs a REML fit: using Satterthwaite's df for this ML "
            "fit (refit with reml=True for Kenward-Roger)",
            BayesMixedWarning,
            stacklevel=5,
        )
        return "satterthwaite"
    return ddf


def _div0(x: float, y: float, tol: float = 1e-14) -> float:
    """x / y, or 1 when both are below ``tol`` (pbkrtest's convention)."""
    return 1.0 if abs(x) < tol and abs(y) < tol else x / y


class KenwardRoger:
    """Kenward–Roger adjusted covariance and tests for a REML fit.

    Parameters
    ----------
    fit : REMLFit
        Fitted by REML (the method is defined for REML estimates).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> kr = KenwardRoger(fit)
    >>> print(f"{kr.test_1d([0, 1])['df']:.4f}")
    17.0000
    """

    def __init__(self, fit):
        if not fit.reml:
            raise ArgumentError(
                "Kenward-Roger's method is only available for REML fits: refit with "
                "fit_reml(reml=True), or use ddf='Satterthwaite'"
            )
        # as the fit itself: multithreaded BLAS on the dense later-term block gains little and,
        # with the cores busy, made a 500-wide Cholesky a hundred times slower
        with fit.deviance_fn.blas_limit(fit.blas_threads):
            self._compute(fit)

    def _compute(self, fit) -> None:
        d = fit.design
        self.beta = np.asarray(fit.fixef(), dtype=float)
        self.Phi = Phi = fit.vcov().to_numpy()
        traces = WoodburyTraces(d, fit.theta, fit.sigma)
        params, K = traces.trace_matrix()
        P, Q = traces.products(d.X, params)
        ng = len(P)
        PhiP = Phi @ P  # (ng, p, p): Φ P_r
        # I_rs = ½[K_rs − 2 tr(Φ Q_rs) + tr(Φ P_r Φ P_s)], stored doubled as pbkrtest does
        IE2 = K - 2.0 * np.einsum("ij,rsij->rs", Phi, Q) + np.einsum("rij,sji->rs", PhiP, PhiP)
        IE2 = 0.5 * (IE2 + IE2.T)
        eig = np.linalg.eigvalsh(IE2)
        W = 2.0 * (np.linalg.inv(IE2) if np.min(np.abs(eig)) > 1e-10 else np.linalg.pinv(IE2))
        W = 0.5 * (W + W.T)
        # U = Σ_rs W_rs (Q_rs − P_r Φ P_s)
        PPhiP = np.einsum("rij,sjk->rsik", P, PhiP)
        U = np.einsum("rs,rsij->ij", W, Q - PPhiP)
        U = 0.5 * (U + U.T)
        self.PhiA = Phi + 2.0 * Phi @ U @ Phi
        self.P = P
        self.W = W
        self.sigma = fit.sigma
        self._ng = ng

    # ------------------------------------------------------------------ tests
    def _ddf(self, L: np.ndarray, q: int) -> float:
        """Kenward–Roger denominator df of Lβ = 0 (rank q); sets the F scale as a side effect."""
        Phi, P, W = self.Phi, self.P, self.W
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if L.shape[0] == 1:
            # Θ = l'l / (lΦl'): tr(ΘΦP_rΦ) = w'P_r w / c with w = Φl', and A₂ = A₁
            w = Phi @ L[0]
            v = np.einsum("i,rij,j->r", w, P, w) / float(L[0] @ w)
            A1 = A2 = float(v @ W @ v)
        else:
            Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
            u = Theta @ Phi @ P @ Phi  # (ng, p, p): ΘΦP_rΦ
            tr = np.einsum("rii->r", u)
            A1 = float(tr @ W @ tr)
            A2 = float(np.einsum("rs,rij,sji->", W, u, u))
        B = (A1 + 6.0 * A2) / (2.0 * q)
        g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
        den = 3.0 * q + 2.0 * (1.0 - g)
        c1, c2, c3 = g / den, (q - g) / den, (q + 2 - g) / den
        V0 = 1.0 + c1 * B
        V0 = 0.0 if abs(V0) < 1e-10 else V0
        V1 = 1.0 - c2 * B
        V2 = 1.0 - c3 * B
        rho = (1.0 / q) * _div0(1.0 - A2 / q, V1) ** 2 * V0 / V2
        df2 = 4.0 + (q + 2.0) / (q * rho - 1.0)
        self._scale = 1.0 if abs(df2 - 2.0) < 1e-2 else df2 * (1.0 - A2 / q) / (df2 - 2.0)
        return float(df2)

    def test_1d(self, L) -> dict:
        """t test of one contrast: SE from the adjusted covariance, Kenward–Roger df."""
        L = np.asarray(L, dtype=float).reshape(1, -1)
        est = float((L @ self.beta)[0])
        se = float(np.sqrt((L @ self.PhiA @ L.T)[0, 0]))
        df = self._ddf(L, 1)
        t = est / se
        p = float(2.0 * stats.t.sf(abs(t), df))
        return {"estimate": est, "std_error": se, "df": df, "statistic": t, "p_value": p}

    def test_md(self, L) -> dict:
        """F test of Lβ = 0 (lmerTest's Kenward–Roger F table row)."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        q = int(np.linalg.matrix_rank(L))
        df = self._ddf(L, q)
        Lb = L @ self.beta
        F_u = float(Lb @ np.linalg.solve(L @ self.PhiA @ L.T, Lb)) / q
        F = F_u * self._scale
        return {
            "num_df": q,
            "den_df": df,
            "statistic": F,
            "p_value": float(stats.f.sf(F, q, df)),
            "mean_sq": F_u * self.sigma**2,
        }
