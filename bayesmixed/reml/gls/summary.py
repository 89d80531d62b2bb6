"""Plain-text summary of a :class:`~bayesmixed.reml.gls.result.GLSFit` (nlme's layout)."""

from __future__ import annotations

import pandas as pd

__all__ = ["GLSSummary"]


class GLSSummary:
    """``summary(gls)``-like text: criterion, fit statistics, covariance parameters, the
    residual correlation of a complete subject, fixed effects."""

    def __init__(self, fit, ddf: str = "residual"):
        self.fit = fit
        self.ddf = ddf

    def lines(self) -> list[str]:
        fit = self.fit
        rd = fit.rd
        kind = "REML" if fit.reml else "maximum likelihood"
        what = "Linear mixed model" if fit.design.terms else "Generalized least squares"
        g = fit.glance().iloc[0]
        out = [
            f"{what} fit by {kind}",
            f"  Formula: {fit.design.spec.formula}",
            f"  Residual: {rd.spec!r} ({type(rd.spec).description})",
            f"  {fit.n} observations, {len(rd.subjects)} subjects, {len(rd.time_levels)} visits",
            "",
            "      AIC       BIC    logLik  npar",
            f"{g['AIC']:9.2f} {g['BIC']:9.2f} {g['logLik']:9.2f} {int(g['npar']):5d}",
            "",
            "Covariance parameters:",
        ]
        rp = fit.tidy(effects="ran_pars")[["group", "term", "estimate"]]
        out += ["  " + s for s in rp.to_string(index=False).splitlines()]
        fx = fit.tidy(effects="fixed", ddf=self.ddf)
        tab = pd.DataFrame(
            {
                "Estimate": fx["estimate"].to_numpy(),
                "Std.Error": fx["std_error"].to_numpy(),
                "df": fx["df"].to_numpy(),
                "t value": fx["statistic"].to_numpy(),
                "p-value": fx["p_value"].to_numpy(),
            },
            index=fx["term"].to_numpy(),
        )
        out += ["", f"Fixed effects (df: {self.ddf}):"]
        out += ["  " + s for s in tab.to_string(float_format=lambda v: f"{v:.5g}").splitlines()]
        out += ["", f"Residual standard error: {fit.sigma:.6g}"]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return str(self)
