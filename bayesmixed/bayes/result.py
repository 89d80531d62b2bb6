"""``BayesFit``: a sampled posterior reported in the same vocabulary as the REML fit."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import xarray as xr

from ..design.build import Design
from ..errors import ArgumentError, LooWarning, SamplingWarning
from ..results.components import Components, ran_pars_values
from ..results.fit import Fit
from ..results.frames import check_effects, ranef_frame, tidy_frame
from .graph import GraphInfo, Parameterization
from .priors import PriorSet

__all__ = ["BayesFit", "DIAGNOSTIC_LIMITS"]

# Thresholds of the post-sampling checks (Vehtari et al. 2021 for R-hat and ESS).
DIAGNOSTIC_LIMITS = {"rhat": 1.01, "ess_bulk": 400}
# PSIS-LOO is unreliable for an observation whose Pareto k exceeds 0.7 (Vehtari et al. 2017)
PARETO_K_LIMIT = 0.7


def _interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    a = (1.0 - level) / 2.0
    return np.quantile(draws, a, axis=0), np.quantile(draws, 1.0 - a, axis=0)


@dataclass
class BayesFit(Fit):
    """Posterior of a linear mixed model sampled with NUTS.

    Create one with :meth:`bayesmixed.MixedModel.sample`.

    Attributes
    ----------
    idata : arviz.InferenceData
        Groups posterior, sample_stats, observed_data, log_likelihood, log_prior, prior and
        prior_predictive (see :mod:`bayesmixed.bayes.posterior` for the variable names).
    design : Design
    priors : PriorSet
    parameterization : str
        The parameterization that was sampled (``"auto"`` resolved).
    sampler : str
    seconds : float
        Wall time from building the model to the finished InferenceData.
    """

    idata: object
    design: Design
    priors: PriorSet
    info: GraphInfo
    components_: Components = field(repr=False)
    sampler: str = "nutpie"
    seconds: float = 0.0
    sampling_seconds: float = 0.0
    target_accept: float = 0.8

    @property
    def parameterization(self) -> Parameterization:
        """Parameterization actually sampled (a string), with ``.terms``: what each term got
        (``"marginal"``: integrated out; ``"centered"``; ``"noncentered"``)."""
        return self.info.described(self.design)

    @property
    def nchains(self) -> int:
        """Number of chains."""
        return int(self.idata.posterior.sizes["chain"])

    @property
    def ndraws(self) -> int:
        """Draws per chain."""
        return int(self.idata.posterior.sizes["draw"])

    def components(self) -> Components:
        """Posterior draws in the primer's terms (chains stacked along the first axis)."""
        return self.components_

    def _saved_state(self) -> tuple[str, dict, dict, object]:
        """Priors, sampler settings, the draws in the primer's terms and the InferenceData."""
        c = self.components_
        arrays = {"beta": c.beta, "sigma": c.sigma}
        for i, cv in enumerate(c.cov):
            arrays[f"cov_{i}"] = cv
        for i, b in enumerate(c.b or []):
            arrays[f"b_{i}"] = b
        state = {
            "priors": self.priors.to_dict(),
            "parameterization": str(self.parameterization),
            "term_modes": dict(self.info.term_modes),
            "sampler": self.sampler,
            "seconds": float(self.seconds),
            "sampling_seconds": float(self.sampling_seconds),
            "target_accept": float(self.target_accept),
        }
        return "bayes", state, arrays, self.idata

    # ------------------------------------------------------------------ parameter draws
    def _param_draws(self) -> tuple[list[dict], np.ndarray]:
        """Rows (effect, group, term) and their draws, shape (chain, draw, n_params).

        γ and the ``ran_pars`` (SDs and correlations from the covariance draws) come from
        :meth:`components`, as the REML fit's do.
        """
        comp = self.components_
        rows = [{"effect": "fixed", "group": None, "term": name} for name in self.design.xnames]
        cols = [np.asarray(comp.beta, float)[:, j] for j in range(self.design.p)]
        for rp, v in ran_pars_values(comp).items():
            rows.append({"effect": "ran_pars", "group": rp.group, "term": rp.term})
            cols.append(v)
        return rows, np.stack(cols, axis=-1).reshape(self.nchains, self.ndraws, -1)

    @cached_property
    def _diagnostics(self) -> pd.DataFrame:
        import arviz as az

        rows, draws = self._param_draws()
        ds = xr.Dataset({"p": xr.DataArray(draws, dims=("chain", "draw", "param"))})
        # ArviZ's R-hat uses a numba variance that is compiled afresh in every process
        # (~0.7 s, longer than sampling a small model); NumPy's variance of a few
        # thousand draws is instant and gives the same numbers
        numba_flag = az.Numba.numba_flag
        az.Numba.numba_flag = False
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                rhat = az.rhat(ds)["p"].values
                ess_b = az.ess(ds, method="bulk")["p"].values
                ess_t = az.ess(ds, method="tail")["p"].values
        finally:
            az.Numba.numba_flag = numba_flag
        df = pd.DataFrame(rows)
        df["rhat"] = rhat
        df["ess_bulk"] = ess_b
        df["ess_tail"] = ess_t
        return df

    # ------------------------------------------------------------------ tables
    def tidy(self, effects: str = "all", interval: float = 0.95) -> pd.DataFrame:
        """Posterior summary with the REML fit's columns plus interval and diagnostics.

        ``estimate`` is the posterior mean, ``std_error`` the posterior SD, ``conf_low`` /
        ``conf_high`` an equal-tailed interval; ``statistic``, ``df`` and ``p_value`` are NaN.
        Random-effect parameters are on the SD / correlation scale with broom.mixed names.

        Parameters
        ----------
        effects : {"all", "fixed", "ran_pars"}
        interval : float
            Probability mass of the interval (0.95 by default).

        Examples
        --------
        >>> import bayesmixed as bm
        >>> post = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).sample(
        ...     draws=1000, tune=1000, chains=2, random_seed=1, progressbar=False)
        >>> post.tidy()["term"].tolist()
        ['(Intercept)', 'sd__(Intercept)', 'sd__Observation']
        """
        check_effects(effects)
        if not (isinstance(interval, (int, float)) and 0 < interval < 1):
            raise ArgumentError(f"interval must be between 0 and 1 (e.g. 0.95), got {interval!r}")
        _, draws = self._param_draws()
        flat = draws.reshape(-1, draws.shape[-1])
        lo, hi = _interval(flat, interval)
        diag = self._diagnostics
        cols = {
            "estimate": flat.mean(axis=0),
            "std_error": flat.std(axis=0, ddof=1),
            "conf_low": lo,
            "conf_high": hi,
            "rhat": diag["rhat"].to_numpy(),
            "ess_bulk": diag["ess_bulk"].to_numpy(),
            "ess_tail": diag["ess_tail"].to_numpy(),
        }
        p = self.design.p
        fixed = {k: v[:p] for k, v in cols.items()} if effects in ("all", "fixed") else None
        ran = {k: v[p:] for k, v in cols.items()} if effects in ("all", "ran_pars") else None
        return tidy_frame(self.design, fixed, ran)

    @cached_property
    def _loo(self):
        import arviz as az

        if "log_likelihood" not in self.idata.groups():
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return az.loo(self.idata, pointwise=True)

    @cached_property
    def _high_pareto_k(self) -> list[int]:
        """Observations (0-based rows) whose Pareto k is above 0.7."""
        loo = self._loo
        if loo is None:
            return []
        return np.flatnonzero(np.asarray(loo.pareto_k) > PARETO_K_LIMIT).tolist()

    def glance(self) -> pd.DataFrame:
        """One row: nobs, sigma, elpd_loo, p_loo, pareto_k_high (observations whose PSIS
        Pareto k exceeds 0.7, where elpd_loo is unreliable; Vehtari et al. 2017),
        divergences, max_rhat, min_ess_bulk, parameterization, seconds (plus sampler,
        chains, draws)."""
        loo = self._loo
        diag = self._diagnostics
        div = self.idata.sample_stats.get("diverging")
        return pd.DataFrame(
            [
                {
                    "nobs": self.design.n,
                    "sigma": float(self.idata.posterior["sigma"].values.mean()),
                    "elpd_loo": float(loo.elpd_loo) if loo is not None else np.nan,
                    "p_loo": float(loo.p_loo) if loo is not None else np.nan,
                    "pareto_k_high": len(self._high_pareto_k) if loo is not None else -1,
                    "divergences": int(div.values.sum()) if div is not None else 0,
                    "max_rhat": float(np.nanmax(diag["rhat"])),
                    "min_ess_bulk": float(np.nanmin(diag["ess_bulk"])),
                    "parameterization": str(self.parameterization),
                    "seconds": self.seconds,
                    "sampler": self.sampler,
                    "chains": self.nchains,
                    "draws": self.ndraws,
                }
            ]
        )

    def ranef(self, interval: float = 0.95) -> pd.DataFrame:
        """Posterior mean and SD (and interval) of every random effect.

        Columns group, level, term, estimate, std_error, conf_low, conf_high.
        """
        bs = self.components_.b
        if not (isinstance(interval, (int, float)) and 0 < interval < 1):
            raise ArgumentError(f"interval must be between 0 and 1 (e.g. 0.95), got {interval!r}")
        ints = [_interval(b, interval) for b in bs]
        return ranef_frame(
            self.design,
            [b.mean(axis=0) for b in bs],
            [b.std(axis=0, ddof=1) for b in bs],
            conf_low=[lo for lo, _ in ints],
            conf_high=[hi for _, hi in ints],
        )

    def prior_summary(self) -> pd.DataFrame:
        """The prior of every parameter and where it came from (default / class / user)."""
        return self.priors.table()

    def diagnostics(self) -> pd.DataFrame:
        """R-hat and ESS of γ, τ, correlations and σ."""
        return self._diagnostics.copy()

    def check(self, warn: bool = True) -> list[str]:
        """Post-sampling checks: divergences, R-hat > 1.01, bulk ESS < 400, Pareto k > 0.7.

        Returns the messages (and warns with :class:`SamplingWarning` unless ``warn=False``).
        """
        msgs = []
        div = self.idata.sample_stats.get("diverging")
        ndiv = int(div.values.sum()) if div is not None else 0
        if ndiv:
            alt = "noncentered" if self.parameterization == "centered" else "marginal"
            msgs.append(
                f"{ndiv} divergent transitions: the posterior may be biased. Raise target_accept "
                f"(now {self.target_accept}; try 0.95 or 0.99), try parameterization='{alt}', or "
                "use more informative priors on the SDs"
            )
        d = self._diagnostics
        label = d["term"] + np.where(d["group"].isna(), "", "|" + d["group"].astype(str))
        bad_r = label[d["rhat"] > DIAGNOSTIC_LIMITS["rhat"]].tolist()
        if bad_r:
            msgs.append(
                f"R-hat above {DIAGNOSTIC_LIMITS['rhat']} for {', '.join(bad_r)}: chains disagree; "
                "draw more (tune and draws), or reparameterize"
            )
        bad_e = label[d["ess_bulk"] < DIAGNOSTIC_LIMITS["ess_bulk"]].tolist()
        if bad_e:
            msgs.append(
                f"bulk ESS below {DIAGNOSTIC_LIMITS['ess_bulk']} for {', '.join(bad_e)}: increase "
                "draws, or try another parameterization"
            )
        high = self._high_pareto_k
        loo_msgs = []
        if high:
            rows = ", ".join(str(i) for i in high[:10]) + (", ..." if len(high) > 10 else "")
            loo_msgs.append(
                f"elpd_loo is unreliable: {len(high)} of {self.design.n} Pareto k values are "
                f"above {PARETO_K_LIMIT} (rows {rows}); these observations change the posterior "
                "much when left out: compare models by k-fold cross-validation (arviz.reloo) "
                "rather than by elpd_loo, or check those rows"
            )
        if warn:
            for m in msgs:
                warnings.warn(m, SamplingWarning, stacklevel=3)
            for m in loo_msgs:
                warnings.warn(m, LooWarning, stacklevel=3)
        return msgs + loo_msgs

    # ------------------------------------------------------------------ marginal means
    def emmeans(self, specs, by=None, at=None, interval: float = 0.95):
        """Posterior of the estimated marginal means (the reference grid of
        :meth:`bayesmixed.results.fit.Fit.emmeans`, computed on every draw of β).

        Returns a :class:`~bayesmixed.results.emmeans.PosteriorTable`: the ``specs`` and
        ``by`` columns, estimate (posterior mean), std_error (posterior SD), conf_low and
        conf_high (equal-tailed ``interval``), pd (probability of direction); ``.draws`` is
        a DataArray with dims (chain, draw, emmean).

        Examples
        --------
        >>> import bayesmixed as bm
        >>> data = bm.datasets.load("Orthodont")
        >>> post = bm.MixedModel("distance ~ age + Sex + (1 | Subject)", data).sample(
        ...     draws=500, tune=500, chains=2, random_seed=1, progressbar=False)
        >>> post.emmeans("Sex").draws.dims
        ('chain', 'draw', 'emmean')
        """
        from ..results.emmeans import posterior_emmeans_table

        return posterior_emmeans_table(self, specs, by, at, interval)

    def contrast(self, specs, method="pairwise", by=None, ref=None, at=None,
                 interval: float = 0.95):  # fmt: skip
        """Posterior of contrasts of marginal means (methods and labels as
        :meth:`bayesmixed.results.fit.Fit.contrast`; no multiplicity adjustment).

        Columns contrast, the ``by`` columns, estimate, std_error, conf_low, conf_high, pd;
        ``.draws`` is a DataArray with dims (chain, draw, contrast).
        """
        from ..results.contrasts import posterior_contrast_table

        return posterior_contrast_table(self, specs, method, by, ref, at, interval)

    def prior_sensitivity(
        self,
        components=None,
        lower_alpha: float = 0.99,
        upper_alpha: float = 1.01,
        threshold: float = 0.05,
    ) -> pd.DataFrame:
        """Power-scaling sensitivity to the prior and the likelihood, without refitting
        (Kallioinen et al. 2024, as R's priorsense); see
        :func:`bayesmixed.bayes.power_scaling.prior_sensitivity` (``components=`` scales only
        the chosen priors, e.g. ``"sd"``). Plot it with ``bm.plots.prior_sensitivity(post)``.
        """
        from .power_scaling import prior_sensitivity

        return prior_sensitivity(self, components, lower_alpha, upper_alpha, threshold)

    # ------------------------------------------------------------------ predictions
    def predict(self, newdata: pd.DataFrame | None = None, re: bool = True, summary: bool = True):
        """Posterior of the expected response μ (not including residual noise).

        Returns the posterior mean per row (``summary=True``) or all draws (S × rows).
        Levels unseen in the data contribute zero (population level), as for the REML fit.
        """
        if summary:
            # μ is linear in (β, b): its posterior mean is μ at the posterior means
            return super().predict(newdata, re=re)
        return self._predict_draws(newdata, re=re)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        from .summary import BayesSummary

        return str(BayesSummary(self))

    def _repr_html_(self) -> str:
        from .summary import BayesSummary

        return BayesSummary(self)._repr_html_()
