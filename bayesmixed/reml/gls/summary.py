"""Summary of a :class:`~bayesmixed.reml.gls.result.GLSFit` (nlme's layout), described once as
display blocks (:mod:`bayesmixed.results.display`): ``str()`` is the text, Jupyter shows the
HTML of the same blocks.

Shown: the method and model, the fit statistics (AIC, BIC, logLik, npar), the covariance
parameters (tidy's ``ran_pars`` rows), the residual correlation of a subject with the most
visits, the fixed effects with t tests (``ddf`` df), σ̂, and the optimizer's and boundary
messages.
"""

from __future__ import annotations

import numpy as np

from ...results.display import Block, Described, Gap, Heading, Note, Table, Text, table_from_frame
from ...results.rformat import format_pval

__all__ = ["GLSSummary"]


def _num(x: float) -> str:
    return f"{x:.5g}" if np.isfinite(x) else ("Inf" if x > 0 else "NA")


class GLSSummary(Described):
    """``summary(gls)``-like display of a GLS fit.

    Parameters
    ----------
    fit : GLSFit
    ddf : str
        Denominator df of the fixed-effect t tests (see :meth:`GLSFit.fixed_df`).

    Examples
    --------
    >>> import numpy as np, pandas as pd, bayesmixed as bm
    >>> rng = np.random.default_rng(2)
    >>> d = pd.DataFrame({"id": np.repeat(np.arange(30), 3), "visit": ["a", "b", "c"] * 30})
    >>> d["y"] = rng.normal(size=90)
    >>> fit = bm.MixedModel("y ~ visit", d, residual=bm.residual.AR1(time="visit",
    ...                     group="id")).fit_reml()
    >>> print(fit.summary())  # doctest: +ELLIPSIS
    Generalized least squares fit by REML
      Formula: y ~ visit
      Residual: AR1(time='visit', group='id') (first-order autoregressive)
      90 observations, 30 subjects, 3 visits
    ...
    >>> "<table" in fit.summary()._repr_html_()
    True
    """

    def __init__(self, fit, ddf: str = "residual"):
        fit.fixed_df(ddf)  # validate now
        self.fit = fit
        self.ddf = ddf

    def _header(self) -> list[Block]:
        fit, rd = self.fit, self.fit.rd
        kind = "REML" if fit.reml else "maximum likelihood"
        what = "Linear mixed model" if fit.design.terms else "Generalized least squares"
        return [
            Heading(f"{what} fit by {kind}", level=1),
            Text(f"  Formula: {fit.design.spec.formula}"),
            Text(f"  Residual: {rd.spec!r} ({type(rd.spec).description})"),
            Text(
                f"  {fit.n} observations, {len(rd.subjects)} subjects, {len(rd.time_levels)} visits"
            ),
        ]

    def _statistics(self) -> Table:
        g = self.fit.glance().iloc[0]
        cells = [[f"{g['AIC']:.2f}", f"{g['BIC']:.2f}", f"{g['logLik']:.2f}", str(int(g["npar"]))]]
        return Table(cells, ["AIC", "BIC", "logLik", "npar"], rows=[""])

    def _correlation(self) -> list[Block]:
        rd = self.fit.rd
        counts = np.bincount(rd.subject_codes, minlength=len(rd.subjects))
        subject = rd.subjects[int(np.argmax(counts))]
        cor = self.fit.residual_cor(subject)
        cells = [[f"{v:.3f}" for v in row] for row in cor.to_numpy()]
        return [
            Heading(f"Residual correlation (subject {subject}):"),
            Table(cells, list(cor.columns), rows=list(cor.index)),
        ]

    def _fixed(self) -> Table:
        fx = self.fit.tidy(effects="fixed", ddf=self.ddf)
        pv = format_pval(fx["p_value"].to_numpy(), digits=4)
        cells = [
            [_num(e), _num(s), _num(d), _num(t), p]
            for e, s, d, t, p in zip(
                fx["estimate"], fx["std_error"], fx["df"], fx["statistic"], pv, strict=True
            )
        ]
        return Table(
            cells, ["Estimate", "Std.Error", "df", "t value", "p-value"], rows=list(fx["term"])
        )

    def messages(self) -> list[str]:
        """The optimizer's and the boundary messages (empty for a clean fit)."""
        info = self.fit.optinfo
        out = list(info.get("messages", []) or [])
        bound = info.get("boundary") or []
        if bound:
            out.append(
                "boundary (singular) fit: " + ", ".join(bound) + " on the boundary (a variance "
                "of zero or a correlation of ±1)"
            )
        return out

    def blocks(self) -> list[Block]:
        """The summary as display blocks."""
        fit = self.fit
        rp = fit.tidy(effects="ran_pars")[["group", "term", "estimate"]]
        out = self._header() + [Gap(), self._statistics(), Gap()]
        out += [Heading("Covariance parameters:"), table_from_frame(rp, number=_num), Gap()]
        out += self._correlation() + [Gap()]
        out += [Heading(f"Fixed effects (df: {self.ddf}):"), self._fixed(), Gap()]
        out.append(Text(f"Residual standard error: {fit.sigma:.6g}"))
        out += [Note(m) for m in self.messages()]
        return out
