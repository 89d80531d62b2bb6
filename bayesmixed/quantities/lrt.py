"""Likelihood-ratio tests between nested fits: lme4's ``anova(m0, m1, ...)``.

lme4 compares models by their maximized log-likelihoods. REML likelihoods of models with
different fixed effects are not comparable, so by default every REML fit is refitted by ML
first (lme4 prints "refitting model(s) with ML (instead of REML)"); ``refit=False`` keeps the
REML criteria, which is valid only when the fixed effects are the same. The models are sorted
by their number of parameters, and each row is tested against the one before it:

    statistic = 2 · max(0, ℓ_k − ℓ_{k−1}),   df = npar_k − npar_{k−1},   p = P(χ²_df > statistic)

Testing a variance component puts its null value (τ² = 0) on the boundary of the parameter
space, where the χ² reference is conservative. ``p_boundary`` gives the asymptotic correction
(Self & Liang 1987; Stram & Lee 1994): a 50:50 mixture of χ²_{df−1} and χ²_df. It is the
exact asymptotic null distribution in two cases, and is shown only for them (same fixed
effects, the larger model has exactly one more random-effect SD):

* one added variance, ``(1 | g)`` or a slope in ``(x || g)`` (df = 1): ½χ²₀ + ½χ²₁, which
  halves p;
* a random slope added together with its covariances with the k effects already in the
  block, ``(1 | g)`` → ``(1 + x | g)`` (df = k + 1): Stram & Lee's ½χ²_k + ½χ²_{k+1}.

Both assume the other variance parameters are interior. Anything else — several variances at
once, adding only a correlation (its null value 0 is interior), other fixed effects — gets
NaN; ``bootstrap=N`` then gives a parametric-bootstrap p-value (pbkrtest's ``PBmodcomp``,
:mod:`bayesmixed.quantities.bootstrap`) that needs no asymptotics, also in finite samples
where the mixture is only approximate.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ArgumentError, RefitWarning

__all__ = ["anova"]


def _ml(fit):
    """The ML version of ``fit`` (OLS fits are ML already), by the fit's own refit."""
    if not getattr(fit, "reml", False):
        return fit
    return fit.refit(reml=False)


def _n_sds(fit) -> int:
    return sum(t.k for t in fit.design.terms)


def _adds_one_variance(small, big) -> bool:
    """Same fixed effects and exactly one more random-effect SD: the boundary case the
    χ² mixture is for (a correlation alone has an interior null value, 0)."""
    return small.design.xnames == big.design.xnames and _n_sds(big) == _n_sds(small) + 1


def _label(fit) -> str:
    return fit.design.spec.formula


def anova(
    *fits,
    refit: bool = True,
    names: list[str] | None = None,
    bootstrap: int | None = None,
    random_seed=None,
    client=None,
) -> pd.DataFrame:
    """Likelihood-ratio tests of nested models, as lme4's ``anova(m0, m1, ...)``.

    Parameters
    ----------
    *fits : REMLFit or OLSFit
        Two or more fits to the same observations (a model without random terms, fitted by
        least squares, may be the smallest).
    refit : bool
        Refit REML fits by ML first (default, as lme4). ``False`` compares REML likelihoods,
        meaningful only for models with identical fixed effects.
    names : list of str, optional
        Row labels (default: the formulas).
    bootstrap : int, optional
        Number of parametric-bootstrap replicates per test: responses simulated from the
        smaller model's (ML) fit, both models refitted, the LRT recomputed; adds
        ``p_bootstrap`` = (1 + #{LRT* ≥ LRT}) / (N + 1) and its Monte Carlo SE
        ``p_bootstrap_se`` (pbkrtest's ``PBmodcomp``). Needs nested models (same data,
        the larger containing the smaller's fixed and random terms).
    random_seed : int, optional
        Seed of the bootstrap: the same seed gives the same p-values, locally or on Dask.
    client : distributed.Client or str, optional
        Run the bootstrap refits on this Dask cluster (default: local processes).

    Returns
    -------
    pandas.DataFrame
        One row per model, sorted by ``npar``: ``model``, ``npar``, ``AIC``, ``BIC``,
        ``logLik``, ``deviance`` (−2 logLik), then for every row after the first the test
        against the row before: ``statistic`` (χ²), ``df``, ``p_value`` and ``p_boundary``
        (the 50:50 χ² mixture when the row adds one random-effect variance to the same fixed
        effects; NaN otherwise); with ``bootstrap=``, ``p_bootstrap`` and ``p_bootstrap_se``.

    Raises
    ------
    ArgumentError
        Fewer than two fits, something that is not a fit, fits to different numbers of
        observations, a bad ``bootstrap`` count, or (with ``bootstrap=``) models that are not
        nested.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> d = bm.datasets.load("sleepstudy")
    >>> m0 = bm.MixedModel("Reaction ~ Days + (1 | Subject)", d).fit_reml()
    >>> m1 = bm.MixedModel("Reaction ~ Days + (Days || Subject)", d).fit_reml()
    >>> tab = bm.anova(m0, m1, refit=False)  # same fixed effects: REML likelihoods comparable
    >>> print(f"chisq = {tab['statistic'].iloc[1]:.2f} on {tab['df'].iloc[1]:.0f} df")
    chisq = 42.80 on 1 df
    """
    if len(fits) < 2:
        raise ArgumentError("anova() compares two or more fits: pass e.g. anova(fit0, fit1)")
    for i, f in enumerate(fits):
        if not (hasattr(f, "loglik") and hasattr(f, "nparams") and hasattr(f, "design")):
            raise ArgumentError(
                f"argument {i + 1} of anova() is a {type(f).__name__}, not a fit: pass the "
                "results of MixedModel.fit_reml()"
            )
    nobs = {f.design.n for f in fits}
    if len(nobs) > 1:
        raise ArgumentError(
            f"models were not all fitted to the same observations (nobs {sorted(nobs)}): a "
            "likelihood-ratio test needs the same rows; drop missing values beforehand so that "
            "every model sees the same data"
        )
    if bootstrap is not None and (
        isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 1
    ):
        raise ArgumentError(f"bootstrap must be a positive number of replicates, got {bootstrap!r}")
    if names is None:
        names = [_label(f) for f in fits]
    elif len(names) != len(fits):
        raise ArgumentError(f"names= has {len(names)} entries for {len(fits)} fits")
    if refit and any(getattr(f, "reml", False) for f in fits):
        warnings.warn("refitting model(s) with ML (instead of REML)", RefitWarning, stacklevel=2)
        fits = tuple(_ml(f) for f in fits)
    npar = np.array([f.nparams for f in fits])
    order = np.argsort(npar, kind="stable")
    fits = [fits[i] for i in order]
    names = [names[i] for i in order]
    ll = np.array([float(f.loglik) for f in fits])
    npar = npar[order]
    n = fits[0].design.n
    tab = pd.DataFrame(
        {
            "model": names,
            "npar": npar,
            "AIC": -2.0 * ll + 2.0 * npar,
            "BIC": -2.0 * ll + np.log(n) * npar,
            "logLik": ll,
            "deviance": -2.0 * ll,
        }
    )
    stat = np.full(len(fits), np.nan)
    df = np.full(len(fits), np.nan)
    p = np.full(len(fits), np.nan)
    pb = np.full(len(fits), np.nan)
    for k in range(1, len(fits)):
        stat[k] = 2.0 * max(0.0, ll[k] - ll[k - 1])
        df[k] = npar[k] - npar[k - 1]
        if df[k] > 0:
            p[k] = stats.chi2.sf(stat[k], df[k])
            if _adds_one_variance(fits[k - 1], fits[k]):
                lower = stats.chi2.sf(stat[k], df[k] - 1) if df[k] > 1 else float(stat[k] <= 0)
                pb[k] = 0.5 * (lower + p[k])
    tab["statistic"] = stat
    tab["df"] = df
    tab["p_value"] = p
    tab["p_boundary"] = pb
    if bootstrap is not None:
        _add_bootstrap(tab, fits, stat, int(bootstrap), random_seed, client)
    return tab


def _add_bootstrap(tab, fits, stat, nsim, random_seed, client) -> None:
    """``p_bootstrap`` and ``p_bootstrap_se`` of each test (one seed stream per test)."""
    from .bootstrap import check_nested, lrt_bootstrap

    for k in range(1, len(fits)):
        check_nested(fits[k - 1], fits[k])
    seeds = np.random.SeedSequence(random_seed).spawn(len(fits) - 1)
    pboot = np.full(len(fits), np.nan)
    se = np.full(len(fits), np.nan)
    for k in range(1, len(fits)):
        pboot[k], se[k], _ = lrt_bootstrap(
            fits[k - 1], fits[k], stat[k], nsim, random_seed=seeds[k - 1], client=client
        )
    tab["p_bootstrap"] = pboot
    tab["p_bootstrap_se"] = se
