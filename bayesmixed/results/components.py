"""One vocabulary for both engines: parameter names, tidy columns and variance components.

Both the REML fit and the Bayesian fit describe themselves through :class:`Components`
(point estimates, or posterior draws along a leading axis), and name their parameters with
:func:`ran_par_labels`, so ``tidy()``, ``glance()``, ``ranef()``, ICC, R² and shrinkage are
computed and labelled the same way whichever engine produced them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design.build import Design

__all__ = [
    "TIDY_COLUMNS",
    "RANEF_COLUMNS",
    "RanPar",
    "ran_par_labels",
    "Components",
    "cov_to_sd_cor",
    "ran_pars_values",
]

TIDY_COLUMNS = ["effect", "group", "term", "estimate", "std_error", "statistic", "df", "p_value"]
RANEF_COLUMNS = ["group", "level", "term", "estimate", "std_error"]


@dataclass(frozen=True)
class RanPar:
    """One random-effect parameter as broom.mixed names it.

    ``kind`` is ``"sd"`` or ``"cor"``; ``term_index`` points into ``design.terms`` (``-1`` for
    the residual); ``i``/``j`` are the column indices within the term.
    """

    group: str
    term: str
    kind: str
    term_index: int
    i: int
    j: int

    @property
    def key(self) -> str:
        """``"sd__(Intercept)|Subject"``: unique name used for priors and comparison."""
        return f"{self.term}|{self.group}"


def ran_par_labels(design: Design) -> list[RanPar]:
    """The ``ran_pars`` rows of ``tidy()`` in broom.mixed's order.

    Per term: ``sd__a``, ``cor__a.b``, ``cor__a.c``, ``sd__b``, ``cor__b.c``, ``sd__c``; then
    ``sd__Observation`` in group ``Residual``.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    >>> [r.term for r in ran_par_labels(m.design)]
    ['sd__(Intercept)', 'cor__(Intercept).Days', 'sd__Days', 'sd__Observation']
    """
    out: list[RanPar] = []
    for ti, t in enumerate(design.terms):
        for i, a in enumerate(t.cnames):
            out.append(RanPar(t.name, f"sd__{a}", "sd", ti, i, i))
            for j in range(i + 1, t.k):
                out.append(RanPar(t.name, f"cor__{a}.{t.cnames[j]}", "cor", ti, i, j))
    out.append(RanPar("Residual", "sd__Observation", "sd", -1, 0, 0))
    return out


def cov_to_sd_cor(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standard deviations and correlation matrix of (a stack of) covariance matrices."""
    sd = np.sqrt(np.clip(np.diagonal(cov, axis1=-2, axis2=-1), 0.0, None))
    denom = sd[..., :, None] * sd[..., None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        cor = np.where(denom > 0, cov / np.where(denom > 0, denom, 1.0), np.nan)
    return sd, cor


@dataclass
class Components:
    """A fitted model in the primer's terms, for either engine.

    For a REML fit the arrays carry point estimates; for a Bayesian fit they carry draws along
    a leading axis of length S (``beta`` (S, p), ``sigma`` (S,), ``cov[i]`` (S, k, k),
    ``b[i]`` (S, m, k)). ``draws`` tells which.

    Attributes
    ----------
    design : Design
    beta : ndarray
        Fixed effects γ.
    sigma : ndarray
        Residual SD σ.
    cov : list of ndarray
        Covariance matrix of the random effects of each term (τ's, on the data scale).
    b : list of ndarray or None
        Random effects (BLUPs / conditional modes or their draws), per term (m, k).
    draws : bool
        True when there is a leading draws axis.
    """

    design: Design
    beta: np.ndarray
    sigma: np.ndarray
    cov: list[np.ndarray]
    b: list[np.ndarray] | None = None
    draws: bool = False

    def as_draws(self) -> Components:
        """The same components with a leading draws axis (length 1 for point estimates)."""
        if self.draws:
            return self
        return Components(
            design=self.design,
            beta=np.asarray(self.beta)[None, ...],
            sigma=np.atleast_1d(np.asarray(self.sigma, float)),
            cov=[np.asarray(c)[None, ...] for c in self.cov],
            b=None if self.b is None else [np.asarray(x)[None, ...] for x in self.b],
            draws=True,
        )


def ran_pars_values(comp: Components) -> dict[RanPar, np.ndarray]:
    """Value (or draws) of every ``ran_pars`` parameter on the SD/correlation scale."""
    c = comp.as_draws()
    out: dict[RanPar, np.ndarray] = {}
    sds_cors = [cov_to_sd_cor(cv) for cv in c.cov]
    for rp in ran_par_labels(comp.design):
        if rp.term_index < 0:
            v = c.sigma
        else:
            sd, cor = sds_cors[rp.term_index]
            v = sd[:, rp.i] if rp.kind == "sd" else cor[:, rp.i, rp.j]
        out[rp] = v if comp.draws else v[0]
    return out


def fixed_frame(names: list[str], values: dict[str, np.ndarray]) -> pd.DataFrame:
    """Fixed-effect rows of a tidy table from column arrays."""
    df = pd.DataFrame({"effect": "fixed", "group": None, "term": names})
    for k, v in values.items():
        df[k] = v
    return df
