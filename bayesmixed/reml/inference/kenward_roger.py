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

V⁻¹ is formed densely, so the method is for n up to :data:`MAX_N` (it is a small-sample
method; use Satterthwaite beyond that).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import stats

from ...errors import ArgumentError

__all__ = ["KenwardRoger", "MAX_N"]

MAX_N = 10_000


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
        d = fit.design
        if d.n > MAX_N:
            raise ArgumentError(
                f"Kenward-Roger needs dense n × n matrices and n = {d.n:,} > {MAX_N:,}: use "
                "ddf='Satterthwaite' (for large n the two agree closely)"
            )
        self.beta = np.asarray(fit.fixef(), dtype=float)
        self.Phi = fit.vcov().to_numpy()
        X = d.X
        covs = fit.covs
        s2 = fit.sigma**2
        # V = Σ_t Z_t (I ⊗ Σ_t) Z_tᵀ + σ² I
        V = s2 * np.eye(d.n)
        Zs, Es = [], []
        for t, S in zip(d.terms, covs, strict=True):
            Z = t.Z
            V += (Z @ sp.kron(sp.identity(t.m), sp.csr_matrix(S)) @ Z.T).toarray()
            Zs.append(Z)
            for a in range(t.k):
                for b in range(a + 1):
                    E = np.zeros((t.k, t.k))
                    E[a, b] = E[b, a] = 1.0
                    Es.append((len(Zs) - 1, sp.kron(sp.identity(t.m), sp.csr_matrix(E)).tocsr()))
        Vi = np.linalg.inv(V)  # symmetric positive definite; n ≤ MAX_N
        Vi = 0.5 * (Vi + Vi.T)
        SiX = Vi @ X  # V⁻¹X
        ViSiX = Vi @ SiX  # V⁻²X
        WZ = [np.asarray(Z.T @ Vi).T for Z in Zs]  # V⁻¹Z_t (n × q_t)
        Ct = [Z.T @ SiX for Z in Zs]  # Z_tᵀV⁻¹X (q_t × p)
        M = {(i, j): Zs[i].T @ WZ[j] for i in range(len(Zs)) for j in range(len(Zs))}
        Dt = [WZ[i].T @ SiX for i in range(len(Zs))]  # Z_tᵀV⁻²X
        N = [WZ[i].T @ WZ[i] for i in range(len(Zs))]  # Z_tᵀV⁻²Z_t

        nre = len(Es)
        ng = nre + 1  # + residual
        P = []
        for ti, E in Es:
            P.append(-(Ct[ti].T @ (E @ Ct[ti])))
        P.append(-(SiX.T @ SiX))
        Q = {}
        K = np.empty((ng, ng))
        for r in range(ng):
            for s in range(r, ng):
                if s < nre:
                    (ti, Er), (uj, Es_) = Es[r], Es[s]
                    Q[(r, s)] = Ct[ti].T @ (Er @ (M[(ti, uj)] @ (Es_ @ Ct[uj])))
                    A = Er @ M[(ti, uj)]
                    B = Es_ @ M[(uj, ti)]
                    K[r, s] = float(np.sum(np.asarray(A) * np.asarray(B).T))
                elif r < nre:  # s is the residual
                    ti, Er = Es[r]
                    Q[(r, s)] = Ct[ti].T @ (Er @ Dt[ti])
                    K[r, s] = float(Er.multiply(N[ti]).sum())
                else:
                    Q[(r, s)] = SiX.T @ ViSiX
                    K[r, s] = float(np.sum(Vi * Vi))
                K[s, r] = K[r, s]
        Phi = self.Phi
        IE2 = np.empty((ng, ng))
        for r in range(ng):
            PhiPr = Phi @ P[r]
            for s in range(r, ng):
                IE2[r, s] = IE2[s, r] = (
                    K[r, s] - 2.0 * np.sum(Phi * Q[(r, s)]) + np.sum(PhiPr * (P[s] @ Phi))
                )
        eig = np.linalg.eigvalsh(0.5 * (IE2 + IE2.T))
        W = 2.0 * (np.linalg.inv(IE2) if np.min(np.abs(eig)) > 1e-10 else np.linalg.pinv(IE2))
        W = 0.5 * (W + W.T)
        U = np.zeros_like(Phi)
        for r in range(ng - 1):
            for s in range(r + 1, ng):
                U += W[r, s] * (Q[(r, s)] - P[r] @ Phi @ P[s])
        U = U + U.T
        for r in range(ng):
            U += W[r, r] * (Q[(r, r)] - P[r] @ Phi @ P[r])
        self.PhiA = Phi + 2.0 * Phi @ U @ Phi
        self.P = P
        self.W = W
        self.sigma = fit.sigma

    # ------------------------------------------------------------------ tests
    def _ddf(self, L: np.ndarray, q: int) -> float:
        Phi, P, W = self.Phi, self.P, self.W
        Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
        TP = Theta @ Phi
        u = [TP @ Pr @ Phi for Pr in P]
        tr = [float(np.trace(x)) for x in u]
        A1 = A2 = 0.0
        ng = len(P)
        for r in range(ng):
            for s in range(r, ng):
                e = 1.0 if r == s else 2.0
                A1 += e * W[r, s] * tr[r] * tr[s]
                A2 += e * W[r, s] * float(np.sum(u[r] * u[s].T))
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
