"""``summary(lm)``: the text and HTML summary of an :class:`~bayesmixed.ols.fit.OLSFit`.

The layout is R's ``print.summary.lm``, described once as display blocks
(:meth:`OLSSummary.blocks`); ``str()`` and the Jupyter HTML are its two renderings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..results.display import Block, Described, Gap, Heading, Table, Text
from ..results.rformat import format_pval, format_real, quantile7, zapsmall
from ..results.rprint import coef_table

if TYPE_CHECKING:  # pragma: no cover
    from .fit import OLSFit

__all__ = ["OLSSummary"]


class OLSSummary(Described):
    """``summary(lm)`` for an :class:`OLSFit`: residual quantiles, coefficients, R², F test.

    ``str()`` gives the text; in Jupyter it renders as HTML.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")).fit_reml()
    >>> "Multiple R-squared:  0.2865" in str(fit.summary())
    True
    """

    digits = 4

    def __init__(self, fit: OLSFit):
        self.fit = fit

    # pieces shared by the text and the HTML version
    def _coef_rows(self) -> tuple[list[str], dict[str, np.ndarray]]:
        """All coefficients of the full model matrix, NaN for aliased (dropped) ones."""
        d = self.fit.design
        tidy = self.fit.tidy().set_index("term")
        keep = d.fixed_keep if d.fixed_keep is not None else np.ones(d.p, dtype=bool)
        names: list[str] = []
        kept = iter(d.xnames)
        dropped = iter(d.dropped)
        for k in keep:
            names.append(next(kept) if k else next(dropped))
        cols = {
            "Estimate": tidy["estimate"],
            "Std. Error": tidy["std_error"],
            "t value": tidy["statistic"],
            "Pr(>|t|)": tidy["p_value"],
        }
        return names, {k: v.reindex(names).to_numpy(dtype=float) for k, v in cols.items()}

    def _residual_block(self) -> Block:
        """Residual quantiles (or every residual, for at most 5 residual df) as R's vector."""
        res = self.fit.residuals()
        rdf = self.fit.df_residual
        if rdf > 5:
            q = zapsmall(quantile7(res), self.digits + 1)
            cells, names = format_real(q, self.digits), ["Min", "1Q", "Median", "3Q", "Max"]
        elif rdf > 0:
            cells, names = format_real(res, self.digits), [str(i + 1) for i in range(len(res))]
        else:
            return Text(f"ALL {self.fit.p} residuals are 0: no residual degrees of freedom!")
        return Table([cells], names, layout="vector")

    def _footer_lines(self) -> list[str]:
        f = self.fit
        dg = self.digits
        lines = [
            f"Residual standard error: {_signif(f.sigma, dg)} on {f.df_residual} degrees of freedom"
        ]
        if f.design.nrows_dropped:
            lines.append(f"  ({f.design.nrows_dropped} observations deleted due to missingness)")
        r2, adj, F, numdf, p = f._fstat
        if np.isfinite(F):
            lines.append(
                f"Multiple R-squared:  {_formatC(r2, dg)},\tAdjusted R-squared:  "
                f"{_formatC(adj, dg)} "
            )
            lines.append(
                f"F-statistic: {_formatC(F, dg)} on {int(numdf)} and {f.df_residual} DF,  "
                f"p-value: {format_pval([p], digits=dg)[0]}"
            )
        return lines

    def blocks(self) -> list[Block]:
        """The summary as display blocks, in the order of R's ``print.summary.lm``."""
        f = self.fit
        d = f.design
        names, cols = self._coef_rows()
        k = len(d.dropped)
        coef_head = f"Coefficients: ({k} not defined because of singularities)" if k else None
        return [
            Heading("Linear model fit by least squares", level=1),
            Text(f"Formula: {d.spec.formula}"),
            Gap(),
            Heading("Residuals:"),
            self._residual_block(),
            Gap(),
            Heading(coef_head or "Coefficients:"),
            coef_table(names, cols, cs=["Estimate", "Std. Error"], tst="t value", pcol="Pr(>|t|)"),
            Gap(),
            *[Text(line) for line in self._footer_lines()],
            Gap(),
        ]

    def to_dict(self) -> dict:
        """The summary's numbers as plain Python objects."""
        f = self.fit
        g = f.glance().iloc[0]
        return {
            "formula": f.design.spec.formula,
            "nobs": f.n,
            "residual_quantiles": dict(
                zip(
                    ["Min", "1Q", "Median", "3Q", "Max"],
                    quantile7(f.residuals()).tolist(),
                    strict=True,
                )
            ),
            "coefficients": f.tidy().drop(columns=["effect", "group"]).to_dict(orient="records"),
            "dropped": list(f.design.dropped),
            "sigma": f.sigma,
            "df_residual": f.df_residual,
            "r_squared": float(g["r_squared"]),
            "adj_r_squared": float(g["adj_r_squared"]),
            "fstatistic": None if not np.isfinite(f._fstat[2]) else float(f._fstat[2]),
            "p_value": None if not np.isfinite(f._fstat[4]) else float(f._fstat[4]),
        }


def _signif(x: float, digits: int) -> str:
    """``format(signif(x, digits))``."""
    if not np.isfinite(x):
        return "NA"
    return format_real([float(f"{x:.{digits}g}")], 7)[0]


def _formatC(x: float, digits: int) -> str:
    """R's ``formatC(x, digits)``: C's ``%.{digits}g``, right-justified to ``digits + 1``."""
    return f"{x:.{digits}g}".rjust(digits + 1)
