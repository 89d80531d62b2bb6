"""Sufficient statistics of the Gaussian marginal likelihood, computed once per design.

Per term t and level j: C = Z_t'Z_t, D = Z_t'X, e = Z_t'y (the terms' level sums); between
terms, G = Z_s'Z_u — per level of the inner term when the terms are nested (each level of
one term inside one level of the next), as dense blocks otherwise (crossed terms). The
evaluation (:mod:`.likelihood`) and the compiled kernels (:mod:`._kernels`) read only these.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ...design.build import Design
from ...design.reterm import per_level_sums

__all__ = ["SufficientStatistics", "structure_of", "DENSE_LIMIT"]

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


class SufficientStatistics:
    """The per-level cross-products of one design, in NumPy and in the kernels' layout.

    Parameters
    ----------
    design : Design
    X : ndarray (n, p)
        The fixed-effects matrix the parameters refer to (the sampler centres columns).
    use_kernel : bool
        Evaluate with the compiled kernels (False: the NumPy reference).
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
        self.C = [t.level_sums(t.X) for t in self.terms]  # (m, k, k)
        self.D = [t.level_sums(X) for t in self.terms]  # (m, k, p)
        self.e = [t.level_sums(y) for t in self.terms]  # (m, k)
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
                    self.G[(s, u)] = self.terms[s].level_sums(self.terms[u].X)  # (m_s, k_s, k_u)
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

    def _one_factor_blocks(self):
        """Per-level C, D, e of all terms taken as one term, when every term has the same
        grouping factor (``(x || g)``, ``(1 | g) + (0 + x | g)``; or a single term)."""
        if self._one_factor is None:
            t0 = self.terms[0]
            if not all(t.m == t0.m and np.array_equal(t.codes, t0.codes) for t in self.terms):
                self._one_factor = False
            else:
                Xr = np.hstack([t.X for t in self.terms])
                self._one_factor = (
                    per_level_sums(t0.codes, Xr, t0.m, Xr),
                    per_level_sums(t0.codes, Xr, t0.m, self._X),
                    per_level_sums(t0.codes, Xr, t0.m, self._y),
                )
        return self._one_factor
