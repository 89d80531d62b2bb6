"""Optimize the blocked criterion over the unconstrained covariance parameters.

BOBYQA (nlopt) on φ from a data-driven start: equal correlations of zero and the per-visit
SDs of the least-squares residuals. The structures' transforms keep every block positive
definite, so the bounds (±12 on the transformed scale, θ ≥ 0 on the random effects'
diagonal) only stop the optimizer at a boundary. BOBYQA is restarted from its optimum
until the criterion stops improving. Then the checks: a finite-difference gradient scaled
by the Hessian (lme4's convergence check) and the boundary check (a correlation at ±1, a
variance ratio at 0 or a random-effect SD at 0).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import nlopt
import numpy as np

from ..._threads import limit_blas
from ...covariance.residual import BOUND
from ...design.build import Design
from ...design.residual import ResidualDesign
from ...errors import ArgumentError, ConvergenceWarning, SingularFitWarning
from .criterion import GLSCriterion
from .derivatives import gradient, hessian
from .result import GLSFit

__all__ = ["GLSControl", "fit_gls", "fit_gls_at"]


@dataclass
class GLSControl:
    """Optimizer settings: tolerances and evaluation budget of BOBYQA, the convergence
    check (skipped above ``check_max_params`` parameters: it costs ~2k² evaluations) and its
    tolerance on the Hessian-scaled gradient."""

    ftol_abs: float = 1e-11
    xtol_abs: float = 1e-9
    maxeval: int = 200_000
    restarts: int = 3
    check_conv: bool = True
    check_max_params: int = 40
    grad_tol: float = 2e-3


def _start(crit: GLSCriterion) -> np.ndarray:
    """Start from the per-visit SDs of the least-squares residuals."""
    d, rd = crit.design, crit.rd
    beta = np.linalg.lstsq(d.X, d.y, rcond=None)[0]
    r = d.y - d.X @ beta
    T = crit.cov.dim
    sds = []
    for lv in range(rd.n_levels):
        rows = rd.by_codes == lv
        ss = np.bincount(rd.time_pos[rows], weights=r[rows] ** 2, minlength=T)
        cnt = np.bincount(rd.time_pos[rows], minlength=T)
        sd = np.sqrt(ss / np.maximum(cnt, 1))
        if not crit.cov.heterogeneous:
            sd = np.full(T, np.sqrt(ss.sum() / max(cnt.sum(), 1)))
        sds.append(sd)
    return crit.start(sds)


def _bobyqa(f, x0, lower, upper, ctrl: GLSControl):
    best = {"f": np.inf, "x": np.array(x0, float), "n": 0}

    def obj(x, grad):
        best["n"] += 1
        v = f(x)
        if not np.isfinite(v):
            v = 1e300
        if v < best["f"]:
            best["f"], best["x"] = v, np.array(x)
        return v

    opt = nlopt.opt(nlopt.LN_BOBYQA, len(x0))
    opt.set_lower_bounds(lower.tolist())
    opt.set_upper_bounds(upper.tolist())
    opt.set_min_objective(obj)
    opt.set_ftol_abs(ctrl.ftol_abs)
    opt.set_xtol_abs(ctrl.xtol_abs)
    opt.set_maxeval(ctrl.maxeval)
    opt.set_initial_step(np.minimum(0.5, 0.25 * (upper - lower)).tolist())
    try:
        opt.optimize(np.clip(x0, lower, upper).tolist())
        status = int(opt.last_optimize_result())
    except (nlopt.RoundoffLimited, RuntimeError):
        status = -4
    return best["x"], best["f"], status, best["n"]


def _boundary(fit: GLSFit, lower: np.ndarray, upper: np.ndarray) -> list[str]:
    """Parameters on the boundary, by name."""
    crit, phi = fit.criterion_fn, fit.phi
    names = crit.names
    out = [
        names[i] for i in range(crit.ntheta) if np.isfinite(fit.design.lower[i]) and phi[i] < 1e-4
    ]
    near = np.abs(phi[crit.ntheta :]) > 0.98 * BOUND
    out += [names[crit.ntheta + i] for i in np.flatnonzero(near)]
    for lv in range(crit.rd.n_levels):
        _, par = crit.level_params(phi, lv)
        C = crit.cov.cor_full(par[crit.cov.n_sd :])
        if np.linalg.eigvalsh(C).min() < 1e-6 and crit.rd.group_names[lv] + " cor" not in out:
            out.append(f"{crit.rd.group_names[lv]} correlation (near ±1)")
    return out


def _check(crit, reml, phi, lower, upper, ctrl: GLSControl) -> list[str]:
    free = (phi - lower > 1e-6) & (upper - phi > 1e-6)
    idx = np.flatnonzero(free)
    if not ctrl.check_conv or len(idx) == 0 or len(idx) > ctrl.check_max_params:
        return []

    def f(v):
        x = phi.copy()
        x[idx] = v
        return crit.profiled(x, reml)

    g = gradient(f, phi[idx], 1e-4)
    # a check, not an estimate: one central difference is accurate enough
    H = hessian(f, phi[idx], 1e-3, richardson=False)
    try:
        w = np.linalg.eigvalsh(H)
        scaled = np.abs(np.linalg.solve(H, g)) if w.min() > 0 else np.abs(g)
    except np.linalg.LinAlgError:
        w, scaled = np.array([0.0]), np.abs(g)
    msgs = []
    if w.min() <= 0:
        msgs.append(
            "Hessian of the criterion is not positive definite: the covariance parameters are "
            "nearly unidentifiable (e.g. a random intercept with compound symmetry); simplify "
            "the random part or the residual structure"
        )
    if scaled.max() > ctrl.grad_tol:
        msgs.append(
            f"model failed to converge: max|scaled gradient| = {scaled.max():.3g} > "
            f"{ctrl.grad_tol}; try rescaling the response or a simpler structure"
        )
    return msgs


def fit_gls(
    design: Design, rd: ResidualDesign, reml: bool = True, control: GLSControl | None = None
) -> GLSFit:
    """Fit a model with a residual covariance structure (and optional nested random
    effects) by REML or ML.

    Parameters
    ----------
    design : Design
    rd : ResidualDesign
        From :func:`bayesmixed.design.residual.build_residual_design`.
    reml : bool
    control : GLSControl, optional

    Returns
    -------
    GLSFit

    Examples
    --------
    >>> import numpy as np, pandas as pd, bayesmixed as bm
    >>> from bayesmixed.spec import parse_formula
    >>> from bayesmixed.design.residual import build_residual_design
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"id": np.repeat(np.arange(40), 3), "visit": ["a", "b", "c"] * 40})
    >>> d["y"] = np.repeat(rng.normal(size=40), 3) + rng.normal(size=120)
    >>> design, rd = build_residual_design(parse_formula("y ~ visit"), d,
    ...                                    bm.residual.CS(time="visit", group="id"))
    >>> fit = fit_gls(design, rd)
    >>> fit.tidy(effects="ran_pars")["term"].tolist()
    ['sd__Observation', 'rho']
    """
    if not isinstance(reml, (bool, np.bool_)):
        raise ArgumentError(f"reml must be True or False, got {reml!r}")
    reml = bool(reml)
    ctrl = control or GLSControl()
    t0 = time.perf_counter()
    crit = GLSCriterion(design, rd)
    lower, upper = crit.lower, crit.upper
    x = _start(crit)

    def f(v):
        return crit.profiled(v, reml)

    # one BLAS thread: the blocks are tiny, and threads spinning on busy cores cost more
    with limit_blas(1):
        fval, status, nevals = f(x), 0, 0
        for _ in range(max(1, ctrl.restarts)):
            x1, f1, status, n1 = _bobyqa(f, x, lower, upper, ctrl)
            nevals += n1
            improved = f1 < fval - 1e-9
            if f1 <= fval:
                x, fval = x1, f1
            if not improved:
                break
        msgs = _check(crit, reml, x, lower, upper, ctrl)
    for m in msgs:
        warnings.warn(m, ConvergenceWarning, stacklevel=3)
    fit = GLSFit(
        design=design,
        rd=rd,
        reml=reml,
        phi=x,
        criterion_fn=crit,
        optinfo={
            "optimizer": "nlopt BOBYQA",
            "status": status,
            "evaluations": nevals,
            "messages": msgs,
            "seconds": time.perf_counter() - t0,
        },
        fit_function=fit_gls,
    )
    bound = _boundary(fit, lower, upper)
    fit.optinfo["boundary"] = bound
    if bound:
        warnings.warn(
            "boundary (singular) fit: a variance is estimated as zero or a correlation as ±1 "
            f"({', '.join(bound)}); consider a simpler residual structure or random part",
            SingularFitWarning,
            stacklevel=3,
        )
    return fit


def fit_gls_at(
    design: Design, rd: ResidualDesign, phi: np.ndarray, reml: bool, optinfo: dict | None = None
) -> GLSFit:
    """The :class:`GLSFit` at given covariance parameters φ, without optimizing (a saved
    fit restored by :func:`bayesmixed.load`).

    Examples
    --------
    >>> import numpy as np, pandas as pd, bayesmixed as bm
    >>> rng = np.random.default_rng(5)
    >>> d = pd.DataFrame({"id": np.repeat(np.arange(30), 3), "visit": ["a", "b", "c"] * 30})
    >>> d["y"] = rng.normal(size=90)
    >>> m = bm.MixedModel("y ~ visit", d, residual=bm.residual.AR1(time="visit", group="id"))
    >>> fit = m.fit_reml()
    >>> again = fit_gls_at(m.design, m.residual_design, fit.phi, reml=True)
    >>> bool(again.criterion == fit.criterion)
    True
    """
    return GLSFit(
        design=design,
        rd=rd,
        reml=bool(reml),
        phi=np.asarray(phi, float).copy(),
        criterion_fn=GLSCriterion(design, rd),
        optinfo=dict(optinfo or {}),
        fit_function=fit_gls,
    )
