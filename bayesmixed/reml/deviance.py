"""Profiled ML deviance and REML criterion by a blocked Cholesky factor (lme4's PLS).

For relative covariance factor Λθ the penalized least-squares system is

    [Λ'Z'ZΛ + I   Λ'Z'X   Λ'Z'y]
    [X'ZΛ         X'X     X'y  ]   =  L L'
    [y'ZΛ         y'X     y'y  ]

and from its Cholesky factor (Bates et al. 2015, JSS 67(1), eqs. 34 and 41)

    ML:    -2 l(θ)   = log|L_θ|² + n [1 + log(2π r²(θ)/n)]
    REML:  -2 l_R(θ) = log|L_θ|² + log|R_X|² + (n-p) [1 + log(2π r²(θ)/(n-p))]

with r²(θ) the square of the factor's last diagonal element.

Blocking, as MixedModels.jl does: terms are ordered by decreasing number of levels. The first
term's block Λ₁'Z₁'Z₁Λ₁ + I is block diagonal (one k×k block per level: every observation
belongs to exactly one level), so its factor is a stack of tiny Cholesky factors. Everything
after it — the other terms, X and y — forms one dense block that takes the fill-in. The sizes
that matter for cost are therefore the levels of the *second and later* terms, not n: a crossed
design with 3,000 × 1,000 levels factors a 1,000-wide dense block per evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.linalg.lapack import dpotrf

from ..design import Design

__all__ = ["PLSFactor", "ProfiledDeviance"]


@dataclass
class PLSFactor:
    """The blocked Cholesky factor at one θ and what the fit needs from it."""

    theta: np.ndarray
    T1: np.ndarray  # k1×k1 relative factor of the first term
    L11: np.ndarray  # (m1, k1, k1) lower-triangular diagonal blocks
    L11inv: np.ndarray  # their inverses
    L21Z: sp.csr_matrix | None  # (qr × q1) rows of the later terms
    L21D: np.ndarray  # (p+1 × q1) rows of X and y
    L22: np.ndarray  # dense lower factor of the [Zr, X, y] block
    qr: int
    p: int
    ldL2: float
    ldRX2: float
    r2: float
    ok: bool = True


class ProfiledDeviance:
    """Evaluate lme4's profiled deviance for a :class:`~bayesmixed.design.Design`.

    Parameters
    ----------
    design : Design
        Must have at least one random-effects term.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> from bayesmixed.design import build_design
    >>> from bayesmixed.spec import parse_formula
    >>> d = build_design(parse_formula("Yield ~ 1 + (1 | Batch)"), bm.datasets.load("Dyestuff"))
    >>> dev = ProfiledDeviance(d)
    >>> round(dev(np.array([0.7525]), reml=True), 2)
    319.65
    """

    def __init__(self, design: Design):
        if not design.terms:
            raise ValueError("ProfiledDeviance needs at least one random-effects term")
        self.design = design
        self.n = design.n
        self.p = design.p
        t1 = design.terms[0]
        self.t1 = t1
        self.rest = design.terms[1:]
        self.slices = design.theta_slices
        W = np.column_stack([design.X, design.y])  # n × (p+1)
        self.P = W.shape[1]
        self.C1 = t1.ZtZ_blocks  # (m1, k1, k1)
        self.D1 = t1.level_sums(W)  # (m1, k1, P): Z1'W per level
        self.qr = sum(t.q for t in self.rest)
        if self.rest:
            Zr = sp.hstack([t.Z for t in self.rest], format="csc")
            self.A21Z = (Zr.T @ t1.Z).tocsr()  # qr × q1
            self.ZrtZr = (Zr.T @ Zr).tocsr()
            self.ZrtW = np.asarray(Zr.T @ W)  # qr × P
        else:
            self.A21Z = None
            self.ZrtZr = None
            self.ZrtW = np.zeros((0, self.P))
        self.WtW = W.T @ W
        self._eye_r = sp.identity(self.qr, format="csr") if self.qr else None
        self.evaluations = 0

    # ------------------------------------------------------------------ pieces
    def _lambda_rest(self, theta: np.ndarray) -> sp.csr_matrix:
        blocks = []
        for t, s in zip(self.rest, self.slices[1:], strict=True):
            T = t.factor(theta[s])
            if t.k == 1:
                blocks.append(sp.identity(t.m, format="csr") * T[0, 0])
            else:
                blocks.append(sp.kron(sp.identity(t.m, format="csr"), sp.csr_matrix(T)))
        return sp.block_diag(blocks, format="csr")

    def factor(self, theta: np.ndarray) -> PLSFactor:
        """Blocked Cholesky factor of the PLS system at ``theta``."""
        theta = np.asarray(theta, dtype=float)
        self.evaluations += 1
        t1 = self.t1
        k1 = t1.k
        T1 = t1.factor(theta[self.slices[0]])
        if k1 == 1:
            th = T1[0, 0]
            l11 = np.sqrt(th * th * self.C1[:, 0, 0] + 1.0)
            L11 = l11[:, None, None]
            L11inv = (1.0 / l11)[:, None, None]
            B = (th / l11)[:, None, None]  # T1 L11^{-T}, per level
        else:
            A11 = np.einsum("ba,jbc,cd->jad", T1, self.C1, T1)
            A11[:, np.arange(k1), np.arange(k1)] += 1.0
            L11 = np.linalg.cholesky(A11)
            L11inv = np.linalg.inv(L11)
            B = np.einsum("ab,jcb->jac", T1, L11inv)  # T1 @ L11inv_j.T
        # rows of X and y:  (A21 B)[r, (j,b)] = Σ_a D[j,a,r] B_j[a,b]
        L21D = np.einsum("jar,jab->rjb", self.D1, B).reshape(self.P, t1.q)
        qr = self.qr
        if qr:
            Lr = self._lambda_rest(theta)
            Bsp = sp.bsr_matrix(
                (B, np.arange(t1.m), np.arange(t1.m + 1)), shape=(t1.q, t1.q)
            ).tocsr()
            L21Z = (Lr.T @ self.A21Z @ Bsp).tocsr()
            top = (Lr.T @ self.ZrtZr @ Lr + self._eye_r - L21Z @ L21Z.T).toarray()
            off = Lr.T @ self.ZrtW - L21Z @ L21D.T  # qr × P
            S = np.empty((qr + self.P, qr + self.P))
            S[:qr, :qr] = top
            S[qr:, :qr] = off.T
            S[:qr, qr:] = off
            S[qr:, qr:] = self.WtW - L21D @ L21D.T
        else:
            L21Z = None
            S = self.WtW - L21D @ L21D.T
        L22, info = dpotrf(S, lower=1, clean=1, overwrite_a=1)
        ok = info == 0
        if ok:
            diag = np.diag(L22)
            if k1 == 1:
                ld1 = 2.0 * np.sum(np.log(L11[:, 0, 0]))
            else:
                ld1 = 2.0 * np.sum(np.log(np.diagonal(L11, axis1=1, axis2=2)))
            ldL2 = ld1 + 2.0 * np.sum(np.log(diag[:qr]))
            ldRX2 = 2.0 * np.sum(np.log(diag[qr : qr + self.p]))
            r2 = float(diag[-1] ** 2)
            ok = bool(np.isfinite(ldL2) and np.isfinite(ldRX2) and r2 > 0)
        else:
            ldL2 = ldRX2 = r2 = np.nan
        return PLSFactor(
            theta=theta.copy(),
            T1=T1,
            L11=L11,
            L11inv=L11inv,
            L21Z=L21Z,
            L21D=L21D,
            L22=L22,
            qr=qr,
            p=self.p,
            ldL2=float(ldL2),
            ldRX2=float(ldRX2),
            r2=r2,
            ok=ok,
        )

    # ------------------------------------------------------------------ criteria
    def criterion(self, f: PLSFactor, reml: bool) -> float:
        """Profiled deviance (ML) or REML criterion from a factor."""
        if not f.ok:
            return np.inf
        if reml:
            nmp = self.n - self.p
            return f.ldL2 + f.ldRX2 + nmp * (1.0 + np.log(2.0 * np.pi * f.r2 / nmp))
        return f.ldL2 + self.n * (1.0 + np.log(2.0 * np.pi * f.r2 / self.n))

    def __call__(self, theta: np.ndarray, reml: bool = True) -> float:
        return self.criterion(self.factor(theta), reml)

    def deviance_varpar(self, varpar: np.ndarray, reml: bool) -> float:
        """−2 log-likelihood (not profiled) at (θ, σ), as lmerTest's ``devfun_vp``."""
        theta, sigma = varpar[:-1], varpar[-1]
        f = self.factor(theta)
        if not f.ok:
            return np.inf
        s2 = sigma * sigma
        dev = f.ldL2 + f.r2 / s2 + self.n * np.log(2.0 * np.pi * s2)
        if reml:
            dev += f.ldRX2 - self.p * np.log(2.0 * np.pi * s2)
        return float(dev)

    # ------------------------------------------------------------------ solutions
    def solve(self, f: PLSFactor) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """β̂, spherical modes u and conditional modes b = Λu (per term, shape (m, k))."""
        qr = f.qr
        L22 = f.L22
        l2 = L22[-1, :-1]
        sol = sla.solve_triangular(L22[:-1, :-1], l2, lower=True, trans="T", check_finite=False)
        beta = sol[qr:]
        ur = sol[:qr]
        t1 = self.t1
        rhs = f.L21D[-1, :].copy()
        rhs -= f.L21D[:-1, :].T @ beta
        if qr:
            rhs -= f.L21Z.T @ ur
        rhs = rhs.reshape(t1.m, t1.k)
        u1 = np.einsum("jba,jb->ja", f.L11inv, rhs)  # L11_j^{-T} rhs_j
        us = [u1]
        bs = [u1 @ f.T1.T]
        off = 0
        for t, s in zip(self.rest, self.slices[1:], strict=True):
            u = ur[off : off + t.q].reshape(t.m, t.k)
            off += t.q
            us.append(u)
            bs.append(u @ t.factor(f.theta[s]).T)
        return beta, us, bs

    def unscaled_vcov(self, f: PLSFactor) -> np.ndarray:
        """(R_X' R_X)^{-1}: vcov(β̂) = σ² times this."""
        qr, p = f.qr, f.p
        RX = f.L22[qr : qr + p, qr : qr + p]
        Rinv = sla.solve_triangular(RX, np.eye(p), lower=True, check_finite=False)
        return Rinv.T @ Rinv

    def conditional_vcov(self, f: PLSFactor) -> list[np.ndarray]:
        """Per-term diagonal blocks of Λ (L_Z L_Z')^{-1} Λ', shape (m, k, k) each.

        Multiplied by σ² these are the conditional variances of the random effects given the
        data, θ and β̂ (lme4's ``condVar``); the full inverse of the Z part is used, so crossed
        terms are correct, not just their first block.
        """
        qr = f.qr
        t1 = self.t1
        # block 1: L11^{-T} L11^{-1} + M'M with M = L22rr^{-1} L21r L11^{-1}
        V1 = np.einsum("jba,jbc->jac", f.L11inv, f.L11inv)
        out_u = [V1]
        if qr:
            Lrr = f.L22[:qr, :qr]
            Binv = sp.bsr_matrix(
                (f.L11inv, np.arange(t1.m), np.arange(t1.m + 1)), shape=(t1.q, t1.q)
            ).tocsr()
            G = (f.L21Z @ Binv).toarray()
            M = sla.solve_triangular(Lrr, G, lower=True, check_finite=False)
            Mb = M.reshape(qr, t1.m, t1.k)
            V1 = V1 + np.einsum("rja,rjb->jab", Mb, Mb)
            out_u[0] = V1
            Linv = sla.solve_triangular(Lrr, np.eye(qr), lower=True, check_finite=False)
            Vr = Linv.T @ Linv
            off = 0
            for t in self.rest:
                blk = Vr[off : off + t.q, off : off + t.q]
                idx = np.arange(t.m)[:, None] * t.k + np.arange(t.k)[None, :]
                out_u.append(blk[idx[:, :, None], idx[:, None, :]])
                off += t.q
        res = []
        for i, (t, s) in enumerate(zip(self.design.terms, self.slices, strict=True)):
            T = t.factor(f.theta[s])
            res.append(np.einsum("ab,jbc,dc->jad", T, out_u[i], T))
        return res
