"""What a result shows, described once, and the one renderer that turns it into text or HTML.

A result (a summary, a posterior, a report section) describes itself as a sequence of blocks:

* :class:`Heading` — a title line;
* :class:`Text` — a line or paragraph of prose;
* :class:`Table` — already formatted cells with column (and optionally row) labels;
* :class:`Pre` — preformatted text, for layouts a table cannot express;
* :class:`Note` — a message the reader should notice (warnings, convergence);
* :class:`Gap` — vertical space (a blank line in text, nothing in HTML);
* :class:`Html` — a block that only exists as HTML (an inline figure), with a text stand-in.

:func:`render_text` and :func:`render_html` are the only two functions that lay blocks out,
so the plain-text and the HTML version of a result cannot say different things; a result's
``str()``, ``repr()`` and HTML come from its ``blocks()`` through :class:`Described`. The text
layout of a table is R's: ``print`` of a character matrix (row names left-justified, one
space between columns) or of a named vector (one common width, a space after each value);
a table of R-formatted cells therefore reproduces ``printCoefmat`` and ``print.matrix``
byte for byte. In HTML every table sits in a ``<div style="overflow-x:auto">`` so that a wide
table scrolls instead of overflowing a narrow screen, and every string is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "Heading",
    "Text",
    "Table",
    "Pre",
    "Note",
    "Gap",
    "Html",
    "Block",
    "Described",
    "CSS",
    "render_text",
    "render_html",
    "table_from_frame",
    "print_matrix",
    "print_named",
]

Align = Literal["left", "right"]


@dataclass(frozen=True)
class Heading:
    """A title line; ``level`` 1 is the result's own title, 2 a part of it."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Text:
    """A line (or paragraph) of prose, shown as written."""

    text: str


@dataclass(frozen=True)
class Pre:
    """Preformatted text (kept verbatim in both renderings)."""

    text: str


@dataclass(frozen=True)
class Note:
    """A message to notice: a warning, a convergence or boundary message."""

    text: str


@dataclass(frozen=True)
class Gap:
    """A blank line in the text rendering (HTML blocks are spaced by their own margins)."""


@dataclass(frozen=True)
class Html:
    """A block that exists only as HTML (e.g. an inline figure); ``text`` stands in for it."""

    html: str
    text: str = ""


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells.

    Parameters
    ----------
    cells : sequence of sequence of str
        One sequence of cell strings per row.
    columns : sequence of str
        Column labels.
    rows : sequence of str, optional
        Row labels (a first, left-justified column); ``None`` for none.
    align : "left", "right" or a sequence of them
        Justification of the cells and column labels, for all columns or per column.
    layout : {"matrix", "vector"}
        Text layout: ``"matrix"`` as R prints a matrix (each column as wide as its widest
        entry, a space before each column); ``"vector"`` as R prints a named vector (one
        row, every column as wide as the widest entry, a space after each column).
    caption : str
        A line above the table.
    legend : str
        A legend below the table (R's significance codes, after a ``---`` rule in text).
    """

    cells: Sequence[Sequence[str]]
    columns: Sequence[str]
    rows: Sequence[str] | None = None
    align: Align | Sequence[Align] = "right"
    layout: Literal["matrix", "vector"] = "matrix"
    caption: str = ""
    legend: str = ""

    def alignments(self) -> list[Align]:
        """The justification of every column."""
        if isinstance(self.align, str):
            return [self.align] * len(self.columns)
        return list(self.align)


Block = Heading | Text | Table | Pre | Note | Gap | Html

# Shared by every HTML rendering (summaries in Jupyter and the report page).
CSS = (
    ".bm-table{border-collapse:collapse;margin:0.3em 0 0.8em 0;font-size:0.9em}"
    ".bm-table td,.bm-table th{padding:0.15em 0.7em;text-align:right;"
    "font-family:ui-monospace,monospace;white-space:nowrap}"
    ".bm-table thead th{border-bottom:1px solid #999}"
    ".bm-table .l{text-align:left}.bm-caption{font-weight:600;margin:0.6em 0 0.1em 0}"
    ".bm-note{color:#8a4b00}.bm-legend{font-size:0.85em;color:#555}"
    ".bm-pre{background:#f8f8f8;padding:0.8em;overflow-x:auto;font-size:0.85em;"
    "border:1px solid #eee}"
)


# --------------------------------------------------------------------------- text
def print_matrix(
    cells: Sequence[Sequence[str]],
    rownames: Sequence[str],
    colnames: Sequence[str],
    right: bool | Sequence[bool] = True,
) -> list[str]:
    """Lines of R's ``print`` of a character matrix (``quote = FALSE``).

    Row names are left-justified; cells and headers are right-justified (``right=True``) or
    left-justified, for all columns or per column; one space separates columns.

    Examples
    --------
    >>> print_matrix([["1.5", "a"], ["10.25", "bc"]], ["x", "yy"], ["v", "w"])
    ['       v  w', 'x    1.5  a', 'yy 10.25 bc']
    """
    rw = max((len(r) for r in rownames), default=0)
    ncol = len(colnames)
    rights = [right] * ncol if isinstance(right, bool) else list(right)
    widths = [max([len(colnames[j])] + [len(row[j]) for row in cells]) for j in range(ncol)]

    def line(label: str, row: Sequence[str]) -> str:
        return label.ljust(rw) + "".join(
            " " + (row[j].rjust(widths[j]) if rights[j] else row[j].ljust(widths[j]))
            for j in range(ncol)
        )

    return [line("", colnames)] + [line(r, row) for r, row in zip(rownames, cells, strict=True)]


def print_named(values: Sequence[str], names: Sequence[str]) -> list[str]:
    """Lines of R's ``print`` of a named vector whose values are already formatted.

    Examples
    --------
    >>> print_named(["-1.2", "3.45"], ["Min", "Max"])
    [' Min  Max ', '-1.2 3.45 ']
    """
    w = max(max(len(v) for v in values), max(len(n) for n in names))
    return [
        "".join(n.rjust(w) + " " for n in names),
        "".join(v.rjust(w) + " " for v in values),
    ]


def _table_lines(t: Table) -> list[str]:
    lines = [t.caption] if t.caption else []
    if t.layout == "vector":
        lines += print_named(list(t.cells[0]), list(t.columns))
    else:
        rows = list(t.rows) if t.rows is not None else [""] * len(t.cells)
        right = [a == "right" for a in t.alignments()]
        lines += print_matrix(t.cells, rows, list(t.columns), right=right)
    if t.legend:
        lines += ["---", t.legend]
    return lines


def render_text(blocks: Sequence[Block]) -> str:
    """The plain-text rendering: every block's lines, one after the other.

    Examples
    --------
    >>> render_text([Heading("Fixed effects:"),
    ...              Table([["1.50", "***"]], ["Estimate", ""], rows=["x"])]).splitlines()
    ['Fixed effects:', '  Estimate    ', 'x     1.50 ***']
    """
    lines: list[str] = []
    for b in blocks:
        if isinstance(b, Table):
            lines += _table_lines(b)
        elif isinstance(b, Gap):
            lines.append("")
        elif isinstance(b, Html):
            if b.text:
                lines.append(b.text)
        else:
            lines.append(b.text)
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML
def _esc(s: str) -> str:
    return html.escape(str(s).strip())


def _is_number(s: str) -> bool:
    s = s.strip()
    if s in ("", "NA", "NaN", "Inf", "-Inf"):
        return True
    try:
        float(s.lstrip("<").strip())
    except ValueError:
        return False
    return True


def _numeric_column(cells: list[str]) -> bool:
    return any(c.strip() for c in cells) and all(_is_number(c) for c in cells)


def _table_html(t: Table) -> str:
    # R pads a column of numbers to one width and may then left-justify it (lme4's variance
    # table); a browser's proportional font undoes the padding, so numbers go right
    align = [
        "right" if _numeric_column([row[j] for row in t.cells]) else a
        for j, a in enumerate(t.alignments())
    ]

    def cell(tag: str, s: str, a: Align) -> str:
        cls = ' class="l"' if a == "left" else ""
        return f"<{tag}{cls}>{_esc(s)}</{tag}>"

    corner = '<th class="l"></th>' if t.rows is not None else ""
    head = corner + "".join(cell("th", c, a) for c, a in zip(t.columns, align, strict=True))
    body = []
    for i, row in enumerate(t.cells):
        label = f'<th class="l">{_esc(t.rows[i])}</th>' if t.rows is not None else ""
        body.append(
            "<tr>"
            + label
            + "".join(cell("td", c, a) for c, a in zip(row, align, strict=True))
            + "</tr>"
        )
    cap = f'<p class="bm-caption">{_esc(t.caption)}</p>' if t.caption else ""
    legend = f'<p class="bm-legend">{_esc(t.legend)}</p>' if t.legend else ""
    return (
        f'{cap}<div style="overflow-x:auto"><table class="bm-table"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>{legend}"
    )


def _block_html(b: Block, heading_offset: int) -> str:
    if isinstance(b, Table):
        return _table_html(b)
    if isinstance(b, Heading):
        # R ends its part labels with ":" to introduce what follows; a heading does that here
        text = b.text.strip()
        text = text[:-1] if text.endswith(":") and b.level > 1 else text
        n = min(6, b.level + heading_offset)
        return f"<h{n}>{html.escape(text)}</h{n}>"
    if isinstance(b, Text):
        return f"<p>{_esc(b.text)}</p>" if b.text.strip() else ""
    if isinstance(b, Pre):
        return f'<pre class="bm-pre">{html.escape(b.text)}</pre>'
    if isinstance(b, Note):
        return f'<p class="bm-note">{_esc(b.text)}</p>'
    if isinstance(b, Html):
        return b.html
    return ""  # Gap


def render_html(
    blocks: Sequence[Block],
    wrapper: str | None = "bayesmixed-summary",
    heading_offset: int = 2,
    style: bool = True,
) -> str:
    """The HTML rendering (escaped), for Jupyter's ``_repr_html_`` or a report page.

    Parameters
    ----------
    blocks : sequence of Block
    wrapper : str or None
        CSS class of a ``<div>`` around the blocks; ``None`` for no wrapper.
    heading_offset : int
        Added to a heading's level to give its ``<h>`` tag (level 1 → ``<h3>`` by default).
    style : bool
        Prepend a ``<style>`` element with :data:`CSS` (a page that has it already passes
        ``False``).

    Examples
    --------
    >>> render_html([Text("p < 0.05"), Table([["1"]], ["n"])], wrapper=None, style=False)
    '<p>p &lt; 0.05</p><div style="overflow-x:auto"><table class="bm-table"><thead><tr><th>n</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table></div>'
    """
    body = "".join(_block_html(b, heading_offset) for b in blocks)
    if wrapper is not None:
        body = f'<div class="{wrapper}">{body}</div>'
    return (f"<style>{CSS}</style>" if style else "") + body


# --------------------------------------------------------------------------- results
class Described:
    """Mixin: ``str()``, ``repr()`` and Jupyter's HTML, all rendered from ``self.blocks()``.

    Examples
    --------
    >>> class Hello(Described):
    ...     def blocks(self): return [Heading("Hello", level=1), Text("p < 0.05")]
    >>> h = Hello()
    >>> str(h).splitlines(), h._repr_html_().endswith("<h3>Hello</h3><p>p &lt; 0.05</p></div>")
    (['Hello', 'p < 0.05'], True)
    """

    def blocks(self) -> list[Block]:
        """The result as display blocks (each subclass describes itself here)."""
        raise NotImplementedError

    def __str__(self) -> str:
        return render_text(self.blocks())

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return render_html(self.blocks())


# --------------------------------------------------------------------------- data frames
def _default_number(x: float) -> str:
    return f"{x:.4g}"


def table_from_frame(
    frame: pd.DataFrame,
    number: Callable[[float], str] = _default_number,
    index: bool = False,
    caption: str = "",
) -> Table:
    """A :class:`Table` of a data frame: numbers through ``number``, missing values blank.

    Numeric columns are right-justified, the others left-justified.

    Examples
    --------
    >>> import pandas as pd
    >>> t = table_from_frame(pd.DataFrame({"term": ["a", "b"], "estimate": [1.23456, None]}))
    >>> render_text([t]).splitlines()
    [' term estimate', ' a       1.235', ' b            ']
    """
    cells: list[list[str]] = []
    align: list[Align] = []
    cols = []
    for name in frame.columns:
        col = frame[name]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        align.append("right" if numeric else "left")
        cols.append([_cell(v, number, numeric) for v in col])
    cells = [list(r) for r in zip(*cols, strict=True)] if cols else [[] for _ in range(len(frame))]
    rows = [str(i) for i in frame.index] if index else None
    return Table(cells, [str(c) for c in frame.columns], rows, align, caption=caption)


def _cell(v: object, number: Callable[[float], str], numeric: bool) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return ""
    if numeric and isinstance(v, (float, np.floating)):
        return number(float(v)) if np.isfinite(v) else ("Inf" if v > 0 else "-Inf")
    return str(v)
