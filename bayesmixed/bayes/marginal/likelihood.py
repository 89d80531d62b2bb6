"""Marginal likelihood, its exact gradient, and conditional draws of b.

This is the engine behind ``parameterization="marginal"``: with the nutpie sampler NUTS (in
Rust) calls it directly; the PyMC model wraps the same functions in a PyTensor Op
(:mod:`.pytensor_op`) for the other samplers. The NumPy code here is the reference;
with ``use_kernel=True`` (the default) :meth:`MarginalModel.loglik_grad` and the draws of b
run the same algebra compiled (:mod:`._kernels`), on the sufficient
statistics repacked once by :meth:`MarginalModel._pack` (:mod:`.statistics`).

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

from .batched import bwd, chol, chol_inverse, fwd, mtv, mv, tri_inv
from .conditional import ConditionalDraws
from .statistics import DENSE_LIMIT, SufficientStatistics, structure_of

__all__ = ["MarginalModel", "Factor", "structure_of", "DENSE_LIMIT"]


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


class MarginalModel(ConditionalDraws, SufficientStatistics):
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
            L = chol(A[s])
            Li = tri_inv(L)
            ws = mv(Li, c[s])
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
                c[u] -= agg @ mtv(Fu, ws)
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
        L1 = chol(A[0])
        L1i = tri_inv(L1)
        w1 = mv(L1i, c[0])
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
        w2 = fwd(Ls, cr)
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
                    rhs -= mv(f.F[(s, v)], u[v][self.anc[(s, v)]])
                u[s] = mtv(f.Linv[s], rhs)
            return u
        ur = bwd(f.Ls, w[1])
        rhs = w[0] - np.einsum("jar,r->ja", f.F["1r"], ur)
        u1 = mtv(f.Linv[0], rhs)
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
        Sinv = chol_inverse(f.Ls)
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
