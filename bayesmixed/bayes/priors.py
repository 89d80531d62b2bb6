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
from .prior_families import _canon, _check_domain, _check_scale, _fmt, prior_label, variance_dist

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
        (PyMC class names such as ``"HalfStudentT"`` work too). The families for variance
        components, with their rationale, are listed in :mod:`bayesmixed.bayes.prior_families`.
    on : {"sd", "variance"}
        For an SD: the distribution is of the SD τ (default) or of the variance τ² (the model
        still samples τ; its density includes the Jacobian 2τ). Positive families only.
    **params
        The family's parameters, named as in PyMC (``mu``, ``sigma``, ``nu``, ``lam``, ``eta``...).

    Examples
    --------
    >>> Prior("halfnormal", sigma=10)
    Prior('halfnormal', sigma=10)
    >>> Prior("HalfStudentT", nu=3, sigma=5).family
    'halfstudentt'
    >>> Prior("inversegamma", alpha=1, beta=1, on="variance").label
    'InverseGamma(1, 1) on the variance'
    """

    dist: str
    params: dict = field(default_factory=dict)
    on: str = "sd"

    def __init__(self, dist: str, *, on: str = "sd", **params):
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
        _check_scale(fam, dist, _FAMILIES[fam][2], on)
        object.__setattr__(self, "dist", fam)
        object.__setattr__(self, "params", dict(params))
        object.__setattr__(self, "on", on)

    @property
    def family(self) -> str:
        """Canonical family name."""
        return self.dist

    @property
    def support(self) -> str:
        """``"real"``, ``"positive"``, ``"bounded"`` or ``"correlation"``."""
        return _FAMILIES[self.dist][2]

    @property
    def on_variance(self) -> bool:
        """Whether the distribution is of the variance τ² rather than of τ."""
        return self.on == "variance"

    @property
    def base(self) -> Prior:
        """The same family and parameters on its own scale (for a prior on the variance: the
        distribution of τ²)."""
        return Prior(self.dist, **self.params) if self.on_variance else self

    @property
    def label(self) -> str:
        """As a reader writes it, e.g. ``HalfNormal(5)`` (see
        :func:`~bayesmixed.bayes.prior_families.prior_label`)."""
        return prior_label(self.dist, self.params, self.on)

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
        on = ", on='variance'" if self.on_variance else ""
        return f"Prior({self.dist!r}{', ' if ps else ''}{ps}{on})"

    def __str__(self) -> str:
        ps = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
        return f"{self.dist}({ps})" + (" on the variance" if self.on_variance else "")

    def create(self, name: str, **kwargs):
        """Create the PyMC random variable (inside a model context)."""
        import pymc as pm

        if self.dist == "lkj":
            raise PriorError("an LKJ prior is only valid for a correlation matrix ('cor|group')")
        if self.on_variance:
            return variance_dist(lambda size: self.base.dist_(size=size), name, **kwargs)
        cls = getattr(pm, _FAMILIES[self.dist][0])
        return cls(name, **self.params, **kwargs)

    def dist_(self, **kwargs):
        """The unnamed PyMC distribution (``pm.X.dist``)."""
        import pymc as pm

        if self.on_variance:
            return variance_dist(lambda size: self.base.dist_(size=size), **kwargs)
        cls = getattr(pm, _FAMILIES[self.dist][0])
        return cls.dist(**self.params, **kwargs)


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
            out = {
                "dist": p.dist,
                "params": {k: np.asarray(v).tolist() for k, v in p.params.items()},
            }
            return {**out, "on": "variance"} if p.on_variance else out

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
            return Prior(e["dist"], on=e.get("on", "sd"), **e["params"])

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
    if prior.on_variance and not is_sd:
        raise PriorError(f"on='variance' is only for a standard deviation, not {key!r}")
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
