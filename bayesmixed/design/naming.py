"""R's names: model-matrix columns, formula terms, factor levels and their order.

formulaic names a treatment-coded column ``g[T.b]`` and a log ``np.log(w)``; R (and so lme4,
broom.mixed and emmeans) writes ``gb`` and ``log(w)``. Every name the package reports goes
through these functions, so the engines, tables and hypothesis tests agree.
"""

from __future__ import annotations

import re

import numpy as np

from ..spec.split import top_pieces

__all__ = ["r_column_name", "term_label", "column_terms", "r_sort_key", "level_name"]


def _r_part(part: str) -> str:
    part = part.strip()
    if part == "Intercept":
        return "(Intercept)"
    m = re.match(r"^(.*)\[T\.(.*)\]$", part, flags=re.S)
    if m is None:
        m = re.match(r"^(.*)\[(.*)\]$", part, flags=re.S)
    if m is not None:
        level = m.group(2)
        # logical levels print as R's TRUE / FALSE
        part = m.group(1) + {"True": "TRUE", "False": "FALSE"}.get(level, level)
    part = re.sub(r"\bnp\.", "", part)
    part = part.replace("as_factor(", "as.factor(")
    # R deparses a power without spaces: I(x^2)
    return re.sub(r"\s*\*\*\s*", "^", part)


def r_column_name(name: str) -> str:
    """Translate a formulaic column name into the name R gives the same column.

    Examples
    --------
    >>> r_column_name("Intercept"), r_column_name("x:g[T.b]"), r_column_name("np.log(w)")
    ('(Intercept)', 'x:gb', 'log(w)')
    """
    return ":".join(_r_part(p.text) for p in top_pieces(name, ":"))


def term_label(term: object) -> str:
    """R's label of a formulaic term (``"f:x"``, ``"log(w)"``; ``"(Intercept)"`` for 1).

    Examples
    --------
    >>> from formulaic import Formula
    >>> [term_label(t) for t in Formula("1 + np.log(w) + x:g")]
    ['(Intercept)', 'log(w)', 'x:g']
    """
    return ":".join(_r_part(str(f)) for f in term.factors) if str(term) != "1" else "(Intercept)"


def column_terms(model_spec: object) -> list[str]:
    """Formula term (R spelling) producing each model-matrix column of a formulaic spec."""
    out = []
    for term, _scoped, cols in model_spec.structure:
        out.extend([term_label(term)] * len(cols))
    return out


def r_sort_key(s: str) -> tuple[str, str]:
    """Sort key putting level names in R's order.

    R (ICU collation in the usual UTF-8 locales) orders case-insensitively, lower case first.

    Examples
    --------
    >>> sorted(["b", "B", "a", "A"], key=r_sort_key)
    ['a', 'A', 'b', 'B']
    """
    return (s.casefold(), s.swapcase())


def level_name(v: object) -> str:
    """A factor level's name as R prints it (``TRUE``, ``3`` for 3.0, 15 significant digits).

    Examples
    --------
    >>> level_name(True), level_name(3.0), level_name(0.1), level_name("a")
    ('TRUE', '3', '0.1', 'a')
    """
    if isinstance(v, (bool, np.bool_)):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.15g}"
    return str(v)
