"""Ordinary least squares for formulas without a random term (R's ``lm``).

The fit is a Householder QR decomposition of the fixed-effects matrix, as R's ``lm.fit``:
``X = QR``, the *effects* ``Q'y``, ``β̂ = R⁻¹ Q'y``. The effects also give the sequential
(type I) sums of squares of ``anova(lm)``: the squared effect of each column, summed over the
columns of a term. Aliased columns were already dropped by the design (with a
:class:`~bayesmixed.errors.RankDeficiencyWarning`), so ``R`` is non-singular.

Tables follow broom: ``tidy()`` (``tidy.lm``), ``glance()`` (``glance.lm``) and ``anova()``
(``tidy(anova(lm))``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.linalg as sla
from scipy import stats

from ..design.build import Design
from ..errors import ArgumentError
from ..results.components import Components
from ..results.fit import Fit
from ..results.frames import tidy_frame
from ..results.predictor import linear_predictor, prediction_matrices

__all__ = ["OLSFit", "fit_ols"]

GLANCE_COLUMNS = [
    "r_squared",
    "adj_r_squared",
    "sigma",
    "statistic",
    "p_value",
    "df",
    "logLik",
    "AIC",
    "BIC",
    "deviance",
    "df_residual",
    "nobs",
]
ANOVA_COLUMNS = ["term", "df", "sum_sq", "mean_sq", "statistic", "p_value"]


def fit_ols(design: Design) -> OLSFit:
    """Fit a fixed-effects-only design by least squares (QR decomposition).

    Parameters
    ----------
    design : Design
        From :func:`bayesmixed.design.build_design`; random terms, if any, are ignored.

    Returns
    -------
    OLSFit

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")).fit_reml()
    >>> fit.fixef().round(3).tolist()
    [251.405, 10.467]
    """
    X = design.X
    y = design.y
    Q, R = sla.qr(X, mode="economic")
    effects = Q.T @ y
    beta = sla.solve_triangular(R, effects, lower=False)
    fitted = Q @ effects
    return OLSFit(
        design=design,
        beta=beta,
        R=R,
        effects=effects,
        fitted_values=fitted,
        refitter=_refit_ols,
    )


def _refit_ols(design: Design, reml: bool = False) -> OLSFit:
    """This engine's refitter (``reml`` is moot: least squares is ML for β)."""
    if design.terms:
        raise ArgumentError(
            "a least-squares fit cannot refit a model with random terms here: fit it with "
            "MixedModel(formula, data).fit_reml()"
        )
    return fit_ols(design)


@dataclass(repr=False)
class OLSFit(Fit):
    """A linear model fitted by ordinary least squares (what ``lm`` returns in R).

    Use :meth:`bayesmixed.MixedModel.fit_reml` on a formula without random terms, or
    :func:`fit_ols`.

    Attributes
    ----------
    design : Design
    beta : ndarray
        Coefficient estimates (``design.xnames`` order).
    R : ndarray
        Upper-triangular factor of the QR decomposition of X.
    effects : ndarray
        The first p elements of Q'y.
    fitted_values : ndarray
        X β̂, as ``lm.fit`` computes it (Q Q'y).
    refitter : callable, optional
        ``(design, reml=) -> fit`` for :meth:`refit` (injected by whoever made the fit).
    """

    design: Design
    beta: np.ndarray
    R: np.ndarray
    effects: np.ndarray
    fitted_values: np.ndarray
    refitter: Callable | None = field(default=None, repr=False, compare=False)

    reml = False

    def _saved_state(self) -> tuple[str, dict, dict, object]:
        """The coefficients: loading refits by least squares and checks it finds them."""
        return "ols", {}, {"beta": np.asarray(self.beta, float)}, None

    # ------------------------------------------------------------------ sizes and scale
    @property
    def p(self) -> int:
        """Number of estimated coefficients (the rank of X)."""
        return self.design.p

    @property
    def df_residual(self) -> int:
        """Residual degrees of freedom n − p."""
        return self.n - self.p

    @cached_property
    def rss(self) -> float:
        """Residual sum of squares (R's ``deviance(lm)``)."""
        r = self.design.y - self.fitted_values
        return float(r @ r)

    @property
    def sigma(self) -> float:
        """Residual standard error √(RSS / (n − p))."""
        return float(np.sqrt(self.rss / self.df_residual))

    @property
    def nparams(self) -> int:
        """Parameters counted by ``logLik``: p coefficients and σ."""
        return self.p + 1

    @property
    def loglik(self) -> float:
        """Gaussian log-likelihood at the ML estimate of σ (R's ``logLik.lm``)."""
        n = self.n
        return float(-0.5 * n * (np.log(2 * np.pi) + 1.0 - np.log(n) + np.log(self.rss)))

    # ------------------------------------------------------------------ estimates
    @cached_property
    def _Rinv(self) -> np.ndarray:
        return sla.solve_triangular(self.R, np.eye(self.p), lower=False)

    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the coefficients, σ̂² (X'X)⁻¹ = σ̂² R⁻¹R⁻ᵀ."""
        V = self.sigma**2 * (self._Rinv @ self._Rinv.T)
        return pd.DataFrame(V, index=self.design.xnames, columns=self.design.xnames)

    def _lincomb_cov(self, L: np.ndarray, ddf: str) -> tuple[np.ndarray, np.ndarray]:
        """Covariance and df of L β̂ (the Fit hook of emmeans and contrasts): t on the
        residual df whatever ``ddf`` says, except ``"asymptotic"`` (infinite df)."""
        L = np.atleast_2d(np.asarray(L, float))
        df = np.inf if ddf == "asymptotic" else float(self.df_residual)
        return L @ self.vcov().to_numpy() @ L.T, np.full(L.shape[0], df)

    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        re: bool = True,
        se_fit: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predictions X_new β̂ (``predict.lm``).

        Parameters
        ----------
        newdata : DataFrame, optional
            Defaults to the fitting data.
        re : bool
            Ignored (there are no random effects); accepted so that code written for mixed
            models works unchanged.
        se_fit : bool
            Also return the standard errors of the predicted means.

        Returns
        -------
        ndarray, or (ndarray, ndarray) with ``se_fit=True``

        Examples
        --------
        >>> import bayesmixed as bm, pandas as pd
        >>> fit = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")).fit_reml()
        >>> fit.predict(pd.DataFrame({"Days": [0, 9]})).round(2).tolist()
        [251.41, 345.61]
        """
        Xn, _ = prediction_matrices(self.design, newdata, re=False)
        pred = linear_predictor(Xn, self.beta)
        if not se_fit:
            return pred
        se = self.sigma * np.sqrt(np.sum((Xn @ self._Rinv) ** 2, axis=1))
        return pred, se

    def components(self) -> Components:
        """Point estimates in the primer's terms (no random-effect covariances)."""
        return Components(
            design=self.design,
            beta=self.beta,
            sigma=np.asarray(self.sigma),
            cov=[],
            b=[],
            draws=False,
        )

    # ------------------------------------------------------------------ tables
    def tidy(self, conf_int: bool = False, conf_level: float = 0.95) -> pd.DataFrame:
        """Coefficient table as broom's ``tidy.lm`` (t tests on n − p df).

        Parameters
        ----------
        conf_int : bool
            Add ``conf_low``/``conf_high`` (t quantiles on the residual df).
        conf_level : float
            Coverage of the intervals, between 0 and 1.

        Returns
        -------
        pandas.DataFrame
            Columns effect ("fixed"), group (None), term, estimate, std_error, statistic,
            df (= df.residual), p_value.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> fit = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")).fit_reml()
        >>> fit.tidy()[["term", "statistic"]].round(3).values.tolist()
        [['(Intercept)', 38.033], ['Days', 8.454]]
        """
        if not (isinstance(conf_level, (int, float)) and 0 < conf_level < 1):
            raise ArgumentError(f"conf_level must be between 0 and 1, got {conf_level!r}")
        se = np.sqrt(np.diag(self.vcov().to_numpy()))
        tval = self.beta / se
        rdf = self.df_residual
        pval = 2.0 * stats.t.sf(np.abs(tval), rdf)
        fixed = {
            "estimate": self.beta,
            "std_error": se,
            "statistic": tval,
            "df": float(rdf),
            "p_value": pval,
        }
        if conf_int:
            q = stats.t.ppf(0.5 + conf_level / 2.0, rdf)
            fixed["conf_low"] = self.beta - q * se
            fixed["conf_high"] = self.beta + q * se
        return tidy_frame(self.design, fixed)

    @cached_property
    def _fstat(self) -> tuple[float, float, float, float, float] | None:
        """(R², adjusted R², F, numerator df, p) as ``summary.lm``; F is None without slopes."""
        f = self.fitted_values
        df_int = 1 if self.design.has_intercept else 0
        mss = float(np.sum((f - f.mean()) ** 2)) if df_int else float(f @ f)
        rss = self.rss
        rdf = self.df_residual
        if self.p == df_int:
            return (0.0, 0.0, np.nan, np.nan, np.nan)
        r2 = mss / (mss + rss)
        adj = 1.0 - (1.0 - r2) * ((self.n - df_int) / rdf)
        numdf = self.p - df_int
        F = (mss / numdf) / (rss / rdf)
        return (r2, adj, F, float(numdf), float(stats.f.sf(F, numdf, rdf)))

    @property
    def r_squared(self) -> float:
        """R² (uncentred when the model has no intercept, as R computes it)."""
        return self._fstat[0]

    @property
    def adj_r_squared(self) -> float:
        """Adjusted R²."""
        return self._fstat[1]

    def glance(self) -> pd.DataFrame:
        """One-row model summary with broom's ``glance.lm`` columns.

        ``statistic``, ``p_value`` and ``df`` (the overall F test) are NaN when the model has
        a single coefficient, as broom reports them.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> fit = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")).fit_reml()
        >>> round(float(fit.glance()["r_squared"].iloc[0]), 4)
        0.2865
        """
        r2, adj, F, numdf, p = self._fstat
        if self.p == 1:
            F = numdf = p = np.nan
        row = {
            "r_squared": r2,
            "adj_r_squared": adj,
            "sigma": self.sigma,
            "statistic": F,
            "p_value": p,
            "df": numdf,
            "logLik": self.loglik,
            "AIC": self.aic,
            "BIC": self.bic,
            "deviance": self.rss,
            "df_residual": self.df_residual,
            "nobs": self.n,
        }
        return pd.DataFrame([row], columns=GLANCE_COLUMNS)

    def anova(self) -> pd.DataFrame:
        """Sequential (type I) analysis-of-variance table, as ``anova(lm)``.

        Each term's sum of squares is the sum of the squared QR effects of its columns, in
        the order the terms enter the formula; the last row is ``Residuals``.

        Returns
        -------
        pandas.DataFrame
            Columns term, df, sum_sq, mean_sq, statistic (F), p_value.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> fit = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")).fit_reml()
        >>> fit.anova()["term"].tolist()
        ['Days', 'Residuals']
        """
        terms = self.design.fixed_term_of_column
        if len(terms) != self.p:
            terms = list(self.design.xnames)
        ss: dict[str, float] = {}
        df: dict[str, int] = {}
        for term, eff in zip(terms, self.effects, strict=True):
            if term == "(Intercept)":
                continue
            ss[term] = ss.get(term, 0.0) + float(eff) ** 2
            df[term] = df.get(term, 0) + 1
        rdf = self.df_residual
        ms_res = self.rss / rdf
        rows = []
        for term in ss:
            ms = ss[term] / df[term]
            F = ms / ms_res
            rows.append((term, df[term], ss[term], ms, F, float(stats.f.sf(F, df[term], rdf))))
        rows.append(("Residuals", rdf, self.rss, ms_res, np.nan, np.nan))
        out = pd.DataFrame(rows, columns=ANOVA_COLUMNS)
        out["df"] = out["df"].astype(int)
        return out

    # ------------------------------------------------------------------ display
    def summary(self):
        """Text summary in the layout of R's ``summary(lm)`` (print it or show it in Jupyter)."""
        from .summary import OLSSummary

        return OLSSummary(self)

    def __repr__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()
