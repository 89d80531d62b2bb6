"""The REML/ML criterion of a model with a residual covariance structure, block by block.

Subjects are independent, so the marginal covariance is block diagonal: for subject i,
``V_i = σ² (Z_i Λ Λ' Z_i' + R_i)`` with Λ the random effects' relative factors (lme4's θ)
and R_i the residual structure's relative covariance at the subject's visits. The n×n matrix
is never formed: every subject's block is factored (``V_i = L_i L_i'``) and the whitened
``[X_i y_i]`` accumulate the cross-products ``X'V⁻¹X``, ``X'V⁻¹y``, ``y'V⁻¹y``. Subjects with
the same visit pattern (and no random effects) share one block, factored once and applied
to the whole batch as one triangular solve; otherwise a batch is a stack of blocks
(batched Cholesky and triangular solves).

With σ² profiled out (``r²`` the generalized residual sum of squares, p = rank X):

* ML:   −2l = Σ log|V_i/σ²| + n [1 + log(2π r²/n)]
* REML: −2l_R = Σ log|V_i/σ²| + log|X'V⁻¹X σ²| + (n−p) [1 + log(2π r²/(n−p))]

The parameter vector φ is ``[θ (random effects, lme4's order), level 1's structure
parameters, then per further by-level: log of its scale relative to level 1 and its
structure parameters]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ...covariance.residual import BOUND
from ...design.build import Design
from ...design.residual import Batch, ResidualDesign

__all__ = ["GLSCriterion", "Solution"]

_LOG2PI = float(np.log(2 * np.pi))


@dataclass
class Solution:
    """The GLS solution at φ: cross-products, β̂, r² and log-determinants."""

    logdet_v: float
    xtvx: np.ndarray
    beta: np.ndarray
    r2: float
    logdet_x: float


class GLSCriterion:
    """Blocked REML/ML criterion over φ (see the module notes).

    Parameters
    ----------
    design : Design
    rd : ResidualDesign
    """

    def __init__(self, design: Design, rd: ResidualDesign):
        self.design = design
        self.rd = rd
        self.cov = rd.structures[0]
        self.n, self.p = design.n, design.p
        self.ntheta = design.ntheta
        k = self.cov.n_params
        self.level_slices: list[tuple[int | None, slice]] = []
        at = self.ntheta
        for lv in range(rd.n_levels):
            scale = None
            if lv > 0:
                scale, at = at, at + 1
            self.level_slices.append((scale, slice(at, at + k)))
            at += k
        self.n_params = at
        XY = np.column_stack([design.X, design.y])
        self._xy = [XY[b.rows] for b in rd.batches]
        # sufficient statistics of the shared-pattern batches (no random effects):
        # Σ_i [X y]_i[a]' [X y]_i[b] per pair of visits, so that the whitened cross-products
        # are Σ_ab (V⁻¹)_ab S_ab — independent of the number of subjects
        self._suff = [
            np.einsum("bmi,bnj->mnij", xy, xy)
            if b.shared and not design.terms and xy.shape[1] ** 2 * xy.shape[2] ** 2 < 4e6
            else None
            for b, xy in zip(rd.batches, self._xy, strict=True)
        ]
        self._re = [
            [
                (t.X[b.rows], t.codes[b.rows][:, :, None] == t.codes[b.rows][:, None, :])
                for t in design.terms
            ]
            for b in rd.batches
        ]

    # ------------------------------------------------------------------ layout
    @property
    def names(self) -> list[str]:
        """Names of φ's components."""
        out = list(self.design.theta_names)
        groups = self.rd.group_names
        for lv, (scale, _) in enumerate(self.level_slices):
            if scale is not None:
                out.append(f"{groups[lv]}.log_scale")
            out.extend(f"{groups[lv]}.{nm}" for nm in self.cov.param_names)
        return out

    @property
    def lower(self) -> np.ndarray:
        out = np.full(self.n_params, -BOUND)
        out[: self.ntheta] = np.where(np.isfinite(self.design.lower), self.design.lower, -1e3)
        return out

    @property
    def upper(self) -> np.ndarray:
        out = np.full(self.n_params, BOUND)
        out[: self.ntheta] = 1e3
        return out

    def start(self, level_sds: list[np.ndarray] | None = None) -> np.ndarray:
        """θ at lme4's start, structure parameters from per-visit residual SDs if given."""
        out = np.zeros(self.n_params)
        out[: self.ntheta] = self.design.theta0
        for lv, (scale, sl) in enumerate(self.level_slices):
            sds = None if level_sds is None else level_sds[lv]
            out[sl] = self.cov.start if sds is None else self.cov.sd_start(sds)
            if scale is not None and level_sds is not None:
                s0, s1 = level_sds[0][0], level_sds[lv][0]
                if s0 > 0 and s1 > 0:
                    out[scale] = np.clip(np.log(s1 / s0), -BOUND / 2, BOUND / 2)
        return out

    def level_params(self, phi: np.ndarray, lv: int) -> tuple[float, np.ndarray]:
        """(relative variance scale, structure parameters) of one by-level."""
        scale, sl = self.level_slices[lv]
        return (1.0 if scale is None else float(np.exp(2 * phi[scale]))), phi[sl]

    def relative_g(self, phi: np.ndarray) -> list[np.ndarray]:
        """Relative covariance ΛΛ' of each random-effect term."""
        return [T @ T.T for T in self.design.factors(phi[: self.ntheta])]

    # ------------------------------------------------------------------ blocks
    def residual_block(self, phi: np.ndarray, lv: int, pos: np.ndarray) -> np.ndarray:
        """Relative residual covariance at visit positions (or times) ``pos``."""
        s, par = self.level_params(phi, lv)
        return s * self.cov.matrix_at(par, pos)

    def _block(self, phi, bi: int, b: Batch, G) -> np.ndarray:
        V = self.residual_block(phi, b.by, b.pos)
        if not self.design.terms:
            return V
        V = np.broadcast_to(V, (len(b.rows),) + V.shape[-2:]).copy()
        for (Xt, mask), g in zip(self._re[bi], G, strict=True):
            V += mask * np.einsum("bma,ac,bnc->bmn", Xt, g, Xt)
        return V

    def _whiten(self, phi, skip=None):
        """Yield (batch index, inverse Cholesky factor(s), whitened [X y], log|V| of the
        batch). The blocks are small (one subject's visits), so L⁻¹ times the batch is
        cheaper than triangular solves, which SciPy loops over a stack one by one."""
        G = self.relative_g(phi) if self.design.terms else None
        for bi, b in enumerate(self.rd.batches):
            if skip is not None and skip[bi] is not None:
                continue
            V = self._block(phi, bi, b, G)
            L = np.linalg.cholesky(V)
            Li = np.linalg.inv(L)
            XY = self._xy[bi]
            d = np.log(np.diagonal(L, axis1=-2, axis2=-1))
            if V.ndim == 2:
                B, m, c = XY.shape
                W = (Li @ XY.transpose(1, 0, 2).reshape(m, B * c)).reshape(m, B, c)
                yield bi, Li, W.transpose(1, 0, 2), 2.0 * B * d.sum()
            else:
                yield bi, Li, Li @ XY, 2.0 * d.sum()

    def solution(self, phi: np.ndarray) -> Solution | None:
        """The GLS solution at φ, or None where a block is not positive definite."""
        phi = np.asarray(phi, float)
        c = self.p + 1
        C = np.zeros((c, c))
        logdet = 0.0
        try:
            if any(S is not None for S in self._suff):
                for bi, b in enumerate(self.rd.batches):
                    S = self._suff[bi]
                    if S is None:
                        continue
                    L = np.linalg.cholesky(self.residual_block(phi, b.by, b.pos))
                    Li = np.linalg.inv(L)
                    C += np.einsum("mn,mnij->ij", Li.T @ Li, S)
                    logdet += 2.0 * len(b.rows) * float(np.log(np.diag(L)).sum())
            for _, _, W, ld in self._whiten(phi, skip=self._suff):
                Wf = W.reshape(-1, c)
                C += Wf.T @ Wf
                logdet += ld
            RX = np.linalg.cholesky(C[: self.p, : self.p])
        except np.linalg.LinAlgError:
            return None
        beta = sla.cho_solve((RX, True), C[: self.p, self.p])
        r2 = float(C[self.p, self.p] - C[: self.p, self.p] @ beta)
        ldx = 2.0 * float(np.log(np.diag(RX)).sum())
        if not (np.isfinite(logdet) and r2 > 0):
            return None
        return Solution(logdet, C[: self.p, : self.p], beta, r2, ldx)

    # ------------------------------------------------------------------ criteria
    def profiled(self, phi: np.ndarray, reml: bool) -> float:
        """−2 log-likelihood (REML: restricted) with σ² and β profiled out; inf if invalid."""
        s = self.solution(phi)
        if s is None:
            return np.inf
        nd = self.n - self.p if reml else self.n
        out = s.logdet_v + nd * (1.0 + _LOG2PI + np.log(s.r2 / nd))
        return float(out + (s.logdet_x if reml else 0.0))

    def full(self, phi: np.ndarray, log_s2: float, reml: bool) -> float:
        """−2 log-likelihood at φ and log σ² (β profiled), for the Hessian of the covariance
        parameters (Satterthwaite) as lmerTest differentiates lme4's deviance."""
        s = self.solution(phi)
        if s is None:
            return np.inf
        s2 = np.exp(log_s2)
        nd = self.n - self.p if reml else self.n
        out = s.logdet_v + nd * (_LOG2PI + log_s2) + s.r2 / s2
        return float(out + (s.logdet_x if reml else 0.0))

    def sigma2(self, phi: np.ndarray, reml: bool) -> float:
        """Profiled σ̂² = r² / (n − p) (REML) or r² / n (ML)."""
        s = self.solution(phi)
        return s.r2 / (self.n - self.p if reml else self.n)

    def whitened_residuals(self, phi: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """V⁻¹(y − Xβ) in σ² units, row by row (for the BLUPs ΛΛ'Z'V⁻¹r)."""
        out = np.zeros(self.n)
        for bi, Li, _, _ in self._whiten(phi):
            b = self.rd.batches[bi]
            XY = self._xy[bi]
            r = XY[..., -1] - XY[..., :-1] @ beta
            Vi = np.swapaxes(Li, -1, -2) @ Li  # V⁻¹ = L⁻ᵀ L⁻¹
            out[b.rows] = np.einsum("...mn,...n->...m", Vi, r)
        return out

    def marginal_block(self, phi: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Z G Z', R) relative blocks of one subject's rows (in the given order)."""
        rd = self.rd
        lv = int(rd.by_codes[rows[0]])
        pos = rd.times[rows] if rd.times is not None else rd.time_pos[rows]
        R = self.residual_block(phi, lv, pos)
        ZGZ = np.zeros_like(R)
        for t, g in zip(self.design.terms, self.relative_g(phi), strict=True):
            Xt = t.X[rows]
            mask = t.codes[rows][:, None] == t.codes[rows][None, :]
            ZGZ += mask * (Xt @ g @ Xt.T)
        return ZGZ, R
