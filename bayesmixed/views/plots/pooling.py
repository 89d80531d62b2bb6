"""Partial pooling in pictures: arrows from no to partial pooling, λ_j against n_j, and the
caterpillar plot of the random effects."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from scipy import stats

from ...errors import ArgumentError
from ...results.draws import as_components, check_ci
from ...results.pooling import shrinkage
from ._common import BAYES_COLOR, POP_COLOR, REML_COLOR, get_ax, get_axes, is_bayes, pick_term


def _rows(tab, group: str, term: str, what: str):
    sub = tab[(tab["group"] == group) & (tab["term"] == term)]
    if sub.empty:
        have = sorted(set(tab.loc[tab["group"] == group, "term"]))
        raise ArgumentError(
            f"{what}: term={term!r} is not a random effect of {group!r}; choose one of "
            f"{', '.join(have)}"
        )
    return sub.reset_index(drop=True)


def _draw_shrinkage(ax, no_pooling, partial_pooling, size) -> None:
    """Open no-pooling points, filled partial-pooling points, an arrow from one to the other.

    ``no_pooling`` and ``partial_pooling`` are (x, y) pairs of arrays, one entry per cluster;
    a cluster without a no-pooling estimate (NaN) gets no arrow.
    """
    (x0, y0), (x1, y1) = no_pooling, partial_pooling
    arrow = dict(arrowstyle="->", color="0.45", lw=0.9, shrinkA=3, shrinkB=3)
    for i in range(len(x0)):
        if np.isfinite(x0[i]) and np.isfinite(y0[i]):
            ax.annotate("", xy=(x1[i], y1[i]), xytext=(x0[i], y0[i]), arrowprops=arrow)
    ax.scatter(
        x0,
        y0,
        s=size,
        facecolors="white",
        edgecolors=REML_COLOR,
        lw=1.4,
        zorder=3,
        label="no pooling (cluster alone)",
    )
    ax.scatter(x1, y1, s=size, color=BAYES_COLOR, zorder=4, label="partial pooling (mixed model)")


def pooling(
    fit: object,
    term: str | tuple[str, str] = "(Intercept)",
    group: str | None = None,
    *,
    ax: Axes | None = None,
) -> Axes:
    """No pooling → partial pooling, with arrows, against complete pooling (§3.4).

    One term (a string): clusters along the x axis, ordered by their no-pooling estimate;
    open circles are the no-pooling estimates (each cluster alone), filled circles the
    partial-pooling estimates (the mixed model), marker area ∝ cluster size, and the dashed
    line the complete-pooling estimate. Arrows show how far each cluster is pulled.

    Two terms (a pair such as ``("(Intercept)", "Days")``): the same in the plane of the two
    coefficients, with the population point marked by a star.

    Parameters
    ----------
    fit : REMLFit, BayesFit or Components
    term : str or (str, str)
    group : str, optional
        Grouping factor, when the model has several.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> ax = pooling(fit, ("(Intercept)", "Days"))
    """
    group = pick_term(fit, group, "pooling()")
    tab = shrinkage(fit)
    ax = get_ax(ax, (7.5, 4.8))
    if isinstance(term, str):
        sub = _rows(tab, group, term, "pooling()")
        sub = sub.sort_values("no_pooling", na_position="last").reset_index(drop=True)
        xpos = np.arange(len(sub))
        size = 20 + 180 * sub["n"] / sub["n"].max()
        _draw_shrinkage(ax, (xpos, sub["no_pooling"]), (xpos, sub["partial_pooling"]), size)
        ax.axhline(
            sub["complete_pooling"].iloc[0],
            color=POP_COLOR,
            ls="--",
            lw=1.5,
            label="complete pooling (population)",
        )
        ax.set_xticks(xpos)
        if len(sub) <= 40:
            ax.set_xticklabels(sub["level"], rotation=90 if len(sub) > 12 else 0, fontsize=8)
        else:
            ax.set_xticklabels([])
        ax.set_xlabel(f"{group} (ordered by no-pooling estimate; marker area ∝ n)")
        ax.set_ylabel(term)
        ax.set_title(f"Shrinkage of {term} by {group}", fontsize=11)
    else:
        if len(term) != 2:
            raise ArgumentError("term must be one name or a pair of names")
        a = _rows(tab, group, term[0], "pooling()")
        b = _rows(tab, group, term[1], "pooling()")
        _draw_shrinkage(
            ax, (a["no_pooling"], b["no_pooling"]), (a["partial_pooling"], b["partial_pooling"]), 36
        )
        ax.scatter(
            [a["complete_pooling"][0]],
            [b["complete_pooling"][0]],
            marker="*",
            s=260,
            color=POP_COLOR,
            zorder=5,
            label="complete pooling (population)",
        )
        ax.set_xlabel(term[0])
        ax.set_ylabel(term[1])
        ax.set_title(f"Shrinkage of ({term[0]}, {term[1]}) by {group}", fontsize=11)
    ax.legend(loc="best", fontsize=9)
    return ax


def pooling_weights(
    fit: object, term: str = "(Intercept)", group: str | None = None, *, ax: Axes | None = None
) -> Axes:
    """λ_j against cluster size n_j, with the random-intercept curve λ(n) = nτ00/(nτ00 + σ²).

    Small clusters get small weights (their estimate is pulled towards the population); the
    curve rises towards 1 at a rate set by σ²/τ00. For Bayesian fits the points are
    posterior means with their intervals and the curve is the posterior mean curve.

    Parameters
    ----------
    fit : REMLFit, BayesFit or Components
    term : str
        Random-effect column (the curve is drawn for a term with only an intercept).
    group : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days + (1 | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> ax = pooling_weights(fit)
    """
    group = pick_term(fit, group, "pooling_weights()")
    tab = shrinkage(fit)
    sub = _rows(tab, group, term, "pooling_weights()")
    ax = get_ax(ax, (6.5, 4.5))
    bayes = is_bayes(fit)
    if bayes:
        yerr = np.vstack([sub["weight"] - sub["weight_low"], sub["weight_high"] - sub["weight"]])
        ax.errorbar(
            sub["n"],
            sub["weight"],
            yerr=yerr,
            fmt="o",
            color=BAYES_COLOR,
            ms=5,
            elinewidth=1,
            alpha=0.8,
            label=r"$\lambda_j$ (posterior mean, interval)",
        )
    else:
        ax.scatter(sub["n"], sub["weight"], color=REML_COLOR, s=30, zorder=3, label=r"$\lambda_j$")
    comp = as_components(fit).as_draws()
    ti = next(i for i, t in enumerate(comp.design.terms) if t.group == group and term in t.cnames)
    t = comp.design.terms[ti]
    if t.k == 1 and term == "(Intercept)":
        grid = np.linspace(max(0.5, sub["n"].min() * 0.5), sub["n"].max() * 1.3, 200)
        tau = np.asarray(comp.cov[ti], float)[:, 0, 0]
        s2 = np.asarray(comp.sigma, float).reshape(-1) ** 2
        curve = (grid[None, :] * tau[:, None]) / (grid[None, :] * tau[:, None] + s2[:, None])
        ax.plot(
            grid,
            curve.mean(axis=0),
            color=POP_COLOR,
            lw=1.5,
            label=r"$\lambda(n) = n\tau_{00} / (n\tau_{00} + \sigma^2)$",
        )
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"cluster size $n_j$ ({group})")
    ax.set_ylabel(r"pooling weight $\lambda_j$ (1 = no pooling)")
    ax.set_title(f"Weight of each {group}'s own data for {term}", fontsize=11)
    ax.legend(loc="lower right", fontsize=9)
    return ax


def caterpillar(
    fit: object,
    group: str | None = None,
    term: str | None = None,
    *,
    ci: float = 0.95,
    sort: bool = True,
    ax: Axes | Sequence[Axes] | None = None,
) -> Axes | list[Axes]:
    """Random effects (BLUPs or posterior draws) with intervals, sorted: a caterpillar plot.

    REML fits: conditional modes b̂ ± z·(conditional SD) from ``fit.ranef()``. Bayesian fits:
    posterior means of b with equal-tailed posterior intervals. One panel per random-effect
    column of ``group`` (or just ``term``).

    Parameters
    ----------
    fit : REMLFit, BayesFit or Components
    group : str, optional
        Grouping factor, when the model has several.
    term : str, optional
        Only this column (e.g. ``"(Intercept)"``).
    ci : float
        Interval probability.
    sort : bool
        Order clusters by their estimate.
    ax : Axes or array of Axes, optional
        One Axes per panel.

    Returns
    -------
    matplotlib Axes, or a list of Axes with several panels

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> axes = caterpillar(fit)
    """
    ci = check_ci(ci)
    group = pick_term(fit, group, "caterpillar()")
    comp = as_components(fit)
    panels = []
    for i, t in enumerate(comp.design.terms):
        if t.group != group:
            continue
        for k, cname in enumerate(t.cnames):
            if term is None or cname == term:
                panels.append((i, k, cname))
    if not panels:
        raise ArgumentError(f"caterpillar(): {group!r} has no random effect named {term!r}")
    axes = get_axes(ax, len(panels), (4.8, 5.2), "caterpillar()")
    bayes = comp.draws
    ranef = None
    if not bayes and callable(getattr(fit, "ranef", None)):
        ranef = fit.ranef()
    z = stats.norm.ppf(0.5 + ci / 2)
    for axi, (i, k, cname) in zip(axes, panels, strict=True):
        t = comp.design.terms[i]
        if bayes:
            draws = np.asarray(comp.b[i], float)[:, :, k]
            est = draws.mean(axis=0)
            lo, hi = np.quantile(draws, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
            color, what = BAYES_COLOR, f"posterior mean, {100 * ci:g}% interval"
        else:
            est = np.asarray(comp.b[i], float)[:, k]
            se = np.zeros_like(est)
            if ranef is not None:
                sel = ranef[(ranef["group"] == t.group) & (ranef["term"] == cname)]
                if len(sel) == t.m:
                    se = sel["std_error"].to_numpy(float)
            lo, hi = est - z * se, est + z * se
            color, what = REML_COLOR, f"BLUP ± {z:.2f} conditional SD"
        order = np.argsort(est) if sort else np.arange(t.m)
        ypos = np.arange(t.m)
        axi.hlines(ypos, lo[order], hi[order], color=color, lw=1.3, alpha=0.8)
        axi.plot(est[order], ypos, "o", color=color, ms=4)
        axi.axvline(0.0, color="0.3", lw=0.8, ls="--")
        axi.set_yticks(ypos)
        if t.m <= 40:
            axi.set_yticklabels([t.levels[j] for j in order], fontsize=8)
        else:
            axi.set_yticklabels([])
        axi.set_xlabel(f"{cname} deviation ({what})", fontsize=9)
        axi.set_title(f"{t.group}: {cname}", fontsize=11)
    axes[0].set_ylabel(group)
    return axes[0] if len(axes) == 1 else axes
