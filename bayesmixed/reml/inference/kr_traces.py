"""Kenward–Roger's products and traces through Woodbury, never forming an n × n matrix.

With U = ZΛ and M = U'U + I = L L' (the penalized system of the fit),

    V = σ²(I + ZΛΛ'Z'),   V⁻¹ = σ⁻²(I − U M⁻¹ U').

Every quantity of :mod:`~bayesmixed.reml.inference.kenward_roger` is written through this,
with C = Z'Z (sparse), Y = L⁻¹Λ'C and X = M⁻¹Λ'C = L⁻ᵀY:

* V⁻¹R for an n × c matrix R costs one sparse product each way and a solve with L; the
  products P_r = −Xᵀ V⁻¹ G_r V⁻¹ X and Q_rs = Xᵀ V⁻¹ G_r V⁻¹ G_s V⁻¹ X follow from
  F_r = G_r V⁻¹ X = Z_t (I ⊗ E_ab) Z_tᵀ V⁻¹ X as P_r = −(V⁻¹X)ᵀ F_r, Q_rs = F_rᵀ V⁻¹ F_s;
* N = Z'V⁻¹Z = σ⁻²(C − Y'Y) and, since U'U = M − I, Z'V⁻²Z = σ⁻²N − σ⁻⁴ X'X;
* tr(V⁻¹G_rV⁻¹G_s) for G_r = Σ Z_{t,x} Z_{t,y}' (x, y effects of term t, Z_{t,x} the n × m_t
  columns of effect x) is a sum of Frobenius products ⟨N_tu^{(y,x')}, N_tu^{(x,y')}⟩ of
  effect blocks of N; tr(V⁻¹G_rV⁻¹) sums level-diagonal blocks of Z_t'V⁻²Z_t, and
  tr(V⁻²) = σ⁻⁴(n − q + ‖M⁻¹‖²_F).

L is blocked as the deviance blocks it: the first term's block L11 is block diagonal (one
k×k factor per level), the later terms' block L22 is dense (the Schur complement). The
first-term parts of Y and X are then "block diagonal + (q1 × qr)(qr × q1)", so their Frobenius
products and level-diagonal sums reduce to per-level k×k and dense qr×qr products. Nothing
q1 × q1 is formed: the cost is O(n·k² + q1·k⁴) for one term, plus O(qr²·q) for later terms.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from ...errors import ArgumentError

__all__ = ["MAX_DENSE", "WoodburyTraces"]

# Largest dense (later-term random effects) × (all random effects) matrix, in entries: a few
# such arrays are held at once (Y2, X2 and three q1 × qr pieces), 8 bytes an entry.
MAX_DENSE = 40_000_000


def _block_diag(blocks: np.ndarray) -> sp.csr_matrix:
    """Sparse block-diagonal matrix of an (m, k, k) stack."""
    m, k, _ = blocks.shape
    bsr = sp.bsr_matrix((blocks, np.arange(m), np.arange(m + 1)), shape=(m * k, m * k))
    return bsr.tocsr()


def _pairs(a: int, b: int) -> list[tuple[int, int]]:
    """The (x, y) with Z_x Z_y' in G for one covariance element E_ab (symmetric)."""
    return [(a, b), (b, a)] if a != b else [(a, a)]


def _gram(Nr: np.ndarray) -> np.ndarray:
    """Γ[a, c, b, d] = Σ_jl Nr[j, a, l, c] Nr[j, b, l, d] for Nr of shape (m_t, k_t, m_u, k_u)."""
    mt, kt, mu, ku = Nr.shape
    B = Nr.transpose(1, 3, 0, 2).reshape(kt * ku, mt * mu)
    return (B @ B.T).reshape(kt, ku, kt, ku)


class WoodburyTraces:
    """V⁻¹ products and the traces of Kenward–Roger for a design at (θ, σ).

    Parameters
    ----------
    design : Design
        With at least one random-effects term.
    theta : ndarray
        Relative covariance parameters.
    sigma : float
        Residual standard deviation.

    Examples
    --------
    >>> import numpy as np
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> w = WoodburyTraces(fit.design, fit.theta, fit.sigma)
    >>> y = fit.design.y[:, None]
    >>> V = fit.sigma**2 * (np.eye(30) + (fit.design.Z @ fit.design.Z.T).toarray() * fit.theta[0]**2)
    >>> bool(np.allclose(w.vinv(y), np.linalg.solve(V, y)))
    True
    """

    def __init__(self, design, theta: np.ndarray, sigma: float):
        terms = design.terms
        self.n = design.n
        self.s2 = float(sigma) ** 2
        self.terms = terms
        t1 = terms[0]
        self.m1, self.k1, self.q1 = t1.m, t1.k, t1.q
        q = self.q = design.q
        qr = self.qr = q - self.q1
        if qr * q > MAX_DENSE:
            raise ArgumentError(
                f"Kenward-Roger needs dense {qr:,} × {q:,} matrices (random effects of the later "
                f"terms × all random effects), more than {MAX_DENSE:,} entries: use "
                "ddf='Satterthwaite' (for large samples the two agree closely)"
            )
        self.offsets = design.term_offsets
        Ts = design.factors(np.asarray(theta, dtype=float))
        Lam = sp.block_diag(
            [
                _block_diag(np.broadcast_to(T, (t.m, t.k, t.k)))
                for t, T in zip(terms, Ts, strict=True)
            ],
            format="csr",
        )
        Z = design.Z
        self.Z = Z
        self.U = (Z @ Lam).tocsr()
        C = (Z.T @ Z).tocsr()
        LtC = (Lam.T @ C).tocsr()
        q1, k1, m1 = self.q1, self.k1, self.m1
        Cj, T1 = t1.ZtZ_blocks, Ts[0]
        M11 = np.einsum("ba,jbc,cd->jad", T1, Cj, T1) + np.eye(k1)
        Ai = self.Ai = np.linalg.inv(np.linalg.cholesky(M11))  # L11_j⁻¹ per level
        Ai_bd = self._Ai_bd = _block_diag(Ai)
        Yj = np.einsum("jab,cb,jcd->jad", Ai, T1, Cj)  # first-term block of Y, per level
        self.D = Cj - np.einsum("jba,jbc->jac", Yj, Yj)  # σ²N11 = D − Y2_1'Y2_1
        self.E = np.einsum("jba,jbc->jac", Ai, Yj)  # L11⁻ᵀ Y_11, per level
        if not qr:
            return
        Y1 = (Ai_bd @ LtC[:q1]).tocsr()  # q1 × q, sparse
        A21 = LtC[q1:] @ Lam[:, :q1]
        self.L21 = L21 = (A21 @ Ai_bd.T).tocsr()  # M21 L11⁻ᵀ
        S = (LtC[q1:] @ Lam[:, q1:]).toarray() + np.eye(qr) - (L21 @ L21.T).toarray()
        self.L22 = L22 = sla.cholesky(S, lower=True)
        Y2 = sla.solve_triangular(L22, (LtC[q1:] - L21 @ Y1).toarray(), lower=True)
        X2 = sla.solve_triangular(L22, Y2, lower=True, trans="T")
        Pd = (Ai_bd.T @ L21.T).toarray()  # L11⁻ᵀ L21' (q1 × qr): X1 = L11⁻ᵀY1 − Pd X2
        Y1r = Y1[:, q1:]
        self.Y2_1 = Y2[:, :q1].reshape(qr, m1, k1)
        self.X2 = X2
        self.Pd = Pd
        self.X1r = (Ai_bd.T @ Y1r).toarray() - Pd @ X2[:, q1:]
        s2 = self.s2
        self.N1r = (
            C[:q1, q1:].toarray() - (Y1[:, :q1].T @ Y1r).toarray() - Y2[:, :q1].T @ Y2[:, q1:]
        ) / s2
        self.Nrr = (
            C[q1:, q1:].toarray() - (Y1r.T @ Y1r).toarray() - Y2[:, q1:].T @ Y2[:, q1:]
        ) / s2

    # ------------------------------------------------------------------ V⁻¹
    def _minv(self, w: np.ndarray) -> np.ndarray:
        """M⁻¹ w for a q × c matrix, by the blocked factor L."""
        q1, k1, m1, c = self.q1, self.k1, self.m1, w.shape[1]
        y1 = np.einsum("jab,jbc->jac", self.Ai, w[:q1].reshape(m1, k1, c)).reshape(q1, c)
        if not self.qr:
            return np.einsum("jba,jbc->jac", self.Ai, y1.reshape(m1, k1, c)).reshape(q1, c)
        y2 = sla.solve_triangular(self.L22, w[q1:] - self.L21 @ y1, lower=True)
        x2 = sla.solve_triangular(self.L22, y2, lower=True, trans="T")
        y1 = y1 - self.L21.T @ x2
        x1 = np.einsum("jba,jbc->jac", self.Ai, y1.reshape(m1, k1, c)).reshape(q1, c)
        return np.vstack([x1, x2])

    def vinv(self, R: np.ndarray) -> np.ndarray:
        """V⁻¹R for an n × c matrix: σ⁻²(R − U M⁻¹ U'R)."""
        R = np.asarray(R, dtype=float)
        return (R - self.U @ self._minv(np.asarray(self.U.T @ R))) / self.s2

    # ------------------------------------------------------------------ traces
    def _gram_first(self) -> np.ndarray:
        """Γ of the first term's block N11 = σ⁻²(D − H), H = Y2_1'Y2_1 (never formed)."""
        D = self.D
        G = np.einsum("jac,jbd->acbd", D, D)
        if self.qr:
            Y = self.Y2_1
            Hd = np.einsum("rja,rjb->jab", Y, Y)  # level-diagonal blocks of H
            G -= np.einsum("jac,jbd->acbd", D, Hd) + np.einsum("jac,jbd->acbd", Hd, D)
            k1 = self.k1
            R = np.array([[Y[:, :, a] @ Y[:, :, b].T for b in range(k1)] for a in range(k1)])
            # ⟨H^{ac}, H^{bd}⟩ = Σ_rs R^{ab}[r, s] R^{cd}[r, s]
            G += np.einsum("abrs,cdrs->acbd", R, R)
        return G / self.s2**2

    def _n_block(self, t: int, u: int) -> np.ndarray:
        """N_tu (t ≤ u, u a later term) as (m_t, k_t, m_u, k_u)."""
        off = self.offsets - self.q1
        tu = self.terms[u]
        cols = slice(off[u], off[u + 1])
        if t == 0:
            blk = self.N1r[:, cols]
        else:
            blk = self.Nrr[off[t] : off[t + 1], cols]
        tt = self.terms[t]
        return blk.reshape(tt.m, tt.k, tu.m, tu.k)

    def _level_diag_v2(self, t: int) -> np.ndarray:
        """Δ_t[a, b] = Σ_j (Z_t'V⁻²Z_t)[(j, a), (j, b)] = Σ_j level blocks of σ⁻²N − σ⁻⁴X'X."""
        s2 = self.s2
        if t == 0:
            Nd = self.D.sum(axis=0)
            XX = np.einsum("jba,jbc->ac", self.E, self.E)
            if self.qr:
                Y, k1, m1, qr = self.Y2_1, self.k1, self.m1, self.qr
                Nd = Nd - np.einsum("rja,rjb->ab", Y, Y)
                X2 = self.X2[:, : self.q1].reshape(qr, m1, k1)
                Fjj = np.einsum("jar,rjb->jab", self.Pd.reshape(m1, k1, qr), X2)
                EF = np.einsum("jca,jcb->ab", self.E, Fjj)
                GX = (self.Pd.T @ self.Pd @ X2.reshape(qr, -1)).reshape(qr, m1, k1)
                XX = XX - EF - EF.T + np.einsum("rja,rjb->ab", X2, GX)
                XX += np.einsum("rja,rjb->ab", X2, X2)
            return (Nd - XX) / s2**2  # Nd is σ² N11 here
        tt = self.terms[t]
        Nr = self._n_block(t, t)
        Nd = np.einsum("jajb->ab", Nr)
        off = self.offsets
        Xc = np.vstack(
            [self.X1r[:, off[t] - self.q1 : off[t + 1] - self.q1], self.X2[:, off[t] : off[t + 1]]]
        ).reshape(-1, tt.m, tt.k)
        return Nd / s2 - np.einsum("ija,ijb->ab", Xc, Xc) / s2**2

    def _minv_frob2(self) -> float:
        """‖M⁻¹‖²_F with L⁻¹ = [A 0; B C]: ‖A'A + B'B‖² + 2‖B'C‖² + ‖C'C‖²."""
        AA = np.einsum("jba,jbc->jac", self.Ai, self.Ai)
        out = float(np.sum(AA * AA))
        if not self.qr:
            return out
        qr, m1, k1 = self.qr, self.m1, self.k1
        B = -sla.solve_triangular(self.L22, (self.L21 @ self._Ai_bd).toarray(), lower=True)
        Bd = B.reshape(qr, m1, k1)
        out += 2.0 * float(np.sum(AA * np.einsum("rja,rjb->jab", Bd, Bd)))
        out += float(np.sum((B @ B.T) ** 2))
        CtB = sla.solve_triangular(self.L22, B, lower=True, trans="T")
        out += 2.0 * float(np.sum(CtB * CtB))
        Ci = sla.solve_triangular(self.L22, np.eye(qr), lower=True)
        out += float(np.sum((Ci.T @ Ci) ** 2))
        return out

    def trace_matrix(self) -> tuple[list[tuple[int, int, int]], np.ndarray]:
        """The parameters (term, a, b) and K_rs = tr(V⁻¹G_rV⁻¹G_s), residual last."""
        params = [
            (ti, a, b) for ti, t in enumerate(self.terms) for a in range(t.k) for b in range(a + 1)
        ]
        nre = len(params)
        K = np.empty((nre + 1, nre + 1))
        grams: dict = {}
        for r, (t, a, b) in enumerate(params):
            for s in range(r, nre):
                u, c, d = params[s]
                if (t, u) not in grams:
                    grams[(t, u)] = self._gram_first() if u == 0 else _gram(self._n_block(t, u))
                G = grams[(t, u)]
                K[r, s] = K[s, r] = sum(
                    G[y, x2, x, y2] for x, y in _pairs(a, b) for x2, y2 in _pairs(c, d)
                )
        deltas = [self._level_diag_v2(t) for t in range(len(self.terms))]
        for r, (t, a, b) in enumerate(params):
            K[r, nre] = K[nre, r] = sum(deltas[t][y, x] for x, y in _pairs(a, b))
        K[nre, nre] = (self.n - self.q + self._minv_frob2()) / self.s2**2
        return params, K

    def products(self, X: np.ndarray, params) -> tuple[np.ndarray, np.ndarray]:
        """P (ng, p, p) and Q (ng, ng, p, p) for the parameters (term, a, b) and the residual."""
        SiX = self.vinv(X)
        n, p = X.shape
        F = []
        off = self.offsets
        for t, a, b in params:
            tt = self.terms[t]
            Zt = self.Z[:, off[t] : off[t + 1]]
            Ct = np.asarray(Zt.T @ SiX).reshape(tt.m, tt.k, p)
            EC = np.zeros_like(Ct)
            for x, y in _pairs(a, b):
                EC[:, x] += Ct[:, y]
            F.append(Zt @ EC.reshape(tt.q, p))
        F.append(SiX)
        Fa = np.hstack(F)  # n × (ng p)
        ng = len(F)
        P = -(SiX.T @ Fa).reshape(p, ng, p).transpose(1, 0, 2)
        Q = (Fa.T @ self.vinv(Fa)).reshape(ng, p, ng, p).transpose(0, 2, 1, 3)
        return P, Q
