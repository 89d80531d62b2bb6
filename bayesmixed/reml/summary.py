"""``summary(lmer)`` for a REML/ML fit: its numbers, and lme4 + lmerTest's text and HTML.

:class:`LmmSummary` computes what lme4's ``print.summary.merMod`` shows, with lmerTest's
Satterthwaite (or Kenward–Roger) columns:

* method title and formula;
* REML criterion at convergence (REML) or AIC, BIC, logLik, deviance, df.resid (ML);
* scaled residuals: type-7 quantiles of residual / σ̂;
* random effects: Groups, Name, Variance, Std.Dev., Corr (term names as broom.mixed,
  ``Subject.1`` for a second term on the same factor);
* number of observations and of levels of each grouping factor;
* fixed effects: Estimate, Std. Error, df, t value, Pr(>|t|) with significance stars;
* correlation of fixed effects (not shown when there are more than 12 fixed effects);
* optimizer and boundary (singular fit) messages.

Its layout is described once, as display blocks, in :mod:`bayesmixed.reml.summary_layout`;
``str()`` and the Jupyter HTML are the two renderings of those blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..results.components import cov_to_sd_cor
from ..results.display import Block, Described
from ..results.rformat import quantile7
from .summary_layout import COR_MAX, QUANTILE_NAMES, lmm_blocks

if TYPE_CHECKING:  # pragma: no cover
    from .result import REMLFit

__all__ = ["LmmSummary"]


class LmmSummary(Described):
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
        return pd.Series(q, index=QUANTILE_NAMES, name="scaled_residuals")

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

    # ------------------------------------------------------------------ display
    def blocks(self) -> list[Block]:
        """The summary as display blocks (see :mod:`bayesmixed.reml.summary_layout`)."""
        return lmm_blocks(self)
