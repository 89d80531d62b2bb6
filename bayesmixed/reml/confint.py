"""``REMLFit.confint``: profile, Wald and parametric-bootstrap intervals, as lme4's
``confint.merMod``.

* ``"profile"`` — profile-likelihood intervals for every parameter (SDs, correlations, σ and
  the fixed effects) from the ML deviance, as lme4 (a REML fit is refitted by ML first;
  :mod:`bayesmixed.reml.profile`);
* ``"wald"`` — β̂ ± z·SE for the fixed effects from the fit's own covariance of β̂, NaN for
  the variance parameters (lme4 returns NA there);
* ``"boot"`` — percentile intervals (``boot.ci(type="perc")``) of ``nsim`` refits to
  responses simulated from the fit, with the fit's own criterion (lme4's ``bootMer``), run
  on :func:`bayesmixed.batch.run_tasks`.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..batch import run_tasks
from ..errors import ArgumentError, BayesMixedWarning
from ..results.components import ran_pars_values
from ..results.frames import tidy_frame
from .profile import profile_intervals
from .simulate import boot_percentile, refit_to, simulate_response

__all__ = ["confint_table", "profile_ran_pars", "CONFINT_COLUMNS"]

CONFINT_COLUMNS = ["effect", "group", "term", "conf_low", "conf_high"]
_METHODS = ("profile", "wald", "boot")


def check_level(level) -> float:
    if not (isinstance(level, (int, float)) and not isinstance(level, bool) and 0 < level < 1):
        raise ArgumentError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}")
    return float(level)


def _ml_fit(fit):
    """The ML fit lme4's profile works with (``refitML``): the fit itself or its ML refit."""
    if not fit.reml:
        return fit
    if fit.refitter is None:
        raise ArgumentError("profile intervals of a REML fit need its ML refit: fit by ML")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lme4's refitML is silent about a singular refit
        return fit.refitter(fit.design, reml=False)


def _profile(fit, level: float) -> tuple[np.ndarray, np.ndarray]:
    ml = _ml_fit(fit)
    se = np.sqrt(np.diagonal(ml.vcov().to_numpy()))
    return profile_intervals(ml.design, ml.theta, ml.sigma, ml.beta, se, level)


def profile_ran_pars(fit, level: float) -> np.ndarray:
    """Profile limits of the ``ran_pars`` rows (SDs, correlations, σ), shape (n, 2)."""
    return _profile(fit, level)[1]


def _boot_replicate(payload, _task, rng) -> np.ndarray:
    """One bootstrap refit: its fixed effects and its ran_pars values, in tidy order."""
    design, beta, covs, sigma, refitter, reml = payload
    new = refit_to(design, simulate_response(design, beta, covs, sigma, rng), refitter, reml)
    ran = [float(v) for v in ran_pars_values(new.components()).values()]
    return np.concatenate([new.beta, ran])


def _boot(fit, level, nsim, random_seed, client, progressbar):
    if fit.refitter is None:
        raise ArgumentError("bootstrap intervals need a fit that can be refitted")
    payload = (fit.design, fit.beta, fit.covs, fit.sigma, fit.refitter, fit.reml)
    res = run_tasks(
        functools.partial(_boot_replicate, payload),
        range(nsim),
        random_seed=random_seed,
        client=client,
        progressbar=progressbar,
    )
    good = [r.value for r in res if r.ok]
    if len(good) < len(res):
        first = next(r.error for r in res if not r.ok)
        warnings.warn(
            f"{len(res) - len(good)} of {nsim} bootstrap refits failed (first: {first}); the "
            "intervals use the others",
            BayesMixedWarning,
            stacklevel=4,
        )
    if not good:
        n = fit.design.p + len(ran_pars_values(fit.components()))
        lims = np.full((n, 2), np.nan)
    else:
        draws = np.vstack(good)
        lims = np.array([boot_percentile(draws[:, j], level) for j in range(draws.shape[1])])
    p = fit.design.p
    return lims[:p], lims[p:]


def confint_table(
    fit,
    method: str = "profile",
    level: float = 0.95,
    nsim: int = 500,
    random_seed=None,
    client=None,
    progressbar: bool = False,
) -> pd.DataFrame:
    """Confidence intervals of every parameter of a REML/ML fit (see :meth:`REMLFit.confint`)."""
    if not isinstance(method, str) or method.lower() not in _METHODS:
        raise ArgumentError(f"method must be one of {', '.join(_METHODS)}, got {method!r}")
    method = method.lower()
    level = check_level(level)
    if method == "profile":
        fixed, ran = _profile(fit, level)
    elif method == "wald":
        se = np.sqrt(np.diagonal(fit.vcov().to_numpy()))
        z = stats.norm.ppf(0.5 + level / 2)
        fixed = np.column_stack([fit.beta - z * se, fit.beta + z * se])
        ran = np.full((len(ran_pars_values(fit.components())), 2), np.nan)
    else:
        if isinstance(nsim, bool) or not isinstance(nsim, (int, np.integer)) or nsim < 2:
            raise ArgumentError(f"nsim must be an integer >= 2, got {nsim!r}")
        fixed, ran = _boot(fit, level, int(nsim), random_seed, client, progressbar)
    tab = tidy_frame(
        fit.design,
        {"conf_low": fixed[:, 0], "conf_high": fixed[:, 1]},
        {"conf_low": ran[:, 0], "conf_high": ran[:, 1]},
    )
    return tab[CONFINT_COLUMNS]
