"""Exact draws of the random effects b from p(b | y, β, σ, Σ), given the marginal model's
blocked factorization: u | y ~ N(A⁻¹c, σ²A⁻¹) (lme4's spherical effects), b = Λu.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ConditionalDraws"]


class ConditionalDraws:
    """Draws of b | y, mixed into :class:`~.likelihood.MarginalModel` (which provides the
    statistics, ``factor`` and ``solve_u`` used here)."""

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
