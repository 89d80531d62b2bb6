"""Priors: weakly-informative defaults scaled to the data, overridable by name or class.

Default rule (documented in :func:`default_priors`), in the spirit of brms and rstanarm's
autoscaling, with ``s_y = 1.4826 · MAD(y)`` (R's ``mad``; ``sd(y)`` if that is 0):

==========================  ===============================================================
parameter                   default prior
==========================  ===============================================================
``(Intercept)``             Student-t(3, median(y), 2.5·s_y), on the intercept at the mean of
                            the other predictors (brms's centred ``Intercept``)
slope ``x``                 Normal(0, 2.5·s_y / sd(x))
``sd__c|g``                 half-Student-t(3, s_y / sd(c)); sd(c) = 1 for the intercept and for
                            0/1 indicator columns
``cor|g``                   LKJ(η = 2)
``sigma``                   half-Student-t(3, s_y)
==========================  ===============================================================

Names: a fixed effect by its R column name (``"Days"``, ``"(Intercept)"`` or ``"Intercept"``),
a random-effect SD by its broom.mixed term and group (``"sd__(Intercept)|Subject"``), a
correlation matrix by ``"cor|Subject"``, the residual SD by ``"sigma"``. Classes: ``"fixed"``
(every fixed slope), ``"sd"`` (every random-effect SD), ``"cor"`` (every correlation matrix).
A specific name beats its class, which beats the default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..design.build import Design
from ..errors import PriorError

__all__ = ["Prior", "PriorSet", "default_priors", "resolve_priors"]

# canonical name → (PyMC class name, allowed parameters, support)
_FAMILIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "normal": ("Normal", ("mu", "sigma"), "real"),
    "studentt": ("StudentT", ("nu", "mu", "sigma"), "real"),
    "cauchy": ("Cauchy", ("alpha", "beta"), "real"),
    "laplace": ("Laplace", ("mu", "b"), "real"),
    "flat": ("Flat", (), "real"),
    "halfnormal": ("HalfNormal", ("sigma",), "positive"),
    "halfstudentt": ("HalfStudentT", ("nu", "sigma"), "positive"),
    "halfcauchy": ("HalfCauchy", ("beta",), "positive"),
    "exponential": ("Exponential", ("lam", "scale"), "positive"),
    "gamma": ("Gamma", ("alpha", "beta", "mu", "sigma"), "positive"),
    "inversegamma": ("InverseGamma", ("alpha", "beta", "mu", "sigma"), "positive"),
    "lognormal": ("LogNormal", ("mu", "sigma"), "positive"),
    "uniform": ("Uniform", ("lower", "upper"), "bounded"),
    "halfflat": ("HalfFlat", (), "positive"),
    "lkj": ("LKJ", ("eta",), "correlation"),
    # on (0, 1); for a residual correlation parameter, rescaled to its interval
    "beta": ("Beta", ("alpha", "beta"), "unit"),
}


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


def _canon(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


@dataclass(frozen=True)
class Prior:
    """A prior distribution by family name and parameters.

    Parameters
    ----------
    dist : str
        Family: ``"normal"``, ``"studentt"``, ``"halfnormal"``, ``"halfstudentt"``,
        ``"halfcauchy"``, ``"exponential"``, ``"gamma"``, ``"inversegamma"``, ``"lognormal"``,
        ``"uniform"``, ``"cauchy"``, ``"laplace"``, ``"flat"``, ``"halfflat"``, ``"lkj"``,
        ``"beta"`` (residual correlation parameters, rescaled to their interval)
        (PyMC class names such as ``"HalfStudentT"`` work too).
    **params
        The family's parameters, named as in PyMC (``mu``, ``sigma``, ``nu``, ``lam``, ``eta``...).

    Examples
    --------
    >>> Prior("halfnormal", sigma=10)
    Prior('halfnormal', sigma=10)
    >>> Prior("HalfStudentT", nu=3, sigma=5).family
    'halfstudentt'
    """

    dist: str
    params: dict = field(default_factory=dict)

    def __init__(self, dist: str, **params):
        if not isinstance(dist, str) or _canon(dist) not in _FAMILIES:
            raise PriorError(
                f"unknown prior family {dist!r}; choose one of: {', '.join(sorted(_FAMILIES))}"
            )
        fam = _canon(dist)
        allowed = _FAMILIES[fam][1]
        bad = [p for p in params if p not in allowed]
        if bad:
            raise PriorError(
                f"prior {dist!r} has no parameter {bad[0]!r}; its parameters are "
                f"{', '.join(allowed) or '(none)'}"
            )
        for k, v in params.items():
            try:
                finite = np.all(np.isfinite(np.asarray(v, dtype=float)))
            except (TypeError, ValueError):
                finite = False
            if not finite:
                raise PriorError(f"prior {dist!r}: parameter {k}={v!r} must be a finite number")
        _check_domain(fam, dist, params)
        object.__setattr__(self, "dist", fam)
        object.__setattr__(self, "params", dict(params))

    @property
    def family(self) -> str:
        """Canonical family name."""
        return self.dist

    @property
    def support(self) -> str:
        """``"real"``, ``"positive"``, ``"bounded"`` or ``"correlation"``."""
        return _FAMILIES[self.dist][2]

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
        return f"Prior({self.dist!r}{', ' if ps else ''}{ps})"

    def __str__(self) -> str:
        ps = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
        return f"{self.dist}({ps})"

    def create(self, name: str, **kwargs):
        """Create the PyMC random variable (inside a model context)."""
        import pymc as pm

        if self.dist == "lkj":
            raise PriorError("an LKJ prior is only valid for a correlation matrix ('cor|group')")
        cls = getattr(pm, _FAMILIES[self.dist][0])
        return cls(name, **self.params, **kwargs)

    def dist_(self, **kwargs):
        """The unnamed PyMC distribution (``pm.X.dist``)."""
        import pymc as pm

        cls = getattr(pm, _FAMILIES[self.dist][0])
        return cls.dist(**self.params, **kwargs)


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return repr(v)


@dataclass
class PriorSet:
    """Resolved prior of every parameter of a model, with where it came from."""

    fixed: dict[str, Prior]
    sd: dict[str, Prior]  # key "sd__c|g"
    cor: dict[str, Prior]  # key "cor|g"
    sigma: Prior
    source: dict[str, str]

    def to_dict(self) -> dict:
        """Plain JSON-able form (for saved fits); :meth:`from_dict` reverses it."""

        def enc(p: Prior) -> dict:
            return {
                "dist": p.dist,
                "params": {k: np.asarray(v).tolist() for k, v in p.params.items()},
            }

        return {
            "fixed": {k: enc(p) for k, p in self.fixed.items()},
            "sd": {k: enc(p) for k, p in self.sd.items()},
            "cor": {k: enc(p) for k, p in self.cor.items()},
            "sigma": enc(self.sigma),
            "source": dict(self.source),
        }

    @classmethod
    def from_dict(cls, d: dict) -> PriorSet:
        """The PriorSet of :meth:`to_dict`.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
        >>> ps = resolve_priors(m.design, None)
        >>> PriorSet.from_dict(ps.to_dict()) == ps
        True
        """

        def dec(e: dict) -> Prior:
            return Prior(e["dist"], **e["params"])

        return cls(
            fixed={k: dec(e) for k, e in d["fixed"].items()},
            sd={k: dec(e) for k, e in d["sd"].items()},
            cor={k: dec(e) for k, e in d["cor"].items()},
            sigma=dec(d["sigma"]),
            source=dict(d["source"]),
        )

    def table(self) -> pd.DataFrame:
        """One row per parameter: parameter, class, prior, source (default/class/user)."""
        rows = []
        for k, p in self.fixed.items():
            cls = "Intercept" if k == "(Intercept)" else "fixed"
            rows.append((k, cls, str(p), self.source[k]))
        for k, p in self.sd.items():
            rows.append((k, "sd", str(p), self.source[k]))
        for k, p in self.cor.items():
            rows.append((k, "cor", str(p), self.source[k]))
        rows.append(("sigma", "sigma", str(self.sigma), self.source["sigma"]))
        return pd.DataFrame(rows, columns=["parameter", "class", "prior", "source"])


def _robust_scale(y: np.ndarray) -> float:
    mad = 1.4826 * float(np.median(np.abs(y - np.median(y))))
    if mad > 0:
        return mad
    sd = float(np.std(y, ddof=1)) if len(y) > 1 else 0.0
    return sd if sd > 0 else 1.0


def _col_scale(x: np.ndarray) -> float:
    vals = np.unique(x)
    if vals.size <= 2 and np.all(np.isin(vals, [0.0, 1.0])):
        return 1.0
    sd = float(np.std(x, ddof=1)) if len(x) > 1 else 0.0
    return sd if sd > 0 else 1.0


def sd_keys(design: Design) -> list[str]:
    """Names of every random-effect SD: ``sd__<column>|<term name>``."""
    return [f"sd__{c}|{t.name}" for t in design.terms for c in t.cnames]


def cor_keys(design: Design) -> list[str]:
    """Names of every correlation matrix: ``cor|<term name>`` (terms with k > 1)."""
    return [f"cor|{t.name}" for t in design.terms if t.k > 1]


def default_priors(design: Design) -> PriorSet:
    """The documented data-scaled default priors for a design (see the module docstring).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    >>> default_priors(m.design).table()["parameter"].tolist()
    ['(Intercept)', 'Days', 'sd__(Intercept)|Subject', 'sd__Days|Subject', 'cor|Subject', 'sigma']
    """
    y = design.y
    sy = _robust_scale(y)
    fixed: dict[str, Prior] = {}
    for j, name in enumerate(design.xnames):
        if name == "(Intercept)":
            fixed[name] = Prior("studentt", nu=3, mu=float(np.median(y)), sigma=2.5 * sy)
        else:
            fixed[name] = Prior("normal", mu=0.0, sigma=2.5 * sy / _col_scale(design.X[:, j]))
    sd: dict[str, Prior] = {}
    cor: dict[str, Prior] = {}
    for t in design.terms:
        for i, c in enumerate(t.cnames):
            scale = 1.0 if c == "(Intercept)" else _col_scale(t.X[:, i])
            sd[f"sd__{c}|{t.name}"] = Prior("halfstudentt", nu=3, sigma=sy / scale)
        if t.k > 1:
            cor[f"cor|{t.name}"] = Prior("lkj", eta=2.0)
    sigma = Prior("halfstudentt", nu=3, sigma=sy)
    source = dict.fromkeys([*fixed, *sd, *cor, "sigma"], "default")
    return PriorSet(fixed=fixed, sd=sd, cor=cor, sigma=sigma, source=source)


def resolve_priors(design: Design, priors: dict | None) -> PriorSet:
    """Apply user overrides (by name or class) to the defaults.

    Raises
    ------
    PriorError
        For an unknown name (the message lists the valid ones) or a prior whose support does
        not fit the parameter (e.g. a normal prior on an SD).
    """
    ps = default_priors(design)
    if priors is None:
        return ps
    if not isinstance(priors, dict):
        raise PriorError("priors must be a dict mapping parameter names or classes to Prior(...)")
    valid = [*ps.fixed, "Intercept", *ps.sd, *ps.cor, "sigma", "fixed", "sd", "cor"]
    # classes first, specific names after, so names win
    order = sorted(priors.items(), key=lambda kv: kv[0] not in ("fixed", "sd", "cor"))
    for key, prior in order:
        if not isinstance(prior, Prior):
            raise PriorError(
                f"prior for {key!r} must be a bayesmixed Prior, e.g. Prior('normal', mu=0, sigma=1)"
            )
        if key == "Intercept":
            key = "(Intercept)"
        if key not in valid and key != "(Intercept)":
            raise PriorError(
                f"unknown parameter {key!r} in priors; valid names are: {', '.join(valid)}"
            )
        if key == "(Intercept)" and key not in ps.fixed:
            raise PriorError("the model has no intercept; remove the '(Intercept)' prior")
        targets: list[tuple[dict, str]] = []
        if key == "fixed":
            targets = [(ps.fixed, k) for k in ps.fixed if k != "(Intercept)"]
        elif key == "sd":
            targets = [(ps.sd, k) for k in ps.sd]
        elif key == "cor":
            targets = [(ps.cor, k) for k in ps.cor]
        elif key in ps.fixed:
            targets = [(ps.fixed, key)]
        elif key in ps.sd:
            targets = [(ps.sd, key)]
        elif key in ps.cor:
            targets = [(ps.cor, key)]
        _check_support(key, prior)
        if key == "sigma":
            ps.sigma = prior
            ps.source["sigma"] = "user"
            continue
        for d, k in targets:
            d[k] = prior
            ps.source[k] = "user" if key not in ("fixed", "sd", "cor") else f"class '{key}'"
    return ps


def _check_support(key: str, prior: Prior) -> None:
    is_sd = key == "sd" or key.startswith("sd__") or key == "sigma"
    is_cor = key == "cor" or key.startswith("cor|")
    if is_cor and prior.support != "correlation":
        raise PriorError(f"{key!r} is a correlation matrix: use Prior('lkj', eta=...)")
    if is_sd and prior.support == "bounded" and float(prior.params.get("lower", -1)) >= 0:
        return
    if is_sd and prior.support not in ("positive",):
        raise PriorError(
            f"{key!r} is a standard deviation: use a positive family such as "
            "Prior('halfstudentt', nu=3, sigma=...) or Prior('halfnormal', sigma=...)"
        )
    if prior.support == "unit":
        raise PriorError(
            f"a beta prior is only valid for a residual correlation parameter ('rho|Residual'), "
            f"not {key!r}"
        )
    if not is_sd and not is_cor and prior.support == "correlation":
        raise PriorError(f"an LKJ prior is only valid for a correlation matrix, not {key!r}")
