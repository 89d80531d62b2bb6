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

Per evaluation the dense block is the Schur complement

    S = Λ̃'(Ω − A V A')Λ̃ + [I 0; 0 0],   V = blockdiag_j(T₁ (T₁'C_j T₁ + I)⁻¹ T₁'),

where Ω = [Z_r W]'[Z_r W] (W = [X y]), A = [Z_r W]'Z₁ and Λ̃ = blockdiag(Λ_r, I). Written
this way θ enters only through the tiny per-level V_j and the scaling Λ̃, so everything that
depends on the data (Ω, A, and the sparsity pattern of A V A') is computed once. For designs
where A is large and sparse, A V A' is a fixed linear map of the entries of V — one sparse
matrix–vector product per evaluation (the vectorised form of MixedModels.jl's sparse rank
update), scattered into the lower triangle of S.

How A V A' is formed is chosen once per model (``ProfiledDeviance._mode``); all give the same
numbers to rounding (tests/reml/test_deviance_paths.py):

* ``dense``  — A stored dense, one small matrix product (tiny later blocks);
* ``fused``  — scalar later terms: one sparse product yields the rank update at the nonzero
  entries of the later-term block's lower triangle, scaled there by Λ_r, identity added;
* ``pairs``  — later terms with slopes: the update is subtracted, then Λ_r applied by blocks;
* ``sparse`` — when the pair list would be too long: a sparse L L' product.

For tiny models (q + p + 1 ≤ 64) the optimizer's criterion factors the whole unblocked
system instead, which costs fewer array operations than any blocked update.

Where the pieces live: this module chooses the strategy, assembles S and factors it, and
turns the factor into the criteria; the kernels are in :mod:`bayesmixed.reml.linalg`
(per-level blocks of the first term, the sparse rank-update maps, the unblocked system of
tiny models, the :class:`PLSFactor` itself) and the solutions read off a factor (β̂, modes,
vcov, conditional variances) in :mod:`bayesmixed.reml.pls_solutions`.
"""

from __future__ import annotations

import contextlib

import numpy as np
import scipy.sparse as sp
from scipy.linalg.lapack import dpotrf

from .._threads import limit_blas
from ..design.build import Design
from . import pls_solutions
from .linalg.full_system import full_pieces, full_system
from .linalg.level_blocks import (
    entrywise,
    level_cholesky,
    stack_levels,
    times_level_blocks,
    times_levels_dense,
    vflat,
)
from .linalg.pls_factor import PLSFactor
from .linalg.rank_update import fused_map, pair_entries, pair_map

__all__ = ["PLSFactor", "ProfiledDeviance"]

# Work limits that choose how A V A' is formed (see ProfiledDeviance.__init__).
_DENSE_FLOPS = 4e6  # multiply-adds of a dense (A·V)A' product still cheaper than setup
_PAIR_BUDGET = 3e7  # entries of the precomputed pair map (12 bytes each)
_FUSED_MAX = 4000  # later-term columns up to which the fused map covers their whole block
_BLAS_LIMIT_MIN = 256  # dense block size from which BLAS threads are capped (blas_limit)
_FULL_DENSE_MAX = 64  # q + p + 1 up to which the criterion factors the whole system densely


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
    >>> print(f"{dev(np.array([0.8483]), reml=True):.2f}")  # lme4: REMLcrit 319.65 at θ 0.8483
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
        self.k1, self.m1 = t1.k, t1.m
        self.rest = design.terms[1:]
        self.slices = design.theta_slices
        W = np.column_stack([design.X, design.y])  # n × (p+1)
        P = self.P = W.shape[1]
        self.C1 = t1.ZtZ_blocks  # (m1, k1, k1)
        self.c1 = self.C1[:, 0, 0].copy()
        self.D1 = t1.level_sums(W)  # (m1, k1, P): Z1'W per level
        # effect-major copies ("a, j" order) for the entry-by-entry kernels (level_cholesky)
        self.C1s = entrywise(self.C1)
        self.D1s = np.ascontiguousarray(self.D1.transpose(1, 0, 2))  # (k1, m1, P)
        if self.k1 == 1:
            self.D1s = self.D1s[0]
        qr = self.qr = sum(t.q for t in self.rest)
        N = self.N = qr + P

        # zeros, not empty: with the fused map Ω's later-term block stays zero (the map holds it)
        omega = np.zeros((N, N), order="F")
        omega[qr:, qr:] = W.T @ W
        if self.rest:
            Zr = sp.hstack([t.Z for t in self.rest], format="csc")
            ZrtZr = Zr.T @ Zr
            ZrtW = np.asarray(Zr.T @ W)
            omega[:qr, qr:] = ZrtW
            omega[qr:, :qr] = ZrtW.T
            self.A21Z = (Zr.T @ t1.Z).tocsr()  # qr × q1, columns (level, effect)
            perm = (np.arange(self.k1)[:, None] + self.k1 * np.arange(self.m1)[None, :]).ravel()
            # columns (effect, level); the same order when k1 = 1
            self.A21Zs = self.A21Z if self.k1 == 1 else self.A21Z[:, perm].tocsr()
        else:
            self.A21Z = self.A21Zs = None
        self.omega = omega
        self._rest_diag = np.arange(qr) * (N + 1)  # flat (F-order) positions of the I block

        # Λ̃ scaling: a vector when every later term is scalar, per-term blocks otherwise.
        self._scalar_rest = all(t.k == 1 for t in self.rest)
        self._rest_layout = []
        off = 0
        for t, s in zip(self.rest, self.slices[1:], strict=True):
            self._rest_layout.append((off, t, s))
            off += t.q
        self._lam = np.ones(N)

        # How to form A V A' (A = [Zr W]'Z1): dense when tiny; otherwise the pair map for the
        # Zr rows (sparse, the fill-in) and dense products for the few W rows.
        self._mode = "none"
        self._A = None
        self._pairs = None
        self._fused = None
        if self.rest:
            if float(N) * N * t1.q <= _DENSE_FLOPS:
                self._mode = "dense"
                A = np.empty((N, t1.q))
                A[:qr] = self.A21Z.toarray()
                A[qr:] = self.D1.reshape(t1.q, P).T
                self._A = A
                self._As = [np.ascontiguousarray(A[:, a :: self.k1]) for a in range(self.k1)]
            else:
                entries = pair_entries(self.A21Z, self.k1, self.m1, qr, _PAIR_BUDGET)
                nv = self.m1 * self.k1 * self.k1  # entries of V
                if entries is None:
                    self._mode = "sparse"
                elif self._scalar_rest and qr <= _FUSED_MAX:
                    self._mode = "fused"
                    levels = [t.m for t in self.rest]
                    self._fused = fused_map(entries, ZrtZr, levels, qr, N, nv)
                else:
                    self._mode = "pairs"
                    self._pairs = pair_map(entries, N, nv)
                del entries
            if self._mode != "fused":
                omega[:qr, :qr] = ZrtZr.toarray()
        self._S = np.empty((N, N), order="F")  # scratch for criterion-only evaluations
        self._full = full_system(design, W) if design.q + P <= _FULL_DENSE_MAX else None
        self.evaluations = 0

    def blas_limit(self, threads: int | None):
        """Context manager capping BLAS threads while this criterion is evaluated repeatedly.

        Each evaluation factors an N×N block with N in the hundreds to a few thousand, where
        multithreaded OpenBLAS gains little; with the cores busy, its spinning threads made
        a 1,000-wide Cholesky 40× slower (13 ms → 0.5 s) in the benchmark. lme4 runs
        single-threaded too. No-op for small blocks, ``threads=None``, or without
        threadpoolctl (a PyMC dependency). The cap is process-wide while it lasts.
        """
        if self.N < _BLAS_LIMIT_MIN:
            return contextlib.nullcontext()
        return limit_blas(threads)

    # ------------------------------------------------------------------ pieces
    def _scale_rest(self, S: np.ndarray, theta: np.ndarray) -> None:
        """S ← Λ̃' S Λ̃ in place (Λ̃ = blockdiag(Λ_r, I))."""
        if self._scalar_rest:
            lam = self._lam
            for off, t, s in self._rest_layout:
                lam[off : off + t.m] = theta[s][0]
            S *= lam[:, None]
            S *= lam[None, :]
            return
        N = self.N
        for off, t, s in self._rest_layout:
            q = t.q
            if t.k == 1:
                S[off : off + q, :] *= theta[s][0]
                S[:, off : off + q] *= theta[s][0]
                continue
            T = t.cov.factor(theta[s])
            rows = S[off : off + q, :].reshape(t.m, t.k, N)
            S[off : off + q, :] = np.einsum("ba,jbn->jan", T, rows).reshape(q, N)
            cols = S[:, off : off + q].reshape(N, t.m, t.k)
            S[:, off : off + q] = np.einsum("njb,ba->nja", cols, T).reshape(N, q)

    def _assemble(self, theta: np.ndarray, S: np.ndarray):
        """The Schur complement at θ in S (F-ordered N×N, lower triangle).

        Returns (T1, log|L11|², first-block factors, S).
        """
        T1 = self.t1.cov.factor(theta[self.slices[0]])
        ld1, V, blocks = level_cholesky(T1, self.C1s, self.c1)
        qr, k1 = self.qr, self.k1
        if self._mode == "dense":
            if k1 == 1:
                M = (self._A * V) @ self._A.T
            else:
                As = self._As
                M = sum(sum(As[a] * V[a][b] for a in range(k1)) @ As[b].T for b in range(k1))
            np.subtract(self.omega, M, out=S)
        elif self._mode == "fused":
            lam = self._lam
            for off, t, sl in self._rest_layout:
                lam[off : off + t.m] = theta[sl][0]
            th = np.array([theta[sl][0] for _, _, sl in self._rest_layout])
            fused = self._fused
            # the map gives the nonzero entries of the later-term columns' lower triangle;
            # the rest of those columns must be zero (a factor overwrote them)
            S[:, :qr] = 0.0
            S.T.reshape(-1)[fused.keys] = fused.values(vflat(V, k1), np.outer(th, th).ravel())
            VD = times_levels_dense(V, self.D1s, k1)
            S[qr:, :qr] = (self.omega[qr:, :qr] - (self.A21Zs @ VD).T) * lam[None, :qr]
            S[qr:, qr:] = self.omega[qr:, qr:] - self.D1s.reshape(-1, self.P).T @ VD
            return T1, ld1, blocks, S
        else:
            np.copyto(S, self.omega)
            # rows of W: A_W V A_W' and A_W V A21Z' (dense, P rows)
            VD = times_levels_dense(V, self.D1s, k1)
            S[qr:, qr:] -= self.D1s.reshape(-1, self.P).T @ VD
            if qr:
                S[qr:, :qr] -= (self.A21Zs @ VD).T
                if self._mode == "pairs":
                    keys, M = self._pairs
                    Sf = S.T.reshape(-1)  # a view: S is F-ordered
                    Sf[keys] -= M @ vflat(V, k1)
                else:
                    B = np.sqrt(V) if k1 == 1 else stack_levels(blocks[2])
                    L = times_level_blocks(self.A21Z, B, k1, self.m1)
                    S[:qr, :qr] -= (L @ L.T).toarray()
        if qr:
            self._scale_rest(S, theta)
            S.reshape(-1, order="F")[self._rest_diag] += 1.0
        return T1, ld1, blocks, S

    def _logdets(self, L: np.ndarray, ld1: float) -> tuple[float, float, float]:
        qr = self.qr
        # a successful dpotrf leaves a positive diagonal, so the logs are finite
        diag = np.diagonal(L)
        logs = np.log(diag)
        ldL2 = ld1 + 2.0 * float(logs[:qr].sum())
        ldRX2 = 2.0 * float(logs[qr : qr + self.p].sum())
        return ldL2, ldRX2, float(diag[-1]) ** 2

    def _pieces(self, theta: np.ndarray) -> tuple[float, float, float] | None:
        """(log|L_θ|², log|R_X|², r²) using the scratch buffer, or None if not positive definite."""
        theta = np.asarray(theta, dtype=float)
        self.evaluations += 1
        if self._full is not None:
            return full_pieces(self._full, theta, self.p)
        _, ld1, _, S = self._assemble(theta, self._S)
        L, info = dpotrf(S, lower=1, clean=0, overwrite_a=1)
        if info != 0:
            return None
        ldL2, ldRX2, r2 = self._logdets(L, ld1)
        if not (np.isfinite(ldL2) and np.isfinite(ldRX2) and r2 > 0):
            return None
        return ldL2, ldRX2, r2

    def factor(self, theta: np.ndarray) -> PLSFactor:
        """Blocked Cholesky factor of the PLS system at ``theta``."""
        theta = np.asarray(theta, dtype=float)
        self.evaluations += 1
        T1, ld1, blocks, S = self._assemble(theta, np.empty((self.N, self.N), order="F"))
        if self.k1 == 1:
            l11 = np.sqrt(blocks)
            L11 = l11[:, None, None]
            L11inv = (1.0 / l11)[:, None, None]
            B = (T1[0, 0] / l11)[:, None, None]
        else:
            L11, L11inv, B = (stack_levels(b) for b in blocks)
        L22, info = dpotrf(S, lower=1, clean=1, overwrite_a=1)
        ok = info == 0
        if ok:
            ldL2, ldRX2, r2 = self._logdets(L22, ld1)
            ok = bool(np.isfinite(ldL2) and np.isfinite(ldRX2) and r2 > 0)
        else:
            ldL2 = ldRX2 = r2 = np.nan
        return PLSFactor(
            theta=theta.copy(),
            T1=T1,
            L11=L11,
            L11inv=L11inv,
            B=B,
            L22=L22,
            qr=self.qr,
            p=self.p,
            ldL2=float(ldL2),
            ldRX2=float(ldRX2),
            r2=float(r2),
            ok=ok,
        )

    # ------------------------------------------------------------------ criteria
    def _crit(self, ldL2: float, ldRX2: float, r2: float, reml: bool) -> float:
        if reml:
            nmp = self.n - self.p
            return ldL2 + ldRX2 + nmp * (1.0 + np.log(2.0 * np.pi * r2 / nmp))
        return ldL2 + self.n * (1.0 + np.log(2.0 * np.pi * r2 / self.n))

    def criterion(self, f: PLSFactor, reml: bool) -> float:
        """Profiled deviance (ML) or REML criterion from a factor."""
        if not f.ok:
            return np.inf
        return self._crit(f.ldL2, f.ldRX2, f.r2, reml)

    def __call__(self, theta: np.ndarray, reml: bool = True) -> float:
        pieces = self._pieces(theta)
        if pieces is None:
            return np.inf
        return self._crit(*pieces, reml)

    def deviance_varpar(self, varpar: np.ndarray, reml: bool) -> float:
        """−2 log-likelihood (not profiled) at (θ, σ), as lmerTest's ``devfun_vp``."""
        theta, sigma = varpar[:-1], varpar[-1]
        pieces = self._pieces(theta)
        if pieces is None:
            return np.inf
        ldL2, ldRX2, r2 = pieces
        s2 = sigma * sigma
        dev = ldL2 + r2 / s2 + self.n * np.log(2.0 * np.pi * s2)
        if reml:
            dev += ldRX2 - self.p * np.log(2.0 * np.pi * s2)
        return float(dev)

    # ------------------------------------------------------------------ solutions
    def solve(self, f: PLSFactor) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """β̂, spherical modes u and conditional modes b = Λu (per term, shape (m, k))."""
        return pls_solutions.solve(self, f)

    def unscaled_vcov(self, f: PLSFactor) -> np.ndarray:
        """(R_X' R_X)^{-1}: vcov(β̂) = σ² times this."""
        return pls_solutions.unscaled_vcov(f)

    def conditional_vcov(self, f: PLSFactor) -> list[np.ndarray]:
        """Per-term blocks of Λ (L_Z L_Z')^{-1} Λ' (lme4's ``condVar`` over σ²), (m, k, k) each."""
        return pls_solutions.conditional_vcov(self, f)
