"""The prior families: their parameter domains, readable labels, and priors on the variance.

Priors for a variance component τ (a random-effect SD, or the residual σ)
--------------------------------------------------------------------------
Every positive family is a prior on the SD τ itself; ``on="variance"`` puts it on τ² instead
(the model still samples τ, with the Jacobian ``|dτ²/dτ| = 2τ`` in its density).

=================================  =========================================================
family                             why, and where it comes from
=================================  =========================================================
``HalfNormal(sigma)``              light tail: τ beyond ~2·sigma is ruled out; a firm scale
                                   when one is known (Gelman 2006, Bayesian Anal. 1(3))
``HalfStudentT(nu, sigma)``        the default (ν = 3): weakly informative, heavier tail than
                                   the normal (Gelman 2006; brms and rstanarm defaults)
``HalfCauchy(beta)``               ν = 1: very heavy tail, still proper (Gelman 2006;
                                   Polson & Scott 2012, Bayesian Anal. 7(4))
``Exponential(lam)``               penalised complexity: constant rate of shrinkage towards
                                   τ = 0 (the base model); ``lam = -log(a) / u`` gives
                                   P(τ > u) = a (Simpson et al. 2017, Stat. Sci. 32(1))
``LogNormal(mu, sigma)``           keeps τ away from 0 (zero density there): for a component
                                   known to exist, with a guess of its order of magnitude
                                   (Gelman et al. 2013, BDA3 §5.7)
``Uniform(0, upper)`` on the SD    flat on τ up to a hard bound; improper-prior behaviour
                                   without the impropriety (Gelman 2006)
``InverseGamma(alpha, beta)``      the conjugate tradition (BUGS' ``dgamma(ε, ε)`` on the
``on="variance"``                  precision); with small α, β it is *not* vague — near τ = 0
                                   it is sensitive to ε (Gelman 2006 shows it; use it to see
                                   that sensitivity, rarely as a default)
``Gamma(alpha, beta)``             a gamma on τ² (α ≥ 1 for a density that does not pile up
``on="variance"``                  at 0); Chung et al. 2013 (Psychometrika 78(4)) use
                                   Gamma(2, ~0) on the SD to keep REML/ML off the boundary
``LKJ(eta)`` (correlations)        η = 1 uniform over correlation matrices, η > 1 favours
                                   weaker correlations (Lewandowski, Kurowicka & Joe 2009,
                                   J. Multivar. Anal. 100(9)); the default is η = 2
=================================  =========================================================
"""

from __future__ import annotations

import numpy as np

from ..errors import PriorError

__all__ = ["PYMC_NAMES", "prior_label", "variance_dist"]

# parameters that must be > 0, per family (locations such as mu, alpha of the Cauchy are free)
_POSITIVE = {
    "normal": ("sigma",),
    "studentt": ("nu", "sigma"),
    "cauchy": ("beta",),
    "laplace": ("b",),
    "halfnormal": ("sigma",),
    "halfstudentt": ("nu", "sigma"),
    "halfcauchy": ("beta",),
    "exponential": ("lam", "scale"),
    "gamma": ("alpha", "beta", "mu", "sigma"),
    "inversegamma": ("alpha", "beta", "mu", "sigma"),
    "lognormal": ("sigma",),
    "lkj": ("eta",),
    "beta": ("alpha", "beta"),
}
# parameterizations given by either of two sets of names (PyMC takes one or the other)
_ALTERNATIVES = {
    "exponential": (("lam",), ("scale",)),
    "gamma": (("alpha", "beta"), ("mu", "sigma")),
    "inversegamma": (("alpha", "beta"), ("mu", "sigma")),
}
# the parameters of each family in the order a label writes them without names
_POSITIONAL = {
    "normal": ("mu", "sigma"),
    "studentt": ("nu", "mu", "sigma"),
    "cauchy": ("alpha", "beta"),
    "laplace": ("mu", "b"),
    "halfnormal": ("sigma",),
    "halfstudentt": ("nu", "sigma"),
    "halfcauchy": ("beta",),
    "exponential": ("lam",),
    "gamma": ("alpha", "beta"),
    "inversegamma": ("alpha", "beta"),
    "lognormal": ("mu", "sigma"),
    "uniform": ("lower", "upper"),
    "lkj": ("eta",),
    "beta": ("alpha", "beta"),
}
PYMC_NAMES = {
    "normal": "Normal", "studentt": "StudentT", "cauchy": "Cauchy", "laplace": "Laplace",
    "flat": "Flat", "halfnormal": "HalfNormal", "halfstudentt": "HalfStudentT",
    "halfcauchy": "HalfCauchy", "exponential": "Exponential", "gamma": "Gamma",
    "inversegamma": "InverseGamma", "lognormal": "LogNormal", "uniform": "Uniform",
    "halfflat": "HalfFlat", "lkj": "LKJ", "beta": "Beta",
}  # fmt: skip
SCALES = ("sd", "variance")


def _check_domain(fam: str, dist: str, params: dict) -> None:
    """Impossible parameters are refused when the Prior is built, not when it is sampled."""
    for k in _POSITIVE.get(fam, ()):
        if k in params and not np.all(np.asarray(params[k], dtype=float) > 0):
            raise PriorError(
                f"prior {dist!r}: parameter {k}={params[k]!r} must be > 0 "
                f"(it is a scale, shape or rate)"
            )
    if fam in _ALTERNATIVES:
        a, b = _ALTERNATIVES[fam]
        if any(k in params for k in a) and any(k in params for k in b):
            raise PriorError(
                f"prior {dist!r}: give either {' and '.join(a)} or {' and '.join(b)}, not both"
            )
    if fam == "uniform":
        if "lower" not in params or "upper" not in params:
            raise PriorError(f"prior {dist!r} needs both lower= and upper=")
        if not np.all(np.asarray(params["lower"], float) < np.asarray(params["upper"], float)):
            raise PriorError(
                f"prior {dist!r}: lower={params['lower']!r} must be below upper={params['upper']!r}"
            )


def _check_scale(fam: str, dist: str, support: str, on: str) -> None:
    if on not in SCALES:
        raise PriorError(f"prior {dist!r}: on={on!r} must be 'sd' or 'variance'")
    if on == "variance" and support != "positive":
        raise PriorError(
            f"prior {dist!r} cannot be put on a variance: on='variance' needs a positive "
            "family such as Prior('inversegamma', alpha=1, beta=1, on='variance')"
        )


def _canon(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return repr(v)


def _num(v) -> str:
    a = np.asarray(v, dtype=float)
    if a.ndim:
        return "[" + ", ".join(f"{x:.4g}" for x in a.ravel()) + "]"
    return f"{float(a):.4g}"


def prior_label(family: str, params: dict, on: str = "sd") -> str:
    """A prior as a reader writes it: ``HalfNormal(5)``, ``Exponential(scale=2)``.

    Parameters go by position in the family's usual order when they are exactly that order's
    first ones, by name otherwise; a prior on the variance says so.

    Examples
    --------
    >>> prior_label("halfstudentt", {"nu": 3, "sigma": 2.5})
    'HalfStudentT(3, 2.5)'
    >>> prior_label("inversegamma", {"alpha": 1, "beta": 0.001}, on="variance")
    'InverseGamma(1, 0.001) on the variance'
    """
    order = _POSITIONAL.get(family, ())
    keys = list(params)
    if keys and set(keys) == set(order[: len(keys)]):
        inner = ", ".join(_num(params[k]) for k in order[: len(keys)])
    else:
        inner = ", ".join(f"{k}={_num(v)}" for k, v in params.items())
    out = f"{PYMC_NAMES.get(family, family)}({inner})"
    return out + (" on the variance" if on == "variance" else "")


def variance_dist(make_base, name: str | None = None, **kwargs):
    """A PyMC variable τ = √V with V drawn from ``make_base(size)`` (a PyMC ``.dist``).

    PyMC derives log p(τ) = log p_V(τ²) + log 2τ from the square root itself, and samples τ on
    the log scale (adding that Jacobian too). Without ``name``: the unnamed ``.dist``.
    """
    import pymc as pm
    import pytensor.tensor as pt

    def dist(size):
        return pt.sqrt(make_base(size))

    if name is None:
        return pm.CustomDist.dist(dist=dist, **kwargs)
    return pm.CustomDist(name, dist=dist, transform=pm.distributions.transforms.log, **kwargs)
