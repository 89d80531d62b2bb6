"""The REML/ML result: lme4's ``mkMerMod`` step — estimates and tables at θ̂.

The tests of the fixed and random effects (Satterthwaite, Kenward–Roger, ``contest``,
``anova``, ``ranova``) are in :mod:`bayesmixed.reml.hypothesis_tests`; fitted values,
predictions, ICC, R², shrinkage, AIC/BIC and refits come from the results layer's
:class:`~bayesmixed.results.fit.Fit`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from ..design.build import Design
from ..errors import ArgumentError
from ..results.components import Components, cov_to_sd_cor, ran_pars_values
from ..results.fit import Fit
from ..results.frames import check_effects, ranef_frame, tidy_frame
from .deviance import PLSFactor, ProfiledDeviance
from .hypothesis_tests import HypothesisTests

__all__ = ["REMLFit"]


@dataclass
class REMLFit(HypothesisTests, Fit):
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
    # the engine's fit function (design, reml=) -> fit, for refits (ranova, ML refits,
    # reduced models); injected by the optimizer or the model layer so that the result
    # never imports them
    refitter: Callable | None = field(default=None, repr=False, compare=False)

    def _saved_state(self) -> tuple[str, dict, dict, object]:
        """θ, the criterion and the optimizer's report: enough to restore the fit exactly."""
        info = {k: v for k, v in self.optinfo.items() if k != "seconds"}
        state = {
            "reml": bool(self.reml),
            "criterion": float(self.criterion),
            "singular_tol": float(self.singular_tol),
            "optinfo": _jsonable(info),
        }
        return "reml", state, {"theta": np.asarray(self.theta, float)}, None

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
            Add ``conf_low``/``conf_high``: for fixed effects t intervals with the chosen
            df; for the random-effect SDs, correlations and σ profile-likelihood intervals
            (lme4's ``confint(fit, method="profile")``; see :meth:`confint`).
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
        check_effects(effects)
        if conf_int and not (
            isinstance(conf_level, (int, float))
            and not isinstance(conf_level, bool)
            and 0 < conf_level < 1
        ):
            raise ArgumentError(
                f"conf_level must be between 0 and 1 (e.g. 0.95), got {conf_level!r}"
            )
        fixed = ran_pars = None
        if effects in ("all", "fixed"):
            se, df = self._fixed_se_df(ddf)
            tval = self.beta / se
            with np.errstate(invalid="ignore"):
                p = 2.0 * stats.t.sf(np.abs(tval), df)
            fixed = {
                "estimate": self.beta,
                "std_error": se,
                "statistic": tval,
                "df": df,
                "p_value": p,
            }
            if conf_int:
                q = stats.t.ppf(0.5 + conf_level / 2, df)
                fixed["conf_low"] = self.beta - q * se
                fixed["conf_high"] = self.beta + q * se
        if effects in ("all", "ran_pars"):
            vals = ran_pars_values(self.components())
            ran_pars = {"estimate": [float(v) for v in vals.values()]}
            if conf_int:
                from .confint import profile_ran_pars

                lims = profile_ran_pars(self, conf_level)
                ran_pars["conf_low"], ran_pars["conf_high"] = lims[:, 0], lims[:, 1]
        return tidy_frame(self.design, fixed, ran_pars)

    def confint(
        self,
        method: str = "profile",
        level: float = 0.95,
        nsim: int = 500,
        random_seed=None,
        client=None,
    ) -> pd.DataFrame:
        """Confidence intervals of every parameter, as lme4's ``confint.merMod``.

        Parameters
        ----------
        method : {"profile", "wald", "boot"}
            ``"profile"``: profile-likelihood intervals of the SDs, correlations, σ and
            fixed effects from the ML deviance (lme4 refits a REML fit by ML for its
            profile, and so does this). ``"wald"``: β̂ ± z·SE for the fixed effects, NaN for
            the variance parameters (lme4: NA). ``"boot"``: parametric-bootstrap percentile
            intervals of ``nsim`` refits (same criterion as this fit) to responses simulated
            from it, run on :func:`bayesmixed.batch.run_tasks`.
        level : float
        nsim : int
            Bootstrap replicates (``"boot"`` only).
        random_seed : int, optional
            Seed of the bootstrap: the same seed gives the same intervals, locally or on Dask.
        client : distributed.Client or str, optional
            Run the bootstrap refits on this Dask cluster.

        Returns
        -------
        pandas.DataFrame
            Columns effect, group, term, conf_low, conf_high in ``tidy()``'s row order.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
        >>> ci = fit.confint()  # lme4: (Intercept) 1486.45 1568.55; .sig01 12.20 84.06
        >>> ci[["conf_low", "conf_high"]].round(2).values.tolist()
        [[1486.45, 1568.55], [12.2, 84.06], [38.23, 67.66]]
        """
        from .confint import confint_table

        return confint_table(self, method, level, nsim, random_seed, client)

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
        se = None
        if condvar:
            se = [np.sqrt(np.diagonal(cv, axis1=1, axis2=2)) for cv in self._condvar]
        return ranef_frame(self.design, self._solution[2], se)

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


def _jsonable(d: dict) -> dict:
    """The optimizer's report with NumPy scalars as plain numbers."""
    out = {}
    for k, v in d.items():
        if isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, (list, tuple)):
            v = [x.item() if isinstance(x, np.generic) else x for x in v]
        out[k] = v
    return out
