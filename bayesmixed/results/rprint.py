"""Tables as R prints them: ``printCoefmat`` and the ``abbreviate``-d correlation headers.

:func:`coef_table` formats a coefficient matrix as ``printCoefmat`` does (coefficients and
standard errors together, test statistics with fewer digits, p-values by ``format.pval``,
significance stars) and returns a :class:`~bayesmixed.results.display.Table` of those
strings: rendered as text it is R's layout, as HTML the same cells in a table.
:func:`abbreviate` is R's ``abbreviate``, used for the headers of lme4's correlation of fixed
effects. The number formatting itself is in :mod:`bayesmixed.results.rformat`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .display import Table
from .rformat import format_pval, format_real, signif_stars

__all__ = ["SIGNIF_LEGEND", "coef_table", "abbreviate"]

SIGNIF_LEGEND = "Signif. codes:  0 ‘***’ 0.001 ‘**’ 0.01 ‘*’ 0.05 ‘.’ 0.1 ‘ ’ 1"


def coef_table(
    rows: Sequence[str],
    columns: dict[str, Sequence[float]],
    cs: Sequence[str],
    tst: str | None,
    pcol: str | None,
    digits: int = 4,
    stars: bool = True,
) -> Table:
    """R's ``printCoefmat`` as a table of formatted cells (with the significance legend when
    stars are shown).

    Parameters
    ----------
    rows : list of str
        Row (term) names.
    columns : dict
        Column header → values, in display order.
    cs : list of str
        Columns formatted together as coefficients and standard errors (``cs.ind``).
    tst : str or None
        The test-statistic column (``tst.ind``).
    pcol : str or None
        The p-value column (last).
    digits : int
        ``digits`` of ``printCoefmat`` (``summary`` methods pass 4).
    stars : bool
        Add significance stars.

    Returns
    -------
    Table
        Right-justified cells, the term names as row labels, an unlabelled stars column and
        :data:`SIGNIF_LEGEND` as legend when a p-value is below 0.1.

    Examples
    --------
    >>> from bayesmixed.results.display import render_text
    >>> table = coef_table(
    ...     ["(Intercept)", "Days"],
    ...     {"Estimate": [251.405, 10.467], "Std. Error": [6.61, 1.238],
    ...      "t value": [38.03, 8.454], "Pr(>|t|)": [2.2e-87, 9.89e-15]},
    ...     cs=["Estimate", "Std. Error"], tst="t value", pcol="Pr(>|t|)")
    >>> render_text([table]).splitlines()[1]
    '(Intercept)  251.405      6.610  38.030  < 2e-16 ***'
    """
    names = list(columns)
    n = len(rows)
    cf: dict[str, list[str]] = {c: [""] * n for c in names}
    data = {c: np.asarray(columns[c], dtype=float) for c in names}
    dig_tst = max(1, min(5, digits - 1))
    if cs:
        block = np.column_stack([data[c] for c in cs])
        acs = np.abs(block[np.isfinite(block)])
        acs = acs[acs != 0]
        if acs.size:
            digmin = 1 + np.floor(np.log10([acs.min(), acs.max()]))
        else:
            digmin = np.array([1.0, 1.0])
        rnd = max(1, int(max(digits - digmin[0], digits - digmin[1])))
        flat = format_real(np.round(block, rnd).ravel(order="F"), digits)
        for j, c in enumerate(cs):
            cf[c] = flat[j * n : (j + 1) * n]
    if tst is not None:
        cf[tst] = format_real(np.round(data[tst], dig_tst), digits)
    for c in names:
        if c not in cs and c != tst and c != pcol:
            cf[c] = format_real(data[c], digits)
    # values that are not zero but print as zero get more digits (printCoefmat does this)
    for c in cs:
        for i in range(n):
            v = data[c][i]
            s = cf[c][i].strip()
            if np.isfinite(v) and v != 0 and _as_float(s) == 0:
                cf[c][i] = format_real([v], max(1, digits - 1))[0]
    for c in names:
        for i in range(n):
            if np.isnan(data[c][i]) and c != pcol:
                cf[c][i] = "NA"
    show_stars = False
    starcol: list[str] = []
    if pcol is not None:
        pv = data[pcol]
        ok = ~np.isnan(pv)
        if ok.any():
            fp = format_pval(pv[ok], digits=dig_tst)
            it = iter(fp)
            cf[pcol] = [next(it) if o else "NA" for o in ok]
            show_stars = stars and bool(np.any(pv[ok] < 0.1))
            if show_stars:
                starcol = [signif_stars(p) if o else "" for p, o in zip(pv, ok, strict=True)]
                w = max(len(s) for s in starcol)
                starcol = [s.ljust(w) for s in starcol]
        else:
            cf[pcol] = ["NA"] * n
    cells = [[cf[c][i] for c in names] + ([starcol[i]] if show_stars else []) for i in range(n)]
    headers = names + ([""] if show_stars else [])
    legend = SIGNIF_LEGEND if show_stars else ""
    return Table(cells, headers, list(rows), align="right", legend=legend)


def _as_float(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        return math.nan


def abbreviate(names: Sequence[str], minlength: int = 4) -> list[str]:
    """R's ``abbreviate(names, minlength)`` (default method, duplicates made unique).

    Characters are removed from the right, never the first character of a word: lower-case
    vowels first, then lower-case letters, then any other character, until the name (without
    spaces) is ``minlength`` long. Names that collide are abbreviated again with a larger
    ``minlength``.

    Examples
    --------
    >>> abbreviate(["(Intercept)", "Days", "sectorpublic"], 6)
    ['(Intr)', 'Days', 'sctrpb']
    """
    names = [str(s) for s in names]
    out = [_abbrev1(s, minlength) for s in names]
    ml = minlength
    longest = max((len(s) for s in names), default=0)
    involved = _dups(out)
    while involved and ml <= longest:
        ml += 1
        for i in involved:
            out[i] = _abbrev1(names[i], ml)
        involved = _dups(out)
    return out


def _dups(out: list[str]) -> list[int]:
    seen: dict[str, list[int]] = {}
    for i, s in enumerate(out):
        seen.setdefault(s, []).append(i)
    return sorted(i for idx in seen.values() if len(idx) > 1 for i in idx)


def _abbrev1(s: str, minlength: int) -> str:
    chars = list(s.strip())
    if len(chars) <= minlength:
        return "".join(chars)

    def removable(i: int) -> bool:
        # the first character of the string and of every word is kept
        return i > 0 and not chars[i - 1].isspace() and not chars[i].isspace()

    rules = (
        lambda c: c in "aeiou",
        lambda c: c.islower(),
        lambda c: True,
    )
    for rule in rules:
        i = len(chars) - 1
        while i > 0:
            if i < len(chars) and removable(i) and rule(chars[i]):
                del chars[i]
            if sum(not c.isspace() for c in chars) <= minlength:
                return "".join(c for c in chars if not c.isspace())
            i -= 1
    return "".join(c for c in chars if not c.isspace())
