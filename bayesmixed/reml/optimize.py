"""Optimize the profiled criterion: lme4's ``optimizeLmer`` step.

lme4's modular fit: design → deviance function → optimizer → result. The optimizer is
BOBYQA (nlopt, as lme4's default ``nloptwrap``) on θ with lower bounds 0 on the diagonal of
each relative factor, run to tighter tolerances than lme4's defaults so that the estimates
are the optimum to the precision R reports, then polished by Newton steps; after it,
lme4's checks: a finite-difference gradient/Hessian convergence check and the boundary
(singular-fit) check (:mod:`~bayesmixed.reml.polish`).

BOBYQA starts where lme4 starts, except for large models whose random terms are all
scalar: there each evaluation is expensive and moment estimates
(:mod:`~bayesmixed.reml.start`) start it close to the optimum, and the polish stops after
a Newton step small enough to leave nothing to settle.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import nlopt
import numpy as np

from ..design.build import Design
from ..errors import ArgumentError, ConvergenceWarning, SingularFitWarning
from .deviance import ProfiledDeviance
from .polish import check_convergence, polish
from .result import REMLFit
from .start import moment_start, wants_moment_start

__all__ = ["OptControl", "fit_lmm", "fit_lmm_at"]

_SETTLE_MIN_WIDTH = 256  # dense-block width from which the criterion counts as expensive
_INITIAL_STEP = 0.25  # BOBYQA's initial trust-region radius on θ (see _optimize)
# its radius from the moment estimates (reml.start), which are close: a share of each
# component, not below a floor
_MOMENT_STEP, _MOMENT_STEP_MIN = 0.05, 0.02


@dataclass
class OptControl:
    """Optimizer settings (BOBYQA via nlopt).

    Attributes
    ----------
    ftol_abs, ftol_rel, xtol_abs : float
        Absolute and relative tolerances on the criterion, absolute tolerance on θ. The
        relative one matters for large n: the criterion's rounding noise grows with its size,
        and BOBYQA would otherwise spend its last evaluations chasing it.
    maxeval : int
        Maximum number of deviance evaluations.
    check_conv : bool
        Run lme4's gradient check after optimizing.
    singular_tol : float
        θ diagonal elements below this mark a singular fit (lme4's ``isSingular`` default).
    blas_threads : int or None
        BLAS threads while the criterion is evaluated (optimizer, Satterthwaite derivatives)
        for models whose dense block is a few hundred wide or more; None leaves the process
        setting alone. One thread is the robust default: see
        :meth:`~bayesmixed.reml.deviance.ProfiledDeviance.blas_limit`.
    """

    ftol_abs: float = 1e-12
    ftol_rel: float = 1e-10
    xtol_abs: float = 1e-10
    maxeval: int = 100_000
    check_conv: bool = True
    singular_tol: float = 1e-4
    blas_threads: int | None = 1


def _optimize(
    dev: ProfiledDeviance,
    reml: bool,
    ctrl: OptControl,
    theta0,
    lower,
    step: float | np.ndarray | None = None,
    f_start: float | None = None,
):
    """BOBYQA from ``theta0``; returns (θ, criterion at θ, status, evaluations).

    ``step`` is the initial trust-region radius (one for all coordinates or one each);
    ``f_start``, the criterion at ``theta0`` when the caller has it, saves BOBYQA's first
    evaluation.
    """
    n = len(theta0)
    x0 = np.asarray(theta0, float)
    best = {"f": np.inf, "x": x0}

    def obj(x, grad):
        v = f_start if f_start is not None and np.array_equal(x, x0) else dev(x, reml)
        if not np.isfinite(v):
            v = 1e300
        if v < best["f"]:
            best["f"] = v
            best["x"] = np.array(x)
        return v

    opt = nlopt.opt(nlopt.LN_BOBYQA, n)
    opt.set_lower_bounds(np.where(np.isfinite(lower), lower, -1e300).tolist())
    opt.set_min_objective(obj)
    opt.set_ftol_abs(ctrl.ftol_abs)
    opt.set_ftol_rel(ctrl.ftol_rel)
    opt.set_xtol_abs(ctrl.xtol_abs)
    opt.set_maxeval(ctrl.maxeval)
    # BOBYQA needs n >= 2; nlopt falls back gracefully for n = 1 but the trust region start
    # matters for the one-parameter case: a quarter of the start value, as lme4's bobyqa.
    opt.set_initial_step(np.broadcast_to(_INITIAL_STEP if step is None else step, n).tolist())
    status = None
    try:
        x = np.asarray(opt.optimize(np.asarray(theta0, float).tolist()), float)
        status = opt.last_optimize_result()
        fx = opt.last_optimum_value()
    except (nlopt.RoundoffLimited, RuntimeError, ValueError):
        x, fx = best["x"], best["f"]
        status = "roundoff"
    if best["f"] < fx:
        x, fx = best["x"], best["f"]
    return x, float(fx), status, opt.get_numevals()


def _start(dev: ProfiledDeviance, reml: bool):
    """(θ start, BOBYQA's initial step, criterion there or None).

    lme4's start; for large models with scalar terms the moment estimates instead
    (:mod:`bayesmixed.reml.start`; on InstEval BOBYQA then needs 17 evaluations instead of
    96) when the criterion is lower there than at lme4's start.
    """
    design = dev.design
    if not wants_moment_start(design, dev.N):
        return design.theta0, None, None
    theta = moment_start(design)
    f = dev(theta, reml)
    if not f < dev(design.theta0, reml):
        return design.theta0, None, None
    return theta, np.maximum(_MOMENT_STEP * theta, _MOMENT_STEP_MIN), f


def _restart_edge(dev, reml, ctrl, theta, fval, status, nevals, lower):
    """More starts when BOBYQA ends on the boundary of a model with a covariance matrix.

    With correlated slopes the criterion of a singular fit often has several local optima on
    and near the boundary, and where BOBYQA ends depends on its path (lme4 and bayesmixed
    can land on different ones; random designs found bayesmixed 0.06 log-likelihood units
    short of lme4's optimum). A singular first result is therefore re-optimized from lme4's
    start with a smaller and a larger initial trust region and from the result with its
    bounded coordinates moved inward, keeping the lowest criterion. Fits in the interior,
    and models with only scalar terms (a clean boundary), skip this.
    """
    on = np.isfinite(lower) & (theta - lower < 1e-4)
    if not on.any() or len(theta) < 3:
        return theta, fval, status, nevals
    inward = theta.copy()
    inward[on] = lower[on] + 0.1
    theta0 = dev.design.theta0
    for start, step in ((theta0, 0.1), (theta0, 1.0), (inward, _INITIAL_STEP)):
        th2, f2, st2, n2 = _optimize(dev, reml, ctrl, start, lower, step=step)
        nevals += n2
        if f2 < fval:
            theta, fval, status = th2, f2, st2
    return theta, fval, status, nevals


def _to_boundary(dev, reml: bool, theta: np.ndarray, f0: float, lower: np.ndarray, tol=1e-5):
    """lme4's ``check.boundary`` (``boundary.tol``): move each coordinate within ``tol`` of its
    bound onto the bound when that does not raise the criterion.

    Where the optimum is on the boundary, BOBYQA's last iterate may stop a little inside it,
    at a point whose criterion differs from the bound's by less than the stopping tolerance
    — or by less than rounding, hence the relative slack (lme4 itself requires a decrease).
    """
    edge = np.flatnonzero(np.isfinite(lower) & (theta - lower < tol) & (theta > lower))
    th = theta.copy()
    for i in edge:
        cand = th.copy()
        cand[i] = lower[i]
        fc = dev(cand, reml)
        if fc <= f0 + 1e-12 * max(1.0, abs(f0)):
            th, f0 = cand, min(f0, fc)
    return th, f0


def fit_lmm(design: Design, reml: bool = True, control: OptControl | None = None) -> REMLFit:
    """Fit a linear mixed model by REML (``reml=True``) or ML.

    Parameters
    ----------
    design : Design
        From :func:`bayesmixed.design.build_design`; must have a random term.
    reml : bool
        REML criterion (default) or maximum likelihood.
    control : OptControl, optional
        Optimizer settings.

    Returns
    -------
    REMLFit

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> round(fit.sigma, 2)
    49.51
    """
    if not isinstance(reml, (bool, np.bool_)):
        raise ArgumentError(f"reml must be True or False, got {reml!r}")
    ctrl = control or OptControl()
    t0 = time.perf_counter()
    dev = ProfiledDeviance(design)
    lower = design.lower
    with dev.blas_limit(ctrl.blas_threads):
        theta0, step, f_start = _start(dev, bool(reml))
        theta, fval, status, nevals = _optimize(
            dev, bool(reml), ctrl, theta0, lower, step=step, f_start=f_start
        )
        theta, fval, status, nevals = _restart_edge(
            dev, bool(reml), ctrl, theta, fval, status, nevals, lower
        )
        theta, fval = _to_boundary(dev, bool(reml), theta, fval, lower)
        settle = dev.N >= _SETTLE_MIN_WIDTH
        theta, fval, deriv = polish(dev, bool(reml), theta, fval, lower, settle=settle)
        H = None if deriv is None else deriv[2]
        if H is not None and np.all(np.isfinite(H)) and np.linalg.eigvalsh(H).min() <= 0:
            # BOBYQA can stop a coordinate short of its bound (here up to ~1e-4), where the
            # criterion is flat to its tolerance and the Hessian indefinite: try the bound
            f0 = dev(theta, bool(reml)) if fval is None else fval
            th2, f2 = _to_boundary(dev, bool(reml), theta, f0, lower, tol=ctrl.singular_tol)
            if not np.array_equal(th2, theta):
                theta, fval, deriv = polish(dev, bool(reml), th2, f2, lower, settle=settle)
        # a coordinate a hair above its bound is on the bound (lme4 reports exact zeros)
        near = np.isfinite(lower) & (theta - lower < 1e-10) & (theta != lower)
        if near.any():
            theta[near] = lower[near]
            fval = deriv = None
        msgs = (
            check_convergence(dev, bool(reml), theta, fval, lower, deriv) if ctrl.check_conv else []
        )
    for m in msgs:
        warnings.warn(m, ConvergenceWarning, stacklevel=3)
    fit = REMLFit(
        design=design,
        reml=bool(reml),
        theta=theta,
        deviance_fn=dev,
        optinfo={
            "optimizer": "nlopt BOBYQA",
            "status": status,
            "evaluations": nevals,
            "messages": msgs,
            "seconds": time.perf_counter() - t0,
        },
        singular_tol=ctrl.singular_tol,
        blas_threads=ctrl.blas_threads,
        refitter=fit_lmm,
    )
    if fit.is_singular:
        warnings.warn(
            "boundary (singular) fit: a variance is estimated as zero or a correlation as ±1 "
            f"({', '.join(fit.singular_parameters)}); consider simplifying the random part",
            SingularFitWarning,
            stacklevel=3,
        )
    return fit


def fit_lmm_at(design: Design, theta, reml: bool = True) -> REMLFit:
    """The REML/ML fit at a given θ (no optimization): every estimate conditional on ``theta``.

    Used to reproduce another program's fit exactly (compare computations at lme4's own θ
    rather than where two optimizers happen to stop) and to restore a saved fit.

    Parameters
    ----------
    design : Design
    theta : array-like
        Relative covariance factors in lme4's ``getME(fit, "theta")`` order.
    reml : bool

    Returns
    -------
    REMLFit

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    >>> fit = fit_lmm_at(m.design, m.fit_reml().theta)
    >>> round(fit.sigma, 2)
    49.51
    """
    theta = np.asarray(theta, dtype=float).ravel()
    if theta.shape != (design.ntheta,) or not np.all(np.isfinite(theta)):
        raise ArgumentError(
            f"theta must hold {design.ntheta} finite numbers ({', '.join(design.theta_names)}), "
            f"got {theta.tolist()}"
        )
    if np.any(theta < design.lower):
        raise ArgumentError("theta: diagonal elements of the relative factors must be >= 0")
    return REMLFit(
        design=design,
        reml=bool(reml),
        theta=theta,
        deviance_fn=ProfiledDeviance(design),
        optinfo={"optimizer": "none (given theta)", "messages": []},
        refitter=fit_lmm,
    )
