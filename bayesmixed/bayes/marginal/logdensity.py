"""The marginalized posterior as a plain log density with its exact gradient.

Unconstrained coordinates, in order: the fixed effects (non-intercept columns centred), the
transformed residual SD, the transformed SDs of every term, then the log-odds of every
correlated term's canonical partial correlations — the order of the PyMC model's value
variables, whose ``logp`` this equals (same priors, transforms and Jacobians; the tests check
it). Priors and transforms are encoded as numbers so that the whole density runs in compiled
code (:mod:`~bayesmixed.bayes._kernels`): one compiled call per evaluation, whatever the terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, gammaln

from ...design.build import Design
from ..densities import _gamma_params, _invgamma_params
from ..graph import _cpc_betas
from ..priors import Prior, PriorSet
from . import _kernels as K
from .likelihood import MarginalModel

__all__ = ["MarginalPosterior", "Point", "encode_prior"]

_LOG2 = math.log(2.0)
_HALF_LOG2PI = 0.5 * math.log(2.0 * math.pi)


def encode_prior(prior: Prior) -> tuple[int, np.ndarray, int, float, float]:
    """(family code, parameters, transform code, lower, upper) for the compiled density."""
    if prior.on_variance:  # the family's own encoding, evaluated at τ² by the kernel
        code, par, _, lo, hi = encode_prior(prior.base)
        return code, par, K.LOGVAR, lo, hi
    p = prior.params
    f = prior.family
    par = np.zeros(4)
    half = f.startswith("half")
    if f in ("normal", "halfnormal"):
        sd = float(p.get("sigma", 1.0))
        par[:] = [-math.log(sd) - _HALF_LOG2PI, float(p.get("mu", 0.0)), sd, 0.0]
        code = K.NORMAL
    elif f in ("studentt", "halfstudentt", "cauchy", "halfcauchy"):
        if f in ("cauchy", "halfcauchy"):
            nu, mu, sd = 1.0, float(p.get("alpha", 0.0)), float(p["beta"])
        else:
            nu, mu, sd = float(p["nu"]), float(p.get("mu", 0.0)), float(p.get("sigma", 1.0))
        c = float(gammaln((nu + 1) / 2) - gammaln(nu / 2)) - 0.5 * math.log(nu * math.pi)
        par[:] = [c - math.log(sd), mu, sd, nu]
        code = K.STUDENTT
    elif f == "laplace":
        b = float(p["b"])
        par[:] = [-math.log(2 * b), float(p["mu"]), b, 0.0]
        code = K.LAPLACE
    elif f == "exponential":
        lam = float(p["lam"]) if "lam" in p else 1.0 / float(p["scale"])
        par[:] = [math.log(lam), lam, 0.0, 0.0]
        code = K.EXPONENTIAL
    elif f in ("gamma", "inversegamma"):
        a, b = _gamma_params(p) if f == "gamma" else _invgamma_params(p)
        par[:] = [a * math.log(b) - float(gammaln(a)), a, b, 0.0]
        code = K.GAMMA if f == "gamma" else K.INVGAMMA
    elif f == "lognormal":
        sd = float(p.get("sigma", 1.0))
        par[:] = [-math.log(sd) - _HALF_LOG2PI, float(p.get("mu", 0.0)), sd, 0.0]
        code = K.LOGNORMAL
    elif f == "uniform":
        par[0] = -math.log(float(p["upper"]) - float(p["lower"]))
        code = K.UNIFORM
    else:  # flat, halfflat
        code = K.FLAT
    if half:
        par[0] += _LOG2
    if prior.support == "positive":
        return code, par, K.LOG, 0.0, 0.0
    if prior.support == "bounded":
        return code, par, K.INTERVAL, float(p["lower"]), float(p["upper"])
    return code, par, K.IDENTITY, 0.0, 0.0


@dataclass
class Point:
    """Constrained parameter values at one unconstrained point."""

    beta: np.ndarray  # centred-X fixed effects
    sigma: float
    sds: list
    cpcs: list  # per term: CPCs in (-1, 1)
    L: list  # per term covariance Cholesky factor diag(sd) Lc


class ScalarLayout:
    """The scalar coordinates [β, σ, SDs, CPCs] of every term, their priors encoded as
    numbers for the compiled kernels, and the maps to and from constrained values.

    Parameters
    ----------
    design : Design
    priors : PriorSet
    """

    def __init__(self, design: Design, priors: PriorSet):
        self.design = design
        self.priors = priors
        terms = design.terms
        self.p = design.p
        scalar = [priors.fixed[n] for n in design.xnames] + [priors.sigma]
        for t in terms:
            scalar += [priors.sd[f"sd__{c}|{t.name}"] for c in t.cnames]
        enc = [encode_prior(pr) for pr in scalar]
        self.fam = np.array([e[0] for e in enc], dtype=np.int64)
        self.par = np.array([e[1] for e in enc], dtype=float).reshape(len(enc), 4)
        self.trk = np.array([e[2] for e in enc], dtype=np.int64)
        self.lo = np.array([e[3] for e in enc], dtype=float)
        self.hi = np.array([e[4] for e in enc], dtype=float)
        self.nscalar = len(enc)
        self.sl_sd, self.sl_cpc, self.cpc_a, self.cpc_lbeta = [], [], [], []
        pos = self.p + 1
        for t in terms:
            self.sl_sd.append(slice(pos, pos + t.k))
            pos += t.k
        for t in terms:
            nc = t.k * (t.k - 1) // 2
            self.sl_cpc.append(slice(pos, pos + nc))
            pos += nc
            if t.k > 1:
                eta = float(priors.cor[f"cor|{t.name}"].params.get("eta", 1.0))
                a = _cpc_betas(t.k, eta)
            else:
                a = np.zeros(0)
            self.cpc_a.append(a)
            self.cpc_lbeta.append(betaln(a, a))
        self.ndim = pos
        self.nscalar_all = pos  # scalars incl. CPCs: where sampled effects would start

    # ------------------------------------------------------------------ layout
    def names(self) -> list[str]:
        """Labels of the unconstrained coordinates."""
        out = [f"beta[{n}]" for n in self.design.xnames] + ["sigma"]
        for t in self.design.terms:
            out += [f"sd__{c}|{t.name}" for c in t.cnames]
        for t in self.design.terms:
            out += [
                f"cpc[{t.cnames[i]}.{t.cnames[j]}]|{t.name}"
                for i in range(t.k - 1)
                for j in range(i + 1, t.k)
            ]
        return out

    def point(self, x: np.ndarray) -> Point:
        """Constrained values at ``x``."""
        x = np.asarray(x, dtype=float)
        val, _, _, _ = K.scalar_params(
            x[: self.nscalar], self.fam, self.par, self.trk, self.lo, self.hi
        )
        beta = val[: self.p].copy()
        sigma = float(val[self.p])
        sds, cpcs, Ls = [], [], []
        for ti, t in enumerate(self.design.terms):
            sd = val[self.sl_sd[ti]].copy()
            w = 2.0 / (1.0 + np.exp(-x[self.sl_cpc[ti]])) - 1.0
            Lc = K.corr_chol(w, t.k)[0] if t.k > 1 else np.ones((1, 1))
            sds.append(sd)
            cpcs.append(w)
            Ls.append(sd[:, None] * Lc)
        return Point(beta=beta, sigma=sigma, sds=sds, cpcs=cpcs, L=Ls)

    def to_unconstrained(self, beta, sigma, sds, cors) -> np.ndarray:
        """Inverse of :meth:`point` from β (centred), σ, SDs and correlation matrices."""
        vals = np.concatenate(
            [np.asarray(beta, float), [sigma], *[np.asarray(s, float) for s in sds]]
        )
        x = np.empty(self.nscalar_all)
        for i, v in enumerate(vals):
            if self.trk[i] in (K.LOG, K.LOGVAR):
                x[i] = math.log(v)
            elif self.trk[i] == K.INTERVAL:
                s = (v - self.lo[i]) / (self.hi[i] - self.lo[i])
                s = min(max(s, 1e-6), 1 - 1e-6)
                x[i] = math.log(s) - math.log1p(-s)
            else:
                x[i] = v
        for ti, t in enumerate(self.design.terms):
            if t.k > 1:
                Lc = np.linalg.cholesky(cors[ti])
                w = []
                for i in range(t.k - 1):
                    for j in range(i + 1, t.k):
                        rem = 1.0 - np.sum(Lc[j, :i] ** 2)
                        w.append(Lc[j, i] / np.sqrt(rem))
                u = (np.clip(np.array(w), -0.999, 0.999) + 1.0) / 2.0
                x[self.sl_cpc[ti]] = np.log(u) - np.log1p(-u)
        return x


class MarginalPosterior(ScalarLayout):
    """Log posterior density of the marginal model in unconstrained coordinates.

    Parameters
    ----------
    design : Design
    priors : PriorSet
    xmeans : ndarray
        Means subtracted from the non-intercept fixed columns (0 for the intercept).
    """

    def __init__(self, design: Design, priors: PriorSet, xmeans: np.ndarray):
        super().__init__(design, priors)
        self.mm = MarginalModel(design, design.X - xmeans)
        terms = design.terms
        self.single = len(terms) == 1
        if self.single:
            mm = self.mm
            self._single_args = (
                self.p, terms[0].k, self.fam, self.par, self.trk, self.lo, self.hi,
                self.cpc_a[0], self.cpc_lbeta[0], mm.C[0], mm.D[0], mm.e[0],
                mm.XtX, mm.Xty, mm.yty, float(mm.n),
            )  # fmt: skip
        elif terms:
            self._multi_kernel = (
                K.nested_logp_grad if self.mm.structure == "nested" else K.dense_logp_grad
            )
            ks, *model = self.mm.kernel_args
            self._multi_args = (
                ks, self.fam, self.par, self.trk, self.lo, self.hi,
                np.concatenate(self.cpc_a), np.concatenate(self.cpc_lbeta), *model,
            )  # fmt: skip

    def kernel(self):
        """(compiled kernel, its arguments after x), or None when only NumPy evaluates this
        model: what a native sampler calls without Python in the loop."""
        if self.single:
            return K.single_term_logp_grad, self._single_args
        if self.mm.use_kernel and self.design.terms:
            return self._multi_kernel, self._multi_args
        return None

    # ------------------------------------------------------------------ density
    def logp(self, x: np.ndarray) -> float:
        """Log posterior density (up to the evidence) at ``x``."""
        return self.logp_grad(x)[0]

    def logp_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Log density and its gradient at ``x`` (``-inf`` and zeros outside the support)."""
        x = np.asarray(x, dtype=float)
        if self.single:
            lp, g = K.single_term_logp_grad(x, *self._single_args)
            return float(lp), g
        if self.mm.use_kernel and self.design.terms:
            # Python overhead dominated these small models: one compiled call does it all
            try:
                lp, g = self._multi_kernel(np.ascontiguousarray(x), *self._multi_args)
            except np.linalg.LinAlgError:
                return -np.inf, np.zeros(self.ndim)
            return float(lp), g
        p, ns = self.p, self.nscalar
        val, dval, lp, gs = K.scalar_params(x[:ns], self.fam, self.par, self.trk, self.lo, self.hi)
        grad = np.zeros(self.ndim)
        grad[:ns] = gs
        Ls, cache = [], []
        for ti, t in enumerate(self.design.terms):
            sd = val[self.sl_sd[ti]]
            if t.k > 1:
                sl = self.sl_cpc[ti]
                w, dw, lpc, gc = K.cpc_params(x[sl], self.cpc_a[ti], self.cpc_lbeta[ti])
                lp += lpc
                grad[sl] = gc
                Lc, rem = K.corr_chol(w, t.k)
            else:
                w, dw, Lc, rem = _EMPTY, _EMPTY, _ONE, _ONE2
            Ls.append(sd[:, None] * Lc)
            cache.append((sd, Lc, rem, w, dw))
        if not np.isfinite(lp):
            return -np.inf, np.zeros(self.ndim)
        try:
            ll, gb, gsig, gS = self.mm.loglik_grad(val[:p].copy(), float(val[p]), Ls)
        except np.linalg.LinAlgError:
            return -np.inf, np.zeros(self.ndim)
        if not np.isfinite(ll):
            return -np.inf, np.zeros(self.ndim)
        lp += ll
        grad[:p] += gb * dval[:p]
        grad[p] += gsig * dval[p]
        for ti, t in enumerate(self.design.terms):
            sd, Lc, rem, w, dw = cache[ti]
            gsd, gw = K.cov_param_grad(sd, Lc, rem, w, gS[ti])
            grad[self.sl_sd[ti]] += gsd * dval[self.sl_sd[ti]]
            if t.k > 1:
                grad[self.sl_cpc[ti]] += gw * dw
        return float(lp), grad


_EMPTY = np.zeros(0)
_ONE = np.ones((1, 1))
_ONE2 = np.ones((1, 2))
