"""Plain-text formatting in R's print conventions (``format``, ``printCoefmat``, ``abbreviate``).

The text summaries of :class:`~bayesmixed.ols.OLSFit` and
:class:`~bayesmixed.reml.summary.LmmSummary` are laid out as R prints ``summary(lm)`` and
``summary(lmer)``, so that a reader who knows those can find every number where they expect it.
The helpers here implement the documented behaviour of R's formatting functions:

* :func:`format_real` — ``format(x, digits=)`` for a numeric vector: one common notation (fixed
  or scientific, whichever is narrower) with enough digits for every element to show ``digits``
  significant digits;
* :func:`format_pval` — ``format.pval`` (``"< 2e-16"`` below machine epsilon);
* :func:`coef_table` — ``printCoefmat`` with significance stars;
* :func:`abbreviate` — ``abbreviate`` (drop lower-case vowels from the right, then lower-case
  letters, then everything else) used for the correlation table headers;
* :func:`print_matrix` / :func:`print_named` — ``print`` of a character matrix / named vector.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "SIGNIF_LEGEND",
    "format_real",
    "format_pval",
    "signif_stars",
    "coef_table",
    "abbreviate",
    "print_matrix",
    "print_named",
    "zapsmall",
    "quantile7",
    "cat_number",
]

SIGNIF_LEGEND = "Signif. codes:  0 ‘***’ 0.001 ‘**’ 0.01 ‘*’ 0.05 ‘.’ 0.1 ‘ ’ 1"
EPS = float(np.finfo(float).eps)


def _sci_parts(x: float, digits: int) -> tuple[int, int, int, bool]:
    """(negative, decimal exponent, significant digits needed, rounding widened) of ``x``."""
    if x == 0:
        return 0, 0, 1, False
    s = f"{abs(x):.{digits - 1}e}"
    mant, exp = s.split("e")
    kp = int(exp)
    mdigits = mant.replace(".", "").rstrip("0")
    nsig = max(1, len(mdigits))
    widened = kp > 0 and abs(x) < 10.0**kp
    return int(x < 0), kp, nsig, widened


def format_real(
    values: Sequence[float] | np.ndarray, digits: int = 7, nsmall: int = 0, na: str = "NA"
) -> list[str]:
    """Format numbers together as R's ``format(x, digits = digits, nsmall = nsmall)``.

    All elements share one notation and number of decimals and are right-justified to a
    common width.

    Parameters
    ----------
    values : sequence of float
    digits : int
        Minimum number of significant digits shown for every element.
    nsmall : int
        Minimum number of decimals in fixed notation.
    na : str
        Text for missing values.

    Returns
    -------
    list of str

    Examples
    --------
    >>> format_real([612.1, 35.0717, 654.94], digits=4)
    ['612.10', ' 35.07', '654.94']
    >>> format_real([1.3e-06, 2.5e-05], digits=3)
    ['1.3e-06', '2.5e-05']
    """
    x = np.asarray(values, dtype=float).ravel()
    finite = np.isfinite(x)
    neg = 0
    mxsl = 1
    rgt = 0
    mxns = 1
    mxe, mne = -(10**9), 10**9
    any_finite = bool(finite.any())
    for v in x[finite]:
        ng, kp, nsig, widened = _sci_parts(float(v), digits)
        left = kp + 1 - (1 if widened else 0)
        sleft = ng + (1 if left <= 0 else left)
        rgt = max(rgt, nsig - left)
        mxsl = max(mxsl, sleft)
        mxns = max(mxns, nsig)
        mxe, mne = max(mxe, kp), min(mne, kp)
        neg = max(neg, ng)
    out: list[str] = []
    if any_finite:
        rgt = max(rgt, 0)
        wF = mxsl + rgt + (1 if rgt > 0 else 0)
        e = 2 if (mxe >= 100 or mne <= -100) else 1
        d = mxns - 1
        wS = neg + (1 if d > 0 else 0) + d + 4 + e
        fixed = wF <= wS
        if fixed and nsmall > rgt:
            rgt = nsmall
        for v in x:
            if not np.isfinite(v):
                out.append(_nonfinite(v, na))
            elif fixed:
                out.append(f"{v:.{rgt}f}")
            else:
                out.append(f"{v:.{d}e}")
    else:
        out = [_nonfinite(v, na) for v in x]
    width = max((len(s) for s in out), default=0)
    return [s.rjust(width) for s in out]


def _nonfinite(v: float, na: str) -> str:
    if np.isnan(v):
        return na
    return "Inf" if v > 0 else "-Inf"


def format_pval(
    pv: Sequence[float], digits: int = 3, eps: float = EPS, na: str = "NA"
) -> list[str]:
    """R's ``format.pval``: p-values, with ``"< 2e-16"`` style text below ``eps``.

    Examples
    --------
    >>> format_pval([3.26e-06, 1e-30], digits=3)
    ['3.26e-06', '< 2e-16']
    """
    p = np.asarray(pv, dtype=float).ravel()
    out = [na] * len(p)
    ok = ~np.isnan(p)
    is0 = ok & (p < eps)
    rest = ok & ~is0
    if rest.any():
        vals = p[rest]
        expo = np.floor(np.log10(np.where(vals > 0, vals, 1e-50)))
        fixp = (expo >= -3) | ((expo == -4) & (digits > 1))
        rr = [""] * len(vals)
        for mask in (fixp, ~fixp):
            if mask.any():
                fm = format_real(vals[mask], digits)
                for i, s in zip(np.flatnonzero(mask), fm, strict=True):
                    rr[i] = s
        for i, s in zip(np.flatnonzero(rest), rr, strict=True):
            out[i] = s
    if is0.any():
        d = max(1, digits - 2)
        if rest.any():
            nc = max(len(s) for s in rr)
            if d > 1 and d + 6 > nc:
                d = max(1, nc - 7)
            sep = "" if (d == 1 and nc <= 6) else " "
        else:
            sep = "" if d == 1 else " "
        text = "<" + sep + format_real([eps], d)[0].strip()
        for i in np.flatnonzero(is0):
            out[i] = text
    return out


def signif_stars(p: float) -> str:
    """Significance code of a p-value: ``***`` < 0.001 < ``**`` < 0.01 < ``*`` < 0.05 < ``.`` < 0.1."""
    if p is None or not np.isfinite(p):
        return ""
    for cut, sym in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p <= cut:
            return sym
    return " "


def zapsmall(x: np.ndarray, digits: int) -> np.ndarray:
    """R's ``zapsmall``: round so that values tiny relative to the largest become 0.

    R rounds to ``digits - log10(max|x|)`` decimals, and ``round`` takes the nearest integer
    of a fractional number of decimals.
    """
    x = np.asarray(x, dtype=float)
    mx = np.nanmax(np.abs(x)) if x.size else 0.0
    d = max(0.0, digits - math.log10(mx)) if mx > 0 else float(digits)
    return np.round(x, int(math.floor(d + 0.5)))


def quantile7(x: np.ndarray) -> np.ndarray:
    """Min, quartiles and max as R's ``quantile`` (type 7)."""
    return np.quantile(np.asarray(x, dtype=float), [0.0, 0.25, 0.5, 0.75, 1.0])


def cat_number(x: float) -> str:
    """A number as R's ``cat`` shows it (up to 7 significant digits).

    Examples
    --------
    >>> cat_number(1743.6), cat_number(247.0)
    ('1743.6', '247')
    """
    if not np.isfinite(x):
        return _nonfinite(x, "NA")
    s = f"{x:.7g}"
    if "e" in s:
        mant, exp = s.split("e")
        s = f"{mant}e{exp[0]}{exp[1:].lstrip('0').rjust(2, '0')}"
    return s


def print_matrix(
    cells: Sequence[Sequence[str]],
    rownames: Sequence[str],
    colnames: Sequence[str],
    right: bool = True,
) -> list[str]:
    """Lines of R's ``print`` of a character matrix (``quote = FALSE``).

    Row names are left-justified; cells and headers are right-justified (``right=True``) or
    left-justified; one space separates columns.
    """
    rw = max((len(r) for r in rownames), default=0)
    ncol = len(colnames)
    widths = [
        max([len(colnames[j])] + [len(row[j]) for row in cells]) if cells else len(colnames[j])
        for j in range(ncol)
    ]

    def just(s: str, w: int) -> str:
        return s.rjust(w) if right else s.ljust(w)

    lines = [" " * rw + "".join(" " + just(colnames[j], widths[j]) for j in range(ncol))]
    for r, row in zip(rownames, cells, strict=True):
        lines.append(r.ljust(rw) + "".join(" " + just(row[j], widths[j]) for j in range(ncol)))
    return lines


def print_named(values: Sequence[str], names: Sequence[str]) -> list[str]:
    """Lines of R's ``print`` of a named vector whose values are already formatted."""
    w = max(max(len(v) for v in values), max(len(n) for n in names))
    return [
        "".join(n.rjust(w) + " " for n in names),
        "".join(v.rjust(w) + " " for v in values),
    ]


def coef_table(
    rows: Sequence[str],
    columns: dict[str, Sequence[float]],
    cs: Sequence[str],
    tst: str | None,
    pcol: str | None,
    digits: int = 4,
    stars: bool = True,
) -> tuple[list[str], bool]:
    """Lines of R's ``printCoefmat`` and whether the significance legend applies.

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

    Examples
    --------
    >>> lines, legend = coef_table(
    ...     ["(Intercept)", "Days"],
    ...     {"Estimate": [251.405, 10.467], "Std. Error": [6.61, 1.238],
    ...      "t value": [38.03, 8.454], "Pr(>|t|)": [2.2e-87, 9.89e-15]},
    ...     cs=["Estimate", "Std. Error"], tst="t value", pcol="Pr(>|t|)")
    >>> lines[1]
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
    return print_matrix(cells, list(rows), headers, right=True), show_stars


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
