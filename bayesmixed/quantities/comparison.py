"""REML and Bayesian fits of the same model, side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ArgumentError

__all__ = ["compare", "COMPARE_COLUMNS"]

COMPARE_COLUMNS = [
    "effect",
    "group",
    "term",
    "reml_estimate",
    "reml_std_error",
    "post_mean",
    "post_sd",
    "conf_low",
    "conf_high",
    "rhat",
    "ess_bulk",
    "z_diff",
]


def _key(df: pd.DataFrame) -> pd.Series:
    return df["effect"] + "|" + df["group"].fillna("").astype(str) + "|" + df["term"]


def compare(post, fit, interval: float = 0.95) -> pd.DataFrame:
    """One row per parameter: the REML estimate and SE beside the posterior mean, SD and interval.

    Parameters
    ----------
    post : BayesFit
        From :meth:`bayesmixed.MixedModel.sample`.
    fit : REMLFit or OLSFit
        From :meth:`bayesmixed.MixedModel.fit_reml` on the same formula and data.
    interval : float
        Probability of the posterior interval.

    Returns
    -------
    pandas.DataFrame
        Columns effect, group, term, reml_estimate, reml_std_error, post_mean, post_sd,
        conf_low, conf_high, rhat, ess_bulk and ``z_diff`` = (posterior mean − REML estimate)
        / posterior SD. Random-effect parameters are SDs and correlations (REML SEs are NaN,
        as in lme4). ``bayesmixed.views.plots.compare`` draws it as a forest plot.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    >>> post = m.sample(draws=1000, tune=1000, chains=2, random_seed=1, progressbar=False)
    >>> bm.compare(post, m.fit_reml())["term"].tolist()
    ['(Intercept)', 'sd__(Intercept)', 'sd__Observation']
    """
    if not hasattr(post, "idata") or not hasattr(fit, "tidy"):
        raise ArgumentError(
            "compare(post, fit) takes a BayesFit (model.sample()) and a REML/OLS fit "
            "(model.fit_reml()), in that order"
        )
    if post.design.spec.formula != fit.design.spec.formula or post.design.n != fit.design.n:
        raise ArgumentError(
            "post and fit come from different models "
            f"({post.design.spec.formula!r}, n={post.design.n} vs "
            f"{fit.design.spec.formula!r}, n={fit.design.n}); fit both from one MixedModel"
        )
    b = post.tidy(interval=interval)
    r = fit.tidy()
    if "effect" not in r.columns:
        r = r.assign(effect="fixed", group=None)
    r = r.assign(_k=_key(r)).set_index("_k")
    out = pd.DataFrame(
        {
            "effect": b["effect"],
            "group": b["group"],
            "term": b["term"],
            "reml_estimate": r["estimate"].reindex(_key(b)).to_numpy(),
            "reml_std_error": r["std_error"].reindex(_key(b)).to_numpy(),
            "post_mean": b["estimate"],
            "post_sd": b["std_error"],
            "conf_low": b["conf_low"],
            "conf_high": b["conf_high"],
            "rhat": b["rhat"],
            "ess_bulk": b["ess_bulk"],
        }
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out["z_diff"] = (out["post_mean"] - out["reml_estimate"]) / out["post_sd"]
    return out[COMPARE_COLUMNS].reset_index(drop=True)
