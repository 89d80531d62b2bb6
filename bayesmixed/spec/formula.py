"""lme4 formula syntax → :class:`ModelSpec`.

Only the random-effect "bars" are parsed here (:mod:`.bars`); the fixed part and the
left-hand side of each bar are handed to formulaic, which builds the model matrices
(treatment coding, ``*``, ``:``, ``0 +``, ``center()``, ``scale()``, ``np.log()``...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from formulaic import Formula
from formulaic.errors import FormulaicError

from ..errors import FormulaError
from .bars import RandomTerm, check_bar_alone, expand_bar, find_bar
from .rsyntax import clean_message, r_to_formulaic, simple_terms
from .split import top_pieces

__all__ = ["RandomTerm", "ModelSpec", "parse_formula"]


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
    for sep, start, piece in top_pieces(rhs, "+-"):
        sign = sep or "+"
        stripped = piece.strip()
        pos = offset + start + (len(piece) - len(piece.lstrip()))
        if not stripped:
            if sign == "+" and start == 0:
                continue  # leading "+"
            raise FormulaError(f"'{sign}' is missing a term on its right", formula, pos - 1)
        bar = find_bar(stripped)
        if bar is None:
            check_bar_alone(stripped, formula, pos)
            fixed_parts.append(f"{sign} {stripped}" if fixed_parts or sign == "-" else stripped)
            continue
        if sign == "-":
            raise FormulaError("random-effect terms cannot be subtracted", formula, pos)
        random.extend(expand_bar(stripped, bar, formula, pos))

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
            f"cannot parse the fixed part {fixed!r}: {clean_message(exc)}", formula, offset
        ) from None
    return ModelSpec(formula=formula, response=response, fixed=fixed, random=tuple(random))
