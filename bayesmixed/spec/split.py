"""Top-level splitting of formula text: the package's one parenthesis-aware splitter.

Formula pieces nest — ``I(a + b)``, ``C(g, levels=[1, 2])``, ``x:g[T.b]``, ``(x | g)`` — so
splitting ``"x + I(a + b)"`` on ``+`` must ignore separators inside parentheses and
brackets. Every caller (the bar parser, R column names, ranova's term reductions, effect
sizes' reduced fits) uses the functions here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

__all__ = ["Piece", "top_pieces", "split_top", "find_top"]

_OPEN, _CLOSE = "([", ")]"
_EXPONENT = re.compile(r"\d[eE]$")


def _top_level(text: str, chars: str) -> Iterator[int]:
    """Offsets of the characters of ``chars`` outside parentheses/brackets, in order: the
    one depth-tracking scan that both splitting and finding use."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        elif depth == 0 and ch in chars:
            yield i


class Piece(NamedTuple):
    """One top-level piece of a text.

    Attributes
    ----------
    sep : str
        The separator in front of the piece (``""`` for the first piece).
    start : int
        Offset of the piece in the text (for error messages that point at it).
    text : str
        The piece as written, surrounding spaces included.
    """

    sep: str
    start: int
    text: str


def top_pieces(text: str, seps: str) -> list[Piece]:
    """Split ``text`` at the characters of ``seps`` that are outside parentheses/brackets.

    A ``-`` right after a number's exponent (``1e-3``) is part of the number, not a
    separator. Pieces are returned as written (not stripped, empty ones kept) with the
    separator before each and its offset.

    Examples
    --------
    >>> [tuple(p) for p in top_pieces("y + I(a - b) - 1e-3", "+-")]
    [('', 0, 'y '), ('+', 3, ' I(a - b) '), ('-', 14, ' 1e-3')]
    """
    out: list[Piece] = []
    start = 0
    sep = ""
    for i in _top_level(text, seps):
        if text[i] == "-" and _EXPONENT.search(text[:i].rstrip()):
            continue
        out.append(Piece(sep, start, text[start:i]))
        sep = text[i]
        start = i + 1
    out.append(Piece(sep, start, text[start:]))
    return out


def split_top(text: str, seps: str = "+") -> list[str]:
    """Top-level pieces of ``text`` split on ``seps``, stripped, empty ones dropped.

    Examples
    --------
    >>> split_top("1 + x + I(x + z)")
    ['1', 'x', 'I(x + z)']
    >>> split_top("f:g[T.a:b]", ":")
    ['f', 'g[T.a:b]']
    """
    return [p.text.strip() for p in top_pieces(text, seps) if p.text.strip()]


def find_top(text: str, chars: str) -> int | None:
    """Offset of the first character of ``chars`` outside parentheses/brackets, or None.

    Examples
    --------
    >>> find_top("x + f(a | b) | g", "|")
    13
    """
    return next(_top_level(text, chars), None)
