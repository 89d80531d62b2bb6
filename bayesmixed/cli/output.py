"""Named result tables written as rich tables, CSV or JSON.

The command's results are a few named tables (``reml``, ``posterior``, ``compare``...) kept in
order. ``table`` prints each as a rich table under its title, numbers as the report prints
them; ``csv`` writes them as one CSV whose first column, ``table``, says which table a row
belongs to; ``json`` writes one object, each table a list of records (missing values
``null``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from enum import StrEnum

import numpy as np
import pandas as pd
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

__all__ = ["Format", "frame_table", "to_csv", "to_json", "print_table", "show"]


class Format(StrEnum):
    """How ``fit`` writes its tables."""

    table = "table"
    csv = "csv"
    json = "json"


def _cell(value) -> str:
    # the report's number format; imported here so that --help need not load the report
    from ..views.report.page import format_number

    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        return format_number(float(value))
    return str(value)


def frame_table(frame: pd.DataFrame, title: str = "") -> Table:
    """A data frame as a rich :class:`~rich.table.Table` (numbers right-aligned).

    Columns with no value at all (a posterior's p_value) are left out.

    Examples
    --------
    >>> t = frame_table(pd.DataFrame({"term": ["a"], "estimate": [1.23456789]}), "fixed")
    >>> [c.header for c in t.columns], t.row_count
    (['term', 'estimate'], 1)
    """
    table = Table(
        title=title or None,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    frame = frame.loc[:, frame.notna().any(axis=0)]
    for name in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[name])
        # numbers never wrap or lose digits; labels fold onto a second line if they must
        table.add_column(
            str(name),
            justify="right" if numeric else "left",
            no_wrap=numeric,
            overflow="fold",
            min_width=len(str(name)) if numeric else None,
        )
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    return table


def to_csv(tables: Mapping[str, pd.DataFrame]) -> str:
    """All tables as one CSV with a leading ``table`` column.

    Examples
    --------
    >>> print(to_csv({"reml": pd.DataFrame({"term": ["a"], "estimate": [1.5]})}).strip())
    table,term,estimate
    reml,a,1.5
    """
    parts = [f.assign(table=name)[["table", *f.columns]] for name, f in tables.items()]
    buf = io.StringIO()
    pd.concat(parts, ignore_index=True).to_csv(buf, index=False)
    return buf.getvalue()


def _plain(value):
    """A cell as a JSON value: numpy scalars unwrapped, missing values None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    return value


def to_json(tables: Mapping[str, pd.DataFrame], **extra) -> str:
    """All tables as one JSON object of record lists (plus ``extra`` plain values).

    Numbers keep every digit (``repr`` of the float); missing values are ``null``.

    Examples
    --------
    >>> to_json({"reml": pd.DataFrame({"term": ["a"], "p": [np.nan]})}, kind="REML")
    '{"kind": "REML", "reml": [{"term": "a", "p": null}]}'
    """
    out: dict = dict(extra)
    for name, frame in tables.items():
        out[name] = [
            {str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict("records")
        ]
    return json.dumps(out)


def print_table(console: Console, table: Table) -> None:
    """Print ``table``; off a terminal (piped, captured) the page widens to fit it whole."""
    if not console.is_terminal:
        wide = console.options.update_width(10_000)
        console.width = max(console.width, Measurement.get(console, wide, table).maximum)
    console.print(table)


def show(
    tables: Mapping[str, pd.DataFrame],
    titles: Mapping[str, str],
    fmt: Format,
    console: Console,
    **extra,
) -> None:
    """Write ``tables`` to ``console`` in format ``fmt`` (titles are for ``table`` only)."""
    if fmt is Format.csv:
        # one CSV holds tables of the same kind: one row per parameter (no glance rows)
        console.file.write(to_csv({k: v for k, v in tables.items() if "term" in v.columns}))
    elif fmt is Format.json:
        console.file.write(to_json(tables, **extra) + "\n")
    else:
        for name, frame in tables.items():
            print_table(console, frame_table(frame, titles.get(name, name)))
            console.print()
