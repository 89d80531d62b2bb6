"""The report's page model (chapters made of sections made of display blocks) and its page.

A :class:`Section` is a title and an ordered list of :mod:`~bayesmixed.results.display`
blocks, added with :meth:`Section.para`, :meth:`Section.table`, :meth:`Section.pre` and
:meth:`Section.raw`; a :class:`Chapter` builds its sections from a shared context. Both the
text echoed to stdout and the HTML page come from the same blocks through the one renderer
(:func:`~bayesmixed.results.display.render_text`, :func:`~bayesmixed.results.display.render_html`).
:func:`render_page` writes the whole report as one self-contained HTML page (inline CSS,
figures as inline PNG); its tables scroll sideways on a narrow screen.
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
from ...results.display import (
    CSS,
    Block,
    Html,
    Pre,
    Text,
    render_html,
    render_text,
    table_from_frame,
)

if TYPE_CHECKING:  # pragma: no cover
    from .context import DemoContext

__all__ = ["Section", "Chapter", "render_page", "figure_html", "format_number"]


def format_number(x: float) -> str:
    """How the report prints a number: 6 significant digits, 4 in scientific notation.

    Examples
    --------
    >>> format_number(0.28647125), format_number(7.0724e-10), format_number(162702.65)
    ('0.286471', '7.072e-10', '162703')
    """
    if x is None or not np.isfinite(x):
        return ""
    ax = abs(x)
    if ax != 0 and (ax < 1e-4 or ax >= 1e7):
        return f"{x:.4g}"
    return f"{x:.6g}"


@dataclass
class Section:
    """One titled part of a chapter: an ordered list of display blocks.

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

    def para(self, text: str) -> Section:
        """A paragraph of prose (plain text; escaped in HTML)."""
        self.blocks.append(Text(text))
        return self

    def table(self, frame: pd.DataFrame, caption: str = "", index: bool = False) -> Section:
        """A data frame as a table: numbers by :func:`format_number`, missing values blank."""
        self.blocks.append(table_from_frame(frame, format_number, index=index, caption=caption))
        return self

    def pre(self, text: str) -> Section:
        """Preformatted text, e.g. a model summary in R's layout."""
        self.blocks.append(Pre(text))
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
        """The section as an HTML ``<section>``."""
        body = render_html(self.blocks, wrapper=None, style=False)
        return f"<section><h3>{html.escape(self.title)}</h3>{body}</section>"


@dataclass
class Chapter:
    """A chapter of the tour: ``build(ctx)`` fits its models and returns its sections."""

    key: str
    title: str
    build: Callable[[DemoContext], list[Section]]
    intro: str = ""


def figure_html(fig) -> str:
    """A matplotlib figure as an inline PNG ``<img>`` (the report stays one file)."""
    import base64
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<img alt='figure' style='max-width:100%' src='data:image/png;base64,{data}'>"


_PAGE_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:62em;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:0.2em} h2{margin-top:2em;border-bottom:2px solid #ddd;padding-bottom:0.2em}
h3{margin-top:1.5em;color:#333}
.bm-table td,.bm-table th{border-bottom:1px solid #eee}
.bm-table thead th{background:#f5f5f5;border-bottom:1px solid #bbb}
nav li{margin:0.15em 0} .meta{color:#666;font-size:0.9em}
"""


def render_page(rendered: Sequence[tuple[Chapter, list[Section]]], seconds: float) -> str:
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
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>bayesmixed — the primer</title>"
        f"<style>{CSS}{_PAGE_CSS}</style></head><body>"
        "<h1>bayesmixed — the primer, REML and Bayes side by side</h1>"
        f"<p class='meta'>bayesmixed {__version__}; generated {time.strftime('%Y-%m-%d %H:%M')} "
        f"in {seconds:.1f} s. Estimates match lme4 / lmerTest / broom.mixed.</p>"
        f"<nav><ol>{toc}</ol></nav>{''.join(body)}</body></html>"
    )
