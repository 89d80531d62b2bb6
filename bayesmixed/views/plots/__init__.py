"""Plots of the primer (matplotlib). Every function draws on ``ax=`` when given (or creates a
figure) and returns the Axes it drew on (a list of Axes for multi-panel plots); the figure
is ``ax.figure``.

* :func:`data_lines` — data with least-squares lines and ±1 SD bands (§1–§2);
* :func:`pooling` — no / partial / complete pooling with arrows (§3.4);
* :func:`pooling_weights` — λ_j against n_j;
* :func:`caterpillar` — random effects with intervals;
* :func:`trajectories` — spaghetti plot with the population line (longitudinal fits);
* :func:`trajectories_by_time` — trajectories over categorical or numeric time, by arm (§6);
* :func:`residual_correlation` — fitted vs empirical residual correlation (heat maps);
* :func:`correlation_by_lag` — the correlation several residual structures imply by lag;
* :func:`diagnostics` — residuals vs fitted, scale-location, QQ;
* :func:`icc_r2_posteriors` — posterior densities of ICC and R² with the REML values;
* :func:`compare` — forest plot of ``bm.compare(post, fit)``;
* :func:`emmeans` — marginal means with intervals across time, REML and posterior (§6.2.1);
* :func:`contrasts` — forest plot of contrasts of marginal means;
* :func:`sbc_ranks`, :func:`sbc_ecdf` — ranks of ``bm.sbc``; :func:`power_curves` — ``bm.power``;
* :func:`prior_sensitivity` — posteriors under a power-scaled prior and likelihood;
* :func:`prior_implied` — the priors on the τ, ICC and R² scales (before the data);
* :func:`sensitivity_grid` — posteriors across the priors of ``bm.sensitivity`` (its ``.plot()``).
"""

from .calibration import power_curves, prior_sensitivity, sbc_ecdf, sbc_ranks
from .checks import COMPARE_COLUMNS, compare, diagnostics, icc_r2_posteriors
from .data import data_lines, trajectories
from .longitudinal import correlation_by_lag, residual_correlation, trajectories_by_time
from .means import contrasts, emmeans
from .pooling import caterpillar, pooling, pooling_weights
from .priors import prior_implied, sensitivity_grid

__all__ = [
    "COMPARE_COLUMNS",
    "caterpillar",
    "compare",
    "contrasts",
    "correlation_by_lag",
    "data_lines",
    "diagnostics",
    "emmeans",
    "icc_r2_posteriors",
    "pooling",
    "pooling_weights",
    "power_curves",
    "prior_implied",
    "prior_sensitivity",
    "residual_correlation",
    "sbc_ecdf",
    "sbc_ranks",
    "sensitivity_grid",
    "trajectories",
    "trajectories_by_time",
]
