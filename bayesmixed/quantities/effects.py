"""Effect sizes for mixed models (§8): local Cohen's f², PCV, d_τ and standardized effects.

All functions take REML/ML fits (point estimates) or Bayesian fits (posterior draws), through
the same vectorised code as :mod:`bayesmixed.variance`.

Comparing two Bayesian fits
---------------------------
f², PCV and d_τ compare a *full* and a *reduced* model. With two posteriors the draws are
paired by index (draw s of one with draw s of the other), which samples the distribution of
the difference as if the two posteriors were independent — they come from separate
samplers, so no closer coupling exists. Both fits must then have the same number of draws; a
REML fit may be paired with a Bayesian one (its point estimate is used for every draw).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ArgumentError
from ..results.components import Components
from ..results.draws import Posterior, as_components, check_ci, finish
from ..results.variance import decompose
from ..spec.split import split_top

__all__ = ["cohens_f2", "reduced_fit", "pcv", "d_tau", "variance_change", "standardized_effect"]


# --------------------------------------------------------------------------- helpers
def _paired(*arrays: np.ndarray, what: str) -> tuple[np.ndarray, ...]:
    """The per-draw arrays of two fits broadcast to one length, draw s with draw s; a point
    estimate (size 1) pairs with every draw."""
    sizes = list(dict.fromkeys(a.size for a in arrays if a.size != 1))
    if len(sizes) > 1:
        raise ArgumentError(
            f"{what}: the two fits have different numbers of posterior draws ({sizes[0]} and "
            f"{sizes[1]}); sample both with the same draws and chains"
        )
    return tuple(np.broadcast_arrays(*arrays))


def reduced_fit(fit: object, term: str, data=None):
    """Refit ``fit`` without the fixed-effect term(s) ``term``, keeping the random part.

    Parameters
    ----------
    fit : REMLFit or OLSFit
        The full model (REML fits are refitted with the same criterion, REML or ML).
    term : str
        Fixed-effect term as written in the formula (``"Days"``, ``"x:sector"``), or several
        joined with ``+`` (``"x + z"``).
    data : DataFrame, optional
        Data to refit on (defaults to the model frame of ``fit``).

    Returns
    -------
    REMLFit or OLSFit

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> reduced_fit(fit, "Days").design.xnames
    ['(Intercept)']
    """
    design = getattr(fit, "design", None)
    if design is None or not callable(getattr(fit, "refit", None)):
        raise ArgumentError(f"fit must be a fitted model, got {type(fit).__name__}")
    if not isinstance(term, str) or not term.strip():
        raise ArgumentError("term must name a fixed-effect term of the model, e.g. term='Days'")
    spec = design.spec
    pieces = split_top(term)
    available = list(dict.fromkeys(design.fixed_term_of_column))
    fixed = spec.fixed + "".join(f" - {p}" for p in pieces)
    random = " + ".join(f"({t.expr} | {t.group})" for t in spec.random)
    formula = f"{spec.response} ~ {fixed}" + (f" + {random}" if random else "")
    # the one refit path (also lrt's ML refits): the fit's own refitter, same criterion
    reduced = fit.refit(formula, data=data)
    if reduced.design.p == design.p:
        raise ArgumentError(
            f"term={term!r} is not a fixed-effect term of the model; fixed terms are: "
            f"{', '.join(a for a in available if a != '(Intercept)') or 'none'}"
        )
    return reduced


def _r2_draws(fit: object, which: str) -> tuple[np.ndarray, bool]:
    d = decompose(fit, tolerance=0)
    comp_draws = d.draws
    if not d.has_random and not comp_draws and hasattr(fit, "r_squared"):
        # a regression without clusters: the classical R² = 1 − RSS/TSS, so that f² is the
        # usual partial-F effect size (RSS_reduced − RSS_full) / RSS_full
        return np.array([float(fit.r_squared)]), False
    total = d.var_fixed + d.var_random + d.var_residual
    num = d.var_fixed if which == "marginal" else d.var_fixed + d.var_random
    return num / total, comp_draws


# --------------------------------------------------------------------------- f²
def cohens_f2(
    full: object,
    term: str | None = None,
    *,
    reduced: object | None = None,
    r2: str = "marginal",
    data=None,
    ci: float = 0.95,
) -> dict:
    """Local Cohen's f² of one fixed effect (Selya et al. 2012): f² = (R²_full − R²_red)/(1 − R²_full).

    The reduced model drops ``term`` from the fixed part and keeps the random part. R² is
    Nakagawa & Schielzeth's (:func:`bayesmixed.variance.r2`), by default the *marginal* R²:
    the variance explained by the fixed effects is what removing a fixed effect changes.
    Selya et al. use a variance-reduction R² on the conditional scale; ``r2="conditional"``
    gives that variant, but note that it can be near zero or even negative for a
    cluster-level predictor, whose variance the random intercept absorbs in the reduced
    model. For regressions without random effects the classical R² is used, so f² is the
    usual (RSS_reduced − RSS_full)/RSS_full.

    Parameters
    ----------
    full : fit
        The model with the effect.
    term : str, optional
        Fixed-effect term to drop (REML/OLS fits are refitted without it).
    reduced : fit, optional
        The model without the effect, if already fitted (required for Bayesian fits).
    r2 : {"marginal", "conditional"}
    data : DataFrame, optional
        Data for the refit (defaults to the model frame).
    ci : float
        Interval probability for Bayesian fits.

    Returns
    -------
    dict
        ``f2``, ``r2_full``, ``r2_reduced`` (floats or Posterior), ``r2`` (which R²) and
        ``term``.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> round(cohens_f2(fit, "Days")["f2"], 4)
    0.3863
    """
    ci = check_ci(ci)
    if r2 not in ("marginal", "conditional"):
        raise ArgumentError(f"r2 must be 'marginal' or 'conditional', got {r2!r}")
    if reduced is None:
        if term is None:
            raise ArgumentError("give the fixed-effect term to drop (term='x') or reduced=fit")
        if isinstance(full, Components) or as_components(full, "full").draws:
            raise ArgumentError(
                "a Bayesian fit (or a Components object) cannot be refitted here: fit or "
                "sample the reduced model yourself and pass it as reduced=..."
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reduced = reduced_fit(full, term, data=data)
    rf, df_ = _r2_draws(full, r2)
    rr, dr = _r2_draws(reduced, r2)
    rf, rr = _paired(rf, rr, what="cohens_f2()")
    f2 = (rf - rr) / (1.0 - rf)
    draws = df_ or dr
    return {
        "f2": finish(f2, draws, ci, "Cohen's f²"),
        "r2_full": finish(rf, draws, ci, f"R² {r2} (full)"),
        "r2_reduced": finish(rr, draws, ci, f"R² {r2} (reduced)"),
        "r2": r2,
        "term": term,
    }


# --------------------------------------------------------------------------- PCV and d_τ
def _component_draws(fit: object, group: str, term: str, what: str) -> np.ndarray:
    comp = as_components(fit, what).as_draws()
    if group == "Residual":
        return np.asarray(comp.sigma, float).reshape(-1) ** 2
    for i, t in enumerate(comp.design.terms):
        if (t.name == group or t.group == group) and term in t.cnames:
            k = t.cnames.index(term)
            return np.asarray(comp.cov[i], float)[:, k, k]
    have = [f"{t.name}/{c}" for t in comp.design.terms for c in t.cnames]
    raise ArgumentError(
        f"{what} has no variance component group={group!r}, term={term!r}; it has "
        f"{', '.join(have) or 'none'} and 'Residual'"
    )


def variance_change(
    full: object,
    reduced: object,
    group: str,
    term: str = "(Intercept)",
    *,
    ci: float = 0.95,
) -> dict:
    """How much a variance component shrinks when predictors are added (PCV and d_τ).

    * PCV = (τ_reduced − τ_full) / τ_reduced: the proportional change in variance
      (Merlo et al. 2005), the share of the component explained by the predictors that the
      full model adds (negative when the component grows).
    * d_τ = (τ_reduced − τ_full) / V_reduced with V_reduced = var_random + σ² of the reduced
      model: the same change standardized by the reduced model's total (random + residual)
      variance, so that changes at different levels (e.g. school vs pupil, or ``"Residual"``)
      are on one scale and sum to the total proportional reduction.

    Parameters
    ----------
    full, reduced : fit
        Models with and without the predictors (same random part).
    group : str
        Term name (``"Subject"``, ``"class:school"``) or ``"Residual"`` for σ².
    term : str
        Column of the term, default the intercept (τ00).
    ci : float
        Interval probability for Bayesian fits.

    Returns
    -------
    dict
        ``var_reduced``, ``var_full``, ``pcv``, ``d_tau`` (floats or Posterior).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> d = bm.datasets.load("sleepstudy")
    >>> null = bm.MixedModel("Reaction ~ 1 + (1 | Subject)", d).fit_reml()
    >>> full = bm.MixedModel("Reaction ~ Days + (1 | Subject)", d).fit_reml()
    >>> round(variance_change(full, null, "Residual")["pcv"], 3)
    0.51
    """
    ci = check_ci(ci)
    vf = _component_draws(full, group, term, "full")
    vr = _component_draws(reduced, group, term, "reduced")
    dred = decompose(reduced, tolerance=0)
    total_red = dred.var_random + dred.var_residual
    vf, vr, total_red = _paired(vf, vr, total_red, what="variance_change()")
    draws = bool(as_components(full, "full").draws or dred.draws)
    with np.errstate(invalid="ignore", divide="ignore"):
        pcv_v = (vr - vf) / vr
        dtau = (vr - vf) / total_red
    return {
        "var_reduced": finish(vr, draws, ci, "variance (reduced)"),
        "var_full": finish(vf, draws, ci, "variance (full)"),
        "pcv": finish(pcv_v, draws, ci, "PCV"),
        "d_tau": finish(dtau, draws, ci, "d_tau"),
    }


def pcv(
    full: object, reduced: object, group: str, term: str = "(Intercept)", *, ci: float = 0.95
) -> float | Posterior:
    """Proportional change in variance (τ_reduced − τ_full)/τ_reduced; see :func:`variance_change`.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> d = bm.datasets.load("sleepstudy")
    >>> null = bm.MixedModel("Reaction ~ 1 + (1 | Subject)", d).fit_reml()
    >>> full = bm.MixedModel("Reaction ~ Days + (1 | Subject)", d).fit_reml()
    >>> round(pcv(full, null, "Subject"), 3)
    -0.078
    """
    return variance_change(full, reduced, group, term, ci=ci)["pcv"]


def d_tau(
    full: object, reduced: object, group: str, term: str = "(Intercept)", *, ci: float = 0.95
) -> float | Posterior:
    """Standardized variance difference (τ_reduced − τ_full)/V_reduced; see :func:`variance_change`.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> d = bm.datasets.load("sleepstudy")
    >>> null = bm.MixedModel("Reaction ~ 1 + (1 | Subject)", d).fit_reml()
    >>> full = bm.MixedModel("Reaction ~ Days + (1 | Subject)", d).fit_reml()
    >>> round(d_tau(full, null, "Residual"), 3)
    0.308
    """
    return variance_change(full, reduced, group, term, ci=ci)["d_tau"]


# --------------------------------------------------------------------------- standardized γ
def standardized_effect(
    fit: object, term: str, *, scale: str = "total", group: str | None = None, ci: float = 0.95
) -> float | Posterior:
    """A fixed effect in standard-deviation units (Hedges 2007; Westfall, Kenny & Judd 2014).

    d = γ / √V with V the variance named by ``scale``:

    * ``"total"``: var_random + σ² (all random variance, Johnson's mean z'Σz for slopes) —
      the analogue of Cohen's d for a difference of 1 in the predictor;
    * ``"within"``: σ² — the effect relative to within-cluster variation;
    * ``"between"``: τ00 of ``group`` — relative to between-cluster variation.

    Parameters
    ----------
    fit : fit or Components
    term : str
        Fixed-effect column name as in ``fit.fixef()`` (``"Days"``, ``"sectorpublic"``).
    scale : {"total", "within", "between"}
    group : str, optional
        Grouping factor for ``scale="between"`` when the model has several.
    ci : float

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days + (1 | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> round(standardized_effect(fit, "Days", scale="within"), 3)
    0.338
    """
    ci = check_ci(ci)
    if scale not in ("total", "within", "between"):
        raise ArgumentError(f"scale must be 'total', 'within' or 'between', got {scale!r}")
    raw = as_components(fit)
    c = raw.as_draws()
    names = c.design.xnames
    if term not in names:
        raise ArgumentError(
            f"term={term!r} is not a fixed-effect column; choose one of {', '.join(names)}"
        )
    gamma = np.atleast_2d(np.asarray(c.beta, float))[:, names.index(term)]
    d = decompose(raw, tolerance=0)
    if scale == "total":
        v = d.var_random + d.var_residual
    elif scale == "within":
        v = d.var_residual
    else:
        groups = {t.group for t in c.design.terms}
        if group is None and len(groups) != 1:
            raise ArgumentError(
                "scale='between' needs group=... naming one of: "
                + (", ".join(sorted(groups)) or "(no random terms)")
            )
        v = _component_draws(raw, group or next(iter(groups)), "(Intercept)", "fit")
    return finish(gamma / np.sqrt(v), raw.draws, ci, f"standardized {term}")
