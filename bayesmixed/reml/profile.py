"""Profile-likelihood confidence intervals, as lme4's ``confint(fit, method="profile")``.

lme4's ``profile.merMod`` (through ``devfun2``) always works with the **ML** deviance: a REML
fit is first refitted by ML (``refitML``), and the intervals of a REML fit are those of its
ML refit. The variance parameters are profiled on the scale lme4 calls ``.sig01, .sig02, …,
.sigma``: per random-effect term the SDs and correlations in the order of θ (the lower
triangle of the term's matrix, column by column — broom.mixed's ``sd__a, cor__a.b, sd__b``),
then the residual σ. For a value c of one parameter the deviance −2ℓ(θ(v), σ) is minimized
over all the others (β̂ is profiled out exactly by the PLS solution); for a fixed effect β_j
= c the model with offset c·x_j is refitted over θ (σ and the other β profiled exactly).
The signed root ζ(c) = sign(c − ĉ) √(dev(c) − dev(ĉ)) is then solved for ζ = ±z_{(1+level)/2}
by bracketing and Brent's method. lme4 interpolates ζ by splines between the points it
evaluated; solving exactly agrees with it to its interpolation error (about 1e-4).

An SD whose profile stays below the cutoff down to 0 has lower limit 0 (as lme4), and a
correlation whose profile stays below it up to ±1 has limit ±1.
"""

from __future__ import annotations

import dataclasses

import nlopt
import numpy as np
from scipy import optimize, stats

from ..design.build import Design
from ..errors import ArgumentError
from .deviance import ProfiledDeviance

__all__ = ["sdcor_from_theta", "theta_from_sdcor", "profile_intervals"]

_MAX_EXPAND = 40  # bracketing steps (each doubles the distance from the estimate)


def _layout(design: Design) -> list[tuple[str, float, float]]:
    """(kind, lower, upper) of each profiled parameter: per term the SD/cor entries, then σ."""
    out = []
    for t in design.terms:
        if not hasattr(t.cov, "tril"):
            raise ArgumentError(
                f"profile intervals need lme4's unstructured random-effect terms; term {t.name} "
                f"has {type(t.cov).__name__}: use method='wald' or 'boot'"
            )
        for i, j in zip(*t.cov.tril, strict=True):
            out.append(("sd", 0.0, np.inf) if i == j else ("cor", -1.0, 1.0))
    out.append(("sigma", 0.0, np.inf))
    return out


def sdcor_from_theta(design: Design, theta: np.ndarray, sigma: float) -> np.ndarray:
    """θ and σ → lme4's profile parameters (SDs and correlations per term, then σ).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> sdcor_from_theta(fit.design, fit.theta, fit.sigma).round(2).tolist()
    [42.0, 49.51]
    """
    out = []
    for t, T in zip(design.terms, design.factors(np.asarray(theta, float)), strict=True):
        cov = sigma**2 * (T @ T.T)
        sd = np.sqrt(np.diagonal(cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            cor = cov / np.outer(sd, sd)
        for i, j in zip(*t.cov.tril, strict=True):
            out.append(sd[i] if i == j else (cor[i, j] if sd[i] * sd[j] > 0 else 0.0))
    out.append(sigma)
    return np.array(out, float)


def _psd_cholesky(A: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor of a positive semi-definite matrix (zero pivots give zero
    columns, as lme4's ``Sv_to_Cv`` for an SD of 0 or a correlation of ±1); None if A is not
    positive semi-definite."""
    k = A.shape[0]
    L = np.zeros_like(A)
    scale = max(float(np.max(np.abs(np.diagonal(A)))), 1e-300)
    for j in range(k):
        d = A[j, j] - L[j, :j] @ L[j, :j]
        if d < -1e-10 * scale:
            return None
        if d <= 1e-14 * scale:
            # a zero pivot: the rest of the column must vanish too
            rest = A[j + 1 :, j] - L[j + 1 :, :j] @ L[j, :j]
            if np.any(np.abs(rest) > 1e-7 * scale):
                return None
            continue
        L[j, j] = np.sqrt(d)
        L[j + 1 :, j] = (A[j + 1 :, j] - L[j + 1 :, :j] @ L[j, :j]) / L[j, j]
    return L


def theta_from_sdcor(design: Design, v: np.ndarray) -> np.ndarray | None:
    """lme4's profile parameters → θ (None where they imply no valid covariance).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> v = sdcor_from_theta(fit.design, fit.theta, fit.sigma)
    >>> bool(np.allclose(theta_from_sdcor(fit.design, v), fit.theta))
    True
    """
    sigma = v[-1]
    out, pos = [], 0
    for t in design.terms:
        k = t.k
        r, c = t.cov.tril
        vals = v[pos : pos + len(r)]
        pos += len(r)
        S = np.zeros((k, k))
        S[r, c] = vals
        sd = np.diagonal(S).copy()
        R = np.eye(k)
        off = r != c
        R[r[off], c[off]] = R[c[off], r[off]] = vals[off]
        L = _psd_cholesky(R * np.outer(sd, sd) / sigma**2)
        if L is None:
            return None
        out.append(L[r, c])
    return np.concatenate(out)


class _Profiler:
    """ζ of each parameter of an ML fit, by re-optimizing the others at each value."""

    def __init__(self, design: Design, theta: np.ndarray, sigma: float, beta: np.ndarray):
        self.design = design
        self.dev = ProfiledDeviance(design)
        self.layout = _layout(design)
        self.vhat = sdcor_from_theta(design, theta, sigma)
        self.theta = np.asarray(theta, float)
        self.beta = np.asarray(beta, float)
        self.dev0 = self.dev(self.theta, reml=False)

    # ---------------------------------------------------------------- variance parameters
    def _deviance_v(self, v: np.ndarray) -> float:
        if v[-1] <= 0:
            return np.inf
        th = theta_from_sdcor(self.design, v)
        if th is None:
            return np.inf
        return self.dev.deviance_varpar(np.append(th, v[-1]), reml=False)

    def _minimize(self, fun, x0, lower, upper, step) -> tuple[np.ndarray, float]:
        """BOBYQA over the free parameters (tight tolerances: ζ needs the deviance's
        minimum to about 1e-8)."""
        if len(x0) == 0:
            return x0, fun(x0)
        opt = nlopt.opt(nlopt.LN_BOBYQA, len(x0))
        opt.set_lower_bounds(np.where(np.isfinite(lower), lower, -1e300).tolist())
        opt.set_upper_bounds(np.where(np.isfinite(upper), upper, 1e300).tolist())

        def obj(x, grad):
            f = fun(np.asarray(x))
            return f if np.isfinite(f) else 1e300

        opt.set_min_objective(obj)
        opt.set_ftol_abs(1e-11)
        opt.set_xtol_abs(1e-11)
        opt.set_maxeval(20_000)
        x0 = np.clip(x0, lower, upper)
        opt.set_initial_step(step.tolist())
        try:
            x = np.asarray(opt.optimize(x0.tolist()))
            f = opt.last_optimum_value()
        except (nlopt.RoundoffLimited, RuntimeError, ValueError):
            x, f = x0, fun(x0)
        return x, float(f)

    def _zeta_var(self, j: int, c: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        lo = np.array([b[1] for b in self.layout])
        hi = np.array([b[2] for b in self.layout])
        free = np.arange(len(self.vhat)) != j
        # keep SDs and σ off the origin where the step would start on a bound
        lo_free = np.where(np.array([b[0] for b in self.layout])[free] == "sigma", 1e-10, lo[free])
        step = np.maximum(0.05 * np.abs(start[free]), 1e-3)
        step = np.where(np.array([b[0] for b in self.layout])[free] == "cor", 0.05, step)

        def fun(x):
            v = start.copy()
            v[free] = x
            v[j] = c
            return self._deviance_v(v)

        x, f = self._minimize(fun, start[free], lo_free, hi[free], step)
        v = start.copy()
        v[free] = x
        v[j] = c
        return f, v

    # ---------------------------------------------------------------- fixed effects
    def _zeta_fixed(self, j: int, c: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        d = self.design
        keep = [i for i in range(d.p) if i != j]
        sub = dataclasses.replace(
            d, X=d.X[:, keep], y=d.y - c * d.X[:, j], xnames=[d.xnames[i] for i in keep]
        )
        dev = ProfiledDeviance(sub)
        lower = d.lower
        step = np.maximum(0.05 * np.abs(start), 0.02)
        x, f = self._minimize(
            lambda th: dev(th, reml=False), start, lower, np.full(len(start), np.inf), step
        )
        return f, x

    # ---------------------------------------------------------------- roots
    def interval(self, fixed: bool, j: int, q: float, scale: float) -> tuple[float, float]:
        """(lower, upper) limits where |ζ| = q."""
        if fixed:
            chat, lo_b, hi_b, kind = self.beta[j], -np.inf, np.inf, "fixed"
            start0 = self.theta
            zeta_fn = self._zeta_fixed
        else:
            kind, lo_b, hi_b = self.layout[j]
            chat = self.vhat[j]
            start0 = self.vhat
            zeta_fn = self._zeta_var
        return tuple(
            self._limit(zeta_fn, j, side, chat, lo_b, hi_b, kind, q, scale, start0)
            for side in (-1, 1)
        )

    def _limit(self, zeta_fn, j, side, chat, lo_b, hi_b, kind, q, scale, start0) -> float:
        bound = lo_b if side < 0 else hi_b
        if chat == bound:
            return float(bound)
        cache: dict[float, np.ndarray] = {chat: start0}

        def g(c):
            near = min(cache, key=lambda a: abs(a - c))
            f, sol = zeta_fn(j, c, cache[near])
            cache[c] = sol
            z = np.sqrt(max(f - self.dev0, 0.0)) if np.isfinite(f) else np.inf
            return z - q

        inner, h = chat, scale
        for _ in range(_MAX_EXPAND):
            c = chat + side * h
            if side * (c - bound) >= 0:  # past the bound
                if kind == "sigma":  # open at 0: approach it geometrically
                    c = bound + 0.5 * (inner - bound)
                else:
                    c = bound
            gc = g(c)
            if gc >= 0:
                a, b = sorted((inner, c))
                return float(optimize.brentq(g, a, b, xtol=1e-9, rtol=1e-12))
            if c == bound:
                return float(bound)  # the profile stays below the cutoff up to the bound
            inner, h = c, 2.0 * h
        return float("nan")


def profile_intervals(
    design: Design, theta: np.ndarray, sigma: float, beta: np.ndarray, se: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Profile intervals of an **ML** fit at (θ, σ, β).

    Returns
    -------
    (fixed, ran_pars) : arrays of shape (p, 2) and (n_ran_pars, 2)
        Limits for the fixed effects in ``design.xnames`` order and for the variance
        parameters in broom.mixed's ``ran_pars`` order (SDs and correlations per term, σ).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    >>> ml = m.fit_reml(reml=False)
    >>> fx, rp = profile_intervals(m.design, ml.theta, ml.sigma, ml.beta,
    ...                            np.sqrt(np.diag(ml.vcov())), 0.95)
    >>> rp.round(2).tolist()  # lme4: .sig01 12.20 84.06; .sigma 38.23 67.66
    [[12.2, 84.06], [38.23, 67.66]]
    """
    q = float(stats.norm.ppf(0.5 + level / 2))
    prof = _Profiler(design, theta, sigma, beta)
    fixed = np.array([prof.interval(True, j, q, q * se[j]) for j in range(design.p)]).reshape(-1, 2)
    scales = []
    for (kind, _, _), v in zip(prof.layout, prof.vhat, strict=True):
        if kind == "cor":
            scales.append(0.1)
        else:
            scales.append(max(0.25 * abs(v), 0.05 * sigma))
    ran = np.array([prof.interval(False, j, q, s) for j, s in enumerate(scales)]).reshape(-1, 2)
    return fixed, ran
