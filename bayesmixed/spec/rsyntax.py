"""R formula idioms in formulaic's terms: the rewrites formulaic needs, and the plain sides
that need no formulaic at all."""

from __future__ import annotations

import keyword
import re

__all__ = ["r_to_formulaic", "simple_terms", "clean_message"]

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# formulaic colours its messages and marks the faulty span; neither belongs in ours
_ANSI = re.compile(r"\x1b\[[0-9;]*m|⧛|⧚")


def clean_message(message: object) -> str:
    """A formulaic error message without its terminal colours and span markers.

    Examples
    --------
    >>> clean_message("\\x1b[1mbad\\x1b[0m ⧛x⧚ ")
    'bad x'
    """
    return _ANSI.sub("", str(message)).strip()


def r_to_formulaic(text: str) -> str:
    """Rewrite R idioms formulaic would misread.

    * ``^`` inside a function call (``I(x^2)``) is R's power; in Python it is XOR, so it
      becomes ``**`` (``^`` between formula terms, ``(a + b)^2``, is left to formulaic);
    * ``as.factor(x)`` is not a Python name: it becomes ``as_factor(x)`` (``factor`` and
      ``as_factor`` are provided to formulaic as its categorical ``C``).

    Examples
    --------
    >>> r_to_formulaic("I(x^2) + (a + b)^2 + as.factor(g)")
    'I(x**2) + (a + b)^2 + as_factor(g)'
    """
    text = re.sub(r"\bas\.factor\(", "as_factor(", text)
    out = []
    depth_call = 0  # open parentheses that belong to a function call
    stack: list[bool] = []
    for i, ch in enumerate(text):
        if ch == "(":
            before = text[:i].rstrip()
            is_call = bool(before) and (before[-1].isalnum() or before[-1] in "_.")
            stack.append(is_call)
            depth_call += is_call
        elif ch == ")" and stack:
            depth_call -= stack.pop()
        if ch == "^" and depth_call > 0:
            out.append("**")
            continue
        out.append(ch)
    return "".join(out)


def simple_terms(rhs: str) -> tuple[bool, list[str]] | None:
    """Intercept flag and variables of a right-hand side made only of ``1``, ``0`` and plain
    names joined by ``+`` (``"1 + Days"``, ``"0 + x"``, ``"x1 + x2"``); None for anything
    else.

    Such sides mean the same in formulaic and R (columns in the order written, intercept
    first unless ``0`` is given), so callers can skip formulaic's parser, which costs a few
    milliseconds per call — comparable to a whole small fit.

    Examples
    --------
    >>> simple_terms("0 + Days"), simple_terms("x1 + x2"), simple_terms("x * g")
    ((False, ['Days']), (True, ['x1', 'x2']), None)
    """
    pieces = [p.strip() for p in rhs.split("+")]
    if "0" in pieces and "1" in pieces:
        return None
    names = [p for p in pieces if p not in ("0", "1")]
    if len(set(names)) != len(names):
        return None
    for p in names:
        if not _PLAIN.match(p) or keyword.iskeyword(p) or p in ("True", "False", "None"):
            return None
    return "0" not in pieces, names
