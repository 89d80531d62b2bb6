"""``summary(lmer)`` for a REML/ML fit: the text lme4 + lmerTest print, an HTML version, a dict.

Layout (lme4's ``print.summary.merMod`` with lmerTest's Satterthwaite columns):

* method title and formula;
* REML criterion at convergence (REML) or AIC, BIC, logLik, deviance, df.resid (ML);
* scaled residuals: type-7 quantiles of residual / σ̂;
* random effects: Groups, Name, Variance, Std.Dev., Corr (term names as broom.mixed,
  ``Subject.1`` for a second term on the same factor);
* number of observations and of levels of each grouping factor;
* fixed effects: Estimate, Std. Error, df, t value, Pr(>|t|) with significance stars;
* correlation of fixed effects (not shown when there are more than 12 fixed effects);
* optimizer and boundary (singular fit) messages.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..results.components import cov_to_sd_cor
from ..results.rprint import (
    SIGNIF_LEGEND,
    abbreviate,
    cat_number,
    coef_table,
    format_pval,
    format_real,
    print_matrix,
    print_named,
    quantile7,
    signif_stars,
    zapsmall,
)

if TYPE_CHECKING:  # pragma: no cover
    from .result import REMLFit

__all__ = ["LmmSummary"]

COR_MAX = 12  # lme4's option lme4.summary.cor.max
_QNAMES = ["Min", "1Q", "Median", "3Q", "Max"]

_CSS = (
    "<style>.bayesmixed-summary table{border-collapse:collapse;margin:0.3em 0 0.8em 0}"
    ".bayesmixed-summary td,.bayesmixed-summary th{padding:0.15em 0.7em;text-align:right;"
    "font-family:monospace}.bayesmixed-summary th{border-bottom:1px solid #999}"
    ".bayesmixed-summary .note{color:#8a4b00}</style>"
)


class LmmSummary:
    """Summary of a :class:`~bayesmixed.reml.result.REMLFit` in the layout of ``summary(lmer)``.

    ``str()`` gives lme4/lmerTest's text; in Jupyter it renders as HTML; :meth:`to_dict`
    returns the numbers.

    Parameters
    ----------
    fit : REMLFit
    correlation : bool, optional
        Show the correlation of the fixed effects; by default only when there are at most
        12 fixed effects (as lme4).
    digits : int
        Digits used by the tables (lme4 prints with 4).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> print(fit.summary())  # doctest: +ELLIPSIS
    Linear mixed model fit by REML. t-tests use Satterthwaite's method
    Formula: Reaction ~ Days + (Days | Subject)
    <BLANKLINE>
    REML criterion at convergence: 1743.6
    ...
    """

    def __init__(
        self,
        fit: REMLFit,
        correlation: bool | None = None,
        digits: int = 4,
        ddf: str = "Satterthwaite",
    ):
        self.fit = fit
        self.digits = digits
        fit._tester(ddf)  # validate now
        self.ddf = "Kenward-Roger" if fit._tester(ddf) is not fit.satterthwaite else "Satterthwaite"
        p = fit.design.p
        self.correlation = (p <= COR_MAX) if correlation is None else bool(correlation)
        self._satterthwaite_error: str | None = None

    # ------------------------------------------------------------------ the numbers
    @property
    def method(self) -> str:
        """``"REML"`` or ``"ML"``."""
        return "REML" if self.fit.reml else "ML"

    @property
    def title(self) -> str:
        """First line of the summary."""
        how = "REML" if self.fit.reml else "maximum likelihood"
        return f"Linear mixed model fit by {how}. t-tests use {self.ddf}'s method"

    def criteria(self) -> dict[str, float]:
        """REML criterion (REML fits) or AIC, BIC, logLik, deviance, df.resid (ML fits)."""
        f = self.fit
        if f.reml:
            return {"REML": float(f.criterion)}
        return {
            "AIC": float(f.aic),
            "BIC": float(f.bic),
            "logLik": float(f.loglik),
            "deviance": float(f.criterion),
            "df.resid": float(f.n - f.nparams),
        }

    def scaled_residuals(self) -> pd.Series:
        """Type-7 quantiles (Min, 1Q, Median, 3Q, Max) of residuals / σ̂."""
        q = quantile7(self.fit.residuals() / self.fit.sigma)
        return pd.Series(q, index=_QNAMES, name="scaled_residuals")

    def random_effects(self) -> pd.DataFrame:
        """One row per variance parameter: group, name, variance, std_dev, and the term's
        correlations as ``corr`` (list, with the earlier columns of the term)."""
        f = self.fit
        rows = []
        for t, cov in zip(f.design.terms, f.covs, strict=True):
            sd, cor = cov_to_sd_cor(cov)
            for i, cname in enumerate(t.cnames):
                rows.append(
                    {
                        "group": t.name,
                        "name": cname,
                        "variance": float(cov[i, i]),
                        "std_dev": float(sd[i]),
                        "corr": [float(c) for c in cor[i, :i]],
                    }
                )
        rows.append(
            {
                "group": "Residual",
                "name": "",
                "variance": float(f.sigma**2),
                "std_dev": float(f.sigma),
                "corr": [],
            }
        )
        return pd.DataFrame(rows, columns=["group", "name", "variance", "std_dev", "corr"])

    def ngroups(self) -> dict[str, int]:
        """Number of levels of each grouping factor (each factor once, lme4's order)."""
        out: dict[str, int] = {}
        for t in self.fit.design.terms:
            out.setdefault(t.group, t.m)
        return out

    def fixed_effects(self) -> pd.DataFrame:
        """Estimate, std_error, df (Satterthwaite), statistic (t), p_value per fixed effect."""
        cols = ["term", "estimate", "std_error", "df", "statistic", "p_value"]
        try:
            tab = self.fit.tidy(effects="fixed", ddf=self.ddf)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
            # a summary must always print: show the estimates without Satterthwaite tests
            self._satterthwaite_error = str(exc)
            se = np.sqrt(np.diag(self.fit.vcov().to_numpy()))
            tab = pd.DataFrame(
                {
                    "term": self.fit.design.xnames,
                    "estimate": self.fit.beta,
                    "std_error": se,
                    "df": np.nan,
                    "statistic": self.fit.beta / se,
                    "p_value": np.nan,
                }
            )
        return tab[cols].reset_index(drop=True)

    def fixed_correlation(self) -> pd.DataFrame:
        """Correlation matrix of the fixed-effect estimates."""
        V = self.fit.vcov()
        s = np.sqrt(np.diag(V.to_numpy()))
        C = V.to_numpy() / np.outer(s, s)
        return pd.DataFrame(C, index=V.index, columns=V.columns)

    def messages(self) -> list[str]:
        """Convergence and boundary messages (empty for a clean fit)."""
        f = self.fit
        msgs = list(f.optinfo.get("messages", []) or [])
        if self._satterthwaite_error:
            msgs.append(
                f"Satterthwaite degrees of freedom unavailable ({self._satterthwaite_error}); "
                "t statistics shown without p-values"
            )
        if f.is_singular:
            msgs.append(
                "boundary (singular) fit: "
                + ", ".join(f.singular_parameters)
                + " estimated on the boundary (a variance of zero or a correlation of ±1)"
            )
        return msgs

    def to_dict(self) -> dict:
        """The summary's numbers as plain Python objects (JSON-serialisable).

        Examples
        --------
        >>> import bayesmixed as bm
        >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
        >>> fit.summary().to_dict()["ngroups"]
        {'Batch': 6}
        """
        f = self.fit
        out = {
            "method": self.method,
            "formula": f.design.spec.formula,
            "nobs": int(f.n),
            "criteria": self.criteria(),
            "scaled_residuals": {k: float(v) for k, v in self.scaled_residuals().items()},
            "random_effects": self.random_effects().to_dict(orient="records"),
            "ngroups": self.ngroups(),
            "fixed_effects": self.fixed_effects().to_dict(orient="records"),
            "correlation": (
                self.fixed_correlation().to_numpy().tolist() if f.design.p > 1 else None
            ),
            "singular": bool(f.is_singular),
            "messages": self.messages(),
        }
        return out

    # ------------------------------------------------------------------ text
    def _criteria_lines(self) -> list[str]:
        crit = self.criteria()
        if self.fit.reml:
            return [f"REML criterion at convergence: {cat_number(round(crit['REML'], 1))}"]
        vals = [round(v, 1) for v in crit.values()]
        txt = format_real(vals[:4], 7)
        txt.append(format_real([vals[4]], 7)[0])
        return print_named(txt, list(crit))

    def _residual_lines(self) -> list[str]:
        q = zapsmall(self.scaled_residuals().to_numpy(), self.digits + 1)
        return print_named(format_real(q, self.digits), _QNAMES)

    def _vc_cells(self) -> tuple[list[str], list[list[str]]]:
        """Header and cells of lme4's random-effects table."""
        f = self.fit
        re = self.random_effects()
        groups: list[str] = []
        last = None
        for g in re["group"]:
            groups.append(g if g != last else "")
            last = g
        var = format_real(re["variance"].to_numpy(), self.digits)
        sds = format_real(re["std_dev"].to_numpy(), self.digits)
        ks = [t.k for t in f.design.terms]
        maxk = max(ks) if ks else 1
        header = ["Groups", "Name", "Variance", "Std.Dev."]
        corr_cols: list[list[str]] = [[] for _ in range(len(re))]
        if maxk > 1:
            dig = max(2, self.digits - 2)
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
        cells = [
            [groups[i], re["name"].iloc[i], var[i], sds[i]] + corr_cols[i] for i in range(len(re))
        ]
        return header, cells

    def _fixed_lines(self) -> tuple[list[str], bool]:
        fx = self.fixed_effects()
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
            digits=self.digits,
        )

    def _correlation_lines(self) -> list[str]:
        p = self.fit.design.p
        if p <= 1:
            return []
        if not self.correlation:
            return [
                "",
                f"Correlation matrix not shown by default, as p = {p} > {COR_MAX}.",
                "Use fit.summary(correlation=True) or fit.vcov() if you need it",
            ]
        C = self.fixed_correlation()
        names = list(C.index)
        cells = format_real(np.round(C.to_numpy(), 3).ravel(), 7, nsmall=3)
        cells = np.array(cells, dtype=object).reshape(p, p)
        rows = abbreviate(names, 11)
        cols = abbreviate(names, 6)
        body = [[cells[i, j] if j < i else "" for j in range(p - 1)] for i in range(1, p)]
        return ["", "Correlation of Fixed Effects:"] + print_matrix(
            body, rows[1:], cols[:-1], right=False
        )

    def _message_lines(self) -> list[str]:
        f = self.fit
        msgs = self.messages()
        if not msgs:
            return []
        status = f.optinfo.get("status")
        code = "0 (OK)" if isinstance(status, int) and status > 0 else f"{status}"
        opt = f.optinfo.get("optimizer", "BOBYQA")
        return [f"optimizer ({opt}) convergence code: {code}"] + msgs

    def __str__(self) -> str:
        f = self.fit
        lines = [self.title, f"Formula: {f.design.spec.formula}", ""]
        lines += self._criteria_lines() + [""]
        lines += ["Scaled residuals: "] + self._residual_lines() + [""]
        header, cells = self._vc_cells()
        lines += ["Random effects:"] + print_matrix(cells, [""] * len(cells), header, right=False)
        groups = "; ".join(f"{g}, {m}" for g, m in self.ngroups().items())
        lines.append(f"Number of obs: {f.n}, groups:  {groups}")
        if f.design.nrows_dropped:
            lines.append(f"  ({f.design.nrows_dropped} observations deleted due to missingness)")
        if f.design.p > 0:
            table, legend = self._fixed_lines()
            lines += ["", "Fixed effects:"] + table
            if legend:
                lines += ["---", SIGNIF_LEGEND]
            lines += self._correlation_lines()
        if f.design.dropped:
            lines.append(
                "fixed-effect model matrix is rank deficient so dropping "
                f"{len(f.design.dropped)} columns / coefficients: {', '.join(f.design.dropped)}"
            )
        lines += self._message_lines()
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    # ------------------------------------------------------------------ HTML
    def _repr_html_(self) -> str:
        f = self.fit
        esc = html.escape
        parts = [_CSS, '<div class="bayesmixed-summary">']
        parts.append(
            f"<p><b>{esc(self.title)}</b><br>Formula: <code>{esc(f.design.spec.formula)}</code></p>"
        )
        crit = self.criteria()
        if f.reml:
            parts.append(f"<p>REML criterion at convergence: {crit['REML']:.1f}</p>")
        else:
            ct = pd.DataFrame([{k: _num(v, 1) for k, v in crit.items()}], index=[""])
            ct["df.resid"] = str(int(crit["df.resid"]))
            parts.append(ct.to_html(border=0))
        sr = self.scaled_residuals()
        parts.append("<p><b>Scaled residuals</b></p>")
        parts.append(
            pd.DataFrame([[f"{v:.4f}" for v in sr]], columns=_QNAMES, index=[""]).to_html(border=0)
        )
        header, cells = self._vc_cells()
        vc = pd.DataFrame([[c.strip() for c in row] for row in cells], columns=header)
        parts.append("<p><b>Random effects</b></p>")
        parts.append(vc.to_html(border=0, index=False))
        groups = "; ".join(f"{esc(g)}: {m}" for g, m in self.ngroups().items())
        parts.append(f"<p>Number of obs: {f.n}; groups: {groups}</p>")
        if f.design.p > 0:
            fx = self.fixed_effects()
            tab = pd.DataFrame(
                {
                    "Estimate": [_num(v) for v in fx["estimate"]],
                    "Std. Error": [_num(v) for v in fx["std_error"]],
                    "df": [_num(v) for v in fx["df"]],
                    "t value": [_num(v) for v in fx["statistic"]],
                    "Pr(>|t|)": [s.strip() for s in format_pval(fx["p_value"], digits=3)],
                    "": [signif_stars(v).strip() for v in fx["p_value"]],
                },
                index=list(fx["term"]),
            )
            parts.append(f"<p><b>Fixed effects</b> ({self.ddf} df)</p>")
            parts.append(tab.to_html(border=0))
            parts.append(f"<p><small>{esc(SIGNIF_LEGEND)}</small></p>")
            if f.design.p > 1 and self.correlation:
                C = self.fixed_correlation()
                shown = C.map(lambda v: f"{v:.3f}")
                mask = np.tril(np.ones(C.shape, dtype=bool), k=-1)
                shown = shown.where(mask, "")
                shown = shown.iloc[1:, :-1]
                parts.append("<p><b>Correlation of fixed effects</b></p>")
                parts.append(shown.to_html(border=0))
        for m in self.messages():
            parts.append(f'<p class="note">{esc(m)}</p>')
        parts.append("</div>")
        return "".join(parts)


def _num(v: float, digits: int | None = None) -> str:
    if v is None or not np.isfinite(v):
        return "NA"
    if digits is not None:
        return f"{v:.{digits}f}"
    return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.6g}"
