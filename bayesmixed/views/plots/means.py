"""Marginal means across time and contrast forest plots (primer §6.2.1).

* :func:`emmeans` — the tables of ``fit.emmeans`` / ``post.emmeans``: one line per ``by``
  level, points with interval bars, the x factor in its own order;
* :func:`contrasts` — the tables of ``fit.contrast`` / ``post.contrast``: a forest plot of
  the contrasts with a zero line, grouped by the ``by`` levels.

Both take one table or two (``[reml_table, post_table]``): a REML (or ML/OLS) table and a
posterior table are drawn side by side, told apart by marker and line style.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from ...errors import ArgumentError
from ._common import BAYES_COLOR, POP_COLOR, REML_COLOR, get_ax, level_colors

__all__ = ["emmeans", "contrasts"]

# the columns after the factor columns of each kind of table: what tells them apart
_POSTERIOR = {"estimate", "std_error", "conf_low", "conf_high", "pd"}
_EMMEANS_COLUMNS = {
    "REML": {"estimate", "std_error", "df", "conf_low", "conf_high"},
    "posterior": _POSTERIOR,
}
_CONTRAST_COLUMNS = {
    "REML": {"estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high"},
    "posterior": _POSTERIOR,
}
# marker, line style and colour (when there is no ``by``) of each kind of table
_STYLE = {"REML": ("o", "-", REML_COLOR), "posterior": ("s", "--", BAYES_COLOR)}


class _Table:
    """One table to draw: its rows, key columns (those before ``estimate``) and its kind."""

    def __init__(self, frame: pd.DataFrame, keys: list[str], kind: str):
        self.frame = frame.reset_index(drop=True)
        self.keys = keys
        self.kind = kind
        self.attrs = dict(frame.attrs)  # fit.contrast records its adjustment there

    def lookup(self, cols: list[str]) -> dict[tuple, int]:
        """Row index of every combination of the ``cols`` levels."""
        values = zip(*(self.frame[c].astype(str) for c in cols), strict=True)
        return {v: i for i, v in enumerate(values)}


def _read_tables(table, what: str, source: str) -> list[_Table]:
    """The one or two tables of ``table``, checked to be ``source`` tables with equal keys."""
    if isinstance(table, pd.DataFrame):
        frames = [table]
    elif isinstance(table, Sequence) and not isinstance(table, str) and 1 <= len(table) <= 2:
        frames = list(table)
    else:
        raise ArgumentError(
            f"{what}: table must be the DataFrame of {source} or a list of two of them "
            f"([reml_table, post_table]), got {type(table).__name__}"
        )
    out = []
    for frame in frames:
        if not isinstance(frame, pd.DataFrame):
            raise ArgumentError(
                f"{what}: every table must be a DataFrame from {source}, got {type(frame).__name__}"
            )
        cols = list(frame.columns)
        is_contrast = "contrast" in cols
        if is_contrast != (what == "contrasts()"):
            raise ArgumentError(
                f"{what} draws the table of {source}; this table "
                + (
                    "is a contrast table: use plots.contrasts()"
                    if is_contrast
                    else "has no contrast column: use plots.emmeans()"
                )
            )
        keys = cols[: cols.index("estimate")] if "estimate" in cols else []
        values = set(cols[len(keys) :])
        layouts = _CONTRAST_COLUMNS if is_contrast else _EMMEANS_COLUMNS
        kind = next((k for k, layout in layouts.items() if values == layout), None)
        if not keys or kind is None:
            raise ArgumentError(
                f"{what} draws the table of {source}: factor columns, then "
                f"{' or '.join(map(str, [sorted(v) for v in layouts.values()]))}; "
                f"this table has the columns {cols}"
            )
        if len(frame) == 0:
            raise ArgumentError(f"{what}: the table is empty")
        out.append(_Table(frame, keys, kind))
    if len(out) == 2:
        a, b = out
        rows_a, rows_b = set(a.lookup(a.keys)), set(b.lookup(b.keys))
        if a.keys != b.keys or rows_a != rows_b:
            raise ArgumentError(
                f"{what}: the two tables must hold the same rows (same specs, by and method); "
                f"got columns {a.keys} with {len(rows_a)} rows and {b.keys} with {len(rows_b)}"
            )
    return out


def _labels(tables: list[_Table], labels) -> list[str]:
    if labels is None:
        names = [t.kind for t in tables]
        if len(set(names)) < len(names):
            names = [f"{n} ({i + 1})" for i, n in enumerate(names)]
        return names
    labels = [labels] if isinstance(labels, str) else list(labels)
    if len(labels) != len(tables):
        raise ArgumentError(f"labels must name the {len(tables)} table(s), got {labels!r}")
    return [str(v) for v in labels]


def _styles(tables: list[_Table]) -> list[tuple[str, str, str]]:
    kinds = [t.kind for t in tables]
    if len(set(kinds)) == len(kinds):
        return [_STYLE[k] for k in kinds]
    return [_STYLE["REML"], _STYLE["posterior"]][: len(tables)]


def _unique(values) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values))


def _xy_bars(frame: pd.DataFrame, rows: list[int]):
    est = frame["estimate"].to_numpy(float)[rows]
    lo = frame["conf_low"].to_numpy(float)[rows]
    hi = frame["conf_high"].to_numpy(float)[rows]
    return est, np.vstack([est - lo, hi - est])


def _pick_columns(keys: list[str], x, by) -> tuple[str, list[str]]:
    if x is None:
        x = keys[0]
    if x not in keys:
        raise ArgumentError(f"emmeans(): x={x!r} is not a factor of the table: use one of {keys}")
    rest = [k for k in keys if k != x]
    if by is None:
        return x, rest
    by = [by] if isinstance(by, str) else list(by)
    bad = [b for b in by if b not in rest]
    if bad:
        raise ArgumentError(
            f"emmeans(): by={bad[0]!r} is not a factor of the table other than x={x!r}: use "
            f"{' or '.join(map(repr, rest)) if rest else 'by=None (the table has one factor)'}"
        )
    left = [k for k in rest if k not in by]
    if left:
        raise ArgumentError(
            f"emmeans(): x={x!r} and by={by} leave several rows per point: add "
            f"{', '.join(map(repr, left))} to by"
        )
    return x, by


def emmeans(table, x: str | None = None, by=None, *, labels=None, ax: Axes | None = None) -> Axes:
    """Estimated marginal means with their intervals across the levels of a factor.

    One line per ``by`` level, a point with an interval bar per mean, the ``x`` levels in
    the order of the table (the factor's order). Given a REML and a posterior table, both
    are drawn with a small horizontal dodge: circles and solid lines for REML (t intervals),
    squares and dashed lines for the posterior (equal-tailed intervals).

    Parameters
    ----------
    table : DataFrame or list of two DataFrames
        ``fit.emmeans(...)``, ``post.emmeans(...)``, or ``[fit.emmeans(...),
        post.emmeans(...)]`` with the same ``specs`` and ``by``.
    x : str, optional
        The factor along the x axis (default: the table's first factor column).
    by : str or list of str, optional
        Factor(s) drawn as separate lines (default: the table's other factor columns).
    labels : list of str, optional
        Legend names of the tables (default ``"REML"`` / ``"posterior"``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import bayesmixed as bm
    >>> data = bm.datasets.load("Orthodont")
    >>> fit = bm.MixedModel("distance ~ factor(age) * Sex + (1 | Subject)", data).fit_reml()
    >>> ax = emmeans(fit.emmeans("age", by="Sex"))
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['8', '10', '12', '14']
    """
    tables = _read_tables(table, "emmeans()", "fit.emmeans() or post.emmeans()")
    x, by = _pick_columns(tables[0].keys, x, by)
    names, styles = _labels(tables, labels), _styles(tables)
    first = tables[0].frame
    xlevels = _unique(first[x])
    groups = list(dict.fromkeys(zip(*(first[b].astype(str) for b in by), strict=True)))
    if not by:
        groups = [()]
    colors = level_colors(len(groups)) if by else None
    nseries = len(groups) * len(tables)
    step = min(0.1, 0.36 / max(nseries - 1, 1))
    ax = get_ax(ax, (7.0, 4.5))
    k = 0
    for g, group in enumerate(groups):
        for tab, (marker, line, own_color) in zip(tables, styles, strict=True):
            color = colors[g] if colors else own_color
            index = tab.lookup([x, *by])
            pos = [i for i, lv in enumerate(xlevels) if (lv, *group) in index]
            rows = [index[(xlevels[i], *group)] for i in pos]
            est, bars = _xy_bars(tab.frame, rows)
            xs = np.asarray(pos, float) + (k - (nseries - 1) / 2) * step
            ax.errorbar(xs, est, yerr=bars, color=color, marker=marker, ls=line, lw=1.5, ms=6,
                        capsize=3, elinewidth=1.2)  # fmt: skip
            k += 1
    ax.set_xticks(np.arange(len(xlevels), dtype=float))
    ax.set_xticklabels(xlevels)
    ax.set_xlim(-0.5, len(xlevels) - 0.5)
    ax.set_xlabel(x)
    ax.set_ylabel("estimated marginal mean")
    if len(tables) == 1:
        ax.set_title(f"Estimated marginal means with intervals ({names[0]})", fontsize=11)
    else:
        ax.set_title("Estimated marginal means with intervals", fontsize=11)
    by_legend = None
    if by:
        marker, line = styles[0][:2] if len(tables) == 1 else ("o", "-")
        handles = [
            Line2D([], [], color=c, marker=marker, ls=line, lw=1.5, label=", ".join(grp))
            for c, grp in zip(colors, groups, strict=True)
        ]
        by_legend = ax.legend(handles=handles, title=", ".join(by), loc="upper left", fontsize=9)
    if len(tables) > 1:
        # with by lines the colours name the levels, so the tables are told apart in black
        handles = [
            Line2D([], [], color=POP_COLOR if by else s[2], marker=s[0], ls=s[1], label=n)
            for s, n in zip(styles, names, strict=True)
        ]
        ax.legend(handles=handles, loc="lower right", fontsize=9)
        if by_legend is not None:
            ax.add_artist(by_legend)
    return ax


def _contrast_rows(tab: _Table) -> tuple[list[str], list[tuple[str, list[tuple]]]]:
    """The ``by`` columns and the (group label, contrast keys) blocks in the table's order."""
    by = [k for k in tab.keys if k != "contrast"]
    blocks: dict[tuple, list[tuple]] = {}
    for key in tab.lookup(tab.keys):
        row = dict(zip(tab.keys, key, strict=True))
        blocks.setdefault(tuple(row[b] for b in by), []).append(key)
    named = [(", ".join(f"{b} = {v}" for b, v in zip(by, g, strict=True)), rows)
             for g, rows in blocks.items()]  # fmt: skip
    return by, named


def contrasts(table, *, labels=None, ax: Axes | None = None) -> Axes:
    """Forest plot of contrasts of marginal means: estimate and interval per contrast.

    A dashed line marks zero (no difference). With ``by`` columns the contrasts are grouped
    under a bold heading per ``by`` level. Given a REML and a posterior table, each contrast
    has two rows: REML (circles; the adjusted intervals of ``fit.contrast``) and posterior
    (squares; unadjusted equal-tailed intervals).

    Parameters
    ----------
    table : DataFrame or list of two DataFrames
        ``fit.contrast(...)``, ``post.contrast(...)``, or ``[fit.contrast(...),
        post.contrast(...)]`` with the same ``specs``, ``method`` and ``by``.
    labels : list of str, optional
        Legend names of the tables (default ``"REML"`` / ``"posterior"``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import bayesmixed as bm
    >>> data = bm.datasets.load("Orthodont")
    >>> fit = bm.MixedModel("distance ~ factor(age) + (1 | Subject)", data).fit_reml()
    >>> ax = contrasts(fit.contrast("age", method="consec"))
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['10 - 8', '12 - 10', '14 - 12']
    """
    tables = _read_tables(table, "contrasts()", "fit.contrast() or post.contrast()")
    names, styles = _labels(tables, labels), _styles(tables)
    by, blocks = _contrast_rows(tables[0])
    at = tables[0].keys.index("contrast")
    # y positions from the top: a heading row per by group, then its contrasts
    ticks, ticklabels, bold, ypos = [], [], [], {}
    y = 0.0
    for heading, keys in blocks:
        if by:
            ticks.append(y)
            ticklabels.append(heading)
            bold.append(True)
            y += 1.0
        for key in keys:
            ypos[key] = y
            ticks.append(y)
            ticklabels.append(str(key[at]))
            bold.append(False)
            y += 1.0
        y += 0.4 if by else 0.0
    nrow = len(ticks)
    ax = get_ax(ax, (7.0, max(2.4, 0.42 * nrow + 1.3)))
    half = 0.16 if len(tables) > 1 else 0.0
    for t, (tab, (marker, _, color), name) in enumerate(zip(tables, styles, names, strict=True)):
        index = tab.lookup(tab.keys)
        keys = list(ypos)
        rows = [index[k] for k in keys]
        est, bars = _xy_bars(tab.frame, rows)
        ys = np.array([ypos[k] for k in keys]) + (t - (len(tables) - 1) / 2) * 2 * half
        ax.errorbar(est, ys, xerr=bars, color=color, marker=marker, ls="none", ms=6, capsize=3,
                    elinewidth=1.5, label=name)  # fmt: skip
    ax.axvline(0.0, color="0.4", ls="--", lw=0.9)
    ax.set_yticks(ticks)
    ax.set_yticklabels(ticklabels, fontsize=9)
    for lab, b in zip(ax.get_yticklabels(), bold, strict=True):
        if b:
            lab.set_fontweight("bold")
    ax.set_ylim(y - (0.4 if by else 0.0) - 0.4, -0.6)
    adjust = next((t.attrs.get("adjust") for t in tables if t.kind == "REML"), None)
    xlabel = "contrast estimate"
    if adjust and adjust != "none":
        xlabel += f" (REML intervals adjusted: {adjust})"
    ax.set_xlabel(xlabel)
    ax.set_title("Contrasts of marginal means with intervals", fontsize=11)
    if len(tables) > 1:
        ax.legend(loc="best", fontsize=9)
    return ax
