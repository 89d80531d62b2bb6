"""Log densities (with their derivatives) of the prior families, and the matching transforms.

They equal PyMC's log-probabilities including normalizing constants (the tests check this),
so a NumPy log-density built from them has the same value as the PyMC model's ``logp``.
Transforms follow PyMC's defaults: log for positive families, log-odds for bounded ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import betaln, gammaln

from ..errors import PriorError
from .priors import Prior

__all__ = ["prior_logp", "scalar_logp", "beta_logp", "Transform", "transform_for", "prior_draws"]

_LOG2 = np.log(2.0)
_LOG2PI = np.log(2.0 * np.pi)


def _normal(x, mu, sigma):
    z = (x - mu) / sigma
    return -0.5 * z * z - np.log(sigma) - 0.5 * _LOG2PI, -z / sigma


def _studentt(x, nu, mu, sigma):
    z = (x - mu) / sigma
    c = gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi) - np.log(sigma)
    return c - (nu + 1) / 2 * np.log1p(z * z / nu), -(nu + 1) * z / (sigma * (nu + z * z))


def _cauchy(x, loc, scale):
    z = (x - loc) / scale
    return -np.log(np.pi * scale) - np.log1p(z * z), -2.0 * z / (scale * (1.0 + z * z))


def _gamma_params(p: dict) -> tuple[float, float]:
    if "alpha" in p:
        return float(p["alpha"]), float(p.get("beta", 1.0))
    mu, sd = float(p["mu"]), float(p["sigma"])
    return mu * mu / (sd * sd), mu / (sd * sd)


def _invgamma_params(p: dict) -> tuple[float, float]:
    if "alpha" in p:
        return float(p["alpha"]), float(p.get("beta", 1.0))
    mu, sd = float(p["mu"]), float(p["sigma"])
    alpha = mu * mu / (sd * sd) + 2.0
    return alpha, mu * (alpha - 1.0)


def prior_logp(prior: Prior, x: float) -> tuple[float, float]:
    """log p(x) under ``prior`` and d/dx of it.

    Examples
    --------
    >>> lp, d = prior_logp(Prior("normal", mu=0, sigma=1), 0.0)
    >>> print(f"{lp:.6f} {d + 0.0:.1f}")
    -0.918939 0.0
    """
    if prior.on_variance:  # density of τ when τ² has the base family: p(τ²)·2τ
        lp, d = prior_logp(prior.base, x * x)
        return lp + _LOG2 + np.log(x), d * 2.0 * x + 1.0 / x
    p = prior.params
    f = prior.family
    if f == "normal":
        return _normal(x, p.get("mu", 0.0), p.get("sigma", 1.0))
    if f == "studentt":
        return _studentt(x, p["nu"], p.get("mu", 0.0), p.get("sigma", 1.0))
    if f == "cauchy":
        return _cauchy(x, p["alpha"], p["beta"])
    if f == "laplace":
        b = p["b"]
        return -np.log(2.0 * b) - abs(x - p["mu"]) / b, -np.sign(x - p["mu"]) / b
    if f in ("flat", "halfflat"):
        return 0.0, 0.0
    if f == "halfnormal":
        lp, d = _normal(x, 0.0, p.get("sigma", 1.0))
        return lp + _LOG2, d
    if f == "halfstudentt":
        lp, d = _studentt(x, p["nu"], 0.0, p.get("sigma", 1.0))
        return lp + _LOG2, d
    if f == "halfcauchy":
        lp, d = _cauchy(x, 0.0, p["beta"])
        return lp + _LOG2, d
    if f == "exponential":
        lam = p["lam"] if "lam" in p else 1.0 / p["scale"]
        return np.log(lam) - lam * x, -lam
    if f == "gamma":
        a, b = _gamma_params(p)
        return a * np.log(b) - gammaln(a) + (a - 1) * np.log(x) - b * x, (a - 1) / x - b
    if f == "inversegamma":
        a, b = _invgamma_params(p)
        return (
            a * np.log(b) - gammaln(a) - (a + 1) * np.log(x) - b / x,
            -(a + 1) / x + b / (x * x),
        )
    if f == "lognormal":
        mu, s = p.get("mu", 0.0), p.get("sigma", 1.0)
        lx = np.log(x)
        z = (lx - mu) / s
        return -lx - np.log(s) - 0.5 * _LOG2PI - 0.5 * z * z, (-1.0 - z / s) / x
    if f == "uniform":
        return -np.log(p["upper"] - p["lower"]), 0.0
    raise PriorError(
        f"the prior family {f!r} has no density here; choose one of normal, studentt, cauchy, "
        "laplace, halfnormal, halfstudentt, halfcauchy, exponential, gamma, inversegamma, "
        "lognormal, uniform"
    )


def scalar_logp(prior: Prior) -> Callable[[float], tuple[float, float]]:
    """A fast scalar version of :func:`prior_logp` for ``prior`` (constants precomputed).

    The sampler evaluates every prior at every gradient step; NumPy's per-call overhead on
    Python floats would otherwise cost more than the likelihood itself.

    Examples
    --------
    >>> f = scalar_logp(Prior("halfstudentt", nu=3, sigma=2.0))
    >>> bool(abs(f(1.5)[0] - prior_logp(Prior("halfstudentt", nu=3, sigma=2.0), 1.5)[0]) < 1e-12)
    True
    """
    log = math.log
    if prior.on_variance:
        g = scalar_logp(prior.base)

        def fv(x):
            lp, d = g(x * x)
            return lp + _LOG2 + log(x), d * 2.0 * x + 1.0 / x

        return fv
    p = prior.params
    fam = prior.family
    if fam in ("normal", "halfnormal"):
        mu = float(p.get("mu", 0.0))
        sd = float(p.get("sigma", 1.0))
        c = -log(sd) - 0.5 * _LOG2PI + (_LOG2 if fam == "halfnormal" else 0.0)
        inv = 1.0 / sd

        def f(x):
            z = (x - mu) * inv
            return c - 0.5 * z * z, -z * inv

        return f
    if fam in ("studentt", "halfstudentt", "cauchy", "halfcauchy"):
        if fam in ("cauchy", "halfcauchy"):
            nu, mu, sd = 1.0, float(p.get("alpha", 0.0)), float(p["beta"])
        else:
            nu, mu, sd = float(p["nu"]), float(p.get("mu", 0.0)), float(p.get("sigma", 1.0))
        c = float(gammaln((nu + 1) / 2) - gammaln(nu / 2)) - 0.5 * log(nu * math.pi) - log(sd)
        if fam.startswith("half"):
            c += _LOG2
        h = (nu + 1) / 2

        def f(x):
            z = (x - mu) / sd
            return c - h * math.log1p(z * z / nu), -(nu + 1) * z / (sd * (nu + z * z))

        return f
    if fam == "exponential":
        lam = float(p["lam"]) if "lam" in p else 1.0 / float(p["scale"])
        c = log(lam)
        return lambda x: (c - lam * x, -lam)
    if fam == "gamma":
        a, b = _gamma_params(p)
        c = a * log(b) - float(gammaln(a))
        return lambda x: (c + (a - 1) * log(x) - b * x, (a - 1) / x - b)
    if fam == "inversegamma":
        a, b = _invgamma_params(p)
        c = a * log(b) - float(gammaln(a))
        return lambda x: (c - (a + 1) * log(x) - b / x, -(a + 1) / x + b / (x * x))
    return lambda x: tuple(float(v) for v in prior_logp(prior, x))


def beta_logp(u: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric Beta(a, a) log density and derivative (the LKJ canonical partial correlations)."""
    return (a - 1) * (np.log(u) + np.log1p(-u)) - betaln(a, a), (a - 1) * (
        1.0 / u - 1.0 / (1.0 - u)
    )


class Transform:
    """Map between an unconstrained value η and the parameter x, with log|dx/dη|."""

    def __init__(self, kind: str, lower: float = 0.0, upper: float = 1.0):
        self.kind = kind
        self.lower = lower
        self.upper = upper

    def forward(self, eta: float) -> tuple[float, float, float]:
        """x(η), dx/dη and log|dx/dη| (+ its derivative in η as a 4th item via jac_grad)."""
        if self.kind == "identity":
            return eta, 1.0, 0.0
        if self.kind == "log":
            x = math.exp(eta)
            return x, x, eta
        s = 1.0 / (1.0 + math.exp(-eta))
        w = self.upper - self.lower
        x = self.lower + w * s
        dx = w * s * (1.0 - s)
        return x, dx, math.log(w) + math.log(s) + math.log1p(-s)

    def jac_grad(self, eta: float) -> float:
        """d/dη of log|dx/dη|."""
        if self.kind == "identity":
            return 0.0
        if self.kind == "log":
            return 1.0
        s = 1.0 / (1.0 + math.exp(-eta))
        return 1.0 - 2.0 * s

    def inverse(self, x: float) -> float:
        """η(x)."""
        if self.kind == "identity":
            return x
        if self.kind == "log":
            return np.log(x)
        s = (x - self.lower) / (self.upper - self.lower)
        return np.log(s) - np.log1p(-s)


def transform_for(prior: Prior) -> Transform:
    """PyMC's default transform for a family."""
    if prior.support == "positive":
        return Transform("log")
    if prior.support == "bounded":
        return Transform("interval", float(prior.params["lower"]), float(prior.params["upper"]))
    return Transform("identity")


def prior_draws(prior: Prior, rng: np.random.Generator, size) -> np.ndarray:
    """Draws from a prior (for prior predictive checks), matching PyMC's parameterizations.

    Examples
    --------
    >>> d = prior_draws(Prior("halfnormal", sigma=2.0), np.random.default_rng(0), 1000)
    >>> bool((d > 0).all())
    True
    """
    if prior.on_variance:
        return np.sqrt(prior_draws(prior.base, rng, size))
    p = prior.params
    f = prior.family
    if f == "normal":
        return rng.normal(p.get("mu", 0.0), p.get("sigma", 1.0), size)
    if f == "studentt":
        return p.get("mu", 0.0) + p.get("sigma", 1.0) * rng.standard_t(p["nu"], size)
    if f == "cauchy":
        return p["alpha"] + p["beta"] * rng.standard_cauchy(size)
    if f == "laplace":
        return rng.laplace(p["mu"], p["b"], size)
    if f == "halfnormal":
        return np.abs(rng.normal(0.0, p.get("sigma", 1.0), size))
    if f == "halfstudentt":
        return np.abs(p.get("sigma", 1.0) * rng.standard_t(p["nu"], size))
    if f == "halfcauchy":
        return np.abs(p["beta"] * rng.standard_cauchy(size))
    if f == "exponential":
        lam = p["lam"] if "lam" in p else 1.0 / p["scale"]
        return rng.exponential(1.0 / lam, size)
    if f == "gamma":
        a, b = _gamma_params(p)
        return rng.gamma(a, 1.0 / b, size)
    if f == "inversegamma":
        a, b = _invgamma_params(p)
        return 1.0 / rng.gamma(a, 1.0 / b, size)
    if f == "lognormal":
        return rng.lognormal(p.get("mu", 0.0), p.get("sigma", 1.0), size)
    if f == "uniform":
        return rng.uniform(p["lower"], p["upper"], size)
    raise PriorError(
        f"cannot draw from the improper prior {prior}; give a proper prior to sample the "
        "prior predictive distribution"
    )
