"""Priors of a model with a residual structure: the package's defaults plus the structure's.

Defaults (``s_y`` the robust scale of y of :mod:`bayesmixed.bayes.priors`):

==============================  ===========================================================
parameter                       default prior
==============================  ===========================================================
``sd__Observation|Residual``    half-Student-t(3, s_y) — the ``sigma`` default, per visit
or ``sd__<visit>|Residual``     for heterogeneous structures
``rho|Residual`` and the other  Beta(2, 2) rescaled to the parameter's interval: (−1, 1);
scalar correlation parameters   (0, 1) for CAR1; (−1/(T−1), 1) for CS and CSH
``cor|Residual`` (UN)           LKJ(η = 2)
==============================  ===========================================================

Overrides by name (``"rho|Residual"``, ``"sd__T3|Residual"``, ``"cor|Residual"``,
``"pacf__lag2|Residual"``; with ``by=`` the group is ``Residual:<by>=<level>``) or by class:
``"sigma"`` (every residual SD), ``"rho"`` (every scalar correlation parameter), ``"cor"``
(every correlation matrix, the random terms' too). A correlation parameter takes
``Prior("beta", alpha=, beta=)`` (rescaled to its interval) or ``Prior("uniform", lower=,
upper=)`` on the parameter's own scale, within the interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...design.build import Design
from ...design.residual import ResidualDesign
from ...errors import PriorError
from ..priors import Prior, PriorSet, _check_support, resolve_priors
from .layout import LevelLayout, level_layouts

__all__ = ["ResidualPriorSet", "resolve_residual_priors", "RESIDUAL_CLASSES"]

#: Class names that reach the residual parameters.
RESIDUAL_CLASSES = ("sigma", "rho", "cor")


@dataclass
class ResidualPriorSet(PriorSet):
    """A :class:`~bayesmixed.bayes.priors.PriorSet` plus the residual structure's priors:
    ``residual`` maps every residual name to its prior, ``bounds`` every scalar correlation
    parameter to its interval."""

    residual: dict[str, Prior] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["residual"] = {
            k: {"dist": p.dist, "params": {a: float(v) for a, v in p.params.items()}}
            for k, p in self.residual.items()
        }
        out["bounds"] = {k: list(v) for k, v in self.bounds.items()}
        return out

    def table(self) -> pd.DataFrame:
        """The package's rows (without the plain ``sigma`` row, which the residual SDs
        replace) and one row per residual parameter, its interval noted."""
        base = super().table()
        base = base[base["parameter"] != "sigma"]
        rows = []
        for k, p in self.residual.items():
            if k in self.bounds:
                lo, hi = self.bounds[k]
                cls = "rho"
                text = f"{p} on ({lo:.4g}, {hi:.4g})" if p.dist == "beta" else str(p)
            else:
                cls = "cor" if p.dist == "lkj" else "sigma"
                text = str(p)
            rows.append((k, cls, text, self.source[k]))
        res = pd.DataFrame(rows, columns=base.columns)
        return pd.concat([base, res], ignore_index=True)


def _check_rho(key: str, prior: Prior, lo: float, hi: float) -> None:
    if prior.dist == "beta":
        return
    if prior.dist == "uniform":
        a, b = float(prior.params["lower"]), float(prior.params["upper"])
        if a >= lo - 1e-12 and b <= hi + 1e-12:
            return
        raise PriorError(
            f"{key!r} lies in ({lo:.4g}, {hi:.4g}); a uniform prior on it must lie within, got "
            f"({a:.4g}, {b:.4g})"
        )
    raise PriorError(
        f"{key!r} is a correlation parameter in ({lo:.4g}, {hi:.4g}): use Prior('beta', "
        "alpha=..., beta=...) (rescaled to that interval) or Prior('uniform', lower=..., "
        "upper=...) within it"
    )


def _defaults(layouts: list[LevelLayout], sigma: Prior) -> tuple[dict, dict]:
    res: dict[str, Prior] = {}
    bounds: dict[str, tuple[float, float]] = {}
    for lay in layouts:
        for k in lay.sd_keys:
            res[k] = sigma
        for k in lay.rho_keys:
            res[k] = Prior("beta", alpha=2.0, beta=2.0)
            bounds[k] = lay.bounds
        if lay.cor_key:
            res[lay.cor_key] = Prior("lkj", eta=2.0)
    return res, bounds


def resolve_residual_priors(
    design: Design, rd: ResidualDesign, priors: dict | None
) -> ResidualPriorSet:
    """The defaults with the user's overrides applied (specific names beat classes).

    Raises
    ------
    PriorError
        For an unknown name (the message lists every valid one) or a prior that does not
        fit the parameter.

    Examples
    --------
    >>> import pandas as pd, bayesmixed as bm
    >>> from bayesmixed.spec import parse_formula
    >>> from bayesmixed.design.residual import build_residual_design
    >>> d = pd.DataFrame({"id": list("aabbcc"), "visit": ["T0", "T1"] * 3,
    ...                   "y": [1.0, 2.0, 3.0, 5.0, 4.0, 4.0]})
    >>> design, rd = build_residual_design(parse_formula("y ~ 1"), d,
    ...                                    bm.residual.AR1(time="visit", group="id"))
    >>> ps = resolve_residual_priors(design, rd, {"rho": bm.Prior("beta", alpha=3, beta=3)})
    >>> ps.table()[["parameter", "prior", "source"]].values.tolist()[1:]
    [['sd__Observation|Residual', 'halfstudentt(nu=3, sigma=1.483)', 'default'], ['rho|Residual', 'beta(alpha=3, beta=3) on (-1, 1)', "class 'rho'"]]
    """
    if priors is not None and not isinstance(priors, dict):
        raise PriorError("priors must be a dict mapping parameter names or classes to Prior(...)")
    priors = dict(priors or {})
    layouts = level_layouts(rd)
    base_keys = {k: v for k, v in priors.items() if k not in ("rho",) and "|Residual" not in k}
    probe = resolve_priors(design, None)
    res, bounds = _defaults(layouts, probe.sigma)
    valid_base = [*probe.fixed, "Intercept", *probe.sd, *probe.cor, "fixed", "sd"]
    valid = valid_base + list(res) + list(RESIDUAL_CLASSES)
    for key in priors:
        if key not in valid:
            raise PriorError(
                f"unknown parameter {key!r} in priors; valid names are: {', '.join(valid)}"
            )
        if not isinstance(priors[key], Prior):
            raise PriorError(
                f"prior for {key!r} must be a bayesmixed Prior, e.g. Prior('normal', mu=0, sigma=1)"
            )
    # the package's own parameters ("cor" there reaches only the random terms' matrices)
    ps = resolve_priors(design, {k: v for k, v in base_keys.items() if k != "sigma"} or None)
    if "sigma" in priors:
        _check_support("sigma", priors["sigma"])
        ps.sigma = priors["sigma"]
        ps.source["sigma"] = "user"
        res, bounds = _defaults(layouts, ps.sigma)
    source = {k: "default" for k in res}
    if "sigma" in priors:
        source.update({k: "class 'sigma'" for lay in layouts for k in lay.sd_keys})
    # classes first, names after
    for key in ("rho", "cor"):
        if key not in priors:
            continue
        targets = [k for k in bounds] if key == "rho" else [lay.cor_key for lay in layouts]
        for k in filter(None, targets):
            _apply(k, priors[key], res, bounds, source, f"class '{key}'")
    for key, prior in priors.items():
        if key in res:
            _apply(key, prior, res, bounds, source, "user")
    ps.source.update(source)
    return ResidualPriorSet(
        fixed=ps.fixed,
        sd=ps.sd,
        cor=ps.cor,
        sigma=ps.sigma,
        source=ps.source,
        residual=res,
        bounds=bounds,
    )


def _apply(key, prior, res, bounds, source, how) -> None:
    if key in bounds:
        _check_rho(key, prior, *bounds[key])
    elif key.startswith("cor|"):
        if prior.dist != "lkj":
            raise PriorError(f"{key!r} is a correlation matrix: use Prior('lkj', eta=...)")
    else:
        _check_support(key, prior)
    res[key] = prior
    source[key] = how


def rho_scale(prior: Prior, lo: float, hi: float) -> tuple[float, float]:
    """(offset, width) that map the prior's unit variable onto the parameter."""
    if prior.dist == "uniform":
        a, b = float(prior.params["lower"]), float(prior.params["upper"])
        return a, b - a
    return lo, hi - lo


def rho_logp(prior: Prior, rho: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Log prior density of ρ draws (on ρ's scale)."""
    from scipy import stats

    a, w = rho_scale(prior, lo, hi)
    u = (np.asarray(rho, float) - a) / w
    if prior.dist == "uniform":
        return np.full(u.shape, -np.log(w))
    return stats.beta.logpdf(u, prior.params["alpha"], prior.params["beta"]) - np.log(w)
