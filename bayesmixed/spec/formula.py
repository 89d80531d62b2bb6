"""lme4 formula syntax → :class:`ModelSpec`.

Only the random-effect "bars" are parsed here; the fixed part and the left-hand side of each
bar are handed to formulaic, which builds the model matrices (treatment coding, ``*``, ``:``,
``0 +``, ``center()``, ``scale()``, ``np.log()``...).

Bars follow lme4 (``findbars`` / ``expandDoubleVerts``):

* ``(x | g)``       one correlated term with an intercept and a slope for ``x``;
* ``(x || g)``      ``(1 | g) + (0 + x | g)``: every term of the left side in its own block;
* ``(1 | a/b)``     ``(1 | b:a) + (1 | a)`` (lme4 names the inner factor first);
* ``(1 | a:b)``     one term on the interaction of ``a`` and ``b``;
* crossed terms are simply several bars.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

from formulaic import Formula
from formulaic.errors import FormulaicError

from ..errors import FormulaError

__all__ = ["RandomTerm", "ModelSpec", "parse_formula"]

_IDENT = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$|^`[^`]+`$")
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m|⧛|⧚")


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


@dataclass(frozen=True)
class ModelSpec:
    """A parsed mixed-model formula.

    Attributes
    ----------
    formula : str
        The formula as given.
    response : str
        Left-hand side (may be a transform such as ``np.log(y)``).
    fixed : str
        Fixed part as a formulaic right-hand side (``"1"`` for an intercept-only model).
    random : tuple of RandomTerm
        Random-effects terms in the order written (after expansion).
    """

    formula: str
    response: str
    fixed: str
    random: tuple[RandomTerm, ...] = field(default_factory=tuple)

    @property
    def has_random(self) -> bool:
        """True when the formula has at least one random-effects term."""
        return len(self.random) > 0

    @property
    def grouping_columns(self) -> list[str]:
        """Every data column used to form a grouping factor (in first-use order)."""
        cols: list[str] = []
        for t in self.random:
            for f in t.factors:
                if f not in cols:
                    cols.append(f)
        return cols

    def __str__(self) -> str:
        parts = [self.fixed] + [str(t) for t in self.random]
        return f"{self.response} ~ {' + '.join(parts)}"


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


def _clean(message: str) -> str:
    return _ANSI.sub("", str(message)).strip()


def _check_parens(text: str, formula: str, offset: int) -> None:
    depth = 0
    opened: list[int] = []
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            opened.append(i)
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise FormulaError("unmatched ')' in formula", formula, offset + i)
            opened.pop()
    if depth > 0:
        raise FormulaError(
            "unmatched '(' in formula: close every parenthesis", formula, offset + opened[-1]
        )


def _split_top(text: str, seps: str) -> list[tuple[str, int, str]]:
    """Split ``text`` at depth-0 characters in ``seps``; return (sign, start, piece) triples."""
    out: list[tuple[str, int, str]] = []
    depth = 0
    start = 0
    sign = "+"
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in seps:
            # "1e-3" and "**" stay intact: a sign only splits after something that can end a term.
            prev = text[:i].rstrip()
            if ch == "-" and prev and (prev[-1] in "eE" and re.search(r"\d[eE]$", prev)):
                continue
            out.append((sign, start, text[start:i]))
            sign = ch
            start = i + 1
    out.append((sign, start, text[start:]))
    return out


def _find_bar(inner: str) -> tuple[int, int] | None:
    """Position and width of the first depth-0 ``|`` or ``||`` in ``inner``."""
    depth = 0
    i = 0
    while i < len(inner):
        ch = inner[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "|" and depth == 0:
            width = 2 if inner[i : i + 2] == "||" else 1
            return i, width
        i += 1
    return None


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


def _lhs_terms(lhs: str, formula: str, pos: int) -> tuple[bool, list[str]]:
    """Intercept flag and non-intercept terms of a bar's left side, via formulaic."""
    simple = simple_terms(lhs)
    if simple is not None:
        return simple
    try:
        f = Formula(lhs)
    except FormulaicError as exc:
        raise FormulaError(
            f"cannot parse the left side {lhs!r} of a random-effect term: {_clean(exc)}",
            formula,
            pos,
        ) from None
    terms = [str(t) for t in f]
    has_intercept = "1" in terms
    return has_intercept, [t for t in terms if t != "1"]


def parse_formula(formula: str) -> ModelSpec:
    """Parse an lme4-style formula.

    Parameters
    ----------
    formula : str
        ``response ~ fixed + (expr | group) + ...``.

    Returns
    -------
    ModelSpec

    Raises
    ------
    FormulaError
        On a syntax error; the message shows where.

    Examples
    --------
    >>> spec = parse_formula("y ~ x + (x || g) + (1 | a/b)")
    >>> [str(t) for t in spec.random]
    ['(1 | g)', '(0 + x | g)', '(1 | b:a)', '(1 | a)']
    """
    if not isinstance(formula, str):
        raise FormulaError(
            f"formula must be a string such as 'y ~ x + (1 | g)', got {type(formula).__name__}"
        )
    if formula.count("~") != 1:
        pos = formula.find("~", formula.find("~") + 1) if "~" in formula else 0
        raise FormulaError(
            "formula needs exactly one '~' separating the response from the predictors",
            formula,
            max(pos, 0),
        )
    _check_parens(formula, formula, 0)
    tilde = formula.index("~")
    response = r_to_formulaic(formula[:tilde].strip())
    rhs = formula[tilde + 1 :]
    if not response:
        raise FormulaError("formula has no response on the left of '~'", formula, tilde)
    if not rhs.strip():
        raise FormulaError("formula has nothing on the right of '~'", formula, tilde)
    offset = tilde + 1

    fixed_parts: list[str] = []
    random: list[RandomTerm] = []
    for sign, start, piece in _split_top(rhs, "+-"):
        stripped = piece.strip()
        pos = offset + start + (len(piece) - len(piece.lstrip()))
        if not stripped:
            if sign == "+" and start == 0:
                continue  # leading "+"
            raise FormulaError(f"'{sign}' is missing a term on its right", formula, pos - 1)
        is_group = stripped.startswith("(") and stripped.endswith(")")
        bar = _find_bar(stripped[1:-1]) if is_group else None
        if is_group and _matching_close(stripped) != len(stripped) - 1:
            bar = None
        if bar is None:
            if "|" in stripped and re.search(r"(^|[^\w.])\(", stripped):
                inner_bar = _bare_bar(stripped)
                if inner_bar is not None:
                    raise FormulaError(
                        "a random-effect term must stand alone, added with '+': "
                        "write '(x | g)', not combine it with other operators",
                        formula,
                        pos + inner_bar,
                    )
            fixed_parts.append(f"{sign} {stripped}" if fixed_parts or sign == "-" else stripped)
            continue
        if sign == "-":
            raise FormulaError("random-effect terms cannot be subtracted", formula, pos)
        inner = stripped[1:-1]
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
        for name, cols in groups:
            for expr in exprs:
                random.append(RandomTerm(expr=expr, group=name, factors=cols, source=stripped))

    fixed = r_to_formulaic(" ".join(fixed_parts).strip())
    if not fixed:
        fixed = "1"
    elif fixed.startswith("-"):
        fixed = "1 " + fixed
    try:
        if simple_terms(fixed) is None:
            Formula(fixed)
    except FormulaicError as exc:
        raise FormulaError(
            f"cannot parse the fixed part {fixed!r}: {_clean(exc)}", formula, offset
        ) from None
    return ModelSpec(formula=formula, response=response, fixed=fixed, random=tuple(random))


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
