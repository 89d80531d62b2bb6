"""``--residual "AR1(time=t, group=id)"``: the text of a residual structure, read without eval.

The grammar is ``NAME(key=value, ...)``: ``NAME`` one of the structures of
:mod:`bayesmixed.spec.residual` (any case), keys ``time``, ``group`` and optionally ``by``,
values column names, bare or in single or double quotes. Anything else is an
:class:`~bayesmixed.errors.ArgumentError` saying what was expected.
"""

from __future__ import annotations

import re

from ..errors import ArgumentError
from ..spec import residual as structures

__all__ = ["parse_residual"]

_CALL = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*\((.*)\)\s*$", re.DOTALL)
_ARG = re.compile(
    r"""^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=,()]+))\s*$"""
)
_KEYS = ("time", "group", "by")
_EXAMPLE = 'e.g. --residual "AR1(time=visit, group=id)"'


def parse_residual(text: str | None) -> structures.ResidualSpec | None:
    """The residual structure a ``--residual`` text names (None for no text).

    Parameters
    ----------
    text : str or None
        ``NAME(time=COLUMN, group=COLUMN[, by=COLUMN])``.

    Returns
    -------
    ResidualSpec or None

    Examples
    --------
    >>> parse_residual("AR1(time=t, group=id)")
    AR1(time='t', group='id')
    >>> parse_residual("un(time='visit', group=\\"id\\", by=arm)")
    UN(time='visit', group='id', by='arm')
    >>> parse_residual("AR2(time=t, group=id)")
    Traceback (most recent call last):
    ...
    bayesmixed.errors.ArgumentError: --residual: unknown structure 'AR2'; use one of CS, CSH, AR1, ARH1, TOEP, TOEPH, UN, AD, CAR1
    """
    if text is None or not text.strip():
        return None
    call = _CALL.match(text)
    if call is None:
        raise ArgumentError(
            f"--residual {text!r} is not of the form NAME(key=value, ...); {_EXAMPLE}"
        )
    name, inside = call.group(1), call.group(2)
    if name.upper() not in structures.STRUCTURE_NAMES:
        raise ArgumentError(
            f"--residual: unknown structure {name!r}; use one of "
            f"{', '.join(structures.STRUCTURE_NAMES)}"
        )
    kwargs: dict[str, str] = {}
    for piece in inside.split(",") if inside.strip() else []:
        arg = _ARG.match(piece)
        if arg is None:
            raise ArgumentError(
                f"--residual: {piece.strip()!r} is not key=value (a column name); {_EXAMPLE}"
            )
        key = arg.group(1)
        value = next(v for v in arg.group(2, 3, 4) if v is not None)
        if key not in _KEYS:
            raise ArgumentError(
                f"--residual: unknown key {key!r}; {name.upper()}() takes time, group and by"
            )
        if key in kwargs:
            raise ArgumentError(f"--residual: {key!r} is given twice")
        kwargs[key] = value
    missing = [k for k in ("time", "group") if k not in kwargs]
    if missing:
        raise ArgumentError(
            f"--residual: {name.upper()}() needs {' and '.join(missing)}; {_EXAMPLE}"
        )
    return getattr(structures, name.upper())(**kwargs)
