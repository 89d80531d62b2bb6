"""The report's page model (chapters made of sections made of display blocks) and its page.

A :class:`Section` is a title and an ordered list of :mod:`~bayesmixed.results.display`
blocks, added with :meth:`Section.para`, :meth:`Section.table`, :meth:`Section.pre`,
:meth:`Section.math` and :meth:`Section.raw`; a :class:`Chapter` builds its sections from a
shared context. Both the text echoed to stdout and the HTML page come from the same blocks
through the one renderer (:func:`~bayesmixed.results.display.render_text`,
:func:`~bayesmixed.results.display.render_html`). :func:`render_page` writes the whole report
as one self-contained HTML page (inline CSS, figures as inline PNG, no script); every table
sits in a sideways-scrolling ``<div>`` and has a legend of its columns under it.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..._version import __version__
from ...results.display import CSS, Block, Html, Pre, Table, Text, render_html, render_text
from .legends import legend_for

if TYPE_CHECKING:  # pragma: no cover
    from .context import ReportContext

__all__ = ["Section", "Chapter", "render_page", "figure_html", "format_number", "format_cell"]

# columns shown as whole numbers, with three decimals, and as p-values
_INTEGER = {"ess_bulk", "ess_tail", "min_ess_bulk", "n", "nobs", "npar", "df_residual"}
_INTEGER |= {"divergences", "chains", "draws", "pareto_k_high", "n_j", "parameters"}
_RHAT = {"rhat", "max_rhat", "R-hat"}
_TENTHS = {"seconds"}


def format_number(x: float) -> str:
    """How the report prints an estimate: 4 significant digits, whole numbers from 10,000.

    Examples
    --------
    >>> format_number(0.28647125), format_number(7.0724e-10), format_number(162702.65)
    ('0.2865', '7.07e-10', '162703')
    >>> format_number(float("nan"))
    ''
    """
    if x is None or not np.isfinite(x):
        return ""
    ax = abs(x)
    if ax >= 1e4:
        return f"{x:.0f}"
    if ax != 0 and ax < 1e-3:
        return f"{x:.3g}"
    return f"{x:.4g}"


def format_cell(column: str, x: object) -> str:
    """A cell as a reader wants it, by its column: ESS and counts as integers, R-hat to three
    decimals, p-values to 4 decimals (small ones as ``<0.0001``), the rest by
    :func:`format_number`; a missing value is blank.

    Examples
    --------
    >>> format_cell("ess_bulk", 412.7), format_cell("rhat", 1.00449), format_cell("p_value", 3e-9)
    ('413', '1.004', '<0.0001')
    >>> format_cell("df", 8.49608), format_cell("estimate", None), format_cell("term", "age")
    ('8.5', '', 'age')
    """
    if x is None or x is pd.NA or (isinstance(x, float | np.floating) and np.isnan(x)):
        return ""
    if isinstance(x, bool | np.bool_) or not isinstance(x, int | float | np.integer | np.floating):
        return str(x)
    x = float(x)
    if not np.isfinite(x):
        return "Inf" if x > 0 else "-Inf"
    name = str(column)
    if name in _INTEGER:
        return f"{x:.0f}"
    if name in _RHAT:
        return f"{x:.3f}"
    if name in _TENTHS:
        return f"{x:.1f}"
    if name.startswith(("p_", "p (", "Pr(")) or name == "p":
        return "<0.0001" if x < 1e-4 else f"{x:.4f}"
    if name in ("df", "Chi Df") or name.startswith("df "):
        return f"{x:.0f}" if abs(x - round(x)) < 1e-6 else f"{x:.1f}"
    return format_number(x)


def _frame_table(frame: pd.DataFrame, caption: str, legend: str, index: bool) -> Table:
    """A data frame as a :class:`Table` of cells formatted by :func:`format_cell`."""
    cols = [str(c) for c in frame.columns]
    cells = [
        [format_cell(c, v) for c, v in zip(cols, row, strict=True)]
        for row in frame.itertuples(index=False, name=None)
    ]
    align = [
        "right"
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        else "left"
        for c in frame.columns
    ]
    rows = [str(i) for i in frame.index] if index else None
    return Table(cells, cols, rows, align, caption=caption, legend=legend)


@dataclass
class Section:
    """One titled part of a chapter: an ordered list of display blocks.

    ``folded`` sections are drawn closed (an HTML ``<details>``), for the supporting models
    a reader opens when curious.

    Examples
    --------
    >>> s = Section("Data").para("Six batches <of> five yields.")
    >>> s.text
    ['Six batches <of> five yields.']
    >>> s.to_html()
    '<section><h3>Data</h3><p>Six batches &lt;of&gt; five yields.</p></section>'
    """

    title: str
    blocks: list[Block] = field(default_factory=list)
    folded: bool = False

    def para(self, text: str) -> Section:
        """A paragraph of prose (plain text; escaped in HTML)."""
        self.blocks.append(Text(text))
        return self

    def table(
        self, frame: pd.DataFrame, caption: str = "", index: bool = False, legend: str = ""
    ) -> Section:
        """A data frame as a table, cells by :func:`format_cell`, with a legend under it:
        ``legend`` followed by what each known column means."""
        text = " ".join(t for t in (legend, legend_for(frame.columns)) if t)
        self.blocks.append(_frame_table(frame, caption, text, index))
        return self

    def pre(self, text: str) -> Section:
        """Preformatted text, e.g. a model summary in R's layout."""
        self.blocks.append(Pre(text))
        return self

    def math(self, lines_html: Sequence[str], lines_text: Sequence[str]) -> Section:
        """Equations: HTML lines (already escaped, with ``<sub>``) and their text form."""
        body = "".join(f"<div>{line}</div>" for line in lines_html)
        self.blocks.append(Html(f"<div class='eq'>{body}</div>", "\n".join(lines_text)))
        return self

    def raw(self, block: str, text: str = "") -> Section:
        """Any HTML block (a figure, a widget); ``text`` is what stdout shows for it."""
        self.blocks.append(Html(block, text))
        return self

    @property
    def text(self) -> list[str]:
        """The text rendering of every block that has one (what stdout shows)."""
        return [t for t in (render_text([b]) for b in self.blocks) if t]

    def to_html(self) -> str:
        """The section as an HTML ``<section>`` (inside ``<details>`` when folded)."""
        body = render_html(self.blocks, wrapper=None, style=False)
        title = html.escape(self.title)
        if self.folded:
            return f"<section><details><summary>{title}</summary>{body}</details></section>"
        return f"<section><h3>{title}</h3>{body}</section>"


@dataclass
class Chapter:
    """A chapter of the primer: ``build(ctx)`` returns its sections."""

    key: str
    title: str
    build: Callable[[ReportContext], list[Section]]
    intro: str = ""


def figure_html(fig, caption: str = "") -> str:
    """A matplotlib figure as an inline PNG ``<figure>`` (the report stays one file)."""
    import base64
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    alt = html.escape(caption or "figure", quote=True)
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f"<figure><img alt=\"{alt}\" src='data:image/png;base64,{data}'>{cap}</figure>"


_PAGE_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:64em;
margin:2em auto;padding:0 1em;color:#222;line-height:1.5}
h1{margin-bottom:0.2em;font-size:1.7em} h2{margin-top:2.2em;border-bottom:2px solid #ddd;
padding-bottom:0.2em} h3{margin-top:1.6em;color:#333}
.bm-table td,.bm-table th{border-bottom:1px solid #eee}
.bm-table thead th{background:#f5f5f5;border-bottom:1px solid #bbb}
.bm-legend{max-width:60em;font-size:0.8em}
nav li{margin:0.15em 0} .meta{color:#666;font-size:0.9em}
figure{margin:1em 0} figure img{max-width:100%;height:auto}
figcaption{font-size:0.88em;color:#555;margin-top:0.3em}
.eq{font-family:'STIX Two Math','Cambria Math','Latin Modern Math',serif;font-size:1.08em;
background:#fafaf7;border-left:3px solid #c9c2a6;padding:0.5em 0.9em;margin:0.6em 0;
overflow-x:auto} .eq div{margin:0.15em 0}
details{margin:0.8em 0} summary{cursor:pointer;font-weight:600;color:#333}
@media (max-width:600px){body{padding:0 0.5em;margin:1em auto} h1{font-size:1.35em}}
"""


def render_page(
    rendered: Sequence[tuple[Chapter, list[Section]]], seconds: float, meta: str = ""
) -> str:
    """The whole report as one self-contained HTML page (inline CSS, no external files).

    Examples
    --------
    >>> page = render_page([(Chapter("a", "1. A", lambda ctx: []), [Section("S").para("x")])], 0.1)
    >>> page.startswith("<!DOCTYPE html>"), "<h2 id='a'>1. A</h2>" in page
    (True, True)
    """
    toc = "".join(f"<li><a href='#{c.key}'>{html.escape(c.title)}</a></li>" for c, _ in rendered)
    body = []
    for chapter, sections in rendered:
        intro = f"<p>{html.escape(chapter.intro)}</p>" if chapter.intro else ""
        body.append(
            f"<h2 id='{chapter.key}'>{html.escape(chapter.title)}</h2>{intro}"
            + "".join(s.to_html() for s in sections)
        )
    extra = f" {html.escape(meta)}" if meta else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>bayesmixed — the primer</title>"
        f"<style>{CSS}{_PAGE_CSS}</style></head><body>"
        "<h1>bayesmixed — the primer, REML and Bayes side by side</h1>"
        f"<p class='meta'>bayesmixed {__version__}; generated {time.strftime('%Y-%m-%d %H:%M')} "
        f"in {seconds:.0f} s.{extra}</p>"
        f"<nav><ol>{toc}</ol></nav>{''.join(body)}</body></html>"
    )
