"""Plots of calibration and design checks: SBC ranks, power curves, power-scaled posteriors.

* :func:`sbc_ranks` — rank histograms of ``bm.sbc`` (grey: the 99% band of each bin count
  under uniform ranks);
* :func:`sbc_ecdf` — ECDF of the ranks minus the uniform CDF, with the simultaneous 99% band;
* :func:`power_curves` — power of ``bm.power`` against the number of clusters, one line per
  cluster size (±2 Monte Carlo SE);
* :func:`prior_sensitivity` — posterior densities of each parameter with the prior (top row)
  and the likelihood (bottom row) power-scaled by α, as priorsense's ``powerscale_plot_dens``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from ...bayes.power_scaling import (
    component_log_density,
    parameter_draws,
    powerscale_log_weights,
)
from ...errors import ArgumentError
from ...quantities import calibration as _calibration
from ...quantities import power as _power
from ...quantities.calibration import sbc
from ...quantities.power import power
from ...quantities.rank_uniformity import chi2_uniform, ecdf_band, ecdf_uniform, n_bins

__all__ = ["sbc_ranks", "sbc_ecdf", "power_curves", "prior_sensitivity", "sbc", "power"]


def _panels(n: int, ncol: int = 4, w: float = 3.3, h: float = 2.6, **kw):
    ncol = max(1, min(ncol, n))
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(w * ncol, h * nrow), squeeze=False, **kw)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig, list(axes.flat)[:n]


def _rank_groups(result):
    ranks = result.ranks
    params = list(dict.fromkeys(ranks["parameter"]))
    return [(k, ranks.loc[ranks["parameter"] == k, "rank"].to_numpy()) for k in params]


def sbc_ranks(result, title: str | None = None):
    """Rank histograms of an :class:`~bayesmixed.quantities.calibration.SBCResult`.

    Returns the list of Axes (one per ranked quantity).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    >>> res = bm.sbc(m, n_sims=2, draws=100, tune=100, random_seed=1, n_workers=1)
    >>> len(bm.plots.sbc_ranks(res))
    5
    """
    L = result.L
    groups = _rank_groups(result)
    fig, axes = _panels(len(groups))
    for ax, (k, r) in zip(axes, groups, strict=True):
        n = r.size
        B = max(n_bins(n, L), 2)
        counts = np.bincount(r * B // (L + 1), minlength=B)
        lo, hi = stats.binom.ppf([0.005, 0.995], n, 1.0 / B)
        ax.axhspan(lo, hi, color="0.85", zorder=0)
        ax.axhline(n / B, color="0.5", lw=0.8, zorder=1)
        ax.bar(np.arange(B), counts, width=0.9, color="C0", zorder=2)
        ax.set_title(
            f"{k}\nχ² p={chi2_uniform(r, L):.3f}  ECDF p={ecdf_uniform(r, L):.3f}", fontsize=8
        )
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
    n_sims = result.ranks["sim"].nunique()
    fig.suptitle(title or f"SBC ranks: {result.parameterization}, N={n_sims}, L={L}", fontsize=10)
    fig.tight_layout()
    return axes


def sbc_ecdf(result, title: str | None = None, level: float = 0.99):
    """ECDF of the ranks minus the uniform CDF, with the simultaneous ``level`` band."""
    L = result.L
    groups = _rank_groups(result)
    fig, axes = _panels(len(groups), h=2.4, sharey=True)
    for ax, (k, r) in zip(axes, groups, strict=True):
        z, lo, hi = ecdf_band(r.size, L, level)
        diff = (r[:, None] < np.arange(1, L + 1)).mean(axis=0) - z
        ax.fill_between(z, lo, hi, color="0.85", step="post")
        ax.step(z, diff, where="post", color="C0", lw=1)
        ax.axhline(0, color="0.5", lw=0.6)
        ax.set_title(k, fontsize=8)
        ax.tick_params(labelsize=7)
    head = title or f"SBC: {result.parameterization}"
    fig.suptitle(f"{head}  (ECDF − uniform, simultaneous {level:.0%} band)", fontsize=10)
    fig.tight_layout()
    return axes


def power_curves(result, ax=None):
    """Power against the number of clusters, a panel per tested term, a line per cluster size.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> res = bm.power("y ~ treat + (1 | g)", design={"treat": ("cluster", [0, 1])},
    ...                effects={"treat": 1.0}, tau=0.5, sigma=1.0, n_clusters=[4, 8],
    ...                cluster_size=[5], nsim=10, random_seed=1, n_workers=1)
    >>> len(bm.plots.power_curves(res))
    1
    """
    tab = result.table
    terms = list(dict.fromkeys(tab["term"]))
    if ax is None:
        _, axes = _panels(len(terms), ncol=3, w=3.8, h=3.0, sharey=True)
    else:
        axes = list(np.atleast_1d(ax))
    for a, term in zip(axes, terms, strict=True):
        sub = tab[tab["term"] == term]
        for i, (m, g) in enumerate(sub.groupby("cluster_size", sort=True)):
            g = g.sort_values("n_clusters")
            a.errorbar(g["n_clusters"], g["power"], yerr=2 * g["mcse"], marker="o", ms=3,
                       lw=1, capsize=2, color=f"C{i}", label=f"size {m}")  # fmt: skip
        a.axhline(0.8, color="0.6", lw=0.6, ls="--")
        a.axhline(result.alpha, color="0.8", lw=0.6, ls=":")
        lvl = sub["level"].iloc[0]
        a.set_title(f"{term}" + (f" ({lvl}-level)" if isinstance(lvl, str) else ""), fontsize=9)
        a.set_xlabel("number of clusters")
        a.set_ylim(0, 1.02)
        a.legend(fontsize=7)
    axes[0].set_ylabel("power")
    axes[0].figure.tight_layout()
    return axes


def prior_sensitivity(
    post, components=None, parameters=None, alphas=(0.8, 1.0, 1.25), gridsize: int = 200
):
    """Posterior densities with the prior and the likelihood power-scaled by ``alphas``.

    Importance-weighted (PSIS) kernel densities of the existing draws, as priorsense's
    ``powerscale_plot_dens``: top row the prior raised to α, bottom row the likelihood.
    ``components`` picks the priors to scale (as :func:`bayesmixed.prior_sensitivity`),
    ``parameters`` the panels (default every γ, τ, correlation and σ).

    Returns a 2 × n_parameters array of Axes.
    """
    idata = getattr(post, "idata", post)
    draws = parameter_draws(idata)
    names = list(draws) if parameters is None else list(parameters)
    comps = ["prior"] + (["likelihood"] if "log_likelihood" in idata.groups() else [])
    dens = {c: component_log_density(idata, c, components if c == "prior" else None)
            for c in comps}  # fmt: skip
    fig, axes = plt.subplots(len(comps), len(names), figsize=(3.0 * len(names), 2.4 * len(comps)),
                             squeeze=False)  # fmt: skip
    colors = plt.get_cmap("coolwarm")(np.linspace(0, 1, len(alphas)))
    for r, comp in enumerate(comps):
        weights = [np.exp(powerscale_log_weights(dens[comp], a)[0]) for a in alphas]
        for c, name in enumerate(names):
            ax = axes[r, c]
            x = draws[name]
            lo, hi = np.quantile(x, [0.001, 0.999])
            grid = np.linspace(lo, hi, gridsize)
            for a, w, col in zip(alphas, weights, colors, strict=True):
                kde = stats.gaussian_kde(x, weights=w)
                ax.plot(grid, kde(grid), color="k" if a == 1.0 else col, lw=1.0,
                        label=f"α={a:g}")  # fmt: skip
            ax.set_yticks([])
            ax.set_title(name if r == 0 else "", fontsize=8)
            ax.tick_params(labelsize=7)
        axes[r, 0].set_ylabel(f"{comp} scaled", fontsize=8)
    axes[0, -1].legend(fontsize=7)
    fig.tight_layout()
    return axes


def _render_sbc(result, kind: str = "hist", **kwargs):
    if kind not in ("hist", "ecdf"):
        raise ArgumentError(f"kind must be 'hist' or 'ecdf', got {kind!r}")
    return (sbc_ranks if kind == "hist" else sbc_ecdf)(result, **kwargs)


# result.plot() of bm.sbc and bm.power draws with these (the lazy names load this module)
_calibration._RENDERER = _render_sbc
_power._RENDERER = power_curves
