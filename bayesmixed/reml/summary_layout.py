"""The blocks of ``summary(lmer)``: lme4 + lmerTest's printed layout as a display description.

:func:`lmm_blocks` turns the numbers of an :class:`~bayesmixed.reml.summary.LmmSummary` into
:mod:`~bayesmixed.results.display` blocks, in the order and with the words of lme4's
``print.summary.merMod`` (and lmerTest's Satterthwaite columns). Every number is formatted
here, once, as R formats it; the text rendering of these blocks is R's output line for line
(tests/reference/test_summary.py) and the HTML rendering shows the same cells.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..results.components import cov_to_sd_cor
from ..results.display import Block, Gap, Heading, Note, Table, Text
from ..results.rformat import cat_number, format_real, zapsmall
from ..results.rprint import abbreviate, coef_table

if TYPE_CHECKING:  # pragma: no cover
    from .summary import LmmSummary

__all__ = ["lmm_blocks", "COR_MAX", "QUANTILE_NAMES"]

COR_MAX = 12  # lme4's option lme4.summary.cor.max
QUANTILE_NAMES = ["Min", "1Q", "Median", "3Q", "Max"]


def criteria_block(s: LmmSummary) -> Block:
    """``REML criterion at convergence:`` (REML) or the AIC … df.resid vector (ML)."""
    crit = s.criteria()
    if s.fit.reml:
        return Text(f"REML criterion at convergence: {cat_number(round(crit['REML'], 1))}")
    vals = [round(v, 1) for v in crit.values()]
    # df.resid is formatted on its own (an integer next to the criteria)
    txt = format_real(vals[:4], 7) + [format_real([vals[4]], 7)[0]]
    return Table([txt], list(crit), layout="vector")


def residual_table(s: LmmSummary) -> Table:
    """Quantiles of the scaled residuals as R prints a named vector."""
    q = zapsmall(s.scaled_residuals().to_numpy(), s.digits + 1)
    return Table([format_real(q, s.digits)], QUANTILE_NAMES, layout="vector")


def random_effects_table(s: LmmSummary) -> Table:
    """lme4's table of variance components: Groups, Name, Variance, Std.Dev., Corr."""
    f = s.fit
    re = s.random_effects()
    groups: list[str] = []
    last = None
    for g in re["group"]:
        groups.append(g if g != last else "")
        last = g
    var = format_real(re["variance"].to_numpy(), s.digits)
    sds = format_real(re["std_dev"].to_numpy(), s.digits)
    ks = [t.k for t in f.design.terms]
    maxk = max(ks) if ks else 1
    header = ["Groups", "Name", "Variance", "Std.Dev."]
    corr_cols: list[list[str]] = [[] for _ in range(len(re))]
    if maxk > 1:
        dig = max(2, s.digits - 2)
        row = 0
        for t, cov in zip(f.design.terms, f.covs, strict=True):
            _, cor = cov_to_sd_cor(cov)
            cells = format_real(np.round(cor, dig).ravel(), 7, nsmall=dig, na="NaN")
            cells = np.array(cells, dtype=object).reshape(t.k, t.k)
            for i in range(t.k):
                r = [cells[i, j] if j < i else "" for j in range(maxk)]
                corr_cols[row] = r[: maxk - 1]
                row += 1
        for i in range(row, len(re)):
            corr_cols[i] = [""] * (maxk - 1)
        header += ["Corr"] + [""] * (maxk - 2)
    cells = [[groups[i], re["name"].iloc[i], var[i], sds[i]] + corr_cols[i] for i in range(len(re))]
    return Table(cells, header, align="left")


def fixed_effects_table(s: LmmSummary) -> Table:
    """``printCoefmat`` of Estimate, Std. Error, df, t value, Pr(>|t|)."""
    fx = s.fixed_effects()
    cols = {
        "Estimate": fx["estimate"].to_numpy(),
        "Std. Error": fx["std_error"].to_numpy(),
        "df": fx["df"].to_numpy(),
        "t value": fx["statistic"].to_numpy(),
        "Pr(>|t|)": fx["p_value"].to_numpy(),
    }
    return coef_table(
        list(fx["term"]),
        cols,
        cs=["Estimate", "Std. Error", "df"],
        tst="t value",
        pcol="Pr(>|t|)",
        digits=s.digits,
    )


def correlation_blocks(s: LmmSummary) -> list[Block]:
    """The lower triangle of the fixed-effect correlations, or lme4's note when p > 12."""
    p = s.fit.design.p
    if p <= 1:
        return []
    if not s.correlation:
        return [
            Gap(),
            Text(f"Correlation matrix not shown by default, as p = {p} > {COR_MAX}."),
            Text("Use fit.summary(correlation=True) or fit.vcov() if you need it"),
        ]
    C = s.fixed_correlation()
    names = list(C.index)
    cells = format_real(np.round(C.to_numpy(), 3).ravel(), 7, nsmall=3)
    cells = np.array(cells, dtype=object).reshape(p, p)
    rows = abbreviate(names, 11)
    cols = abbreviate(names, 6)
    body = [[cells[i, j] if j < i else "" for j in range(p - 1)] for i in range(1, p)]
    return [
        Gap(),
        Heading("Correlation of Fixed Effects:"),
        Table(body, cols[:-1], rows[1:], align="left"),
    ]


def message_blocks(s: LmmSummary) -> list[Block]:
    """The optimizer's convergence code and every message, when there is one."""
    f = s.fit
    msgs = s.messages()
    if not msgs:
        return []
    status = f.optinfo.get("status")
    code = "0 (OK)" if isinstance(status, int) and status > 0 else f"{status}"
    opt = f.optinfo.get("optimizer", "BOBYQA")
    return [Note(f"optimizer ({opt}) convergence code: {code}")] + [Note(m) for m in msgs]


def lmm_blocks(s: LmmSummary) -> list[Block]:
    """The whole summary, in lme4's order."""
    f = s.fit
    d = f.design
    blocks: list[Block] = [
        Heading(s.title, level=1),
        Text(f"Formula: {d.spec.formula}"),
        Gap(),
        criteria_block(s),
        Gap(),
        Heading("Scaled residuals: "),
        residual_table(s),
        Gap(),
        Heading("Random effects:"),
        random_effects_table(s),
    ]
    groups = "; ".join(f"{g}, {m}" for g, m in s.ngroups().items())
    blocks.append(Text(f"Number of obs: {f.n}, groups:  {groups}"))
    if d.nrows_dropped:
        blocks.append(Text(f"  ({d.nrows_dropped} observations deleted due to missingness)"))
    if d.p > 0:
        blocks += [Gap(), Heading("Fixed effects:"), fixed_effects_table(s)]
        blocks += correlation_blocks(s)
    if d.dropped:
        blocks.append(
            Note(
                "fixed-effect model matrix is rank deficient so dropping "
                f"{len(d.dropped)} columns / coefficients: {', '.join(d.dropped)}"
            )
        )
    return blocks + message_blocks(s)
