"""Pictures of longitudinal data and their residual covariance (§6).

* :func:`trajectories_by_time` — each subject's trajectory over categorical or numeric time,
  the population line(s) and the fitted subject lines;
* :func:`residual_correlation` — the fitted residual correlation matrix beside the empirical
  correlation of the residuals of the complete subjects;
* :func:`correlation_by_lag` — the correlation several structures imply at each lag.

They read fits with a residual structure (``MixedModel(..., residual=...).fit_reml()``);
:func:`trajectories_by_time` also reads mixed-model fits and plain data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ...design.frame import factorize, is_numeric_column
from ...errors import ArgumentError
from ...quantities._columns import check_columns
from ...results.draws import as_components
from ._common import POP_COLOR, fitted_and_residuals, get_ax, get_axes, level_colors, pick_term
from .data import _default_time

__all__ = ["trajectories_by_time", "residual_correlation", "correlation_by_lag"]


def _time_axis(frame: pd.DataFrame, time: str, levels: list[str] | None = None):
    """(x positions per row, tick positions, tick labels or None for a numeric axis)."""
    if levels is None and is_numeric_column(frame, time):
        return frame[time].to_numpy(float), None, None
    codes, found = factorize(frame[time])
    if levels is not None:  # the fit's visit order
        codes = np.array([levels.index(v) for v in np.asarray(found)[codes]])
        found = levels
    return codes.astype(float), np.arange(len(found), dtype=float), list(found)


def _fit_columns(fit, time, group):
    """(frame, y, time, group, visit levels or None, population η, fitted) of a fit."""
    rd = getattr(fit, "rd", None)
    comp = as_components(fit)
    design = comp.design
    if rd is not None:
        time = time or rd.spec.time
        group = group or rd.spec.group
        frame = rd.data
        levels = rd.time_levels if rd.times is None and time == rd.spec.time else None
    else:
        group = pick_term(fit, group, "trajectories_by_time()")
        time = time or _default_time(design)
        frame, levels = design.frame, None
    check_columns(frame, time=time, group=group)
    beta = np.asarray(comp.as_draws().beta, float).mean(axis=0)
    fitted = fitted_and_residuals(fit)[0]
    return frame, design.y, time, group, levels, design.X @ beta, fitted


def _mean_line(x: np.ndarray, v: np.ndarray, numeric: bool, max_times: int = 15):
    """Mean of ``v`` at each time; for a numeric time with many distinct values (jittered
    visit days) the means over ten quantile bins of time, so the line is not noise."""
    if not numeric or len(np.unique(x)) <= max_times:
        m = pd.Series(v).groupby(x).mean()
        return m.index.to_numpy(float), m.to_numpy()
    edges = np.unique(np.quantile(x, np.linspace(0, 1, 11)))
    b = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    frame = pd.DataFrame({"b": b, "x": x, "v": v}).groupby("b").mean()
    return frame["x"].to_numpy(), frame["v"].to_numpy()


def trajectories_by_time(
    fit_or_data,
    time: str | None = None,
    *,
    y: str | None = None,
    group: str | None = None,
    color: str | None = None,
    fitted: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Subject trajectories over time with the population line(s) and fitted subject lines.

    Thin grey lines join each subject's observations; the thick lines are the population
    trajectory — for a fit the mean of Xβ̂ at each time, for data the observed mean (over
    ten bins of time when a numeric time has many distinct values) — one per level of
    ``color`` (e.g. the arm). With ``fitted=True`` thin coloured lines show each
    subject's fitted trajectory where it differs from the population line (random effects,
    subject covariates). Categorical time (the visits) is drawn at equally spaced positions
    in visit order, numeric time on its own scale. For a mixed model with numeric time and
    its posterior band, :func:`bayesmixed.views.plots.trajectories` is the specialised
    version.

    Parameters
    ----------
    fit_or_data : fit or DataFrame
        A fit (with ``residual=`` or random effects), or the data (then ``y``, ``time`` and
        ``group`` are required).
    time : str, optional
        Time column; default the fit's structure time (or first random slope).
    y : str, optional
        Response column (data only).
    group : str, optional
        Subject column; default the fit's structure group (or grouping factor).
    color : str, optional
        Factor with one population line per level (e.g. ``"arm"``).
    fitted : bool
        Draw the fitted subject lines (fits only).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import bayesmixed as bm
    >>> d = bm.datasets.load("Orthodont")
    >>> ax = trajectories_by_time(d, "age", y="distance", group="Subject", color="Sex")
    >>> ax.get_xlabel()
    'age'
    """
    if isinstance(fit_or_data, pd.DataFrame):
        frame = fit_or_data
        if y is None or time is None or group is None:
            raise ArgumentError("trajectories_by_time(data): give y=, time= and group= columns")
        check_columns(frame, y=y, time=time, group=group, color=color)
        yv = pd.to_numeric(frame[y], errors="coerce").to_numpy(float)
        pop, fit_vals, levels, yname = yv, None, None, y
    else:
        if y is not None:
            raise ArgumentError("y= is for data; a fit plots its own response")
        frame, yv, time, group, levels, pop, fit_vals = _fit_columns(fit_or_data, time, group)
        check_columns(frame, color=color)
        yname = as_components(fit_or_data).design.response_name
        fit_vals = fit_vals if fitted else None
    x, ticks, labels = _time_axis(frame, time, levels)
    subj = frame[group].to_numpy()
    cells = frame[color].astype(str).to_numpy() if color else np.full(len(frame), "")
    ax = get_ax(ax)
    arms = list(pd.unique(cells))
    colors = level_colors(len(arms)) if color else [POP_COLOR]
    if fit_vals is not None:
        # subject lines only where they say more than the population line
        key = pd.Series(pop).groupby([x, cells]).transform("mean").to_numpy()
        if np.allclose(fit_vals, key, rtol=0, atol=1e-8 * (1 + np.abs(key).max())):
            fit_vals = None
    for s in pd.unique(subj):
        sel = np.flatnonzero(subj == s)
        sel = sel[np.argsort(x[sel], kind="stable")]
        ax.plot(x[sel], yv[sel], color="0.65", lw=0.7, alpha=0.7, marker="o", ms=2)
        if fit_vals is not None:
            col = colors[arms.index(cells[sel[0]])] if color else "tab:blue"
            ax.plot(x[sel], fit_vals[sel], color=col, lw=0.8, alpha=0.55)
    what = "observed mean" if y is not None else "population (fixed effects)"
    for arm, col in zip(arms, colors, strict=True):
        sel = cells == arm
        lab = f"{what}: {color} = {arm}" if color else what
        ax.plot(*_mean_line(x[sel], pop[sel], ticks is None), color=col, lw=3, label=lab)
    ax.plot([], [], color="0.65", lw=0.7, marker="o", ms=2, label=f"observed, one line per {group}")
    if fit_vals is not None:
        ax.plot([], [], color=colors[0] if color else "tab:blue", lw=0.8, label="subject fit")
    if ticks is not None:
        ax.set_xticks(ticks, labels)
    ax.set(xlabel=time, ylabel=yname)
    ax.set_title(f"{yname} over {time}, {len(pd.unique(subj))} subjects", fontsize=11)
    ax.legend(loc="best", fontsize=8)
    return ax


# ---------------------------------------------------------------------- correlation
def _needs_rd(fit, what: str):
    rd = getattr(fit, "rd", None)
    if rd is None or not callable(getattr(fit, "residual_cor", None)):
        raise ArgumentError(
            f"{what} needs a fit with a residual structure: "
            'MixedModel(formula, data, residual=bm.residual.UN(time="visit", group="id"))'
            ".fit_reml()"
        )
    return rd


def _complete_subject(rd, subject):
    """The given subject, or the first one observed at the most visits."""
    counts = np.bincount(rd.subject_codes, minlength=len(rd.subjects))
    return rd.subjects[int(np.argmax(counts))] if subject is None else subject


def implied_correlation(fit, subject=None) -> pd.DataFrame:
    """The correlation a fit implies among one subject's visits: the residual correlation,
    or with random effects the marginal one (random effects + residual), which is what
    the residuals y − Xβ̂ estimate."""
    rd = _needs_rd(fit, "implied_correlation()")
    subject = _complete_subject(rd, subject)
    if not fit.design.terms:
        return fit.residual_cor(subject)
    V = fit.marginal_cov(subject)
    sd = np.sqrt(np.diag(V.to_numpy()))
    return V / np.outer(sd, sd)


def empirical_correlation(fit) -> tuple[pd.DataFrame, int]:
    """Correlation of the marginal residuals y − Xβ̂ over the subjects observed at every
    visit (numeric times: at the most visits, by visit order), and their number."""
    rd = _needs_rd(fit, "empirical_correlation()")
    comp = as_components(fit)
    r = comp.design.y - comp.design.X @ np.asarray(fit.beta, float)
    if rd.times is None:
        pos, labels = rd.time_pos, list(rd.time_levels)
    else:
        rank = pd.Series(rd.times).groupby(rd.subject_codes).rank(method="first")
        pos = rank.to_numpy(np.int64) - 1  # each subject's k-th visit
        labels = [f"visit {k + 1}" for k in range(int(pos.max()) + 1)]
    wide = pd.DataFrame({"s": rd.subject_codes, "t": pos, "r": r}).pivot(
        index="s", columns="t", values="r"
    )
    wide = wide.reindex(columns=range(len(labels))).dropna()
    if len(wide) < 3:
        raise ArgumentError(
            f"fewer than 3 subjects are observed at every visit ({len(wide)}); the empirical "
            "correlation needs complete subjects"
        )
    cor = np.corrcoef(wide.to_numpy().T)
    return pd.DataFrame(cor, index=labels, columns=labels), len(wide)


def _heatmap(ax: Axes, M: pd.DataFrame, title: str):
    im = ax.imshow(M.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
    k = len(M)
    ax.set_xticks(range(k), list(M.columns), rotation=45 if k > 6 else 0)
    ax.set_yticks(range(k), list(M.index))
    if k <= 10:
        for i in range(k):
            for j in range(k):
                v = M.iat[i, j]
                tint = "w" if abs(v) > 0.6 else "k"
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8, color=tint)
    ax.set_title(title, fontsize=10)
    return im


def residual_correlation(fit, subject=None, *, ax=None) -> list[Axes]:
    """The fitted residual correlation matrix beside the residuals' empirical correlation.

    Left: the correlation the fitted structure implies among the visits of ``subject``
    (default the first subject seen at every visit; with random effects the marginal
    correlation). Right: the correlation of the residuals y − Xβ̂ over the subjects observed
    at every visit. A good structure makes the two look alike with few parameters.

    Parameters
    ----------
    fit : GLSFit
        A fit with ``residual=``.
    subject : optional
        Whose visits the fitted matrix is drawn for.
    ax : two matplotlib Axes, optional

    Returns
    -------
    list of two matplotlib Axes

    Examples
    --------
    >>> import numpy as np, pandas as pd, bayesmixed as bm
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"id": np.repeat(np.arange(40), 3), "visit": ["a", "b", "c"] * 40})
    >>> d["y"] = np.repeat(rng.normal(size=40), 3) + rng.normal(size=120)
    >>> fit = bm.MixedModel("y ~ visit", d, residual=bm.residual.CS(time="visit",
    ...                     group="id")).fit_reml()
    >>> axes = residual_correlation(fit)
    >>> [a.get_title().split(" (")[0] for a in axes]
    ['fitted CS correlation', 'empirical correlation of the residuals']
    """
    rd = _needs_rd(fit, "residual_correlation()")
    axes = get_axes(ax, 2, (4.6, 4.2), "residual_correlation()")
    subject = _complete_subject(rd, subject)
    kind = "marginal" if fit.design.terms else ""
    fitted = implied_correlation(fit, subject)
    emp, n = empirical_correlation(fit)
    name = f"{rd.spec.name} {kind} correlation".replace("  ", " ")
    im = _heatmap(axes[0], fitted, f"fitted {name} (subject {subject})")
    _heatmap(axes[1], emp, f"empirical correlation of the residuals ({n} complete subjects)")
    axes[0].figure.colorbar(im, ax=axes, shrink=0.8, label="correlation")
    return axes


def _named_fits(fits) -> dict[str, object]:
    if isinstance(fits, Mapping):
        pairs = [(str(k), f) for k, f in fits.items()]
    else:
        many = isinstance(fits, Sequence) and not isinstance(fits, str)
        pairs = [(None, f) for f in (fits if many else [fits])]
    out = {}
    for name, f in (p for p in pairs if p[1] is not None):
        name = name or _needs_rd(f, "correlation_by_lag()").spec.name
        _needs_rd(f, "correlation_by_lag()")
        out[name if name not in out else f"{name} ({len(out) + 1})"] = f
    if not out:
        raise ArgumentError("correlation_by_lag() needs at least one fit")
    return out


def _by_lag(M: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lags, mean correlation at each lag, (lag, value) of every pair)."""
    k = len(M)
    lags = np.arange(1, k)
    mean = np.array([np.diagonal(M, d).mean() for d in lags])
    i, j = np.triu_indices(k, 1)
    return lags, mean, np.column_stack([j - i, M[i, j]])


def correlation_by_lag(fits, *, subject=None, empirical: bool = True, ax=None) -> Axes:
    """The correlation each structure implies at each lag between visits, in one figure.

    For every fit, the line joins the mean correlation over the visit pairs at each lag
    (visit steps) and the small markers show each pair (they spread for structures whose
    correlation is not a function of the lag alone: UN, AD, CSH). The dashed black line is
    the empirical correlation of the residuals of the complete subjects (from the first fit).

    Parameters
    ----------
    fits : dict name → fit, list of fits, or one fit
        Fits with ``residual=`` (e.g. the second value of
        ``bm.compare_structures(..., return_fits=True)``; None entries are skipped).
    subject : optional
        Whose visits the implied correlations are read at (default the first subject seen at
        the most visits).
    empirical : bool
        Add the empirical correlation by lag.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np, pandas as pd, bayesmixed as bm
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"id": np.repeat(np.arange(40), 3), "visit": ["a", "b", "c"] * 40})
    >>> d["y"] = np.repeat(rng.normal(size=40), 3) + rng.normal(size=120)
    >>> fits = {s: bm.MixedModel("y ~ visit", d, residual=getattr(bm.residual, s)(
    ...     time="visit", group="id")).fit_reml() for s in ("CS", "AR1")}
    >>> ax = correlation_by_lag(fits)
    >>> [t.get_text() for t in ax.get_legend().get_texts()][:2]
    ['CS', 'AR1']
    """
    named = _named_fits(fits)
    ax = get_ax(ax, (6.5, 4.3))
    colors = level_colors(len(named))
    kmax = 1
    for k, ((name, fit), col) in enumerate(zip(named.items(), colors, strict=True)):
        M = implied_correlation(fit, _complete_subject(fit.rd, subject)).to_numpy()
        lags, mean, pairs = _by_lag(M)
        kmax = max(kmax, int(lags.max()))
        ax.plot(lags, mean, color=col, lw=2, marker="o", label=name)
        # the pairs of each structure shifted a little sideways, so they do not hide each other
        shift = 0.04 * (k - (len(named) - 1) / 2)
        ax.scatter(pairs[:, 0] + shift, pairs[:, 1], color=col, s=10, alpha=0.5)
    if empirical:
        first = next(iter(named.values()))
        emp, n = empirical_correlation(first)
        lags, mean, pairs = _by_lag(emp.to_numpy())
        ax.plot(
            lags,
            mean,
            color=POP_COLOR,
            lw=1.8,
            ls="--",
            marker="s",
            label=f"empirical ({n} complete subjects)",
        )
        ax.scatter(pairs[:, 0], pairs[:, 1], color=POP_COLOR, marker="x", s=14, alpha=0.6)
    ax.set(xticks=range(1, kmax + 1), xlabel="lag (visits apart)", ylabel="correlation")
    if ax.get_ylim()[0] < 0.1:  # show zero only when the correlations come near it
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    ax.set_title(
        "Implied correlation by lag (lines: mean over pairs; dots: each pair)", fontsize=10
    )
    ax.legend(loc="best", fontsize=8)
    return ax
