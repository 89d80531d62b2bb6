"""``GLSFit``: a model with a residual covariance structure fitted by REML or ML.

The analogue of nlme's ``gls`` (no random term) and ``lme(..., correlation=, weights=)``
(random effects grouped by the subject or nested in it), reported as broom.mixed does:
``ran_pars`` rows of the random effects (as lme4), then the residual structure's rows in
group ``Residual`` (``Residual:<by>=<level>`` with ``by=``).

ICC and R² with correlated residuals
------------------------------------
:meth:`GLSFit.components` reports as σ² the *average residual variance*: the mean over the
observations of σ² R_i[j, j] (for a homogeneous structure simply σ², for a heterogeneous one
the visit variances averaged over the rows). ICC and R² are then computed as for
independent residuals (:mod:`bayesmixed.results.variance`) with that σ²; the residual
correlation itself is not counted as between-subject variance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ...design.build import Design
from ...design.residual import ResidualDesign, build_residual_design
from ...errors import ArgumentError
from ...results.components import Components, cov_to_sd_cor, ran_par_labels
from ...results.fit import Fit
from ...results.frames import check_effects, ranef_frame, tidy_frame
from ...spec.formula import parse_formula
from .criterion import GLSCriterion, Solution
from .fixed_inference import DDF_METHODS, FixedEffectInference

__all__ = ["GLSFit", "DDF_METHODS"]


@dataclass
class GLSFit(FixedEffectInference, Fit):
    """A linear model with a residual covariance structure, fitted by REML or ML.

    Use :meth:`bayesmixed.MixedModel.fit_reml` with ``residual=``.

    Attributes
    ----------
    phi : ndarray
        The optimizer's parameters (θ of the random effects, then the structure's
        unconstrained parameters; see :mod:`bayesmixed.reml.gls.criterion`).
    """

    design: Design
    rd: ResidualDesign
    reml: bool
    phi: np.ndarray
    criterion_fn: GLSCriterion = field(repr=False)
    optinfo: dict = field(default_factory=dict)
    refitter: Callable | None = field(default=None, repr=False, compare=False)
    # the engine's (design, residual design, reml=) -> GLSFit, injected by it (refit())
    fit_function: Callable | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ solution
    @cached_property
    def _sol(self) -> Solution:
        return self.criterion_fn.solution(self.phi)

    @property
    def criterion(self) -> float:
        """REML criterion (REML) or deviance (ML): −2 log-likelihood at the optimum."""
        return self.criterion_fn.profiled(self.phi, self.reml)

    @property
    def sigma(self) -> float:
        """σ̂: the residual SD of the first visit (of the first by-level), as nlme's sigma."""
        nd = self.n - self.design.p if self.reml else self.n
        return float(np.sqrt(self._sol.r2 / nd))

    @property
    def beta(self) -> np.ndarray:
        """Fixed-effect estimates (GLS), in ``design.xnames`` order."""
        return self._sol.beta

    def vcov(self) -> pd.DataFrame:
        """Covariance of β̂: s² (X'V⁻¹X)⁻¹ (V relative to σ²) with s² = r²/(n − p).

        For REML fits s = σ̂; for ML fits nlme (``gls`` and ``lme``) also scales by
        r²/(n − p) rather than σ̂²_ML = r²/n, and so does this reference fitter.
        """
        V = self._sol.r2 / (self.n - self.design.p) * np.linalg.inv(self._sol.xtvx)
        return pd.DataFrame(V, index=self.design.xnames, columns=self.design.xnames)

    @property
    def covs(self) -> list[np.ndarray]:
        """Covariance matrix of each random-effect term, σ² ΛΛ'."""
        return [self.sigma**2 * g for g in self.criterion_fn.relative_g(self.phi)]

    @cached_property
    def _blups(self) -> list[np.ndarray]:
        from .blups import blup_estimates

        return blup_estimates(self.criterion_fn, self.phi, self.beta)

    @cached_property
    def _condvar(self) -> list[np.ndarray]:
        from .blups import conditional_vcov

        return conditional_vcov(self.criterion_fn, self.phi, self.sigma)

    def ranef(self, condvar: bool = True) -> pd.DataFrame:
        """BLUPs of the random effects, b̂ = G Z' V⁻¹ (y − Xβ̂) per subject, with their
        conditional SDs (var(b | y) at β̂; see :mod:`bayesmixed.reml.gls.blups`).

        Returns
        -------
        pandas.DataFrame
            Columns group, level, term, estimate, std_error (broom.mixed ``ran_vals``); no
            rows for a model without random terms.

        Examples
        --------
        >>> import numpy as np, pandas as pd, bayesmixed as bm
        >>> rng = np.random.default_rng(6)
        >>> d = pd.DataFrame({"id": np.repeat(np.arange(25), 3), "visit": ["a", "b", "c"] * 25})
        >>> d["y"] = np.repeat(rng.normal(size=25), 3) + rng.normal(size=75)
        >>> fit = bm.MixedModel("y ~ visit + (1 | id)", d,
        ...                     residual=bm.residual.AR1(time="visit", group="id")).fit_reml()
        >>> fit.ranef().columns.tolist(), len(fit.ranef())
        (['group', 'level', 'term', 'estimate', 'std_error'], 25)
        """
        se = None
        if condvar and self.design.terms:
            se = [np.sqrt(np.diagonal(cv, axis1=1, axis2=2)) for cv in self._condvar]
        return ranef_frame(self.design, self._blups, se)

    @property
    def average_residual_variance(self) -> float:
        """Mean over the rows of the residual variance σ² R_i[j, j] (see module notes)."""
        crit, rd = self.criterion_fn, self.rd
        var = np.empty(self.n)
        for lv in range(rd.n_levels):
            s, par = crit.level_params(self.phi, lv)
            diag = s * crit.cov.sd_ratios(par) ** 2
            rows = rd.by_codes == lv
            var[rows] = diag[rd.time_pos[rows]] if crit.cov.heterogeneous else s
        return float(self.sigma**2 * var.mean())

    def components(self) -> Components:
        """Estimates in the primer's terms; σ is the root of the average residual variance."""
        return Components(
            design=self.design,
            beta=self.beta,
            sigma=np.asarray(np.sqrt(self.average_residual_variance)),
            cov=self.covs,
            b=self._blups,
            draws=False,
        )

    # ------------------------------------------------------------------ subject matrices
    def _subject_frame(self, subject, which: str) -> pd.DataFrame:
        rows = self.rd.subject_rows(subject)
        ZGZ, R = self.criterion_fn.marginal_block(self.phi, rows)
        M = {"R": R, "V": ZGZ + R}[which if which != "cor" else "R"] * self.sigma**2
        if which == "cor":
            sd = np.sqrt(np.diag(M))
            M = M / np.outer(sd, sd)
        labels = self.rd.row_labels(rows)
        return pd.DataFrame(M, index=labels, columns=labels)

    def residual_cov(self, subject) -> pd.DataFrame:
        """σ² R_i: the residual covariance of one subject's observed visits."""
        return self._subject_frame(subject, "R")

    def residual_cor(self, subject) -> pd.DataFrame:
        """The residual correlation matrix of one subject's observed visits."""
        return self._subject_frame(subject, "cor")

    def marginal_cov(self, subject) -> pd.DataFrame:
        """σ² (Z_i G Z_i' + R_i): the marginal covariance of one subject's observations."""
        return self._subject_frame(subject, "V")

    # ------------------------------------------------------------------ likelihood
    @property
    def nparams(self) -> int:
        """p + covariance parameters + 1 (σ), as nlme's ``attr(logLik, "df")``."""
        return self.design.p + self.criterion_fn.n_params + 1

    @property
    def loglik(self) -> float:
        """Log-likelihood (restricted for REML fits), as nlme's ``logLik``."""
        return -0.5 * self.criterion

    @property
    def bic(self) -> float:
        """BIC as nlme computes it: log(n − p) for REML fits, log(n) for ML."""
        nobs = self.n - self.design.p if self.reml else self.n
        return -2.0 * self.loglik + np.log(nobs) * self.nparams

    # ------------------------------------------------------------------ saving
    def _saved_state(self) -> tuple[str, dict, dict, object]:
        """The structure, φ and the criterion (see :mod:`bayesmixed.reml.gls.saving`)."""
        from .saving import saved_state

        return saved_state(self)

    def save(self, path) -> Path:
        """Save the fit to one file that :func:`bayesmixed.load` reads back, in any process
        (as :meth:`bayesmixed.results.fit.Fit.save`; the data include the structure's
        subject, visit and by columns).

        Examples
        --------
        >>> import numpy as np, pandas as pd, bayesmixed as bm, tempfile, os
        >>> rng = np.random.default_rng(8)
        >>> d = pd.DataFrame({"id": np.repeat(np.arange(30), 3), "visit": ["a", "b", "c"] * 30})
        >>> d["y"] = rng.normal(size=90)
        >>> fit = bm.MixedModel("y ~ visit", d, residual=bm.residual.AR1(time="visit",
        ...                     group="id")).fit_reml()
        >>> back = bm.load(fit.save(os.path.join(tempfile.mkdtemp(), "ar1.bmfit")))
        >>> back.tidy().equals(fit.tidy())
        True
        """
        from ...results.archive import write_archive
        from .saving import saved_frame

        if not isinstance(path, (str, Path)):
            raise ArgumentError(
                f"path must be a file name (str or Path), got {type(path).__name__}"
            )
        kind, state, arrays, _ = self._saved_state()
        return write_archive(path, kind, self.design.spec.formula, saved_frame(self), state, arrays)

    # ------------------------------------------------------------------ tables
    def _ran_pars(self) -> pd.DataFrame:
        comp_cov = self.covs
        rows = []
        for rp in ran_par_labels(self.design):
            if rp.term_index < 0:
                continue
            sd, cor = cov_to_sd_cor(comp_cov[rp.term_index])
            v = sd[rp.i] if rp.kind == "sd" else cor[rp.i, rp.j]
            rows.append((rp.group, rp.term, float(v)))
        crit = self.criterion_fn
        for lv, group in enumerate(self.rd.group_names):
            s, par = crit.level_params(self.phi, lv)
            vals = crit.cov.report(par, self.sigma * np.sqrt(s))
            rows += [(group, lab, float(v)) for lab, v in zip(crit.cov.labels, vals, strict=True)]
        out = pd.DataFrame(rows, columns=["group", "term", "estimate"])
        out.insert(0, "effect", "ran_pars")
        return out

    def tidy(
        self,
        effects: str = "all",
        conf_int: bool = False,
        conf_level: float = 0.95,
        ddf: str = "residual",
    ) -> pd.DataFrame:
        """Fixed effects (t tests with ``ddf`` df) and covariance parameters.

        ``ddf`` as :meth:`fixed_df`; with ``"kenward-roger"`` the standard errors are the
        adjusted ones (Φ_A), as mmrm and lmerTest report them.

        Examples
        --------
        >>> import numpy as np, pandas as pd, bayesmixed as bm
        >>> rng = np.random.default_rng(2)
        >>> d = pd.DataFrame({"id": np.repeat(np.arange(30), 3), "visit": ["a", "b", "c"] * 30})
        >>> d["y"] = rng.normal(size=90)
        >>> fit = bm.MixedModel("y ~ 1", d, residual=bm.residual.AR1(time="visit",
        ...                     group="id")).fit_reml()
        >>> fit.tidy()[["effect", "group", "term"]].values.tolist()
        [['fixed', None, '(Intercept)'], ['ran_pars', 'Residual', 'sd__Observation'], ['ran_pars', 'Residual', 'rho']]
        """
        check_effects(effects)
        parts = []
        if effects in ("all", "fixed"):
            se, df = self._fixed_se_df(ddf)
            tval = self.beta / se
            fixed = {
                "estimate": self.beta,
                "std_error": se,
                "statistic": tval,
                "df": df,
                "p_value": 2.0 * stats.t.sf(np.abs(tval), df),
            }
            if conf_int:
                if not (isinstance(conf_level, float | int) and 0 < conf_level < 1):
                    raise ArgumentError(f"conf_level must be in (0, 1), got {conf_level!r}")
                q = stats.t.ppf(0.5 + conf_level / 2, df)
                fixed["conf_low"] = self.beta - q * se
                fixed["conf_high"] = self.beta + q * se
            parts.append(tidy_frame(self.design, fixed, None))
        if effects in ("all", "ran_pars"):
            parts.append(self._ran_pars())
        out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        return out.reindex(
            columns=list(parts[0].columns) + [c for c in out.columns if c not in parts[0].columns]
        )

    def glance(self) -> pd.DataFrame:
        """One row: nobs, sigma, logLik, AIC, BIC, npar, REMLcrit/deviance, df_residual."""
        return pd.DataFrame(
            [
                {
                    "nobs": self.n,
                    "sigma": self.sigma,
                    "logLik": self.loglik,
                    "AIC": self.aic,
                    "BIC": self.bic,
                    "npar": self.nparams,
                    ("REMLcrit" if self.reml else "deviance"): self.criterion,
                    "df_residual": self.n - self.design.p,
                }
            ]
        )

    # ------------------------------------------------------------------ refits
    def refit(self, formula: str | None = None, *, reml: bool | None = None, data=None):
        """The same residual structure refitted to another formula, criterion or data
        (through the engine's fit function, injected as ``fit_function``)."""
        spec = self.design.spec if formula is None else parse_formula(formula)
        if formula is None and data is None:
            design, rd = self.design, self.rd
        else:
            design, rd = build_residual_design(
                spec, self.rd.data if data is None else data, self.rd.spec
            )
        return self.fit_function(design, rd, reml=self.reml if reml is None else reml)

    # ------------------------------------------------------------------ display
    def summary(self, ddf: str = "residual"):
        """Summary in nlme's layout: text with ``print``, HTML in Jupyter (one description,
        :mod:`bayesmixed.results.display`); ``ddf`` as :meth:`fixed_df`."""
        from .summary import GLSSummary

        return GLSSummary(self, ddf=ddf)

    def __repr__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()
