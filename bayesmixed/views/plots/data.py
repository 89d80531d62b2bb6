"""Pictures of the data: regression lines with ±1 SD bands (§1–§2) and trajectories."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ...errors import ArgumentError, ColumnError
from ...quantities._columns import check_columns
from ...results.draws import as_components
from ._common import POP_COLOR, get_ax, is_bayes, level_colors, pick_term


def _line_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Intercept, slope and residual SD (n − 2 df) of the least-squares line."""
    X = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    df = max(len(y) - 2, 1)
    return float(coef[0]), float(coef[1]), float(np.sqrt(resid @ resid / df))


def _sd_band(ax: Axes, x: np.ndarray, line, color, alpha: float, label: str | None = None):
    """Shade ±1 residual SD around a least-squares ``line`` = (intercept, slope, SD)."""
    a, b, sd = line
    ax.fill_between(x, a + b * x - sd, a + b * x + sd, color=color, alpha=alpha, label=label)


def data_lines(
    data: pd.DataFrame,
    x: str,
    y: str,
    group: str | None = None,
    *,
    bands: str | None = "auto",
    pooled: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Scatter of ``y`` against ``x`` with least-squares lines and ±1 SD bands (§1–§2).

    Without ``group``: one regression line and the band ±1 residual SD around it (the OLS
    picture of §1). With ``group``: one colour, line and (optionally) band per cluster, plus
    the pooled line — the picture of §2, where clusters differ in level (and slope) and the
    pooled line describes none of them well.

    Parameters
    ----------
    data : DataFrame
    x, y : str
        Numeric columns.
    group : str, optional
        Cluster column.
    bands : {"auto", "group", "pooled", None}
        Which ±1 SD bands to shade: per cluster (``"group"``), around the pooled line, or
        none. ``"auto"``: per cluster for up to 6 clusters, otherwise pooled.
    pooled : bool
        Draw the pooled (complete-pooling) line when ``group`` is given.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import bayesmixed as bm
    >>> ax = data_lines(bm.datasets.load("sleepstudy"), "Days", "Reaction", group="Subject")
    """
    if not isinstance(data, pd.DataFrame):
        raise ArgumentError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    check_columns(data, x=x, y=y, group=group)
    if bands not in ("auto", "group", "pooled", None):
        raise ArgumentError(f"bands must be 'auto', 'group', 'pooled' or None, got {bands!r}")
    ax = get_ax(ax)
    xs = pd.to_numeric(data[x], errors="coerce").to_numpy(float)
    ys = pd.to_numeric(data[y], errors="coerce").to_numpy(float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    grid = np.linspace(np.nanmin(xs[ok]), np.nanmax(xs[ok]), 50)
    line = _line_fit(xs[ok], ys[ok])
    a, b, sd = line
    if group is None:
        ax.scatter(xs[ok], ys[ok], s=18, color="0.35", alpha=0.7, label="data")
        ax.plot(grid, a + b * grid, color=POP_COLOR, lw=2, label="least-squares line")
        if bands is not None:
            _sd_band(ax, grid, line, "0.5", 0.2, f"±1 SD (σ̂ = {sd:.3g})")
        ax.legend(loc="best", fontsize=9)
    else:
        gvals = data[group].to_numpy()
        levels = list(pd.unique(gvals[ok]))
        colors = level_colors(len(levels))
        mode = bands if bands != "auto" else ("group" if len(levels) <= 6 else "pooled")
        for lev, col in zip(levels, colors, strict=True):
            sel = ok & (gvals == lev)
            ax.scatter(
                xs[sel],
                ys[sel],
                s=14,
                color=col,
                alpha=0.75,
                label=str(lev) if len(levels) <= 10 else None,
            )
            if sel.sum() >= 2 and np.ptp(xs[sel]) > 0:
                g_line = _line_fit(xs[sel], ys[sel])
                ga, gb, _ = g_line
                g = np.linspace(xs[sel].min(), xs[sel].max(), 20)
                ax.plot(g, ga + gb * g, color=col, lw=1.2)
                if mode == "group":
                    _sd_band(ax, g, g_line, col, 0.12)
        if pooled:
            ax.plot(
                grid,
                a + b * grid,
                color=POP_COLOR,
                lw=2.5,
                ls="--",
                label="pooled line (all clusters)",
            )
        if mode == "pooled":
            _sd_band(ax, grid, line, "0.5", 0.18, f"pooled ±1 SD (σ̂ = {sd:.3g})")
        title_extra = "" if len(levels) <= 20 else f" ({len(levels)} clusters)"
        ax.set_title(f"{y} by {x}, one line per {group}{title_extra}", fontsize=11)
        if pooled or mode == "pooled" or len(levels) <= 10:
            ax.legend(loc="best", fontsize=8, ncol=2 if len(levels) > 5 else 1)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return ax


def _default_time(design) -> str:
    frame = design.frame
    groups = {f for t in design.terms for f in t.factors}
    for t in design.terms:
        for c in t.cnames:
            if c in frame.columns and c not in groups:
                return c
    for c in frame.columns:
        if (
            c != design.response_name
            and c not in groups
            and pd.api.types.is_numeric_dtype(frame[c].dtype)
        ):
            return c
    raise ArgumentError("no numeric time variable found in the model; pass time='column'")


def trajectories(
    fit: object,
    time: str | None = None,
    *,
    group: str | None = None,
    fitted: bool = True,
    ci: float = 0.95,
    ax: Axes | None = None,
) -> Axes:
    """Spaghetti plot of each cluster's observed trajectory with the population line.

    Thin grey lines join each cluster's observations over ``time``; with ``fitted=True``
    thin coloured lines show the cluster-specific fitted trajectories (fixed + random
    effects: partial pooling); the thick black line is the population trajectory Xγ̂
    (averaged over the other predictors at each time), with its posterior interval for
    Bayesian fits.

    Parameters
    ----------
    fit : REMLFit, BayesFit or Components
    time : str, optional
        Time column of the model data; default the first random-slope variable, else the
        first numeric predictor.
    group : str, optional
        Grouping factor, when the model has several.
    fitted : bool
        Draw the cluster-specific fitted lines.
    ci : float
        Interval of the population line for Bayesian fits.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> ax = trajectories(fit)
    """
    from ._common import fitted_and_residuals

    comp = as_components(fit)
    design = comp.design
    group = pick_term(fit, group, "trajectories()")
    term = next(t for t in design.terms if t.group == group)
    time = time or _default_time(design)
    if time not in design.frame.columns:
        raise ColumnError(
            f"time={time!r} is not a column of the model data; choose one of "
            f"{', '.join(map(str, design.frame.columns))}",
            time,
        )
    tv = pd.to_numeric(design.frame[time], errors="coerce").to_numpy(float)
    ax = get_ax(ax)
    y = design.y
    colors = level_colors(term.m)
    fit_vals = fitted_and_residuals(fit)[0] if fitted else None
    for j in range(term.m):
        sel = np.flatnonzero(term.codes == j)
        sel = sel[np.argsort(tv[sel], kind="stable")]
        ax.plot(tv[sel], y[sel], color="0.6", lw=0.8, alpha=0.8, marker="o", ms=2.5)
        if fit_vals is not None:
            ax.plot(tv[sel], fit_vals[sel], color=colors[j], lw=1.0, alpha=0.9)
    c = comp.as_draws()
    times = np.unique(tv[np.isfinite(tv)])
    # mean of Xγ over the rows at each time = γ · (mean row of X at that time)
    xbar = np.vstack([design.X[tv == u].mean(axis=0) for u in times])
    pop = np.asarray(c.beta, float) @ xbar.T  # (S, T)
    ax.plot(times, pop.mean(axis=0), color=POP_COLOR, lw=3, label="population (fixed effects)")
    if is_bayes(fit):
        lo, hi = np.quantile(pop, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
        ax.fill_between(
            times, lo, hi, color=POP_COLOR, alpha=0.2, label=f"{100 * ci:g}% posterior interval"
        )
    ax.plot(
        [], [], color="0.6", lw=0.8, marker="o", ms=2.5, label=f"observed, one line per {group}"
    )
    if fit_vals is not None:
        ax.plot([], [], color=colors[0], lw=1.0, label="cluster-specific fit (partial pooling)")
    ax.set_xlabel(time)
    ax.set_ylabel(design.response_name)
    ax.set_title(f"Trajectories of {design.response_name} ({term.m} {group} clusters)", fontsize=11)
    ax.legend(loc="best", fontsize=9)
    return ax
