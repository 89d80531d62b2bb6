"""Numbers as R formats them: ``format``, ``format.pval``, ``zapsmall``, ``cat``, quantiles.

The text summaries of :class:`~bayesmixed.ols.summary.OLSSummary` and
:class:`~bayesmixed.reml.summary.LmmSummary` print their numbers as R's ``summary(lm)`` and
``summary(lmer)`` do, so that a reader who knows those finds every number where, and as,
they expect it. The helpers implement the documented behaviour of R's functions:

* :func:`format_real` — ``format(x, digits=)`` for a numeric vector: one common notation (fixed
  or scientific, whichever is narrower) with enough digits for every element to show ``digits``
  significant digits;
* :func:`format_pval` — ``format.pval`` (``"< 2e-16"`` below machine epsilon);
* :func:`signif_stars` — the significance codes of ``printCoefmat``;
* :func:`zapsmall`, :func:`quantile7` (type-7 quantiles), :func:`cat_number` (``cat``).

The tables built from these strings are in :mod:`bayesmixed.results.rprint`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "EPS",
    "format_real",
    "format_pval",
    "signif_stars",
    "zapsmall",
    "quantile7",
    "cat_number",
]

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
