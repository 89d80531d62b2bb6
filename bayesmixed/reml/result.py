"""The REML/ML result: lme4's ``mkMerMod`` step — estimates, inference and tables at θ̂."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from ..design.build import Design
from ..errors import ArgumentError
from ..results.components import (
    RANEF_COLUMNS,
    TIDY_COLUMNS,
    Components,
    cov_to_sd_cor,
    ran_pars_values,
)
from .deviance import PLSFactor, ProfiledDeviance
from .inference.satterthwaite import Satterthwaite

__all__ = ["REMLFit"]


@dataclass
class REMLFit:
    """A linear mixed model fitted by REML or ML (the reference, "lme4 answer").

    Use :meth:`bayesmixed.MixedModel.fit_reml` to create one.
    """

    design: Design
    reml: bool
    theta: np.ndarray
    deviance_fn: ProfiledDeviance = field(repr=False)
    optinfo: dict = field(default_factory=dict)
    singular_tol: float = 1e-4
    blas_threads: int | None = 1
    # the engine's fit function (design, reml=) -> REMLFit, for refits (ranova, ML refits);
    # injected by the optimizer so that the result never imports it
    refitter: Callable | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ core solution
    @cached_property
    def _factor(self) -> PLSFactor:
        with self.deviance_fn.blas_limit(self.blas_threads):
            return self.deviance_fn.factor(self.theta)

    @cached_property
    def _solution(self):
        with self.deviance_fn.blas_limit(self.blas_threads):
            return self.deviance_fn.solve(self._factor)

    @property
    def n(self) -> int:
        """Number of observations."""
        return self.design.n

    @property
    def criterion(self) -> float:
        """REML criterion (REML fits) or deviance (ML fits) at the optimum."""
        return self.deviance_fn.criterion(self._factor, self.reml)

    @property
    def sigma(self) -> float:
        """Residual standard deviation σ̂."""
        d = self.n - self.design.p if self.reml else self.n
        return float(np.sqrt(self._factor.r2 / d))

    @property
    def beta(self) -> np.ndarray:
        """Fixed-effect estimates γ̂ (array, in ``design.xnames`` order)."""
        return self._solution[0]

    def fixef(self) -> pd.Series:
        """Fixed-effect estimates, named as R names them."""
        return pd.Series(self.beta, index=self.design.xnames, name="estimate")

    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed-effect estimates, σ̂² (R_X'R_X)⁻¹."""
        V = self.sigma**2 * self.deviance_fn.unscaled_vcov(self._factor)
        return pd.DataFrame(V, index=self.design.xnames, columns=self.design.xnames)

    @property
    def covs(self) -> list[np.ndarray]:
        """Covariance matrix of the random effects of each term: σ² T Tᵀ."""
        s2 = self.sigma**2
        return [s2 * T @ T.T for T in self.design.factors(self.theta)]

    def varcorr(self) -> dict[str, pd.DataFrame]:
        """Random-effect covariance matrices by term name, plus ``"Residual"`` (σ²).

        Examples
        --------
        >>> import bayesmixed as bm
        >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
        ...                     bm.datasets.load("sleepstudy")).fit_reml()
        >>> fit.varcorr()["Subject"].round(2).values.tolist()
        [[612.09, 9.6], [9.6, 35.07]]
        """
        out = {
            t.name: pd.DataFrame(c, index=t.cnames, columns=t.cnames)
            for t, c in zip(self.design.terms, self.covs, strict=True)
        }
        out["Residual"] = pd.DataFrame([[self.sigma**2]], index=[""], columns=[""])
        return out

    def varcorr_table(self) -> pd.DataFrame:
        """``as.data.frame(VarCorr(fit))``: grp, var1, var2, vcov, sdcor."""
        rows = []
        for t, c in zip(self.design.terms, self.covs, strict=True):
            sd, cor = cov_to_sd_cor(c)
            for i in range(t.k):
                rows.append((t.name, t.cnames[i], None, c[i, i], sd[i]))
            for i in range(t.k):
                for j in range(i + 1, t.k):
                    rows.append((t.name, t.cnames[i], t.cnames[j], c[i, j], cor[i, j]))
        rows.append(("Residual", None, None, self.sigma**2, self.sigma))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])

    @property
    def is_singular(self) -> bool:
        """lme4's ``isSingular``: a diagonal element of a relative factor below tolerance."""
        return len(self.singular_parameters) > 0

    @property
    def singular_parameters(self) -> list[str]:
        """θ components on the boundary, by lme4 name."""
        lower = self.design.lower
        names = self.design.theta_names
        return [
            names[i]
            for i in range(len(self.theta))
            if np.isfinite(lower[i]) and self.theta[i] < self.singular_tol
        ]

    def components(self) -> Components:
        """Point estimates in the primer's terms (shared with the Bayesian engine)."""
        return Components(
            design=self.design,
            beta=self.beta,
            sigma=np.asarray(self.sigma),
            cov=self.covs,
            b=self._solution[2],
            draws=False,
        )

    # ------------------------------------------------------------------ likelihood
    @property
    def nparams(self) -> int:
        """Number of estimated parameters: p + length(θ) + 1 (σ)."""
        return self.design.p + self.design.ntheta + 1

    @property
    def loglik(self) -> float:
        """Log-likelihood (REML log-likelihood for REML fits), as lme4's ``logLik``."""
        return -0.5 * self.criterion

    @property
    def aic(self) -> float:
        """Akaike information criterion."""
        return -2.0 * self.loglik + 2.0 * self.nparams

    @property
    def bic(self) -> float:
        """Bayesian information criterion."""
        return -2.0 * self.loglik + np.log(self.n) * self.nparams

    # ------------------------------------------------------------------ inference
    @cached_property
    def satterthwaite(self) -> Satterthwaite:
        """lmerTest's Satterthwaite machinery (computed on first use)."""
        with self.deviance_fn.blas_limit(self.blas_threads):
            return self._satterthwaite()

    def _satterthwaite(self) -> Satterthwaite:
        return Satterthwaite.compute(
            self.deviance_fn,
            self.theta,
            self.sigma,
            self.reml,
            self.beta,
            self.vcov().to_numpy(),
        )

    @cached_property
    def kenward_roger(self):
        """Kenward–Roger adjusted covariance and tests (pbkrtest; computed on first use)."""
        from .inference.kenward_roger import KenwardRoger

        return KenwardRoger(self)

    def _tester(self, ddf: str):
        key = str(ddf).lower().replace("_", "-")
        if key in ("satterthwaite", "s"):
            return self.satterthwaite
        if key in ("kenward-roger", "kr", "kenward-roger's"):
            return self.kenward_roger
        raise ArgumentError(
            f"ddf={ddf!r} is not available: use 'Satterthwaite' (default) or 'Kenward-Roger'"
        )

    def contest(self, L, joint: bool = True, ddf: str = "Satterthwaite") -> pd.DataFrame:
        """Test linear contrasts of the fixed effects, as lmerTest's ``contest``.

        Parameters
        ----------
        L : array-like, shape (p,) or (r, p)
            Contrast vector or matrix over ``fit.fixef()``.
        joint : bool
            For a matrix: one F test (True) or a t test per row (False).
        ddf : {"Satterthwaite", "Kenward-Roger"}
            Denominator df method. Kenward–Roger (REML fits only) also uses the adjusted
            covariance of β̂ (pbkrtest's ``vcovAdj``) for the SE and F.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
        ...                     bm.datasets.load("sleepstudy")).fit_reml()
        >>> print(f"{fit.contest([0, 1])['df'].iloc[0]:.3f}")
        17.000
        """
        L = np.asarray(L, dtype=float)
        p = self.design.p
        if L.shape[-1] != p:
            raise ArgumentError(f"contrast L must have {p} columns (one per fixed effect)")
        s = self._tester(ddf)
        if L.ndim == 1:
            return pd.DataFrame([s.test_1d(L)])
        if joint:
            return pd.DataFrame([s.test_md(L)])
        return pd.DataFrame([s.test_1d(row) for row in L])

    def ranova(self) -> pd.DataFrame:
        """Likelihood-ratio tests of the random-effect terms (lmerTest's ``ranova``).

        See :func:`bayesmixed.reml.ranova.ranova`.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> fit = bm.MixedModel("diameter ~ 1 + (1 | plate) + (1 | sample)",
        ...                     bm.datasets.load("Penicillin")).fit_reml()
        >>> fit.ranova()["term"].tolist()
        ['<none>', '(1 | plate)', '(1 | sample)']
        """
        from .ranova import ranova

        return ranova(self)

    def anova(self, type: int | str = 3, ddf: str = "Satterthwaite") -> pd.DataFrame:
        """F tests of the fixed-effect terms with Satterthwaite df, as lmerTest's ``anova(fit)``.

        Parameters
        ----------
        type : {3, 1, "III", "I"}
            Type III (default, as lmerTest; SAS's Goodnight hypotheses) or type I
            (sequential). See :mod:`bayesmixed.reml.hypotheses`.
        ddf : {"Satterthwaite", "Kenward-Roger"}
            Denominator df method (lmerTest's ``ddf``); Kenward–Roger needs a REML fit.

        Returns
        -------
        pandas.DataFrame
            One row per term: ``term``, ``sum_sq``, ``mean_sq``, ``num_df``, ``den_df``,
            ``statistic`` (F), ``p_value`` (lmerTest's Sum Sq, Mean Sq, NumDF, DenDF,
            F value, Pr(>F)). For a likelihood-ratio comparison of models use
            :func:`bayesmixed.anova`.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
        ...                     bm.datasets.load("sleepstudy")).fit_reml()
        >>> print(f"{fit.anova()['statistic'].iloc[0]:.3f}")
        45.853
        """
        from .inference.hypotheses import anova_table

        kinds = {3: 3, "3": 3, "III": 3, 1: 1, "1": 1, "I": 1}
        if type not in kinds:
            raise ArgumentError(
                f"type={type!r} is not available: use 3 ('III', the default) or 1 ('I', sequential)"
            )
        self._tester(ddf)  # validate before the work
        return anova_table(self, kinds[type], ddf=ddf)

    # ------------------------------------------------------------------ tables
    def tidy(
        self,
        effects: str = "all",
        conf_int: bool = False,
        conf_level: float = 0.95,
        ddf: str = "Satterthwaite",
    ):
        """broom.mixed-style table of fixed effects and random-effect parameters.

        Parameters
        ----------
        effects : {"all", "fixed", "ran_pars"}
        conf_int : bool
            Add ``conf_low``/``conf_high`` for fixed effects (t quantiles with the
            chosen df).
        conf_level : float
        ddf : {"Satterthwaite", "Kenward-Roger"}
            As lmerTest's ``summary(fit, ddf=)``: Kenward–Roger (REML fits only) also
            replaces the standard errors by those of the adjusted covariance.

        Returns
        -------
        pandas.DataFrame
            Columns effect, group, term, estimate, std_error, statistic, df, p_value.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
        ...                     bm.datasets.load("sleepstudy")).fit_reml()
        >>> fit.tidy()["term"].tolist()
        ['(Intercept)', 'Days', 'sd__(Intercept)', 'cor__(Intercept).Days', 'sd__Days', 'sd__Observation']
        """
        if effects not in ("all", "fixed", "ran_pars"):
            raise ArgumentError(f"effects must be 'all', 'fixed' or 'ran_pars', got {effects!r}")
        parts = []
        if effects in ("all", "fixed"):
            d = self.design
            s = self._tester(ddf)
            if s is self.satterthwaite:
                se = np.sqrt(np.diag(self.vcov().to_numpy()))
                df = np.array([s.df_1d(np.eye(d.p)[j]) for j in range(d.p)])
            else:
                rows = [s.test_1d(np.eye(d.p)[j]) for j in range(d.p)]
                se = np.array([r["std_error"] for r in rows])
                df = np.array([r["df"] for r in rows])
            tval = self.beta / se
            with np.errstate(invalid="ignore"):
                p = 2.0 * stats.t.sf(np.abs(tval), df)
            fx = pd.DataFrame(
                {
                    "effect": "fixed",
                    "group": None,
                    "term": d.xnames,
                    "estimate": self.beta,
                    "std_error": se,
                    "statistic": tval,
                    "df": df,
                    "p_value": p,
                }
            )
            if conf_int:
                q = stats.t.ppf(0.5 + conf_level / 2, df)
                fx["conf_low"] = self.beta - q * se
                fx["conf_high"] = self.beta + q * se
            parts.append(fx)
        if effects in ("all", "ran_pars"):
            vals = ran_pars_values(self.components())
            parts.append(
                pd.DataFrame(
                    {
                        "effect": "ran_pars",
                        "group": [rp.group for rp in vals],
                        "term": [rp.term for rp in vals],
                        "estimate": [float(v) for v in vals.values()],
                        "std_error": np.nan,
                        "statistic": np.nan,
                        "df": np.nan,
                        "p_value": np.nan,
                    }
                )
            )
        out = pd.concat(parts, ignore_index=True)
        cols = TIDY_COLUMNS + [c for c in out.columns if c not in TIDY_COLUMNS]
        return out[cols]

    def glance(self) -> pd.DataFrame:
        """One-row model summary as broom.mixed's ``glance``.

        Columns nobs, sigma, logLik, AIC, BIC, REMLcrit (REML) or deviance (ML), df_residual.
        """
        crit_name = "REMLcrit" if self.reml else "deviance"
        return pd.DataFrame(
            [
                {
                    "nobs": self.n,
                    "sigma": self.sigma,
                    "logLik": self.loglik,
                    "AIC": self.aic,
                    "BIC": self.bic,
                    crit_name: self.criterion,
                    "df_residual": self.n - self.nparams,
                }
            ]
        )

    @cached_property
    def _condvar(self) -> list[np.ndarray]:
        s2 = self.sigma**2
        with self.deviance_fn.blas_limit(self.blas_threads):
            return [s2 * v for v in self.deviance_fn.conditional_vcov(self._factor)]

    def ranef(self, condvar: bool = True) -> pd.DataFrame:
        """Conditional modes (BLUPs) of the random effects with their conditional SDs.

        Returns
        -------
        pandas.DataFrame
            Columns group, level, term, estimate, std_error (broom.mixed ``ran_vals``).
        """
        parts = []
        bs = self._solution[2]
        cvs = self._condvar if condvar else [None] * len(bs)
        for t, b, cv in zip(self.design.terms, bs, cvs, strict=True):
            for i, cname in enumerate(t.cnames):
                parts.append(
                    pd.DataFrame(
                        {
                            "group": t.group,
                            "level": t.levels,
                            "term": cname,
                            "estimate": b[:, i],
                            "std_error": np.sqrt(cv[:, i, i]) if cv is not None else np.nan,
                        }
                    )
                )
        return pd.concat(parts, ignore_index=True)[RANEF_COLUMNS]

    def coef(self) -> dict[str, pd.DataFrame]:
        """Per-level coefficients (fixed + random), as lme4's ``coef``: one frame per group."""
        re = self.ranef(condvar=False)
        fx = self.fixef()
        out = {}
        for g, sub in re.groupby("group", sort=False):
            wide = sub.pivot_table(index="level", columns="term", values="estimate", sort=False)
            frame = pd.DataFrame(
                np.tile(fx.to_numpy(), (len(wide), 1)), index=wide.index, columns=fx.index
            )
            for c in wide.columns:
                if c in frame.columns:
                    frame[c] = frame[c] + wide[c]
                else:
                    frame[c] = wide[c]
            out[g] = frame
        return out

    # ------------------------------------------------------------------ predictions
    def fitted(self) -> np.ndarray:
        """Fitted values X β̂ + Z b̂."""
        d = self.design
        out = d.X @ self.beta
        for t, b in zip(d.terms, self._solution[2], strict=True):
            out = out + np.einsum("ij,ij->i", t.X, b[t.codes])
        return out

    def residuals(self) -> np.ndarray:
        """Response minus fitted values."""
        return self.design.y - self.fitted()

    def predict(self, newdata: pd.DataFrame | None = None, re: bool = True) -> np.ndarray:
        """Predictions; levels unseen in the fit are predicted at the population level.

        Parameters
        ----------
        newdata : DataFrame, optional
            Defaults to the fitting data.
        re : bool
            Include the random effects (``re.form=NULL``) or not (``re.form=NA``).

        Examples
        --------
        >>> import bayesmixed as bm, pandas as pd
        >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
        ...                     bm.datasets.load("sleepstudy")).fit_reml()
        >>> new = pd.DataFrame({"Days": [0, 5], "Subject": [308, 999]})
        >>> fit.predict(new).round(1).tolist()
        [253.7, 303.7]
        """
        if newdata is None:
            return self.fitted() if re else self.design.X @ self.beta
        Xn, blocks = self.design.new_matrices(newdata, re=re)
        out = Xn @ self.beta
        if re:
            for (codes, Xt), b in zip(blocks, self._solution[2], strict=True):
                seen = codes >= 0
                contrib = np.zeros(len(codes))
                contrib[seen] = np.einsum("ij,ij->i", Xt[seen], b[codes[seen]])
                out = out + contrib
        return out

    # ------------------------------------------------------------------ display
    def summary(self, correlation: bool | None = None, ddf: str = "Satterthwaite"):
        """Text summary in the layout of ``summary(lmer)`` (print it or show it in Jupyter).

        ``correlation`` shows the correlation of the fixed effects (default: when p <= 12);
        ``ddf="Kenward-Roger"`` uses Kenward–Roger tests, as lmerTest's ``summary(fit, ddf=)``.
        """
        from .summary import LmmSummary

        return LmmSummary(self, correlation=correlation, ddf=ddf)

    def __repr__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def icc(self, **kwargs):
        """Intraclass correlations (see :func:`bayesmixed.variance.icc`)."""
        from ..results.variance import icc

        return icc(self, **kwargs)

    def r2(self, **kwargs):
        """Marginal and conditional R² (see :func:`bayesmixed.variance.r2`)."""
        from ..results.variance import r2

        return r2(self, **kwargs)

    def shrinkage(self, **kwargs):
        """Partial-pooling table (see :func:`bayesmixed.variance.shrinkage`)."""
        from ..results.pooling import shrinkage

        return shrinkage(self, **kwargs)
