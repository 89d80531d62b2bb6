"""A check shared by the quantities and the plots: named arguments must be data columns."""

from __future__ import annotations

import pandas as pd

from ..errors import ColumnError

__all__ = ["check_columns"]


def check_columns(frame: pd.DataFrame, **cols: str | None) -> None:
    """Raise ColumnError for the first argument (in the order given) naming no column.

    Arguments that are None are skipped.
    """
    for arg, col in cols.items():
        if col is not None and col not in frame.columns:
            raise ColumnError(
                f"{arg}={col!r} is not a column of the data; available: "
                f"{', '.join(map(str, frame.columns))}",
                col,
            )
