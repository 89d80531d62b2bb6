"""Marginal likelihood, its exact gradient, and conditional draws of b.

This is the engine behind ``parameterization="marginal"``: with the nutpie sampler NUTS (in
Rust) calls it directly; the PyMC model wraps the same functions in a PyTensor Op
(:mod:`~bayesmixed.bayes.ops`) for the other samplers. The NumPy code here is the reference;
with ``use_kernel=True`` (the default) :meth:`MarginalModel.loglik_grad` and the draws of b
run the same algebra compiled (:mod:`~bayesmixed.bayes._kernels`), on the sufficient
statistics repacked once by :meth:`MarginalModel._pack`.

Model: y ~ N(Xβ, V), V = σ²I + Σ_t Z_t (I ⊗ Σ_t) Z_t'. With T_t = L_t/σ (L_t the Cholesky
factor of Σ_t), A = Λ'Z'ZΛ + I, c = Λ'Z'r, r = y − Xβ:

    ℓ = −½ [ n log 2πσ² + log|A| + (r'r − c'A⁻¹c)/σ² ]

Gradient, via the conditional moments of b (b̂ = E[b|y], P_j = Var(b_j|y)):

    ∂ℓ/∂β   = X'V⁻¹r = (X'r − Σ_t D_t'b̂_t)/σ²            (D_t = Z_t'X per level)
    ∂ℓ/∂σ²  = ½ [ ‖r − Zb̂‖²/σ⁴ − (n − q + tr A⁻¹)/σ² ]
    ∂ℓ/∂Σ_t = ½ Σ_t⁻¹ [ Σ_j (b̂_j b̂_j' + P_j) − m_t Σ_t ] Σ_t⁻¹   (the EM identity)

A⁻¹'s diagonal blocks (for P_j and tr A⁻¹) come from a selected inversion (Takahashi
recursion) over the same blocked factor, so the cost never depends on n and never needs a
dense q×q matrix: nested chains stay per-level k×k blocks; crossed designs use one dense
Schur block the width of the later terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ...design.build import Design

__all__ = ["MarginalModel", "Factor", "structure_of", "DENSE_LIMIT"]

# Largest dense Schur complement the marginal likelihood will factor at every gradient step.
DENSE_LIMIT = 400


def _parent_map(child: np.ndarray, parent: np.ndarray, m_child: int) -> np.ndarray | None:
    """Level of ``parent`` containing each level of ``child``, or None if not nested."""
    out = np.full(m_child, -1, dtype=np.int64)
    out[child] = parent
    # nested iff every observation's parent code agrees with its level's parent
    if np.any(out[child] != parent):
        return None
    return out


def structure_of(design: Design) -> tuple[str, list[np.ndarray]]:
    """``("nested", parent maps)`` when every term is nested in the next, else ``("dense", [])``.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("strength ~ 1 + (1 | batch/cask)", bm.datasets.load("Pastes"))
    >>> structure_of(m.design)[0]
    'nested'
    """
    terms = design.terms
    maps = []
    for s in range(len(terms) - 1):
        pm_ = _parent_map(terms[s].codes, terms[s + 1].codes, terms[s].m)
        if pm_ is None:
            return "dense", []
        maps.append(pm_)
    return "nested", maps


def _chol(A: np.ndarray) -> np.ndarray:
    """Batched Cholesky of (m, k, k); closed forms for k ≤ 2 (the common case)."""
    k = A.shape[-1]
    if k == 1:
        return np.sqrt(A)
    if k == 2:
        L = np.zeros_like(A)
        l00 = np.sqrt(A[:, 0, 0])
        l10 = A[:, 1, 0] / l00
        L[:, 0, 0] = l00
        L[:, 1, 0] = l10
        L[:, 1, 1] = np.sqrt(A[:, 1, 1] - l10 * l10)
        return L
    return np.linalg.cholesky(A)


def _tri_inv(L: np.ndarray) -> np.ndarray:
    """Inverses of a stack of lower-triangular blocks."""
    k = L.shape[-1]
    if k == 1:
        return 1.0 / L
    if k == 2:
        Li = np.zeros_like(L)
        Li[:, 0, 0] = 1.0 / L[:, 0, 0]
        Li[:, 1, 1] = 1.0 / L[:, 1, 1]
        Li[:, 1, 0] = -L[:, 1, 0] * Li[:, 0, 0] * Li[:, 1, 1]
        return Li
    return np.linalg.inv(L)


def _mv(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Batched matrix-vector product (m, a, b) @ (m, b) → (m, a)."""
    return np.einsum("jab,jb->ja", M, v)


def _mtv(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Batched transposed product (m, a, b)' @ (m, a) → (m, b)."""
    return np.einsum("jab,ja->jb", M, v)


def _blocks(t, v: np.ndarray) -> np.ndarray:
    """Per-level sums Σ_obs x_t[a] v[c], shape (m, k, ncol)."""
    out = np.empty((t.m, t.k, v.shape[1]))
    for a in range(t.k):
        w = t.X[:, a][:, None] * v
        for c in range(v.shape[1]):
            out[:, a, c] = np.bincount(t.codes, weights=w[:, c], minlength=t.m)
    return out


@dataclass
class Factor:
    """Blocked factorization of A at one parameter value, and what it implies."""

    sigma: float
    T: list  # per term relative factor (k, k)
    L: list  # per term (m, k, k) block Cholesky factors (after elimination)
    Linv: list
    w: list  # per term (m, k)   forward-substituted c
    F: dict  # nested: (s, u) → (m_s, k_s, k_u);  dense: "1r" → (m1, k1, qr)
    g: list  # per term Z_t'r per level (m, k)
    rr: float
    logdet: float
    quad: float
    Ls: np.ndarray | None = None  # dense Schur factor (crossed)
    loglik: float = np.nan


class MarginalModel:
    """Sufficient statistics and blocked algebra of the Gaussian marginal likelihood.

    Parameters
    ----------
    design : Design
    X : ndarray (n, p)
        The fixed-effects matrix the parameters refer to (the sampler centres columns).
    use_kernel : bool
        Evaluate with the compiled kernels (False: the NumPy reference, which the tests
        compare them against).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    >>> mm = MarginalModel(m.design, m.design.X)
    >>> f = mm.factor(np.array([1527.5]), 49.5, [np.array([[37.3]])])
    >>> print(f"{f.loglik:.2f}")  # = log N(y; 1527.5, 37.3² ZZ' + 49.5² I)
    -163.66
    """

    def __init__(self, design: Design, X: np.ndarray, use_kernel: bool = True):
        self.design = design
        self.use_kernel = use_kernel
        self.terms = design.terms
        self.n = design.n
        self.q = design.q
        y = design.y
        self.XtX = X.T @ X
        self.Xty = X.T @ y
        self.yty = float(y @ y)
        self.structure, parents = structure_of(design)
        self._X, self._y = X, y
        self._one_factor = None  # see _one_factor_blocks
        self.C = [_blocks(t, t.X) for t in self.terms]  # (m, k, k)
        self.D = [_blocks(t, X) for t in self.terms]  # (m, k, p)
        self.e = [_blocks(t, y[:, None])[:, :, 0] for t in self.terms]  # (m, k)
        nt = len(self.terms)
        self.anc: dict = {}
        self.agg: dict = {}
        self.G: dict = {}
        if self.structure == "nested":
            for s in range(nt):
                idx = np.arange(self.terms[s].m)
                for u in range(s + 1, nt):
                    idx = parents[u - 1][idx]
                    self.anc[(s, u)] = idx
                    # segment-sum operator: levels of s → their ancestor in u
                    self.agg[(s, u)] = sp.csr_matrix(
                        (np.ones(len(idx)), (idx, np.arange(len(idx)))),
                        shape=(self.terms[u].m, len(idx)),
                    )
                    self.G[(s, u)] = _blocks(self.terms[s], self.terms[u].X)  # (m_s, k_s, k_u)
        else:
            t1 = self.terms[0]
            self.qr = sum(t.q for t in self.terms[1:])
            for u in range(1, nt):
                tu = self.terms[u]
                self.G[(0, u)] = (t1.Z.T @ tu.Z).toarray().reshape(t1.m, t1.k, tu.m, tu.k)
                for v in range(u, nt):
                    tv = self.terms[v]
                    self.G[(u, v)] = (tu.Z.T @ tv.Z).toarray().reshape(tu.m, tu.k, tv.m, tv.k)
            self.offsets = np.concatenate([[0], np.cumsum([t.q for t in self.terms[1:]])])
        self.kernel_args = self._pack() if self.terms else None

    def _pack(self) -> tuple:
        """The sufficient statistics in the flat layout of :mod:`._kernels` (see its docstring).

        Levels of all terms stacked on the last axis, blocks padded to the largest k, so that
        the compiled kernels take a fixed set of rectangular arrays whatever the terms.
        """
        terms = self.terms
        nt = len(terms)
        K = max(t.k for t in terms)
        p = self.XtX.shape[0]
        ks = np.array([t.k for t in terms], dtype=np.int64)
        lo = np.concatenate([[0], np.cumsum([t.m for t in terms])]).astype(np.int64)
        M = int(lo[-1])
        C = np.zeros((K, K, M))
        D = np.zeros((K, p, M))
        e = np.zeros((K, M))
        for i, t in enumerate(terms):
            cols = slice(lo[i], lo[i + 1])
            C[: t.k, : t.k, cols] = self.C[i].transpose(1, 2, 0)
            D[: t.k, :, cols] = self.D[i].transpose(1, 2, 0)
            e[: t.k, cols] = self.e[i].T
        base = (ks, lo, C, D, e, self.XtX, self.Xty, self.yty, float(self.n))
        if self.structure == "nested":
            Gn = np.zeros((nt, K, K, M))
            anc = np.zeros((nt, M), dtype=np.int64)
            for s_ in range(nt):
                cols = slice(lo[s_], lo[s_ + 1])
                anc[s_, cols] = np.arange(lo[s_], lo[s_ + 1])
                for u in range(s_ + 1, nt):
                    anc[u, cols] = lo[u] + self.anc[(s_, u)]
                    Gn[u, : terms[s_].k, : terms[u].k, cols] = self.G[(s_, u)].transpose(1, 2, 0)
            return base + (Gn, anc)
        t1 = terms[0]
        qr = self.qr
        G0r = np.concatenate(
            [self.G[(0, u)].reshape(t1.m, t1.k, terms[u].q) for u in range(1, nt)], axis=2
        )
        Grr = np.zeros((qr, qr))
        for u in range(1, nt):
            su = slice(self.offsets[u - 1], self.offsets[u])
            for v in range(u, nt):
                sv = slice(self.offsets[v - 1], self.offsets[v])
                blk = self.G[(u, v)].reshape(terms[u].q, terms[v].q)
                Grr[su, sv] = blk
                Grr[sv, su] = blk.T
        # per column of the stacked later terms: its term, global level and coefficient
        rt = np.concatenate([np.full(terms[u].q, u) for u in range(1, nt)]).astype(np.int64)
        rl = np.concatenate(
            [np.repeat(np.arange(lo[u], lo[u + 1]), terms[u].k) for u in range(1, nt)]
        ).astype(np.int64)
        rc = np.concatenate([np.tile(np.arange(terms[u].k), terms[u].m) for u in range(1, nt)])
        G0r = np.ascontiguousarray(G0r.transpose(1, 0, 2))  # (k0, m0, qr)
        return base + (G0r, Grr, rt, rl, rc.astype(np.int64))

    def pack_L(self, Ls) -> np.ndarray:
        """Per-term Cholesky factors as one zero-padded (nt, K, K) array."""
        K = self.kernel_args[2].shape[0]
        Lp = np.zeros((len(self.terms), K, K))
        for i, L in enumerate(Ls):
            k = L.shape[-1]
            Lp[i, :k, :k] = L
        return Lp

    # ------------------------------------------------------------------ factorization
    def factor(self, beta: np.ndarray, sigma: float, Ls: list[np.ndarray]) -> Factor:
        """Factor A at (β, σ, Σ_t = L_t L_t') and evaluate the log-likelihood."""
        T = [L / sigma for L in Ls]
        rr = self.yty - 2.0 * beta @ self.Xty + beta @ self.XtX @ beta
        g = [e - D @ beta for e, D in zip(self.e, self.D, strict=True)]
        c = [gi @ Ti for gi, Ti in zip(g, T, strict=True)]  # c_j = T' g_j
        A = [np.einsum("ca,jcd,db->jab", Ti, Ci, Ti) for Ti, Ci in zip(T, self.C, strict=True)]
        for Ai in A:
            Ai += np.eye(Ai.shape[-1])
        if self.structure == "nested":
            f = self._factor_nested(T, A, c, g, rr, sigma)
        else:
            f = self._factor_dense(T, A, c, g, rr, sigma)
        s2 = sigma * sigma
        f.loglik = -0.5 * (self.n * np.log(2.0 * np.pi * s2) + f.logdet + f.quad / s2)
        return f

    def _factor_nested(self, T, A, c, g, rr, sigma) -> Factor:
        terms = self.terms
        nt = len(terms)
        E = {key: np.einsum("ca,jcd,db->jab", T[key[0]], G, T[key[1]]) for key, G in self.G.items()}
        c = [ci.copy() for ci in c]
        Lf, Linv, w, F = [], [], [], {}
        logdet = 0.0
        wsq = 0.0
        for s in range(nt):
            L = _chol(A[s])
            Li = _tri_inv(L)
            ws = _mv(Li, c[s])
            Lf.append(L)
            Linv.append(Li)
            w.append(ws)
            logdet += 2.0 * np.sum(np.log(np.diagonal(L, axis1=1, axis2=2)))
            wsq += float(np.sum(ws * ws))
            for u in range(s + 1, nt):
                F[(s, u)] = np.einsum("jab,jbc->jac", Li, E[(s, u)])  # (m_s, k_s, k_u)
            for u in range(s + 1, nt):
                agg = self.agg[(s, u)]
                ku = terms[u].k
                Fu = F[(s, u)]
                A[u] -= (agg @ np.einsum("jab,jac->jbc", Fu, Fu).reshape(terms[s].m, -1)).reshape(
                    terms[u].m, ku, ku
                )
                c[u] -= agg @ _mtv(Fu, ws)
                for v in range(u + 1, nt):
                    Fv = F[(s, v)]
                    kv = terms[v].k
                    E[(u, v)] -= (
                        agg @ np.einsum("jab,jac->jbc", Fu, Fv).reshape(terms[s].m, -1)
                    ).reshape(terms[u].m, ku, kv)
        return Factor(
            sigma=sigma, T=T, L=Lf, Linv=Linv, w=w, F=F, g=g, rr=rr, logdet=logdet, quad=rr - wsq
        )

    def _factor_dense(self, T, A, c, g, rr, sigma) -> Factor:
        terms = self.terms
        t1 = terms[0]
        rest = range(1, len(terms))
        L1 = _chol(A[0])
        L1i = _tri_inv(L1)
        w1 = _mv(L1i, c[0])
        logdet = 2.0 * np.sum(np.log(np.diagonal(L1, axis1=1, axis2=2)))
        wsq = float(np.sum(w1 * w1))
        A1r = np.concatenate(
            [
                np.einsum("ca,jcid,db->jaib", T[0], self.G[(0, u)], T[u]).reshape(
                    t1.m, t1.k, terms[u].q
                )
                for u in rest
            ],
            axis=2,
        )
        F = np.einsum("jab,jbr->jar", L1i, A1r)  # (m1, k1, qr)
        qr = self.qr
        Arr = np.empty((qr, qr))
        for u in rest:
            su = slice(self.offsets[u - 1], self.offsets[u])
            for v in rest:
                if v < u:
                    continue
                sv = slice(self.offsets[v - 1], self.offsets[v])
                blk = np.einsum("ca,icjd,db->iajb", T[u], self.G[(u, v)], T[v]).reshape(
                    terms[u].q, terms[v].q
                )
                Arr[su, sv] = blk
                Arr[sv, su] = blk.T
        Ff = F.reshape(-1, qr)
        S = Arr + np.eye(qr) - Ff.T @ Ff
        cr = np.concatenate([c[u].ravel() for u in rest]) - Ff.T @ w1.ravel()
        Ls = np.linalg.cholesky(S)
        w2 = _fwd(Ls, cr)
        logdet += 2.0 * np.sum(np.log(np.diag(Ls)))
        wsq += float(w2 @ w2)
        return Factor(
            sigma=sigma,
            T=T,
            L=[L1],
            Linv=[L1i],
            w=[w1, w2],
            F={"1r": F},
            g=g,
            rr=rr,
            logdet=logdet,
            quad=rr - wsq,
            Ls=Ls,
        )

    # ------------------------------------------------------------------ solutions
    def solve_u(self, f: Factor, w: list | None = None) -> list[np.ndarray]:
        """u = L_A^{-T} w per term (w defaults to the factor's; pass w + σε to draw)."""
        w = f.w if w is None else w
        terms = self.terms
        if self.structure == "nested":
            nt = len(terms)
            u: list = [None] * nt
            for s in reversed(range(nt)):
                rhs = w[s].copy()
                for v in range(s + 1, nt):
                    rhs -= _mv(f.F[(s, v)], u[v][self.anc[(s, v)]])
                u[s] = _mtv(f.Linv[s], rhs)
            return u
        ur = _bwd(f.Ls, w[1])
        rhs = w[0] - np.einsum("jar,r->ja", f.F["1r"], ur)
        u1 = _mtv(f.Linv[0], rhs)
        out = [u1]
        for i, t in enumerate(terms[1:], start=1):
            out.append(ur[self.offsets[i - 1] : self.offsets[i]].reshape(t.m, t.k))
        return out

    def inverse_diag(self, f: Factor) -> list[np.ndarray]:
        """Diagonal blocks of A⁻¹ per term, (m, k, k) each (Takahashi recursion)."""
        terms = self.terms
        if self.structure == "nested":
            nt = len(terms)
            Zd: list = [None] * nt  # diag blocks
            Za: dict = {}  # (u, s): (m_s, k_u, k_s) block between level j of s and ancestor in u
            for s in reversed(range(nt)):
                Li = f.Linv[s]
                base = np.einsum("jba,jbc->jac", Li, Li)  # (L L')^{-1}
                # H_{s,v} = L_{v,s} L_s^{-1} = F_{s,v}' L_s^{-1}: (m_s, k_v, k_s)
                H = {v: np.einsum("jab,jac->jbc", f.F[(s, v)], Li) for v in range(s + 1, nt)}
                for u in range(s + 1, nt):
                    acc = 0.0
                    for v in range(s + 1, nt):
                        if v == u:
                            Zuv = Zd[u][self.anc[(s, u)]]
                        elif v > u:
                            # block (u, v) between ancestor levels: stored on u's levels
                            Zuv = np.swapaxes(Za[(v, u)], 1, 2)[self.anc[(s, u)]]
                        else:
                            Zuv = Za[(u, v)][self.anc[(s, v)]]
                        acc = acc - np.einsum("jab,jbc->jac", Zuv, H[v])
                    Za[(u, s)] = acc  # (m_s, k_u, k_s)
                Zs = base
                for v in range(s + 1, nt):
                    Zs = Zs - np.einsum("jba,jbc->jac", H[v], Za[(v, s)])
                Zd[s] = 0.5 * (Zs + np.swapaxes(Zs, 1, 2))
            return Zd
        # crossed: Z_rr = S^{-1}; Z_11 = (L1L1')^{-1} + H' S^{-1} H with H_j = F_j' L1_j^{-1}
        t1 = terms[0]
        Sinv = _chol_inverse(f.Ls)
        Li = f.Linv[0]
        H = np.einsum("jar,jab->jrb", f.F["1r"], Li)  # (m1, qr, k1)
        Z1 = np.einsum("jba,jbc->jac", Li, Li) + np.einsum("jra,rs,jsb->jab", H, Sinv, H)
        out = [Z1]
        for i, t in enumerate(terms[1:], start=1):
            blk = Sinv[self.offsets[i - 1] : self.offsets[i], self.offsets[i - 1] : self.offsets[i]]
            idx = np.arange(t.m)[:, None] * t.k + np.arange(t.k)[None, :]
            out.append(blk[idx[:, :, None], idx[:, None, :]])
        del t1
        return out

    # ------------------------------------------------------------------ gradient
    def loglik_grad(self, beta, sigma, Ls) -> tuple[float, np.ndarray, float, list[np.ndarray]]:
        """ℓ and its gradient with respect to β, σ and each Σ_t (symmetric-matrix gradient)."""
        if len(self.terms) == 1 and self.use_kernel:
            from ._kernels import single_term_loglik_grad

            ll, db, ds, G = single_term_loglik_grad(
                self.C[0],
                self.D[0],
                self.e[0],
                self.XtX,
                self.Xty,
                self.yty,
                float(self.n),
                np.asarray(beta, dtype=float),
                float(sigma),
                np.ascontiguousarray(Ls[0], dtype=float),
            )
            return float(ll), db, float(ds), [G]
        if self.use_kernel and self.kernel_args is not None:
            from ._kernels import dense_loglik_grad, nested_loglik_grad

            kern = nested_loglik_grad if self.structure == "nested" else dense_loglik_grad
            ll, db, ds, dS = kern(
                np.ascontiguousarray(beta, dtype=float),
                float(sigma),
                self.pack_L(Ls),
                *self.kernel_args,
            )
            return (
                float(ll),
                db,
                float(ds),
                [dS[i, : t.k, : t.k].copy() for i, t in enumerate(self.terms)],
            )
        f = self.factor(beta, sigma, Ls)
        s2 = sigma * sigma
        u = self.solve_u(f)
        bhat = [ui @ Ti.T for ui, Ti in zip(u, f.T, strict=True)]  # b = Λu, row form
        Zd = self.inverse_diag(f)
        Xtr = self.Xty - self.XtX @ beta
        dbeta = Xtr.copy()
        for D, b in zip(self.D, bhat, strict=True):
            dbeta -= np.einsum("jap,ja->p", D, b)
        dbeta /= s2
        # ‖r − Zb̂‖² = r'r − 2 b̂'Z'r + b̂'Z'Zb̂
        e2 = f.rr
        for gi, b, Ci in zip(f.g, bhat, self.C, strict=True):
            e2 += -2.0 * float(np.sum(gi * b)) + float(np.einsum("ja,jab,jb->", b, Ci, b))
        e2 += 2.0 * self._cross(bhat)
        trAinv = sum(float(np.trace(z, axis1=1, axis2=2).sum()) for z in Zd)
        dsig2 = 0.5 * (e2 / s2**2 - (self.n - self.q + trAinv) / s2)
        dsigma = 2.0 * sigma * dsig2
        dSig = []
        for t, b, z, Ti, L in zip(self.terms, bhat, Zd, f.T, Ls, strict=True):
            P = s2 * np.einsum("ab,jbc,dc->jad", Ti, z, Ti)
            M = b.T @ b + P.sum(axis=0)
            Sig = L @ L.T
            Si = np.linalg.inv(Sig)
            G = 0.5 * Si @ (M - t.m * Sig) @ Si
            dSig.append(0.5 * (G + G.T))
        return f.loglik, dbeta, dsigma, dSig

    def _cross(self, bhat) -> float:
        """Σ_{t<u} b̂_t' Z_t'Z_u b̂_u."""
        total = 0.0
        nt = len(self.terms)
        if self.structure == "nested":
            for (s, u), G in self.G.items():
                total += float(np.einsum("ja,jab,jb->", bhat[s], G, bhat[u][self.anc[(s, u)]]))
            return total
        for u in range(1, nt):
            total += float(np.einsum("ja,jaib,ib->", bhat[0], self.G[(0, u)], bhat[u]))
            for v in range(u + 1, nt):
                total += float(np.einsum("ja,jaib,ib->", bhat[u], self.G[(u, v)], bhat[v]))
        return total

    # ------------------------------------------------------------------ conditional draws
    def draw_b(self, beta, sigma, Ls, rng: np.random.Generator) -> list[np.ndarray]:
        """One exact draw of b from p(b | y, β, σ, Σ).

        u | y ~ N(A⁻¹c, σ²A⁻¹) (lme4's spherical effects), so u = L_A^{-T}(w + σε) and b = Λu.
        """
        if self.use_kernel and self.kernel_args is not None:
            many = self.draw_b_many(
                np.asarray(beta, dtype=float)[None], np.array([sigma], dtype=float),
                [np.asarray(L, dtype=float)[None] for L in Ls], rng,
            )  # fmt: skip
            return [b[0] for b in many]
        f = self.factor(beta, sigma, Ls)
        w = [wi + sigma * rng.standard_normal(wi.shape) for wi in f.w]
        u = self.solve_u(f, w)
        return [ui @ Ti.T for ui, Ti in zip(u, f.T, strict=True)]

    def draw_b_many(self, betas, sigmas, Ls, rng: np.random.Generator) -> list[np.ndarray]:
        """One exact draw of b | y per row of the parameter arrays, in one compiled call.

        Parameters
        ----------
        betas : ndarray (S, p)
        sigmas : ndarray (S,)
        Ls : list of ndarray (S, k_t, k_t)
            Per-term covariance Cholesky factors.
        rng : numpy.random.Generator
            Consumed exactly as S successive :meth:`draw_b` calls would consume it.

        Returns
        -------
        list of ndarray (S, m_t, k_t)
        """
        from ._kernels import dense_draw_b, nested_draw_b

        sigmas = np.ascontiguousarray(sigmas, dtype=float).reshape(-1)
        S = sigmas.shape[0]
        betas = np.ascontiguousarray(betas, dtype=float).reshape(S, -1)
        if not (self.use_kernel and self.kernel_args is not None):
            draws = [self.draw_b(betas[i], sigmas[i], [L[i] for L in Ls], rng) for i in range(S)]
            return [np.stack([d[ti] for d in draws]) for ti in range(len(self.terms))]
        blocks = self._one_factor_blocks()
        if blocks is not False:
            # one grouping factor: plain batched NumPy is as fast here and spares the first
            # run the compile of the general kernel (about 15 s)
            eps = rng.standard_normal((S, self.q))
            return self._draw_b_one_factor(betas, sigmas, Ls, eps, blocks)
        args = self.kernel_args
        K = args[2].shape[0]
        Lp = np.zeros((S, len(self.terms), K, K))
        for i, L in enumerate(Ls):
            k = L.shape[-1]
            Lp[:, i, :k, :k] = L
        eps = rng.standard_normal((S, self.q))
        kern = nested_draw_b if self.structure == "nested" else dense_draw_b
        b = kern(betas, sigmas, Lp, eps, *args)
        lo = args[1]
        return [
            np.ascontiguousarray(b[:, : t.k, lo[i] : lo[i + 1]].transpose(0, 2, 1))
            for i, t in enumerate(self.terms)
        ]

    def _one_factor_blocks(self):
        """Per-level C, D, e of all terms taken as one term, when every term has the same
        grouping factor (``(x || g)``, ``(1 | g) + (0 + x | g)``; or a single term)."""
        if self._one_factor is None:
            t0 = self.terms[0]
            if not all(t.m == t0.m and np.array_equal(t.codes, t0.codes) for t in self.terms):
                self._one_factor = False
            else:
                Xr = np.hstack([t.X for t in self.terms])
                fake = _Levels(m=t0.m, k=Xr.shape[1], X=Xr, codes=t0.codes)
                self._one_factor = (
                    _blocks(fake, Xr),
                    _blocks(fake, self._X),
                    _blocks(fake, self._y[:, None])[:, :, 0],
                )
        return self._one_factor

    def _draw_b_one_factor(self, betas, sigmas, Ls, eps, blocks) -> list[np.ndarray]:
        """b | y draws when all terms share one grouping factor: per level the random effects
        of all terms form one block, with a block-diagonal relative factor; batched NumPy
        with the kernels' algebra and ε order (term, level, coefficient), so the draws are
        the same numbers the compiled ``nested_draw_b`` gives."""
        C, D, e = blocks
        m = self.terms[0].m
        ks = [t.k for t in self.terms]
        K = sum(ks)
        S = betas.shape[0]
        offs = np.concatenate([[0], np.cumsum(ks)])
        T = np.zeros((S, K, K))
        E = np.empty((S, m, K))
        q0 = 0
        for ti, k in enumerate(ks):
            a, b = offs[ti], offs[ti + 1]
            T[:, a:b, a:b] = np.asarray(Ls[ti], dtype=float) / sigmas[:, None, None]
            E[:, :, a:b] = eps[:, q0 : q0 + m * k].reshape(S, m, k)
            q0 += m * k
        out = _draw_levels(betas, sigmas, T, C, D, e, E)
        return [np.ascontiguousarray(out[:, :, offs[i] : offs[i + 1]]) for i in range(len(ks))]


@dataclass
class _Levels:
    """The fields of a random-effects term that :func:`_blocks` reads."""

    m: int
    k: int
    X: np.ndarray
    codes: np.ndarray


def _draw_levels(betas, sigmas, T, C, D, e, E, chunk: int = 256) -> np.ndarray:
    """Per level A = I + T'CT, c = T'(e − Dβ), u = L_A^{-T}(L_A^{-1}c + σε), b = Tu, for each
    draw (T the relative factor L/σ, block-diagonal over terms); nan where A is not
    positive definite."""
    S, m, K = E.shape
    out = np.empty((S, m, K))
    eye = np.eye(K)
    for s0 in range(0, S, chunk):
        sl = slice(s0, min(S, s0 + chunk))
        Ts = T[sl]
        g = e[None] - np.einsum("jap,sp->sja", D, betas[sl])
        c = np.einsum("sra,sjr->sja", Ts, g)
        A = np.einsum("sra,jrd,sdb->sjab", Ts, C, Ts) + eye
        try:
            La = np.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            if sl.stop - sl.start == 1:
                out[sl] = np.nan
            else:  # rare: redo the chunk draw by draw to find the failing ones
                for i in range(sl.start, sl.stop):
                    r = slice(i, i + 1)
                    out[r] = _draw_levels(betas[r], sigmas[r], T[r], C, D, e, E[r], 1)
            continue
        w = np.linalg.solve(La, c[..., None])[..., 0]
        w += sigmas[sl, None, None] * E[sl]
        u = np.linalg.solve(np.swapaxes(La, -1, -2), w[..., None])[..., 0]
        out[sl] = np.einsum("sab,sjb->sja", Ts, u)
    return out


def _fwd(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.linalg import solve_triangular

    return solve_triangular(L, b, lower=True, check_finite=False)


def _bwd(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.linalg import solve_triangular

    return solve_triangular(L, b, lower=True, trans="T", check_finite=False)


def _chol_inverse(L: np.ndarray) -> np.ndarray:
    from scipy.linalg import cho_solve

    return cho_solve((L, True), np.eye(L.shape[0]), check_finite=False)
