"""lme4's random-effect "bars" → :class:`RandomTerm` (``findbars`` / ``expandDoubleVerts``).

* ``(x | g)``       one correlated term with an intercept and a slope for ``x``;
* ``(x || g)``      ``(1 | g) + (0 + x | g)``: every term of the left side in its own block;
* ``(1 | a/b)``     ``(1 | b:a) + (1 | a)`` (lme4 names the inner factor first);
* ``(1 | a:b)``     one term on the interaction of ``a`` and ``b``;
* crossed terms are simply several bars.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from formulaic import Formula
from formulaic.errors import FormulaicError

from ..errors import FormulaError
from .rsyntax import clean_message, r_to_formulaic, simple_terms
from .split import find_top

__all__ = ["RandomTerm", "find_bar", "check_bar_alone", "expand_bar"]

_IDENT = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$|^`[^`]+`$")


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term ``(expr | group)`` after expansion of ``||`` and ``/``.

    Attributes
    ----------
    expr : str
        Left-hand side of the bar as a formulaic right-hand side, e.g. ``"1 + Days"``.
    group : str
        Grouping factor as lme4 names it, e.g. ``"Subject"`` or ``"cask:batch"``.
    factors : tuple of str
        Data columns whose interaction forms the grouping factor, in ``group`` order.
    source : str
        The bar as written by the user, for error messages.
    """

    expr: str
    group: str
    factors: tuple[str, ...]
    source: str

    def __str__(self) -> str:
        return f"({self.expr} | {self.group})"


def find_bar(piece: str) -> tuple[int, int] | None:
    """Position (inside the parentheses) and width of the ``|`` or ``||`` of a piece that
    is one parenthesised bar, ``(x | g)``; None when the piece is not a bar.

    Examples
    --------
    >>> find_bar("(x || g)"), find_bar("(x | g)"), find_bar("(a + b)"), find_bar("(a)|(b)")
    ((2, 2), (2, 1), None, None)
    """
    if not (piece.startswith("(") and piece.endswith(")")):
        return None
    if _matching_close(piece) != len(piece) - 1:
        return None  # "(a) | (b)": the first parenthesis closes before the end
    inner = piece[1:-1]
    i = find_top(inner, "|")
    if i is None:
        return None
    return i, 2 if inner[i : i + 2] == "||" else 1


def check_bar_alone(piece: str, formula: str, pos: int) -> None:
    """Refuse a bar combined with other operators inside one fixed piece, ``x * (1 | g)``."""
    if "|" in piece and re.search(r"(^|[^\w.])\(", piece):
        inner_bar = _bare_bar(piece)
        if inner_bar is not None:
            raise FormulaError(
                "a random-effect term must stand alone, added with '+': "
                "write '(x | g)', not combine it with other operators",
                formula,
                pos + inner_bar,
            )


def expand_bar(piece: str, bar: tuple[int, int], formula: str, pos: int) -> list[RandomTerm]:
    """The :class:`RandomTerm` of one bar ``piece`` (at offset ``pos`` of ``formula``), with
    ``||`` and ``/`` expanded as lme4 expands them.

    Examples
    --------
    >>> [str(t) for t in expand_bar("(x || a/b)", (2, 2), "(x || a/b)", 0)]
    ['(1 | b:a)', '(0 + x | b:a)', '(1 | a)', '(0 + x | a)']
    """
    inner = piece[1:-1]
    bpos, width = bar
    lhs = inner[:bpos].strip()
    grp = inner[bpos + width :]
    if not lhs:
        raise FormulaError(
            "random-effect term has nothing before '|': write e.g. '(1 | g)'",
            formula,
            pos + 1,
        )
    if "|" in grp:
        raise FormulaError(
            "random-effect term has more than one '|'",
            formula,
            pos + 1 + bpos + width + grp.index("|"),
        )
    groups = _parse_group(grp, formula, pos + 1 + bpos + width)
    has_int, terms = _lhs_terms(lhs, formula, pos + 1)
    if not has_int and not terms:
        raise FormulaError(
            "random-effect term has no columns (e.g. '(0 | g)'): give an intercept or a "
            "predictor before '|'",
            formula,
            pos + 1,
        )
    if width == 2:
        exprs = (["1"] if has_int else []) + [f"0 + {t}" for t in terms]
    else:
        exprs = [lhs]
    exprs = [r_to_formulaic(e) for e in exprs]
    return [
        RandomTerm(expr=expr, group=name, factors=cols, source=piece)
        for name, cols in groups
        for expr in exprs
    ]


def _parse_group(text: str, formula: str, pos: int) -> list[tuple[str, tuple[str, ...]]]:
    """``a/b/c`` → [(a,), (b, a), (c, b, a)] in lme4's order (innermost last)."""
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if not text:
        raise FormulaError("random-effect term has no grouping factor after '|'", formula, pos)
    nested = [p.strip() for p in text.split("/")]
    levels: list[tuple[str, ...]] = []
    for piece in nested:
        written = [c.strip() for c in piece.split(":")]
        cols = tuple(c.strip("`") for c in written)
        for c in written:
            if not c or not _IDENT.match(c):
                raise FormulaError(
                    f"grouping factor {piece!r} must be a column name or an interaction "
                    "of column names such as 'a:b'",
                    formula,
                    pos,
                )
        levels.append(cols)
    out: list[tuple[str, tuple[str, ...]]] = []
    outer: tuple[str, ...] = ()
    for cols in levels:
        # lme4 writes the inner factor first: batch/cask → cask:batch
        full = cols + outer
        out.append((":".join(full), full))
        outer = full
    # lme4's findbars lists the innermost term first
    return list(reversed(out))


def _lhs_terms(lhs: str, formula: str, pos: int) -> tuple[bool, list[str]]:
    """Intercept flag and non-intercept terms of a bar's left side, via formulaic."""
    simple = simple_terms(lhs)
    if simple is not None:
        return simple
    try:
        f = Formula(lhs)
    except FormulaicError as exc:
        raise FormulaError(
            f"cannot parse the left side {lhs!r} of a random-effect term: {clean_message(exc)}",
            formula,
            pos,
        ) from None
    terms = [str(t) for t in f]
    has_intercept = "1" in terms
    return has_intercept, [t for t in terms if t != "1"]


def _matching_close(text: str) -> int:
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _bare_bar(text: str) -> int | None:
    """Offset of a '|' inside a bare parenthesis group (not a function call) in ``text``."""
    stack: list[bool] = []  # True when the open paren starts a bare group
    for i, ch in enumerate(text):
        if ch == "(":
            before = text[:i].rstrip()
            stack.append(not before or not (before[-1].isalnum() or before[-1] in "_."))
        elif ch == ")":
            if stack:
                stack.pop()
        elif ch == "|" and len(stack) == 1 and stack[0]:
            return i
    return None
