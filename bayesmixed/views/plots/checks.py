"""Residual diagnostics, posterior densities of ICC/R², and the REML-vs-Bayes forest plot."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy import stats

from ...errors import ArgumentError
from ...quantities.comparison import COMPARE_COLUMNS as _TABLE_COLUMNS
from ...results.draws import as_components, check_ci
from ._common import BAYES_COLOR, REML_COLOR, fitted_and_residuals, get_ax, get_axes

# the columns of ``bm.compare``'s table that the forest plot reads (it does not draw z_diff)
COMPARE_COLUMNS = [c for c in _TABLE_COLUMNS if c != "z_diff"]


def _smooth(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from statsmodels.nonparametric.smoothers_lowess import lowess

    out = lowess(y, x, frac=2 / 3, it=3, return_sorted=True)
    return out[:, 0], out[:, 1]


def diagnostics(fit: object, *, ax: Sequence[Axes] | None = None) -> list[Axes]:
    """Residuals vs fitted, scale-location and normal QQ plot (R's ``plot(lm)`` panels 1–3).

    Standardized residuals are e_i / (σ̂ √(1 − h_ii)) for a regression without random
    effects (h the hat values, as R) and e_i / σ̂ for mixed models (conditional residuals;
    posterior means for Bayesian fits). The red curves are lowess smooths: a flat curve at 0
    (panel 1) means no missed trend, a flat curve (panel 2) constant variance; points on the
    line (panel 3) normal residuals.

    Parameters
    ----------
    fit : OLSFit, REMLFit, BayesFit or Components
    ax : array of 3 Axes, optional

    Returns
    -------
    list of 3 matplotlib Axes

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")).fit_reml()
    >>> axes = diagnostics(fit)
    """
    comp = as_components(fit)
    fitted, resid = fitted_and_residuals(fit)
    sigma = float(np.mean(np.asarray(comp.sigma, float)))
    if not comp.design.terms:
        Q, _ = np.linalg.qr(comp.design.X)
        h = np.clip((Q**2).sum(axis=1), 0.0, 1.0 - 1e-12)
        std = resid / (sigma * np.sqrt(1.0 - h))
        label = "standardized residuals"
    else:
        std = resid / sigma
        label = "residuals / σ̂"
    axes = get_axes(ax, 3, (4.3, 4.0), "diagnostics()")
    a1, a2, a3 = axes
    a1.scatter(fitted, resid, s=12, color=REML_COLOR, alpha=0.6)
    a1.axhline(0.0, color="0.3", ls="--", lw=0.8)
    a1.plot(*_smooth(fitted, resid), color=BAYES_COLOR, lw=1.5)
    a1.set_xlabel("fitted values")
    a1.set_ylabel("residuals")
    a1.set_title("Residuals vs fitted", fontsize=11)
    root = np.sqrt(np.abs(std))
    a2.scatter(fitted, root, s=12, color=REML_COLOR, alpha=0.6)
    a2.plot(*_smooth(fitted, root), color=BAYES_COLOR, lw=1.5)
    a2.set_xlabel("fitted values")
    a2.set_ylabel(f"√|{label}|")
    a2.set_title("Scale-location", fontsize=11)
    n = len(std)
    # R's ppoints: (i − a)/(n + 1 − 2a), a = 3/8 for n ≤ 10 else 1/2
    a = 3 / 8 if n <= 10 else 0.5
    theo = stats.norm.ppf((np.arange(1, n + 1) - a) / (n + 1 - 2 * a))
    a3.scatter(theo, np.sort(std), s=12, color=REML_COLOR, alpha=0.6)
    lim = [min(theo.min(), np.min(std)), max(theo.max(), np.max(std))]
    a3.plot(lim, lim, color="0.3", ls="--", lw=0.8)
    a3.set_xlabel("theoretical normal quantiles")
    a3.set_ylabel(label)
    a3.set_title("Normal QQ", fontsize=11)
    return axes


def _density(ax, draws: np.ndarray, color, label: str) -> None:
    draws = draws[np.isfinite(draws)]
    lo, hi = float(draws.min()), float(draws.max())
    pad = 0.1 * (hi - lo) + 1e-9
    grid = np.linspace(max(lo - pad, 0.0), min(hi + pad, 1.0), 300)
    if np.ptp(draws) > 0:
        dens = stats.gaussian_kde(draws)(grid)
        ax.plot(grid, dens, color=color, lw=2, label=label)
        ax.fill_between(grid, dens, color=color, alpha=0.15)
    else:
        ax.axvline(lo, color=color, lw=2, label=label)


def icc_r2_posteriors(
    post: object,
    fit: object | None = None,
    *,
    quantities: tuple[str, ...] = ("icc_adjusted", "r2_marginal", "r2_conditional"),
    ax: Axes | None = None,
) -> Axes:
    """Posterior densities of the ICC and R² with the REML estimates marked.

    Parameters
    ----------
    post : BayesFit or Components with draws
    fit : REMLFit, optional
        Its point estimates are drawn as dashed vertical lines in the same colours.
    quantities : tuple of str
        Any of ``"icc_adjusted"``, ``"icc_conditional"``, ``"r2_marginal"``,
        ``"r2_conditional"``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np, bayesmixed as bm
    >>> from bayesmixed.results import Components
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> c = fit.components()
    >>> rng = np.random.default_rng(0)
    >>> post = Components(c.design, c.beta[None] + rng.normal(0, 5, (200, 1)),
    ...                   c.sigma * np.exp(rng.normal(0, .1, 200)),
    ...                   [c.cov[0][None] * np.exp(rng.normal(0, .3, (200, 1, 1)))], draws=True)
    >>> ax = icc_r2_posteriors(post, fit, quantities=("icc_adjusted",))
    """
    from ...results.variance import icc, r2

    allowed = ("icc_adjusted", "icc_conditional", "r2_marginal", "r2_conditional")
    for q in quantities:
        if q not in allowed:
            raise ArgumentError(f"unknown quantity {q!r}; choose from {', '.join(allowed)}")
    if not as_components(post, "post").draws:
        raise ArgumentError(
            "post must be a Bayesian fit (posterior draws); pass the REML fit as fit=..."
        )

    def values(obj):
        out = {}
        needs_icc = any(q.startswith("icc") for q in quantities)
        ic = icc(obj) if needs_icc else {}
        rr = r2(obj) if any(q.startswith("r2") for q in quantities) else {}
        for q in quantities:
            kind, which = q.split("_", 1)
            out[q] = (ic if kind == "icc" else rr)[which]
        return out

    pv = values(post)
    fv = values(fit) if fit is not None else {}
    labels = {
        "icc_adjusted": "ICC (adjusted)",
        "icc_conditional": "ICC (conditional)",
        "r2_marginal": "R² marginal",
        "r2_conditional": "R² conditional",
    }
    ax = get_ax(ax, (7.0, 4.2))
    colors = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a"]
    for q, col in zip(quantities, colors, strict=False):
        p = pv[q]
        _density(
            ax,
            np.asarray(p.draws),
            col,
            f"{labels[q]}: {p.mean:.2f} [{p.conf_low:.2f}, {p.conf_high:.2f}]",
        )
        if q in fv and np.isfinite(fv[q]):
            ax.axvline(float(fv[q]), color=col, ls="--", lw=1.5)
    if fv:
        ax.plot([], [], color="0.3", ls="--", label="REML estimate")
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("proportion of variance")
    ax.set_ylabel("posterior density")
    ax.set_title("Posterior of ICC and R² (posterior mean [95% interval])", fontsize=11)
    ax.legend(loc="best", fontsize=9)
    return ax


def compare(
    table: pd.DataFrame, *, scale: str = "row", ci_reml: float = 0.95, ax: Axes | None = None
) -> Axes:
    """Forest plot of the REML-vs-Bayes table of ``bm.compare(post, fit)``.

    Each parameter is one row: the REML estimate with its Wald interval
    (± z·``reml_std_error``; a point when the standard error is missing, as for variance
    parameters) in blue, and the posterior mean with ``[conf_low, conf_high]`` in red.

    Parameters
    ----------
    table : DataFrame
        Columns effect, group, term, reml_estimate, reml_std_error, post_mean, post_sd,
        conf_low, conf_high, rhat, ess_bulk.
    scale : {"row", "shared"}
        ``"row"`` (default): every row on its own scale, so that an intercept of 250 and a
        correlation of 0.07 are both readable; the values are printed at the right, with
        R̂ > 1.01 or ESS < 400 flagged. ``"shared"``: one common x axis.
    ci_reml : float
        Probability of the REML Wald interval.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"effect": ["fixed"], "group": [None], "term": ["x"],
    ...     "reml_estimate": [1.0], "reml_std_error": [0.2], "post_mean": [1.05],
    ...     "post_sd": [0.21], "conf_low": [0.64], "conf_high": [1.46], "rhat": [1.0],
    ...     "ess_bulk": [2100.0]})
    >>> ax = compare(t)
    """
    if not isinstance(table, pd.DataFrame):
        raise ArgumentError(
            f"table must be the DataFrame from bm.compare(), got {type(table).__name__}"
        )
    missing = [c for c in COMPARE_COLUMNS if c not in table.columns]
    if missing:
        raise ArgumentError(
            f"table lacks column(s) {', '.join(missing)}; pass the result of bm.compare(post, fit)"
        )
    if scale not in ("row", "shared"):
        raise ArgumentError(f"scale must be 'row' or 'shared', got {scale!r}")
    check_ci(ci_reml)
    t = table.reset_index(drop=True)
    nrow = len(t)
    if nrow == 0:
        raise ArgumentError("table is empty")
    z = stats.norm.ppf(0.5 + ci_reml / 2)
    est = t["reml_estimate"].to_numpy(float)
    se = t["reml_std_error"].to_numpy(float)
    r_lo = np.where(np.isfinite(se), est - z * se, est)
    r_hi = np.where(np.isfinite(se), est + z * se, est)
    pm = t["post_mean"].to_numpy(float)
    p_lo = t["conf_low"].to_numpy(float)
    p_hi = t["conf_high"].to_numpy(float)
    if scale == "row":
        allv = np.column_stack([est, r_lo, r_hi, pm, p_lo, p_hi])
        with np.errstate(invalid="ignore"):
            lo = np.nanmin(allv, axis=1)
            hi = np.nanmax(allv, axis=1)
        center = (lo + hi) / 2
        half = (hi - lo) / 2
        half = np.where(half > 0, half, np.maximum(np.abs(center) * 0.1, 1e-9))
        half *= 1.15

        def tr(v):
            return (v - center) / half
    else:

        def tr(v):
            return v

    width = 11.0 if scale == "row" else 8.0
    ax = get_ax(ax, (width, max(2.8, 0.45 * nrow + 1.4)))
    y = np.arange(nrow)[::-1].astype(float)
    ax.hlines(y + 0.13, tr(r_lo), tr(r_hi), color=REML_COLOR, lw=2)
    ax.plot(tr(est), y + 0.13, "o", color=REML_COLOR, ms=6, label=f"REML ± {z:.2f} SE")
    ax.hlines(y - 0.13, tr(p_lo), tr(p_hi), color=BAYES_COLOR, lw=2)
    ax.plot(tr(pm), y - 0.13, "s", color=BAYES_COLOR, ms=6, label="posterior mean, interval")
    labels = []
    for _, r in t.iterrows():
        grp = r["group"]
        labels.append(r["term"] if grp is None or pd.isna(grp) else f"{r['term']}  ({grp})")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=9)
    ax.set_ylim(-0.7, nrow - 0.3)
    for yi in y[:-1]:
        ax.axhline(yi - 0.5, color="0.9", lw=0.8)
    if scale == "row":
        ax.set_xlim(-1.05, 1.05)
        ax.set_xticks([])
        ax.set_xlabel("each row on its own scale; values at right", fontsize=9)
        rhat = t["rhat"].to_numpy(float)
        ess = t["ess_bulk"].to_numpy(float)
        for i in range(nrow):
            flag = ""
            if np.isfinite(rhat[i]) and rhat[i] > 1.01:
                flag += f"  R̂={rhat[i]:.2f}!"
            if np.isfinite(ess[i]) and ess[i] < 400:
                flag += f"  ESS={ess[i]:.0f}!"
            reml_txt = f"{est[i]:.4g}" + (f" ± {se[i]:.3g}" if np.isfinite(se[i]) else "")
            ax.text(
                1.02,
                y[i],
                f"REML {reml_txt}   Bayes {pm[i]:.4g} [{p_lo[i]:.4g}, {p_hi[i]:.4g}]{flag}",
                transform=ax.get_yaxis_transform(),
                va="center",
                fontsize=8.5,
                color="firebrick" if flag else "0.15",
            )
    else:
        ax.set_xlabel("estimate")
    ax.set_title("REML vs Bayes", fontsize=11)
    if scale == "row":
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2, fontsize=9, frameon=False
        )
    else:
        ax.legend(loc="best", fontsize=9)
    return ax
