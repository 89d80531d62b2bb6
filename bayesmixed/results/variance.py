"""The primer's variance quantities: ICC, R², partial pooling, design effect, centering.

Every function accepts a REML/ML fit (point estimates), a Bayesian fit (posterior draws) or a
:class:`~bayesmixed.results.Components` object, and computes from the same
:class:`~bayesmixed.results.Components` with one vectorised implementation: a point estimate
is treated as a posterior with one draw. REML fits get floats (and pandas objects of floats);
Bayesian fits get :class:`~bayesmixed.results.draws.Posterior` summaries whose ``draws`` hold the
full posterior.

:func:`design_effect`, :func:`between_within_variance` and :func:`center` live in
:mod:`bayesmixed.clustering`, :func:`shrinkage` in :mod:`bayesmixed.pooling` and
:func:`assumption_checks` in :mod:`bayesmixed.assumptions`; all are available from here.

Variance decomposition (Nakagawa & Schielzeth 2013; Johnson 2014; as ``insight::get_variance``)
------------------------------------------------------------------------------------------------
* ``var_fixed``  = var(X γ̂), the sample variance (denominator n − 1) of the fixed-effects
  predictions.
* ``var_random`` = Σ_t mean_i z_ti' Σ_t z_ti over the random-effect terms t, with z_ti the
  term's model-matrix row of observation i and Σ_t its covariance matrix (Johnson's extension
  for random slopes; for a random intercept it is simply τ00).
* ``var_residual`` = σ².

insight 0.19.0 (performance 0.10.2) leaves out a second term on the same grouping factor
(``(x || g)``, ``(1 | g) + (0 + x | g)``) and the slope variance of random slopes whose
variable is not also a fixed effect; bayesmixed includes every term, as Johnson defines it.
On all other models the numbers agree with performance to 1e-6 (see
``tests/test_variance_vs_r.py``).

Singular fits
-------------
Like performance, point estimates on the boundary (a diagonal element of a relative covariance
factor θ below ``tolerance``, default 1e-5) give NaN for every ICC and for conditional R², and
marginal R² = var_fixed / (var_fixed + σ²); a :class:`~bayesmixed.errors.SingularFitWarning`
says so. Pass ``tolerance=0`` to compute the boundary values instead (e.g. ICC = 0 for
Dyestuff2). Posterior draws are never treated as singular.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ArgumentError, SingularFitWarning
from .draws import Posterior, as_components, check_ci, finish, summary_frame

__all__ = [
    "Posterior",
    "Decomposition",
    "decompose",
    "variance_components",
    "icc",
    "r2",
]


# --------------------------------------------------------------------------- decomposition
@dataclass
class Decomposition:
    """Variance components with a leading draws axis (length 1 for point estimates).

    Attributes
    ----------
    term_names : list of str
        Random-effect term names (lme4's VarCorr names, e.g. ``"cask:batch"``, ``"Subject.1"``).
    var_fixed : ndarray (S,)
    var_terms : ndarray (S, T)
        Johnson's mean z'Σz of each term.
    var_intercept : ndarray (S, T)
        τ00 of each term whose first column is the intercept (NaN for the others).
    var_residual : ndarray (S,)
    draws : bool
        Whether the source had posterior draws.
    singular : bool
        Point estimate on the boundary (see module notes); always False for draws.
    """

    term_names: list[str]
    var_fixed: np.ndarray
    var_terms: np.ndarray
    var_intercept: np.ndarray
    var_residual: np.ndarray
    draws: bool
    singular: bool

    @property
    def var_random(self) -> np.ndarray:
        """Total random-effect variance (S,)."""
        return self.var_terms.sum(axis=1)

    @property
    def has_random(self) -> bool:
        """Whether the model has random effects."""
        return len(self.term_names) > 0


def _relative_chol_diag(cov: np.ndarray, s2: float) -> np.ndarray:
    """Diagonal of the Cholesky factor of Σ/σ² (lme4's θ diagonal), robust to singular Σ."""
    A = np.asarray(cov, float) / s2
    k = A.shape[0]
    out = np.empty(k)
    for i in range(k):
        if i == 0:
            d = A[0, 0]
        else:
            B = A[:i, :i]
            c = A[:i, i]
            d = A[i, i] - c @ np.linalg.pinv(B) @ c
        out[i] = np.sqrt(max(d, 0.0))
    return out


def decompose(fit: object, tolerance: float = 1e-5) -> Decomposition:
    """Variance decomposition of a fit, vectorised over posterior draws.

    Parameters
    ----------
    fit : REMLFit, BayesFit, OLSFit or Components
    tolerance : float
        θ diagonal elements below this mark a singular point estimate (performance's rule).

    Returns
    -------
    Decomposition

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> d = decompose(fit)
    >>> round(float(d.var_random[0])), round(float(d.var_residual[0]))
    (1764, 2451)
    """
    raw = as_components(fit)
    comp = raw.as_draws()
    design = comp.design
    beta = np.atleast_2d(np.asarray(comp.beta, float))
    sigma = np.asarray(comp.sigma, float).reshape(-1)
    S = sigma.shape[0]
    # var(Xβ) = β' Cov(X) β: avoids forming the (S, n) matrix of predictions
    X = design.X
    if X.shape[1] and design.n > 1:
        Xc = X - X.mean(axis=0)
        covX = Xc.T @ Xc / (design.n - 1)
        var_fixed = np.einsum("sp,pq,sq->s", beta, covX, beta)
    else:
        var_fixed = np.zeros(S)
    T = len(design.terms)
    var_terms = np.zeros((S, T))
    var_int = np.full((S, T), np.nan)
    for i, t in enumerate(design.terms):
        cov = np.asarray(comp.cov[i], float).reshape(S, t.k, t.k)
        M = t.X.T @ t.X / design.n
        var_terms[:, i] = np.einsum("skl,kl->s", cov, M)
        if t.cnames[0] == "(Intercept)":
            var_int[:, i] = cov[:, 0, 0]
    singular = False
    if not raw.draws and tolerance > 0 and T:
        s2 = float(sigma[0]) ** 2
        singular = any(
            (
                _relative_chol_diag(np.asarray(comp.cov[i], float).reshape(t.k, t.k), s2)
                < tolerance
            ).any()
            for i, t in enumerate(design.terms)
        )
    return Decomposition(
        term_names=[t.name for t in design.terms],
        var_fixed=var_fixed,
        var_terms=var_terms,
        var_intercept=var_int,
        var_residual=sigma**2,
        draws=bool(raw.draws),
        singular=singular,
    )


def _warn_singular(what: str) -> None:
    warnings.warn(
        f"{what}: some variance components are estimated as zero (singular fit), so the "
        "random-effect variances are not reliable and are reported as NaN, as "
        "performance does. Simplify the random part, or pass tolerance=0 to compute the "
        "boundary values anyway.",
        SingularFitWarning,
        stacklevel=3,
    )


def _series_or_summary(
    values: np.ndarray, index: list[str], draws: bool, ci: float, name: str
) -> pd.Series | pd.DataFrame:
    if not draws:
        return pd.Series(values[0], index=pd.Index(index), name=name)
    return summary_frame(values, index, ci)


def variance_components(fit: object, *, tolerance: float = 1e-5, ci: float = 0.95) -> dict:
    """The variance components behind ICC and R² (``insight::get_variance``).

    Parameters
    ----------
    fit : REMLFit, BayesFit or Components
    tolerance : float
        Singularity tolerance on θ (reported in ``"singular"``; values are always computed).
    ci : float
        Interval probability for Bayesian fits.

    Returns
    -------
    dict
        ``var_fixed``, ``var_random``, ``var_residual`` (floats, or Posterior for Bayesian
        fits); ``var_intercept`` (τ00 per random-intercept term), ``by_term`` (Johnson's
        contribution of every term) as pandas Series (DataFrames of posterior summaries for
        Bayesian fits); ``singular`` (bool).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> round(variance_components(fit)["var_random"], 1)
    1698.1
    """
    ci = check_ci(ci)
    d = decompose(fit, tolerance)
    has_int = ~np.all(np.isnan(d.var_intercept), axis=0)
    names_int = [n for n, h in zip(d.term_names, has_int, strict=True) if h]
    return {
        "var_fixed": finish(d.var_fixed, d.draws, ci, "var_fixed"),
        "var_random": finish(d.var_random, d.draws, ci, "var_random"),
        "var_residual": finish(d.var_residual, d.draws, ci, "var_residual"),
        "var_intercept": _series_or_summary(
            d.var_intercept[:, has_int], names_int, d.draws, ci, "var_intercept"
        ),
        "by_term": _series_or_summary(d.var_terms, d.term_names, d.draws, ci, "variance"),
        "singular": d.singular,
    }


# --------------------------------------------------------------------------- ICC and R²
def icc(fit: object, *, tolerance: float = 1e-5, ci: float = 0.95) -> dict:
    """Intraclass correlation coefficients, as ``performance::icc`` (0.10.2) defines them.

    * ``adjusted``    = var_random / (var_random + σ²): the share of the *residual* variance
      (after the fixed effects) that lies between clusters. For a random-intercept model it is
      τ00 / (τ00 + σ²).
    * ``conditional`` = var_random / (var_fixed + var_random + σ²) (performance also calls it
      ``unadjusted``; both keys are returned).
    * ``by_component``: each term's variance (Johnson's mean z'Σz) and σ² as shares of
      var_random + σ²; the shares sum to 1, and 1 − ``by_component["Residual"]`` is the
      adjusted ICC. For a random-intercept model the term's share is ``Prop_intercept`` and the
      residual's ``Prop_residual``.
    * ``by_group``: τ00 of each random-intercept term over var_random + σ² (performance's
      ``by_group=TRUE``; with random slopes it ignores them in the numerator).

    Parameters
    ----------
    fit : REMLFit, BayesFit or Components
        A model with at least one random-effect term.
    tolerance : float
        Singular-fit tolerance on θ (see the module notes); ``0`` disables the check.
    ci : float
        Interval probability for Bayesian fits.

    Returns
    -------
    dict
        Floats and pandas Series for REML fits. For Bayesian fits the scalars are
        :class:`~bayesmixed.results.draws.Posterior` (``.draws``, ``.mean``, ``.conf_low``, ...),
        ``by_component``/``by_group`` are Series of posterior means, and
        ``by_component_summary`` and ``by_component_draws`` hold the full posterior.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> out = icc(fit)
    >>> round(out["adjusted"], 4), out["by_component"].round(4).to_dict()
    (0.4185, {'Batch': 0.4185, 'Residual': 0.5815})
    """
    ci = check_ci(ci)
    d = decompose(fit, tolerance)
    if not d.has_random:
        raise ArgumentError(
            "icc() needs a model with random effects; this fit has none (for a regression "
            "without clusters the ICC is not defined)"
        )
    vr, vres, vf = d.var_random, d.var_residual, d.var_fixed
    with np.errstate(invalid="ignore", divide="ignore"):
        adjusted = vr / (vr + vres)
        conditional = vr / (vf + vr + vres)
        shares = np.column_stack([d.var_terms, vres]) / (vr + vres)[:, None]
        has_int = ~np.all(np.isnan(d.var_intercept), axis=0)
        by_group = d.var_intercept[:, has_int] / (vr + vres)[:, None]
    comp_names = [*d.term_names, "Residual"]
    group_names = [n for n, h in zip(d.term_names, has_int, strict=True) if h]
    if d.singular:
        _warn_singular("icc()")
        adjusted = conditional = np.full_like(adjusted, np.nan)
        shares = np.full_like(shares, np.nan)
        by_group = np.full_like(by_group, np.nan)
    out: dict = {
        "adjusted": finish(adjusted, d.draws, ci, "ICC (adjusted)"),
        "conditional": finish(conditional, d.draws, ci, "ICC (conditional)"),
    }
    out["unadjusted"] = out["conditional"]
    out["by_component"] = pd.Series(shares.mean(axis=0), index=comp_names, name="proportion")
    out["by_group"] = pd.Series(by_group.mean(axis=0), index=group_names, name="icc")
    if d.draws:
        out["by_component_summary"] = summary_frame(shares, comp_names, ci)
        out["by_component_draws"] = pd.DataFrame(shares, columns=comp_names)
        out["by_group_summary"] = summary_frame(by_group, group_names, ci)
    return out


def r2(fit: object, *, tolerance: float = 1e-5, ci: float = 0.95) -> dict:
    """Marginal and conditional R² (Nakagawa & Schielzeth 2013; Johnson 2014).

    * ``marginal``    = var_fixed / (var_fixed + var_random + σ²): variance explained by the
      fixed effects γ.
    * ``conditional`` = (var_fixed + var_random) / (var_fixed + var_random + σ²): explained by
      fixed and random effects together.

    Matches ``performance::r2_nakagawa`` (see the module notes for the two documented
    differences and for singular fits). For a model without random effects both equal
    var(Xγ̂) / (var(Xγ̂) + σ̂²), which differs from the classical R² only by the variance
    denominators (n − 1 and n − p).

    Parameters
    ----------
    fit : REMLFit, BayesFit, OLSFit or Components
    tolerance : float
        Singular-fit tolerance on θ; ``0`` disables the check.
    ci : float
        Interval probability for Bayesian fits.

    Returns
    -------
    dict
        ``{"marginal": .., "conditional": ..}``: floats, or Posterior for Bayesian fits.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> {k: round(v, 4) for k, v in r2(fit).items()}
    {'marginal': 0.2787, 'conditional': 0.7992}
    """
    ci = check_ci(ci)
    d = decompose(fit, tolerance)
    vf, vr, vres = d.var_fixed, d.var_random, d.var_residual
    with np.errstate(invalid="ignore", divide="ignore"):
        if d.singular:
            _warn_singular("r2()")
            marginal = vf / (vf + vres)
            conditional = np.full_like(marginal, np.nan)
        else:
            total = vf + vr + vres
            marginal = vf / total
            conditional = (vf + vr) / total
    return {
        "marginal": finish(marginal, d.draws, ci, "R² (marginal)"),
        "conditional": finish(conditional, d.draws, ci, "R² (conditional)"),
    }
