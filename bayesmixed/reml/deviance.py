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
numbers to rounding (tests/test_deviance_paths.py):

* ``dense``  — A stored dense, one small matrix product (tiny later blocks);
* ``fused``  — scalar later terms: one sparse product yields the lower triangle of the
  later-term block, already scaled by Λ_r, with the identity added, laid out as S itself;
* ``pairs``  — later terms with slopes: the update is subtracted, then Λ_r applied by blocks;
* ``sparse`` — when the pair list would be too long: a sparse L L' product.

For tiny models (q + p + 1 ≤ 64) the optimizer's criterion factors the whole unblocked
system instead, which costs fewer array operations than any blocked update.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.linalg.lapack import dpotrf, dtrtri

from .._threads import limit_blas
from ..design.build import Design

__all__ = ["PLSFactor", "ProfiledDeviance"]

# Work limits that choose how A V A' is formed (see ProfiledDeviance.__init__).
_DENSE_FLOPS = 4e6  # multiply-adds of a dense (A·V)A' product still cheaper than setup
_PAIR_BUDGET = 3e7  # entries of the precomputed pair map (12 bytes each)
_FUSED_MAX = 4000  # later-term columns up to which the fused map covers their whole block
_BLAS_LIMIT_MIN = 256  # dense block size from which BLAS threads are capped (blas_limit)  # threadpoolctl controller, created on first use
_FULL_DENSE_MAX = 64  # q + p + 1 up to which the criterion factors the whole system densely


def _tri_inv(L: np.ndarray) -> np.ndarray:
    """Inverse of a lower-triangular matrix by LAPACK's trtri.

    Not ``solve_triangular(L, I)``: its multithreaded trsm took milliseconds even for a 2×2
    system when the cores were busy, and Satterthwaite's derivatives call this dozens of
    times per fit.
    """
    inv, info = dtrtri(np.asfortranarray(L), lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("singular triangular factor")
    return np.tril(inv)


@dataclass
class PLSFactor:
    """The blocked Cholesky factor at one θ and what the fit needs from it."""

    theta: np.ndarray
    T1: np.ndarray  # k1×k1 relative factor of the first term
    L11: np.ndarray  # (m1, k1, k1) lower-triangular diagonal blocks
    L11inv: np.ndarray  # their inverses
    B: np.ndarray  # (m1, k1, k1): T1 L11_j^{-T}, so that L21 = A'Λ̃ blockdiag(B_j)
    L22: np.ndarray  # dense lower factor of the [Zr, X, y] block (upper triangle undefined)
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
        # effect-major copies ("a, j" order) for the entry-by-entry kernels of _first_block
        self.C1s = [[self.C1[:, a, b].copy() for b in range(self.k1)] for a in range(self.k1)]
        self.D1s = np.ascontiguousarray(self.D1.transpose(1, 0, 2))  # (k1, m1, P)
        if self.k1 == 1:
            self.D1s = self.D1s[0]
        qr = self.qr = sum(t.q for t in self.rest)
        N = self.N = qr + P

        omega = np.empty((N, N), order="F")
        omega[qr:, qr:] = W.T @ W
        if self.rest:
            Zr = sp.hstack([t.Z for t in self.rest], format="csc")
            ZrtZr = Zr.T @ Zr
            omega[:qr, :qr] = ZrtZr.toarray()
            ZrtW = np.asarray(Zr.T @ W)
            omega[:qr, qr:] = ZrtW
            omega[qr:, :qr] = ZrtW.T
            self.A21Z = (Zr.T @ t1.Z).tocsr()  # qr × q1, columns (level, effect)
            perm = (np.arange(self.k1)[:, None] + self.k1 * np.arange(self.m1)[None, :]).ravel()
            self.A21Zs = self.A21Z[:, perm].tocsr()  # columns (effect, level)
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
                entries = self._pair_entries()
                if entries is None:
                    self._mode = "sparse"
                elif self._scalar_rest and qr <= _FUSED_MAX:
                    self._mode = "fused"
                    self._fused = self._fused_map(entries, ZrtZr)
                else:
                    self._mode = "pairs"
                    self._pairs = self._pair_map(entries)
                del entries
        # scratch for criterion-only evaluations (the fused map returns a new array instead)
        self._S = np.empty((N, N), order="F") if self._fused is None else None
        self._full = self._full_system(W) if design.q + P <= _FULL_DENSE_MAX else None
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

    # ------------------------------------------------------------------ setup
    def _pair_entries(self):
        """The rank update A21Z V A21Z' entry by entry: (r, s, column of V, weight), r >= s.

        Column j-block of A21Z touches the later-term rows R_j; V_j contributes to every
        pair (r, s) in R_j × R_j. Listing those pairs once turns each evaluation into one
        sparse matrix–vector product (V's entries in the order ``_vflat`` gives them).
        Returns None when there would be more than ``_PAIR_BUDGET`` of them.
        """
        k1, m1, qr = self.k1, self.m1, self.qr
        coo = self.A21Z.tocoo()
        lev = coo.col // k1
        eff = coo.col % k1
        key = lev.astype(np.int64) * qr + coo.row
        uniq, inv = np.unique(key, return_inverse=True)
        nu = len(uniq)
        vals = np.empty((nu, k1))
        for a in range(k1):
            sel = eff == a
            vals[:, a] = np.bincount(inv[sel], weights=coo.data[sel], minlength=nu)
        glev = uniq // qr
        grow = uniq % qr
        counts = np.bincount(glev, minlength=m1)
        total = int(np.sum(counts * (counts + 1) // 2))
        if total * k1 * k1 > _PAIR_BUDGET:
            return None
        starts = np.cumsum(counts) - counts
        local = np.arange(nu) - starts[glev]  # position of each entry within its level
        reps = local + 1  # entry e pairs with the entries before it and itself
        # int32 indices (the budget keeps them small) halve the memory traffic of the gathers
        idx = np.int32 if max(total, nu) < 2**31 - 1 else np.int64
        first = np.repeat(np.arange(nu, dtype=idx), reps)
        second = np.arange(total, dtype=idx)
        second -= np.repeat((np.cumsum(reps) - reps - starts[glev]).astype(idx), reps)
        # rows are sorted within a level, so r >= s: the lower triangle
        grow = grow.astype(idx)
        glev = glev.astype(idx)
        r, s = grow[first], grow[second]
        if k1 == 1:
            return r, s, glev[first], vals[first, 0] * vals[second, 0]
        # V's entries in (a, b, level) order, as _vflat concatenates them
        ab = [(a, b) for a in range(k1) for b in range(k1)]
        return (
            np.tile(r, k1 * k1),
            np.tile(s, k1 * k1),
            np.concatenate([glev[first] + (a * k1 + b) * m1 for a, b in ab]),
            np.concatenate([vals[first, a] * vals[second, b] for a, b in ab]),
        )

    def _pair_map(self, entries):
        """(positions, map): ``S.T.ravel()[positions] -= map @ vflat`` subtracts A21Z V A21Z'.

        Both triangles: the block scaling by a non-diagonal Λ_r that follows mixes entries
        across the diagonal of each level's k×k block.
        """
        r, s, col, data = entries
        off = r != s
        r, s = np.concatenate([r, s[off]]), np.concatenate([s, r[off]])
        col, data = np.concatenate([col, col[off]]), np.concatenate([data, data[off]])
        N = self.N
        flat = r + s * np.int64(N)  # F-order position in S
        # distinct positions by marking an N×N table (S itself is N×N): no sort of the pairs
        seen = np.zeros(N * N, dtype=bool)
        seen[flat] = True
        keys = np.flatnonzero(seen)
        del seen
        lookup = np.empty(N * N, dtype=np.int32)
        lookup[keys] = np.arange(len(keys), dtype=np.int32)
        rows = lookup[flat]
        del lookup, flat
        nv = self.m1 * self.k1 * self.k1
        return keys, sp.csr_matrix((data, (rows, col)), shape=(len(keys), nv))

    def _fused_map(self, entries, ZrtZr: sp.spmatrix) -> sp.csr_matrix:
        """Map whose product with the class-weighted V gives S (F-order, flattened).

        With scalar later terms, Λ_r is diagonal and S_rs = λ_r λ_s (Ω_rs − M_rs) + δ_rs: a
        fixed linear function of the entries of V scaled by the products λ_r λ_s, which take
        one value per pair of terms ("class"). One matrix–vector product with the weights
        per class then yields every entry of the later-term block's lower triangle, in
        place in the flattened S (one row per position of S; the others stay empty, so the
        upper triangle and the X, y rows come out zero). This replaces copying Ω,
        subtracting, scaling and scattering N² entries per evaluation.
        """
        r, s, col, data = entries
        qr, N = self.qr, self.N
        nv = self.m1 * self.k1 * self.k1
        nt = len(self.rest)
        ncls = nt * nt
        om = sp.tril(ZrtZr).tocoo()
        sc = np.arange(qr, dtype=np.int64)
        rows = [r + s.astype(np.int64) * N, om.row + om.col.astype(np.int64) * N, sc * (N + 1)]
        vals = [-data, om.data, np.ones(qr)]
        if nt == 1:
            # one class; the pairs come level by level, i.e. sorted by column: build CSC
            cols = [col, np.full(om.nnz, nv), np.full(qr, nv + 1)]
            counts = np.bincount(np.concatenate(cols), minlength=nv + 2)
            indptr = np.concatenate([[0], np.cumsum(counts)])
            M = sp.csc_matrix(
                (np.concatenate(vals), np.concatenate(rows), indptr), shape=(N * N, nv + 2)
            )
            return M.tocsr()
        term = np.repeat(np.arange(nt), [t.m for t in self.rest])
        cols = [
            (term[r] * nt + term[s]) * nv + col,
            ncls * nv + term[om.row] * nt + term[om.col],
            np.full(qr, ncls * nv + ncls),
        ]
        return sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(N * N, ncls * nv + ncls + 1),
        )

    def _full_system(self, W: np.ndarray):
        """Unblocked Ω = [Z W]'[Z W] and the positions of θ in Λ̃, for tiny models.

        When q + p + 1 is a few dozen, two small matrix products and one Cholesky of the
        whole system cost less than the dozen-odd array operations of the blocked update,
        so the optimizer's criterion uses this; :meth:`factor` stays blocked.
        """
        d = self.design
        q, P = d.q, self.P
        if d.n * (q + P) <= 1_000_000:
            # a small dense product beats sparse stacking and products by a millisecond
            ZW = np.column_stack([d.Z.toarray(), W])
            omega = np.asfortranarray(ZW.T @ ZW)
        else:
            ZW = sp.hstack([d.Z, sp.csc_matrix(W)], format="csc")
            omega = np.asfortranarray((ZW.T @ ZW).toarray())
        rows, cols, tidx = [], [], []
        for t, s, off in zip(d.terms, self.slices, d.term_offsets, strict=False):
            r, c = t.tril
            base = off + np.arange(t.m)[:, None] * t.k
            rows.append((base + r[None, :]).ravel())
            cols.append((base + c[None, :]).ravel())
            tidx.append(np.tile(np.arange(s.start, s.stop), t.m))
        lam = np.zeros((q + P, q + P), order="F")
        lam[np.arange(q, q + P), np.arange(q, q + P)] = 1.0
        idx = (np.concatenate(rows), np.concatenate(cols))
        return omega, lam, idx, np.concatenate(tidx), np.arange(q) * (q + P + 1), q

    def _pieces_full(self, theta: np.ndarray) -> tuple[float, float, float] | None:
        omega, lam, idx, tidx, diag, q = self._full
        lam[idx] = theta[tidx]
        S = (lam.T @ omega) @ lam  # C-ordered; its transpose is the F-ordered system
        S.reshape(-1)[diag] += 1.0
        L, info = dpotrf(S.T, lower=1, clean=0, overwrite_a=1)
        if info != 0:
            return None
        d = np.diagonal(L)
        logs = np.log(d)
        ldL2 = 2.0 * float(logs[:q].sum())
        ldRX2 = 2.0 * float(logs[q : q + self.p].sum())
        return ldL2, ldRX2, float(d[-1]) ** 2

    # ------------------------------------------------------------------ pieces
    def _first_block(self, theta: np.ndarray):
        """T1, log|L11|², V (the per-level blocks T1 A11_j⁻¹ T1') and the per-level factors.

        For k1 = 1, V is a vector over levels and the factors are A11_j = L11_j²; for k1 > 1,
        V and the factors (L11, L11⁻¹, B = T1 L11⁻ᵀ) are k1×k1 nested lists of vectors over
        levels. Working entry by entry on vectors keeps a per-level
        2×2 or 3×3 Cholesky at a few dozen vector operations, far below the fixed cost of
        batched ``numpy.linalg`` calls on tiny matrices — the evaluation cost of small models.
        """
        T1 = self.t1.factor(theta[self.slices[0]])
        if self.k1 == 1:
            th2 = T1[0, 0] * T1[0, 0]
            a = th2 * self.c1 + 1.0
            return T1, float(np.sum(np.log(a))), th2 / a, a
        k = self.k1
        C = self.C1s
        T = T1.tolist()
        # CT = C T, then A = T'CT + I (lower triangle; T is lower triangular)
        CT = [[sum(C[b][c] * T[c][d] for c in range(d, k)) for d in range(k)] for b in range(k)]
        A = [[None] * k for _ in range(k)]
        for a in range(k):
            for d in range(a + 1):
                A[a][d] = sum(T[b][a] * CT[b][d] for b in range(a, k))
            A[a][a] = A[a][a] + 1.0
        L = [[None] * k for _ in range(k)]
        for j in range(k):
            s = A[j][j]
            for m in range(j):
                s = s - L[j][m] * L[j][m]
            L[j][j] = np.sqrt(s)
            for i in range(j + 1, k):
                s = A[i][j]
                for m in range(j):
                    s = s - L[i][m] * L[j][m]
                L[i][j] = s / L[j][j]
        prod = L[0][0]
        for j in range(1, k):
            prod = prod * L[j][j]
        ld1 = 2.0 * float(np.sum(np.log(prod)))
        Li = [[None] * k for _ in range(k)]  # L⁻¹, lower triangular
        for i in range(k):
            Li[i][i] = 1.0 / L[i][i]
            for j in range(i):
                s = L[i][j] * Li[j][j]
                for m in range(j + 1, i):
                    s = s + L[i][m] * Li[m][j]
                Li[i][j] = -s * Li[i][i]
        # B = T L⁻ᵀ, V = B B'
        B = [
            [sum(T[a][c] * Li[b][c] for c in range(min(a, b) + 1)) for b in range(k)]
            for a in range(k)
        ]
        V = [[None] * k for _ in range(k)]
        for a in range(k):
            for b in range(a + 1):
                V[a][b] = sum(B[a][c] * B[b][c] for c in range(k))
                V[b][a] = V[a][b]
        return T1, ld1, V, (L, Li, B)

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
            T = t.factor(theta[s])
            rows = S[off : off + q, :].reshape(t.m, t.k, N)
            S[off : off + q, :] = np.einsum("ba,jbn->jan", T, rows).reshape(q, N)
            cols = S[:, off : off + q].reshape(N, t.m, t.k)
            S[:, off : off + q] = np.einsum("njb,ba->nja", cols, T).reshape(N, q)

    def _assemble(self, theta: np.ndarray, S: np.ndarray):
        """The Schur complement at θ in S (F-ordered N×N; the fused map makes a new array).

        Returns (T1, log|L11|², first-block factors, S).
        """
        T1, ld1, V, blocks = self._first_block(theta)
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
            scale = np.outer(th, th).ravel()
            v = self._vflat(V)
            w = np.concatenate([(scale[:, None] * v[None, :]).ravel(), scale, [1.0]])
            # a new array each time, so the scratch S is not used (a factor keeps its own)
            S = (self._fused @ w).reshape((self.N, self.N), order="F")
            VD = self._times_D(V)
            S[qr:, :qr] = (self.omega[qr:, :qr] - (self.A21Zs @ VD).T) * lam[None, :qr]
            S[qr:, qr:] = self.omega[qr:, qr:] - self.D1s.reshape(-1, self.P).T @ VD
            return T1, ld1, blocks, S
        else:
            np.copyto(S, self.omega)
            # rows of W: A_W V A_W' and A_W V A21Z' (dense, P rows)
            VD = self._times_D(V)
            S[qr:, qr:] -= self.D1s.reshape(-1, self.P).T @ VD
            if qr:
                S[qr:, :qr] -= (self.A21Zs @ VD).T
                if self._mode == "pairs":
                    keys, M = self._pairs
                    Sf = S.T.reshape(-1)  # a view: S is F-ordered
                    Sf[keys] -= M @ self._vflat(V)
                else:
                    B = np.sqrt(V) if k1 == 1 else self._stack(blocks[2])
                    L = self._times_blocks(self.A21Z, B)
                    S[:qr, :qr] -= (L @ L.T).toarray()
        if qr:
            self._scale_rest(S, theta)
            S.reshape(-1, order="F")[self._rest_diag] += 1.0
        return T1, ld1, blocks, S

    def _vflat(self, V) -> np.ndarray:
        """V's entries as one vector: levels (k1 = 1) or (a, b, level) order."""
        if self.k1 == 1:
            return V
        k1 = self.k1
        return np.concatenate([V[a][b] for a in range(k1) for b in range(k1)])

    def _times_D(self, V) -> np.ndarray:
        """blockdiag(V_j) Z1'W, rows in (effect, level) order, shape (q1, P)."""
        if self.k1 == 1:
            return V[:, None] * self.D1s
        D, k1 = self.D1s, self.k1
        return np.concatenate([sum(V[a][b][:, None] * D[b] for b in range(k1)) for a in range(k1)])

    @staticmethod
    def _stack(blocks: list[list[np.ndarray]]) -> np.ndarray:
        """Nested k×k list of per-level vectors (None above a triangle) → array (m, k, k)."""
        k = len(blocks)
        m = next(v for row in blocks for v in row if v is not None).shape[0]
        out = np.zeros((m, k, k))
        for a in range(k):
            for b in range(k):
                if blocks[a][b] is not None:
                    out[:, a, b] = blocks[a][b]
        return out

    def _times_blocks(self, A: sp.csr_matrix, B: np.ndarray) -> sp.csr_matrix:
        """A · blockdiag_j(B_j) for the first term's per-level blocks (vector when k1 = 1)."""
        if self.k1 == 1:
            return (A @ sp.diags(np.ravel(B))).tocsr()
        m1 = self.m1
        Bsp = sp.bsr_matrix((B, np.arange(m1), np.arange(m1 + 1)), shape=(self.t1.q,) * 2)
        return (A @ Bsp.tocsr()).tocsr()

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
            return self._pieces_full(theta)
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
        S = np.empty((self.N, self.N), order="F") if self._fused is None else None
        T1, ld1, blocks, S = self._assemble(theta, S)
        if self.k1 == 1:
            l11 = np.sqrt(blocks)
            L11 = l11[:, None, None]
            L11inv = (1.0 / l11)[:, None, None]
            B = (T1[0, 0] / l11)[:, None, None]
        else:
            L11, L11inv, B = (self._stack(b) for b in blocks)
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

    # ------------------------------------------------------------------ L21 (on demand)
    def _lambda_rest(self, theta: np.ndarray) -> sp.csr_matrix:
        blocks = []
        for t, s in zip(self.rest, self.slices[1:], strict=True):
            T = t.factor(theta[s])
            if t.k == 1:
                blocks.append(sp.identity(t.m, format="csr") * T[0, 0])
            else:
                blocks.append(sp.kron(sp.identity(t.m, format="csr"), sp.csr_matrix(T)))
        return sp.block_diag(blocks, format="csr")

    def _L21Z(self, f: PLSFactor) -> sp.csr_matrix:
        """Rows of the later terms in the first block column: Λ_r' A21Z blockdiag(B_j)."""
        Lr = self._lambda_rest(f.theta)
        return (Lr.T @ self._times_blocks(self.A21Z, f.B)).tocsr()

    def _L21D(self, f: PLSFactor) -> np.ndarray:
        """Rows of X and y in the first block column, (P × q1)."""
        # (A21 B)[r, (j,b)] = Σ_a D[j,a,r] B_j[a,b]
        return np.einsum("jar,jab->rjb", self.D1, f.B).reshape(self.P, self.t1.q)

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
        qr = f.qr
        L22 = f.L22
        l2 = L22[-1, :-1]
        sol = sla.solve_triangular(L22[:-1, :-1], l2, lower=True, trans="T", check_finite=False)
        beta = sol[qr:]
        ur = sol[:qr]
        t1 = self.t1
        L21D = self._L21D(f)
        rhs = L21D[-1, :].copy()
        rhs -= L21D[:-1, :].T @ beta
        if qr:
            rhs -= self._L21Z(f).T @ ur
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
        Rinv = _tri_inv(RX)
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
            G = self._times_blocks(self._L21Z(f), f.L11inv).toarray()
            Linv = _tri_inv(Lrr)
            M = Linv @ G
            Mb = M.reshape(qr, t1.m, t1.k)
            V1 = V1 + np.einsum("rja,rjb->jab", Mb, Mb)
            out_u[0] = V1
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
