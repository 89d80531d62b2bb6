"""Power-scaling sensitivity of a posterior to its prior and likelihood, without refitting.

Kallioinen, Paananen, Bürkner & Vehtari (2024), as R's priorsense computes it: raising the
prior (or the likelihood) to a power α changes the posterior by the importance weights
p(θ)^(α−1) (or p(y | θ)^(α−1)) of the draws already in hand, Pareto-smoothed (PSIS). For
α = 0.99 and 1.01 the cumulative Jensen–Shannon distance (CJS) between each parameter's
weighted and unweighted draws measures how much its posterior moves, and

    sensitivity = (CJS(α = 0.99) + CJS(α = 1.01)) / (2 log₂ 1.01),

the finite-difference derivative priorsense reports. A prior sensitivity ≥ 0.05 with a
likelihood sensitivity ≥ 0.05 is a **prior-data conflict**; a sensitive prior with a weak
(< 0.05) likelihood means the prior, not the data, decides (**strong prior / weak
likelihood**).

The ``log_prior`` group of a :class:`~bayesmixed.bayes.result.BayesFit` holds one prior
density per parameter (``beta`` by fixed effect, ``sd_<term>`` by coefficient,
``cor_<term>``, ``sigma``), so ``components=`` can power-scale only a chosen group of priors
— every SD prior, say — and leave the others as they are.

``post.prior_sensitivity()`` (a BayesFit method) and ``bm.prior_sensitivity(post)`` call
:func:`prior_sensitivity`; ``bm.plots.prior_sensitivity(post)`` draws it (plots live in the
views layer, which the engine does not import).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import ArgumentError, BayesMixedWarning

__all__ = [
    "prior_sensitivity",
    "diagnose",
    "parameter_draws",
    "component_log_density",
    "powerscale_log_weights",
    "cjs_distance",
]

# PSIS weights are unreliable above this Pareto k for power-scaling (priorsense's default)
K_THRESHOLD = 0.5
_CLASSES = ("fixed", "sd", "cor")


def parameter_draws(idata) -> dict[str, np.ndarray]:
    """Flattened draws (chains stacked) of γ, τ, correlations and σ, by prior name.

    Names are those of ``priors=``: fixed effects by column name, ``sd__<coef>|<term>``,
    ``cor__<a>.<b>|<term>`` (one per pair) and ``sigma``.
    """
    post = idata.posterior
    out: dict[str, np.ndarray] = {}
    for name in post["beta"].coords["fixed"].values:
        out[str(name)] = post["beta"].sel(fixed=name).values.reshape(-1)
    for var in post.data_vars:
        if var.startswith("sd_"):
            term = var[3:]
            cdim = f"{term}__coef"
            for c in post[var].coords[cdim].values:
                out[f"sd__{c}|{term}"] = post[var].sel({cdim: c}).values.reshape(-1)
    for var in post.data_vars:
        if var.startswith("cor_"):
            term = var[4:]
            names = [str(c) for c in post[var].coords[f"{term}__coef"].values]
            vals = post[var].values
            for i in range(len(names)):
                for j in range(i):
                    out[f"cor__{names[j]}.{names[i]}|{term}"] = vals[..., i, j].reshape(-1)
    out["sigma"] = post["sigma"].values.reshape(-1)
    return out


def _prior_names(log_prior) -> dict[str, np.ndarray]:
    """Per-parameter log prior densities (chains stacked), by prior name."""
    out: dict[str, np.ndarray] = {}
    for name in log_prior["beta"].coords["fixed"].values:
        out[str(name)] = log_prior["beta"].sel(fixed=name).values.reshape(-1)
    for var in log_prior.data_vars:
        if var.startswith("sd_"):
            term = var[3:]
            cdim = f"{term}__coef"
            for c in log_prior[var].coords[cdim].values:
                out[f"sd__{c}|{term}"] = log_prior[var].sel({cdim: c}).values.reshape(-1)
        elif var.startswith("cor_"):
            out[f"cor|{var[4:]}"] = log_prior[var].values.reshape(-1)
    out["sigma"] = log_prior["sigma"].values.reshape(-1)
    return out


def _select(names: list[str], components) -> list[str]:
    """The prior names a ``components=`` selection covers (names or classes as in priors=)."""
    if components is None:
        return names
    comps = [components] if isinstance(components, str) else list(components)
    chosen: list[str] = []
    for c in comps:
        c = "(Intercept)" if c == "Intercept" else c
        if c == "fixed":
            hit = [n for n in names if not n.startswith(("sd__", "cor|")) and n != "sigma"]
            hit = [n for n in hit if n != "(Intercept)"]
        elif c == "sd":
            hit = [n for n in names if n.startswith("sd__")]
        elif c == "cor":
            hit = [n for n in names if n.startswith("cor|")]
        elif c in names:
            hit = [c]
        else:
            raise ArgumentError(
                f"unknown prior {c!r} in components=; choose names or classes among: "
                f"{', '.join([*names, *_CLASSES])}"
            )
        if not hit:
            raise ArgumentError(f"components={c!r} selects no prior of this model")
        chosen.extend(h for h in hit if h not in chosen)
    return chosen


def component_log_density(idata, component: str, components=None) -> np.ndarray:
    """Summed log prior (the selected priors) or log likelihood of every draw."""
    if component == "prior":
        if "log_prior" not in idata.groups():
            raise ArgumentError("the InferenceData has no log_prior group to power-scale")
        lp = _prior_names(idata.log_prior)
        return np.sum([lp[n] for n in _select(list(lp), components)], axis=0)
    if "log_likelihood" not in idata.groups():
        raise ArgumentError(
            "the InferenceData has no log_likelihood group (too many draws × observations "
            "were sampled to store it); the likelihood cannot be power-scaled"
        )
    ll = idata.log_likelihood["y"].values
    return ll.reshape(ll.shape[0] * ll.shape[1], -1).sum(axis=1)


def powerscale_log_weights(log_density: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """PSIS-smoothed, normalized log weights of power-scaling a component by α, and Pareto k."""
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # k is reported by the caller
        lw, k = az.psislw((alpha - 1.0) * np.asarray(log_density, float), reff=1.0)
    return np.asarray(lw), float(k)


def _cjs_one_side(x: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(x)
    x, w = x[order], w[order]
    width = np.diff(x)
    n = x.size
    p = np.arange(1, n) / n
    q = np.cumsum(w / w.sum())[:-1]
    p_int, q_int = p @ width, q @ width
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = np.where(p > 0, np.log2(p), 0.0)
        lq = np.where(q > 0, np.log2(q), 0.0)
        m = 0.5 * (p + q)
        lm = np.where(m > 0, np.log2(m), 0.0)
    pq = max(0.0, float(np.sum(width * p * (lp - lm)) + 0.5 / np.log(2) * (q_int - p_int)))
    qp = max(0.0, float(np.sum(width * q * (lq - lm)) + 0.5 / np.log(2) * (p_int - q_int)))
    bound = p_int + q_int
    return float(np.sqrt((pq + qp) / bound)) if bound > 0 else 0.0


def cjs_distance(draws: np.ndarray, weights: np.ndarray) -> float:
    """Cumulative Jensen–Shannon distance between draws and the same draws weighted.

    Unsigned, as priorsense's ``cjs_dist``: the larger of the distances for x and −x.

    Examples
    --------
    >>> x = np.random.default_rng(1).normal(size=4000)
    >>> round(cjs_distance(x, np.ones_like(x)), 6)
    0.0
    >>> round(cjs_distance(x, np.exp(0.2 * x)), 2)
    0.04
    """
    x = np.asarray(draws, float)
    w = np.asarray(weights, float)
    return max(_cjs_one_side(x, w), _cjs_one_side(-x, w))


def _sensitivity(draws: dict, log_density: np.ndarray, lower: float, upper: float):
    lw_lo, k_lo = powerscale_log_weights(log_density, lower)
    lw_hi, k_hi = powerscale_log_weights(log_density, upper)
    w_lo, w_hi = np.exp(lw_lo), np.exp(lw_hi)
    denom = 2.0 * np.log2(upper)  # priorsense's second-order difference on the log₂ α scale
    sens = {
        name: (cjs_distance(x, w_lo) + cjs_distance(x, w_hi)) / denom for name, x in draws.items()
    }
    return sens, max(k_lo, k_hi)


def diagnose(prior: float, likelihood: float, threshold: float = 0.05) -> str:
    """priorsense's reading of a pair of sensitivities.

    Examples
    --------
    >>> diagnose(0.2, 0.1), diagnose(0.2, 0.01), diagnose(0.01, 0.3)
    ('prior-data conflict', 'strong prior / weak likelihood', '-')
    """
    if prior >= threshold and likelihood >= threshold:
        return "prior-data conflict"
    if prior > threshold and likelihood < threshold:
        return "strong prior / weak likelihood"
    return "-"


def prior_sensitivity(
    post,
    components=None,
    lower_alpha: float = 0.99,
    upper_alpha: float = 1.01,
    threshold: float = 0.05,
) -> pd.DataFrame:
    """Power-scaling sensitivity of every parameter to the prior and to the likelihood.

    Parameters
    ----------
    post : BayesFit or arviz.InferenceData
        A posterior with ``log_prior`` and ``log_likelihood`` groups (as sampled here).
    components : str or list of str, optional
        Priors to power-scale, named as in ``priors=`` (``"sd__(Intercept)|Subject"``,
        ``"sigma"``, ``"cor|Subject"``, ``"Days"``) or by class (``"fixed"``, ``"sd"``,
        ``"cor"``). Default: every prior (the joint prior, as priorsense).
    lower_alpha, upper_alpha : float
        Powers of the finite difference (priorsense: 0.99 and 1.01).
    threshold : float
        Sensitivity above which a component counts as influential (0.05).

    Returns
    -------
    pandas.DataFrame
        Columns parameter, prior, likelihood, diagnosis (``"prior-data conflict"``,
        ``"strong prior / weak likelihood"`` or ``"-"``); ``attrs["pareto_k"]`` holds the
        largest Pareto k of the prior and likelihood weights, ``attrs["components"]`` the
        priors that were scaled.

    Warns
    -----
    BayesMixedWarning
        When a Pareto k exceeds 0.5: the importance weights, and so the numbers, are
        unreliable (refit with the power-scaled prior to check).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> post = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).sample(
    ...     draws=500, tune=500, chains=2, random_seed=1, progressbar=False)
    >>> tab = bm.prior_sensitivity(post, components="sd")
    >>> tab.columns.tolist(), tab.attrs["components"]
    (['parameter', 'prior', 'likelihood', 'diagnosis'], ['sd__(Intercept)|Batch'])
    """
    if not (0 < lower_alpha < 1 < upper_alpha):
        raise ArgumentError(
            f"need 0 < lower_alpha < 1 < upper_alpha, got {lower_alpha!r} and {upper_alpha!r}"
        )
    idata = getattr(post, "idata", post)
    draws = parameter_draws(idata)
    lp = component_log_density(idata, "prior", components)
    prior, k_prior = _sensitivity(draws, lp, lower_alpha, upper_alpha)
    if "log_likelihood" in idata.groups():
        ll = component_log_density(idata, "likelihood")
        lik, k_lik = _sensitivity(draws, ll, lower_alpha, upper_alpha)
    else:
        lik, k_lik = dict.fromkeys(draws, np.nan), np.nan
    rows = [
        {
            "parameter": name,
            "prior": prior[name],
            "likelihood": lik[name],
            "diagnosis": diagnose(prior[name], lik[name], threshold),
        }
        for name in draws
    ]
    out = pd.DataFrame(rows)
    out.attrs["pareto_k"] = {"prior": k_prior, "likelihood": k_lik}
    out.attrs["components"] = _select(list(_prior_names(idata.log_prior)), components)
    for comp, k in out.attrs["pareto_k"].items():
        if np.isfinite(k) and k > K_THRESHOLD:
            warnings.warn(
                f"power-scaling the {comp}: Pareto k = {k:.2f} > {K_THRESHOLD}, the importance "
                "weights are unreliable; check by refitting with the scaled prior "
                "(bm.sensitivity) or draw more",
                BayesMixedWarning,
                stacklevel=2,
            )
    return out
