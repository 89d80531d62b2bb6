"""The report's own figures, beside those of :mod:`bayesmixed.views.plots`: a forest plot on
a common scale per parameter class, REML and posterior caterpillars side by side, ArviZ's
rank and energy plots, and a posterior predictive check. :func:`figure` turns any drawing
into an inline ``<figure>`` (or ``None`` when it does not apply to the model).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ...errors import BayesMixedError
from .page import figure_html

__all__ = ["figure", "forest", "caterpillars", "rank_plot", "energy_plot", "ppc_plot"]

REML_COLOR, BAYES_COLOR = "#1f77b4", "#d62728"


def _agg():
    import matplotlib

    matplotlib.use("Agg")  # the page embeds PNGs; no window
    import matplotlib.pyplot as plt

    return plt


def figure(draw: Callable[[], object], caption: str) -> str | None:
    """``draw()``'s figure as inline HTML with ``caption``; ``None`` when it does not apply."""
    plt = _agg()
    try:
        drawn = draw()
    except (BayesMixedError, NotImplementedError, AttributeError, KeyError, ValueError):
        plt.close("all")
        return None
    obj = drawn
    if isinstance(obj, (list, tuple, np.ndarray)):
        obj = np.ravel(np.asarray(obj, dtype=object))[0]
    fig = obj if hasattr(obj, "savefig") else obj.figure
    return figure_html(fig, caption)


# --------------------------------------------------------------------------- forest
def _klass(effect: str, term: str) -> str:
    if effect == "fixed":
        return "fixed effects γ"
    if term.startswith(("cor__", "rho")):
        return "correlations ρ"
    if term.startswith("phi"):
        return "correlations ρ"
    return "standard deviations τ, σ"


def _reml_intervals(fit, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, str]:
    """REML intervals for the rows of ``table``: profile likelihood when the fit has it,
    else Wald (±1.96 SE) for fixed effects and none for the variance parameters."""
    est = table["reml_estimate"].to_numpy(float)
    se = table["reml_std_error"].to_numpy(float)
    lo, hi = est - 1.96 * se, est + 1.96 * se
    how = "Wald"
    if callable(getattr(fit, "confint", None)):
        try:
            ci = fit.confint(method="profile")
        except (BayesMixedError, ValueError, np.linalg.LinAlgError):
            ci = None
        if ci is not None:
            key = ci["group"].fillna("").astype(str) + "|" + ci["term"]
            ci = ci.assign(_k=key).set_index("_k")
            keys = table["group"].fillna("").astype(str) + "|" + table["term"]
            have = keys.isin(ci.index).to_numpy()
            lo = np.where(have, ci["conf_low"].reindex(keys).to_numpy(float), lo)
            hi = np.where(have, ci["conf_high"].reindex(keys).to_numpy(float), hi)
            how = "profile"
    return lo, hi, how


def forest(table: pd.DataFrame, fit, ax=None):
    """REML and posterior intervals, one panel per parameter class on a common scale.

    Fixed effects share one axis, SDs (τ and σ) another, correlations a third, so that the
    lengths of the intervals can be compared within a class. REML intervals are profile
    likelihood intervals (Wald for OLS/GLS fits, whose SDs then show as points).
    """
    plt = _agg()
    t = table.reset_index(drop=True).copy()
    # an OLS fit's tidy() has no σ row: its estimate is fit.sigma
    gap = t["reml_estimate"].isna() & (t["term"] == "sd__Observation")
    t.loc[gap, "reml_estimate"] = float(getattr(fit, "sigma", np.nan))
    t["klass"] = [_klass(e, str(term)) for e, term in zip(t["effect"], t["term"], strict=True)]
    lo, hi, how = _reml_intervals(fit, t)
    t["r_lo"], t["r_hi"] = lo, hi
    classes = [c for c in dict.fromkeys(t["klass"])]
    heights = [max(1.2, 0.42 * (t["klass"] == c).sum() + 0.5) for c in classes]
    fig, axes = plt.subplots(
        len(classes), 1, figsize=(8.0, sum(heights) + 0.8), gridspec_kw={"height_ratios": heights}
    )
    axes = np.atleast_1d(axes)
    for axi, klass in zip(axes, classes, strict=True):
        sub = t[t["klass"] == klass]
        y = np.arange(len(sub))[::-1].astype(float)
        rl, rh = sub["r_lo"].to_numpy(float), sub["r_hi"].to_numpy(float)
        est = sub["reml_estimate"].to_numpy(float)
        ok = np.isfinite(rl) & np.isfinite(rh)
        axi.hlines(y[ok] + 0.14, rl[ok], rh[ok], color=REML_COLOR, lw=2)
        axi.plot(est, y + 0.14, "o", color=REML_COLOR, ms=5, label=f"REML ({how} 95% CI)")
        axi.hlines(y - 0.14, sub["conf_low"], sub["conf_high"], color=BAYES_COLOR, lw=2)
        axi.plot(
            sub["post_mean"],
            y - 0.14,
            "s",
            color=BAYES_COLOR,
            ms=5,
            label="posterior mean, 95% interval",
        )
        labels = [
            term if g is None or pd.isna(g) else f"{term} ({g})"
            for term, g in zip(sub["term"], sub["group"], strict=True)
        ]
        axi.set_yticks(y)
        axi.set_yticklabels(labels, fontsize=8.5)
        axi.set_ylim(-0.6, len(sub) - 0.4)
        if klass != "fixed effects γ":
            axi.axvline(0.0, color="0.75", lw=0.8)
        axi.set_title(klass, fontsize=10, loc="left")
        axi.grid(axis="x", color="0.92")
    axes[0].legend(
        loc="lower center", bbox_to_anchor=(0.5, 1.12), ncol=2, fontsize=8.5, frameon=False
    )
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- random effects
def caterpillars(fit, post, group: str | None = None, term: str = "(Intercept)"):
    """The REML BLUPs and the posterior means of one random effect, side by side, one scale."""
    from .. import plots

    plt = _agg()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9.0, 5.0), sharex=True)
    plots.caterpillar(fit, group=group, term=term, ax=[a])
    plots.caterpillar(post, group=group, term=term, ax=[b])
    a.set_title(f"REML: {a.get_title()}", fontsize=10)
    b.set_title(f"posterior: {b.get_title()}", fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- MCMC
def _main_vars(post) -> list[str]:
    names = [v for v in post.idata.posterior.data_vars if not str(v).startswith("b_")]
    return names[:4]


def rank_plot(post):
    """ArviZ rank plots (one histogram of ranks per chain: flat bars = chains that agree)."""
    import arviz as az

    plt = _agg()
    axes = az.plot_rank(post.idata, var_names=_main_vars(post), kind="bars", figsize=(10, 5))
    fig = np.ravel(axes)[0].figure
    fig.suptitle("Rank plots: each chain's draws ranked among all; flat = well mixed", y=1.01)
    plt.figure(fig.number)
    return fig


def energy_plot(post):
    """ArviZ energy plot: marginal energy vs energy transitions (similar widths = good)."""
    import arviz as az

    ax = az.plot_energy(post.idata, figsize=(6.5, 3.8))
    ax.set_title("Energy: marginal vs transition (BFMI in legend)", fontsize=10)
    return ax


def ppc_plot(post, n_draws: int = 60, seed: int = 1):
    """Posterior predictive check: the observed outcome's histogram against replicated data
    sets y_rep = μ + e drawn from the posterior (independent residuals)."""
    if getattr(post.design, "terms", None) is None:
        raise BayesMixedError("no design")
    plt = _agg()
    mu = np.asarray(post.predict(summary=False), float)
    sigma = np.asarray(post.idata.posterior["sigma"], float).reshape(-1)
    rng = np.random.default_rng(seed)
    pick = rng.choice(mu.shape[0], size=min(n_draws, mu.shape[0]), replace=False)
    y = np.asarray(post.design.y, float)
    lo, hi = np.floor(y.min() - 3), np.ceil(y.max() + 3)
    bins = np.arange(lo - 0.5, hi + 1.5, 1.0 if np.allclose(y, np.round(y)) else (hi - lo) / 30)
    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    for s in pick:
        rep = mu[s] + rng.normal(0.0, sigma[s], size=mu.shape[1])
        h, _ = np.histogram(rep, bins=bins, density=True)
        ax.step(bins[:-1], h, where="post", color=BAYES_COLOR, alpha=0.12, lw=1)
    h, _ = np.histogram(y, bins=bins, density=True)
    ax.step(bins[:-1], h, where="post", color="k", lw=2, label="observed y")
    ax.plot([], [], color=BAYES_COLOR, alpha=0.5, label=f"{len(pick)} replicated data sets")
    ax.set_xlabel(post.design.response_name)
    ax.set_ylabel("density")
    ax.set_title("Posterior predictive check", fontsize=10)
    ax.legend(fontsize=9)
    return fig
