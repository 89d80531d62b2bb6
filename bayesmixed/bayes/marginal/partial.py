"""The partly marginal posterior: some terms' effects sampled, the others integrated out.

When every term cannot be integrated out cheaply — crossed factors whose Schur block would
be a large dense matrix, e.g. students × lecturers × departments on InstEval — the effects
of the data-rich terms are sampled (centred or non-centred per term) and the remaining
terms are integrated out given them, with the same blocked algebra as the full marginal
form (:mod:`.likelihood`). The gradient costs O(n) per evaluation and runs in one compiled
call (:func:`~._kernels.partial_dense_logp_grad`), so nutpie calls it natively.

Coordinates: the scalars of :class:`~.logdensity.ScalarLayout` (β, σ, SDs and CPCs of every
term), then each sampled term's effects, level by level (k per level).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...design.build import Design
from ..priors import PriorSet
from . import _kernels as K
from .logdensity import ScalarLayout
from .statistics import SufficientStatistics, _parent_map

__all__ = ["PartialPosterior"]


class PartialPosterior(ScalarLayout):
    """Log posterior with the effects of ``sampled`` terms as coordinates.

    Parameters
    ----------
    design : Design
    priors : PriorSet
    xmeans : ndarray
        Means subtracted from the non-intercept fixed columns.
    modes : list of str
        Per term: ``"marginal"`` (integrated out), ``"centered"`` or ``"noncentered"``.
    order : list of int
        The integrated terms in the order their factorization takes them (the first is
        eliminated level by level; for crossed terms the rest form the dense block).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> from bayesmixed.bayes.priors import resolve_priors
    >>> m = bm.MixedModel("diameter ~ 1 + (1 | plate) + (1 | sample)",
    ...                   bm.datasets.load("Penicillin"))
    >>> pp = PartialPosterior(m.design, resolve_priors(m.design, None), np.zeros(1),
    ...                       ["marginal", "centered"], [0])
    >>> pp.ndim  # β, σ, two SDs, six sample effects
    10
    """

    def __init__(
        self,
        design: Design,
        priors: PriorSet,
        xmeans: np.ndarray,
        modes: list[str],
        order: list[int],
    ):
        super().__init__(design, priors)
        terms = design.terms
        self.modes = list(modes)
        self.order = list(order)
        code = {"marginal": 0, "centered": 1, "noncentered": 2}
        self.samp = np.array([code[m] for m in modes], dtype=np.int64)
        nt = len(terms)
        Kall = max(t.k for t in terms)
        n = design.n
        self.lo_all = np.concatenate([[0], np.cumsum([t.m for t in terms])]).astype(np.int64)
        sizes = [t.q if s else 0 for t, s in zip(terms, self.samp, strict=True)]
        self.eoff = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.nb = self.ndim
        self.ndim = self.nb + int(self.eoff[-1])
        self.msub = np.full(nt, -1, dtype=np.int64)
        for s, t in enumerate(self.order):
            self.msub[t] = s
        Xc = np.ascontiguousarray(design.X - xmeans)
        codes = np.zeros((nt, n), dtype=np.int64)
        Zr = np.zeros((nt, Kall, n))
        for i, t in enumerate(terms):
            codes[i] = t.codes
            Zr[i, : t.k] = t.X.T
        self.centre = self._centres(xmeans)
        sub = dataclasses.replace(design, terms=[terms[t] for t in self.order])
        self.stats = SufficientStatistics(sub, Xc)
        ks_all = np.array([t.k for t in terms], dtype=np.int64)
        self.kernel_fn = (
            K.partial_nested_logp_grad
            if self.stats.structure == "nested"
            else K.partial_dense_logp_grad
        )
        self.draw_fn = (
            K.partial_nested_draw_b if self.stats.structure == "nested" else K.partial_dense_draw_b
        )
        # grouped: priors, rows, the integrated terms' statistics (a call of over 30
        # arguments is one numba cannot compile)
        self.args = (
            (
                self.nb, ks_all, self.fam, self.par, self.trk, self.lo, self.hi,
                np.concatenate(self.cpc_a), np.concatenate(self.cpc_lbeta),
            ),
            (
                Xc, np.ascontiguousarray(design.y, dtype=float), codes, Zr, self.samp,
                self.eoff, self.lo_all, self.msub, self.centre,
            ),
            tuple(self.stats.kernel_args),
        )  # fmt: skip

    def _centres(self, xmeans) -> np.ndarray:
        """Hierarchical centring (Gelfand, Sahu & Carlin 1995) of the centred terms'
        intercepts: per global level, the coordinate its η = b + centre is centred on — the
        parent level's intercept for a term nested in another centred term, the fixed
        intercept for one top term — or −1. Data-rich groups then inform their centre
        directly instead of through a ridge between the intercept and the mean effect."""
        d = self.design
        terms = d.terms
        centre = np.full(int(self.lo_all[-1]), -1, dtype=np.int64)
        cand = [
            i
            for i, t in enumerate(terms)
            if self.samp[i] == 1 and t.cnames[0] == "(Intercept)" and np.all(t.X[:, 0] == 1.0)
        ]
        tops = []
        for i in cand:
            t = terms[i]
            parents = []
            for u in cand:
                if u != i and terms[u].m < t.m:
                    pm_ = _parent_map(t.codes, terms[u].codes, t.m)
                    if pm_ is not None:
                        parents.append((terms[u].m, u, pm_))
            if not parents:
                tops.append(i)
                continue
            _, u, pm_ = max(parents, key=lambda r: r[0])  # the closest parent: most levels
            ku = terms[u].k
            centre[self.lo_all[i] : self.lo_all[i + 1]] = self.nb + self.eoff[u] + pm_ * ku
        icol = d.xnames.index("(Intercept)") if d.has_intercept else None
        if tops and icol is not None and self.trk[icol] == K.IDENTITY:
            top = min(tops, key=lambda i: terms[i].m)  # most rows per level
            centre[self.lo_all[top] : self.lo_all[top + 1]] = icol
        return centre

    # ------------------------------------------------------------------ layout
    def names(self) -> list[str]:
        """Labels of the unconstrained coordinates."""
        out = super().names()
        for t, s in zip(self.design.terms, self.samp, strict=True):
            if s:
                pre = "b" if s == 1 else "z"
                out += [f"{pre}[{lv}, {c}]|{t.name}" for lv in t.levels for c in t.cnames]
        return out

    def start(self, x_scalar: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A full starting point from the scalars: the sampled effects drawn small, so that
        every chain starts near the pooled fit."""
        x = np.empty(self.ndim)
        x[: self.nb] = x_scalar
        pt = self.point(x_scalar)
        terms = self.design.terms
        for i, (t, s) in enumerate(zip(terms, self.samp, strict=True)):
            if not s:
                continue
            z = 0.1 * rng.standard_normal((t.m, t.k))
            b = z @ pt.L[i].T if s == 1 else z
            x[self.nb + self.eoff[i] : self.nb + self.eoff[i + 1]] = b.ravel()
        # η = b + centre, parents (fewer levels) before their children
        for i in sorted(range(len(terms)), key=lambda i: terms[i].m):
            c = self.centre[self.lo_all[i] : self.lo_all[i + 1]]
            if self.samp[i] == 1 and np.any(c >= 0):
                rows = self.nb + self.eoff[i] + np.arange(terms[i].m) * terms[i].k
                x[rows[c >= 0]] += x[c[c >= 0]]
        return x

    def kernel(self):
        """(compiled kernel, its arguments after x)."""
        return self.kernel_fn, self.args

    # ------------------------------------------------------------------ density
    def logp_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Log density and its gradient at ``x`` (``-inf`` and zeros outside the support)."""
        lp, g = self.kernel_fn(np.ascontiguousarray(x, dtype=float), *self.args)
        return float(lp), g

    def logp(self, x: np.ndarray) -> float:
        """Log posterior density (up to the evidence) at ``x``."""
        return self.logp_grad(x)[0]

    def draw_effects(self, xs: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        """Effects of every term for each row of ``xs`` (S, ndim): the sampled ones as drawn,
        the integrated ones exactly from their conditional given them; per term (S, m, k)."""
        xs = np.ascontiguousarray(xs, dtype=float)
        qM = sum(self.design.terms[t].q for t in self.order)
        eps = rng.standard_normal((xs.shape[0], qM))
        out = self.draw_fn(xs, eps, *self.args)
        res = []
        for i, t in enumerate(self.design.terms):
            blk = out[:, : t.k, self.lo_all[i] : self.lo_all[i + 1]]
            res.append(np.ascontiguousarray(np.swapaxes(blk, 1, 2)))
        return res
