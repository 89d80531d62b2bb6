"""Kenward–Roger inference for the fixed effects of a :class:`GLSFit` (as mmrm computes it).

Kenward & Roger (1997), in mmrm's notation, with Φ = (X'V⁻¹X)⁻¹ the model-based covariance
of β̂ and the sums running over the subjects (V is block diagonal; nothing n × n is formed):

* P_r = −Σ_i X_i'V_i⁻¹ ∂_rV_i V_i⁻¹X_i,   Q_rs = Σ_i X_i'V_i⁻¹ ∂_rV_i V_i⁻¹ ∂_sV_i V_i⁻¹X_i,
  R_rs = Σ_i X_i'V_i⁻¹ ∂²_rsV_i V_i⁻¹X_i;
* W = I⁻¹, I the expected REML information of the covariance parameters ψ,
  I_rs = ½[Σ_i tr(V_i⁻¹∂_rV_iV_i⁻¹∂_sV_i) − 2 tr(ΦQ_rs) + tr(ΦP_rΦP_s)];
* the adjusted covariance Φ_A = Φ + 2Φ[Σ_rs W_rs (Q_rs − P_rΦP_s − ¼R_rs)]Φ (mmrm's
  "Kenward-Roger"; ``linear=True`` drops R, mmrm's "Kenward-Roger-Linear");
* the df of Lβ = 0 from A₁ = Σ W_rs tr(ΘΦP_rΦ) tr(ΘΦP_sΦ), A₂ = Σ W_rs tr(ΘΦP_rΦΘΦP_sΦ),
  Θ = L'(LΦL')⁻¹L (unadjusted Φ); for one contrast df = 2 / (a'Wa), a_r = l'ΦP_rΦl / l'Φl.

ψ and the block derivatives are described in :mod:`~bayesmixed.reml.gls.block_derivatives`:
G-side elements (linear), then the residual structure on its natural scale (variances and
correlations). The df depend on ψ only through W and P, which change covariantly under a
reparameterization, so they are invariant; Φ_A is not (R holds second derivatives): CS on
(σ², ρ) and the same model as lmer's random intercept on (τ², σ²_e) give the same df but
slightly different SEs. mmrm itself differentiates in its unconstrained θ and takes W from
the observed Hessian; this module uses the expected information, as pbkrtest.
"""

from __future__ import annotations

import numpy as np

from ..._threads import limit_blas
from ...errors import ArgumentError
from ..inference.kenward_roger import KenwardRoger
from .block_derivatives import BlockDerivatives

__all__ = ["GLSKenwardRoger"]


class GLSKenwardRoger(KenwardRoger):
    """Kenward–Roger adjusted covariance, df and tests for a REML :class:`GLSFit`.

    Parameters
    ----------
    fit : GLSFit
        Fitted by REML.
    linear : bool
        Drop the second-derivative term R (mmrm's "Kenward-Roger-Linear").
    transform : {"natural", "working"} or callable
        Scale of the residual-structure parameters (see
        :class:`~bayesmixed.reml.gls.block_derivatives.BlockDerivatives`).

    Attributes
    ----------
    Phi, PhiA : ndarray
        Model-based and adjusted covariance of β̂.
    W : ndarray
        Inverse expected information of the covariance parameters ψ (``names``).

    Examples
    --------
    >>> import numpy as np, pandas as pd, bayesmixed as bm
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"id": np.repeat(np.arange(20), 3), "visit": ["a", "b", "c"] * 20,
    ...                   "arm": np.repeat(["c", "t"], 30)})
    >>> d["y"] = rng.normal(size=60)
    >>> fit = bm.MixedModel("y ~ arm + visit", d, residual=bm.residual.UN(time="visit",
    ...                     group="id")).fit_reml()
    >>> kr = GLSKenwardRoger(fit)
    >>> kr.names[:2]
    ['Residual.var__a', 'Residual.var__b']
    >>> print(f"{kr.test_1d([0, 1, 0, 0])['df']:.4f}")   # between subjects: 20 − 2
    18.0000
    """

    def __init__(self, fit, linear: bool = False, transform="natural"):
        if not fit.reml:
            raise ArgumentError(
                "Kenward-Roger's method is only available for REML fits: refit with "
                "fit_reml(reml=True), or use ddf='satterthwaite'"
            )
        self.linear = bool(linear)
        with limit_blas(1):
            self._compute(fit, transform)

    def _compute(self, fit, transform) -> None:
        bd = BlockDerivatives(fit, transform)
        crit = fit.criterion_fn
        p, K, ng = crit.p, bd.n_params, bd.n_g
        xtvx = np.zeros((p, p))
        P = np.zeros((K, p, p))
        Q = np.zeros((K, K, p, p))
        R = np.zeros((K, K, p, p))
        T = np.zeros((K, K))
        for bi, b in enumerate(crit.rd.batches):
            parts = self._batch(bd, bi, b)
            for acc, part in zip((xtvx, P, Q, R, T), parts, strict=True):
                acc += part
        Phi = np.linalg.inv(xtvx)
        Phi = 0.5 * (Phi + Phi.T)
        PhiP = Phi @ P
        info = 0.5 * (
            T - 2.0 * np.einsum("ij,rsji->rs", Phi, Q) + np.einsum("rij,sji->rs", PhiP, PhiP)
        )
        info = 0.5 * (info + info.T)
        eig = np.linalg.eigvalsh(info)
        W = (
            np.linalg.inv(info)
            if np.min(np.abs(eig)) > 1e-10 * np.max(eig)
            else np.linalg.pinv(info)
        )
        W = 0.5 * (W + W.T)
        inner = Q - np.einsum("rij,sjk->rsik", P, PhiP)
        if not self.linear:
            inner = inner - 0.25 * R
        U = np.einsum("rs,rsij->ij", W, inner)
        U = 0.5 * (U + U.T)
        self.beta = np.asarray(fit.beta, float)
        self.Phi, self.PhiA = Phi, Phi + 2.0 * Phi @ U @ Phi
        self.P, self.Q, self.R, self.W = P, Q, R, W
        self.names = bd.names
        self.sigma = fit.sigma
        self._ng = K
        self.n_random_effect_params = ng

    @staticmethod
    def _batch(bd: BlockDerivatives, bi: int, b):
        """One batch's contributions to X'V⁻¹X, P, Q, R and Σ tr(V⁻¹∂_rVV⁻¹∂_sV)."""
        X = bd.crit._xy[bi][..., :-1]  # (B, m, p)
        B, m, p = X.shape
        V = bd.block(bi, b)
        Jr, Hr = bd.residual(b)
        Jg = bd.random_effects(bi, b)
        ng, kr = Jg.shape[0], Jr.shape[0]
        K = ng + kr
        R = np.zeros((K, K, p, p))
        if V.ndim == 2 and Jr.ndim == 3 and ng == 0:
            # one block for every subject: contract m × m matrices with S = Σ_b Y_b ⊗ Y_b
            Vi = np.linalg.inv(V)
            Y = Vi @ X
            S = np.einsum("bmi,bnj->mnij", Y, Y)
            D = np.einsum("rmn,no,sop->rsmp", Jr, Vi, Jr)
            C = Vi @ Jr
            Pb = -np.einsum("rmn,mnij->rij", Jr, S)
            Qb = np.einsum("rsmn,mnij->rsij", D, S)
            R[ng:, ng:] = np.einsum("rsmn,mnij->rsij", Hr, S)
            Tb = B * np.einsum("rmn,snm->rs", C, C)
            return np.einsum("bmi,bmj->ij", X, Y), Pb, Qb, R, Tb
        V = np.broadcast_to(V, (B, m, m))
        dV = np.concatenate(
            [Jg, np.broadcast_to(Jr if Jr.ndim == 4 else Jr[:, None], (kr, B, m, m))]
        )
        if Hr.ndim == 4:
            Hr = Hr[:, :, None]
        Vi = np.linalg.inv(V)
        Y = Vi @ X
        F = dV @ Y  # (K, B, m, p): ∂_rV V⁻¹X
        G = Vi @ F
        Pb = -np.einsum("bmi,rbmj->rij", Y, F)
        Ff = F.transpose(0, 3, 1, 2).reshape(K * p, B * m)
        Gf = G.transpose(0, 3, 1, 2).reshape(K * p, B * m)
        Qb = (Ff @ Gf.T).reshape(K, p, K, p).transpose(0, 2, 1, 3)
        for r in range(kr):
            HY = np.broadcast_to(Hr[r], (kr, B, m, m)) @ Y
            R[ng + r, ng:] = np.einsum("bmi,sbmj->sij", Y, HY)
        C = Vi @ dV
        Tb = np.einsum("rbmn,sbnm->rs", C, C)
        return np.einsum("bmi,bmj->ij", X, Y), Pb, Qb, R, Tb

    # ------------------------------------------------------------------ per-coefficient
    def std_errors(self) -> np.ndarray:
        """Adjusted standard error of every fixed effect, √diag Φ_A."""
        return np.sqrt(np.diag(self.PhiA))

    def df(self, L: np.ndarray | None = None) -> np.ndarray:
        """Kenward–Roger df of each row of ``L`` (default: each fixed effect)."""
        L = np.eye(len(self.beta)) if L is None else np.atleast_2d(np.asarray(L, float))
        return np.array([self._ddf(row[None, :], 1) for row in L])
