"""Newton polish of BOBYQA's result and lme4's convergence check.

Both work from central-difference derivatives of the profiled criterion in the free
coordinates of θ (those not on their bound): the polish takes safeguarded Newton steps,
the check requires the scaled gradient max|H⁻¹g| below a tolerance, as lme4's
``checkConv`` does, and reuses the polish's last derivatives when they were taken at (or
within a negligible step of) the final θ.

Examples
--------
>>> import numpy as np
>>> import bayesmixed as bm
>>> from bayesmixed.reml.deviance import ProfiledDeviance
>>> m = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
>>> dev = ProfiledDeviance(m.design)
>>> th0 = np.array([0.97, 0.015, 0.23])
>>> th, f, deriv = polish(dev, True, th0, dev(th0, True), m.design.lower)
>>> check_convergence(dev, True, th, f, m.design.lower, deriv)  # no messages: converged
[]
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_convergence", "derivatives", "free_coordinates", "polish"]

_STEP_TOL = 1e-5  # relative Newton step taken without evaluating it; the polish then stops
_SETTLE_TOL = 1e-3  # relative Newton step after which an expensive criterion's polish stops


def derivatives(dev, reml: bool, th: np.ndarray, f0: float, idx: np.ndarray, h: np.ndarray):
    """Central-difference gradient and Hessian of the criterion in the coordinates ``idx``."""
    nf = len(idx)
    g = np.empty(nf)
    H = np.empty((nf, nf))
    fp = np.empty(nf)
    fm = np.empty(nf)
    for a in range(nf):
        e = np.zeros_like(th)
        e[idx[a]] = h[a]
        fp[a] = dev(th + e, reml)
        fm[a] = dev(th - e, reml)
        g[a] = (fp[a] - fm[a]) / (2 * h[a])
        H[a, a] = (fp[a] - 2 * f0 + fm[a]) / h[a] ** 2
    for a in range(nf):
        for c in range(a):
            e = np.zeros_like(th)
            e[idx[a]] = h[a]
            e[idx[c]] = h[c]
            fpp = dev(th + e, reml)
            H[a, c] = H[c, a] = (fpp - fp[a] - fp[c] + f0) / (h[a] * h[c])
    return g, H


def free_coordinates(theta: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Indices of the coordinates not on their bound (as lme4's convergence check picks them)."""
    return np.flatnonzero(~(np.isfinite(lower) & (theta - lower < 1e-6)))


def polish(
    dev,
    reml: bool,
    theta: np.ndarray,
    f0: float,
    lower: np.ndarray,
    max_iter: int = 4,
    settle: bool = False,
):
    """A few safeguarded Newton steps on the free coordinates (θ not on a bound).

    BOBYQA stops on tolerances that leave the last digits of θ to chance; Newton steps with
    numerical derivatives settle them, so fixed effects agree with R to 1e-6 and better.

    With ``settle`` (for criteria that are expensive to evaluate), a Newton step that
    lowered the criterion and moved θ by at most ``_SETTLE_TOL`` relative (and 1e-3
    absolute) ends the polish: Newton's quadratic convergence leaves the next step far
    below ``_STEP_TOL``, so differencing again (2n + n(n−1)/2 evaluations) would only
    confirm it. The derivatives returned are then those before the step, where
    max|H⁻¹g| = |step| already passes the convergence check.

    Returns (θ, criterion or None, derivatives): derivatives = (idx, g, H) were taken at or
    within a negligible step of the returned θ, so the convergence check can reuse them
    instead of differencing again (None when it must).
    """
    th = theta.copy()
    deriv = None
    for _ in range(max_iter):
        idx = free_coordinates(th, lower)
        if len(idx) == 0:
            break
        h = 1e-4 * np.maximum(np.abs(th[idx]), 1e-2)
        g, H = derivatives(dev, reml, th, f0, idx, h)
        deriv = (idx, g, H)
        try:
            w = np.linalg.eigvalsh(H)
            if w.min() <= 0:
                break
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
        cand = th.copy()
        cand[idx] -= step
        cand = np.maximum(cand, lower)
        if np.all(np.abs(cand - th) <= _STEP_TOL * np.maximum(np.abs(th), 1e-2)):
            # A step this small is taken without evaluating it: comparing criteria this close
            # would compare rounding noise. The derivatives stay those at the pre-step point,
            # where max|H⁻¹g| = |step| already passes the convergence check.
            return cand, None, deriv
        fc = dev(cand, reml)
        if not (fc < f0):
            break
        moved = np.abs(cand - th)
        th, f0 = cand, fc
        if settle and np.all(moved <= _SETTLE_TOL * np.maximum(np.abs(th), 1e-2)):
            if moved.max() <= 1e-3:
                return th, f0, deriv
        deriv = None
    return th, f0, deriv


def check_convergence(dev, reml, theta, f0, lower, deriv=None, tol=2e-3) -> list[str]:
    """lme4-style check: scaled gradient max|H⁻¹g| < tol on the interior coordinates.

    ``deriv`` = (idx, g, H) already taken at ``theta`` (by the Newton polish) is reused.
    """
    msgs = []
    idx = free_coordinates(theta, lower)
    if len(idx) == 0:
        return msgs
    if deriv is not None and np.array_equal(deriv[0], idx):
        g, H = deriv[1], deriv[2]
    else:
        f0 = dev(theta, reml) if f0 is None else f0
        g, H = derivatives(dev, reml, theta, f0, idx, np.full(len(idx), 1e-4))
    try:
        w = np.linalg.eigvalsh(H)
        if w.min() <= 0:
            msgs.append(
                "Hessian of the criterion is not positive definite: the model is nearly "
                "unidentifiable; consider rescaling predictors or simplifying the random part"
            )
            scaled = np.abs(g)
        else:
            scaled = np.abs(np.linalg.solve(H, g))
    except np.linalg.LinAlgError:
        scaled = np.abs(g)
    if scaled.max() > tol:
        msgs.append(
            f"model failed to converge: max|scaled gradient| = {scaled.max():.3g} > {tol}; "
            "try rescaling predictors or tighter optimizer tolerances"
        )
    return msgs
