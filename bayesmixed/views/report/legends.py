"""What the columns of the report's tables mean: one short sentence per column name.

:func:`legend_for` joins the entries of the columns a table shows; the page prints it under
the table, so a reader never has to guess what ``z_diff`` or an adjusted ICC is.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["LEGENDS", "legend_for"]

LEGENDS: dict[str, str] = {
    "estimate": "estimate: γ̂ for fixed effects, τ̂ / σ̂ (SDs) and correlations for the random part",
    "std_error": "std_error: standard error (REML); blank for variance parameters, as in lme4",
    "statistic": "statistic: t = estimate / std_error",
    "df": "df: degrees of freedom of the t test (Satterthwaite for mixed models, n − p for OLS)",
    "p_value": "p_value: two-sided p of the t test",
    "conf_low": "conf_low, conf_high: 95% interval (profile likelihood for REML fits, Wald for "
    "OLS/GLS fixed effects, equal-tailed posterior interval for the posterior)",
    "reml_estimate": "reml_estimate, reml_std_error: the REML fit",
    "post_mean": "post_mean, post_sd: posterior mean and SD",
    "rhat": "rhat: split-R̂ (want ≤ 1.01, above means the chains disagree)",
    "ess_bulk": "ess_bulk: effective sample size of the bulk (want ≥ 400)",
    "ess_tail": "ess_tail: effective sample size of the 5% and 95% quantiles",
    "z_diff": "z_diff: (posterior mean − REML estimate) / posterior SD — how many posterior SDs "
    "the two answers are apart (|z_diff| < 1: they agree; prior and small samples move it)",
    "icc_adjusted": "ICC adjusted: random-effect variance / (random + residual), fixed effects "
    "left out; ICC conditional: the same share of the total variance including the fixed "
    "effects' (Nakagawa et al. 2017)",
    "r2_marginal": "R² marginal: variance explained by the fixed effects; R² conditional: by "
    "fixed and random effects together (Nakagawa & Schielzeth 2013; Johnson 2014 for slopes)",
    "weight": "weight λ_j = τ² / (τ² + σ²/n_j): the share of cluster j's own mean in its "
    "partial-pooling estimate (1 = no pooling, 0 = complete pooling)",
    "no_pooling": "no_pooling: the cluster's own estimate; partial_pooling: the mixed model's "
    "(γ̂ + û_j); complete_pooling: the population value γ̂",
    "AIC": "AIC, BIC: information criteria (smaller is better; REML criteria compare only "
    "models with the same fixed effects)",
    "logLik": "logLik: (restricted) log-likelihood",
    "npar": "npar: number of estimated parameters",
    "share": "share: the component's part of the total variance",
    "p_boundary": "p_boundary: p-value against the 50:50 mixture of χ²(df−1) and χ²(df), "
    "the right reference when a variance is tested against zero (on the boundary)",
    "Chisq": "Chisq: likelihood-ratio statistic 2·(logLik_alt − logLik_null) on 'Chi Df' degrees "
    "of freedom; Pr(>Chisq): its naive χ² p-value",
    "r_squared": "r_squared: proportion of variance explained (OLS)",
    "f2": "f²: local Cohen's f² = (R²_full − R²_reduced) / (1 − R²_full); 0.02 small, "
    "0.15 medium, 0.35 large",
    "pcv": "PCV: proportional change in variance (τ²_reduced − τ²_full) / τ²_reduced",
    "lambda_mean": "λ: pooling weight of the cluster's own data (see above)",
}


def legend_for(columns: Iterable[object]) -> str:
    """The legend of a table with these columns (entries in column order, each once).

    Examples
    --------
    >>> legend_for(["term", "rhat", "ess_bulk"]).split("; ")[0]
    'rhat: split-R̂ (want ≤ 1.01, above means the chains disagree)'
    >>> legend_for(["term"])
    ''
    """
    seen: list[str] = []
    for c in columns:
        entry = LEGENDS.get(str(c))
        if entry and entry not in seen:
            seen.append(entry)
    return "; ".join(seen) + ("." if seen else "")
