"""Shared test helpers: R fixtures and the data they were computed on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

REF = Path(__file__).parent / "reference"
FIXTURES = REF / "fixtures"
ARTIFACTS = Path(__file__).parent / "_artifacts"

os.environ.setdefault("PYTENSOR_FLAGS", "")


def load_fixture(name: str) -> dict:
    with open(FIXTURES / f"{name}.json") as fh:
        return json.load(fh)


def fixture_names(kind: str) -> list[str]:
    out = []
    for p in sorted(FIXTURES.glob("*.json")):
        with open(p) as fh:
            if json.load(fh).get("kind") == kind:
                out.append(p.stem)
    return out


def load_data(name: str) -> pd.DataFrame:
    import bayesmixed as bm

    path = REF / "data" / f"{name}.csv"
    if path.exists():
        return pd.read_csv(path)
    return bm.datasets.load(name)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def sleepstudy() -> pd.DataFrame:
    import bayesmixed as bm

    return bm.datasets.load("sleepstudy")


def central_differences(f, beta, sigma, Ls, beta_step: float):
    """Central differences of ℓ = f(β, σ, [L_t]) for checking an analytic gradient.

    Yields (what, h, difference quotient) with ``what`` one of ``("beta", j)``, ``("sigma",)``
    or ``("Sigma", t, a, b)`` (a ≤ b: Σ_t[a, b] and Σ_t[b, a] moved together, so the quotient is
    dℓ/dΣ_ab · 2 off the diagonal). Steps: ``beta_step``·max(1, |β_j|), 1e-5·σ and
    1e-5·√(Σ_aa Σ_bb).
    """
    import numpy as np

    p = len(beta)
    for j in range(p):
        h = beta_step * max(1.0, abs(beta[j]))
        e = np.eye(p)[j] * h
        yield ("beta", j), h, (f(beta + e, sigma, Ls) - f(beta - e, sigma, Ls)) / (2 * h)
    h = 1e-5 * sigma
    yield ("sigma",), h, (f(beta, sigma + h, Ls) - f(beta, sigma - h, Ls)) / (2 * h)
    for ti, L in enumerate(Ls):
        S = L @ L.T
        for a in range(S.shape[0]):
            for b in range(a, S.shape[0]):
                E = np.zeros_like(S)
                E[a, b] = E[b, a] = 1.0
                h = 1e-5 * np.sqrt(S[a, a] * S[b, b])
                Lp = [np.linalg.cholesky(S + h * E) if i == ti else x for i, x in enumerate(Ls)]
                Lm = [np.linalg.cholesky(S - h * E) if i == ti else x for i, x in enumerate(Ls)]
                yield ("Sigma", ti, a, b), h, (f(beta, sigma, Lp) - f(beta, sigma, Lm)) / (2 * h)


# --------------------------------------------------------------------------- R comparisons
# The R comparisons (tests/reference/) test two things apart: what is computed — every
# statistic at lme4's own θ, with tolerances a decade above the differences measured there —
# and where the optimizer stops (``assert_same_optimum``). Run them with BM_MEASURE=1 to print
# the largest difference of every quantity instead of failing on it (how the tolerances in
# those files were chosen).
MEASURE = bool(os.environ.get("BM_MEASURE"))
MEASURED: dict[str, float] = {}


def rel_diff(ours, ref, scale: float = 0.0) -> float:
    """max |ours − ref| / max(|ref|, scale) over the elements (0 for equal arrays).

    ``scale`` (e.g. max|ref| of a vector of random effects) keeps entries near zero, whose
    difference is set by the vector's size rather than their own, from dominating.
    """
    import numpy as np

    a = np.asarray(ours, dtype=float).ravel()
    b = np.asarray(ref, dtype=float).ravel()
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    den = np.maximum(np.abs(b), scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(same, 0.0, np.abs(a - b) / den)
    return float(np.nanmax(np.where(np.isnan(d), np.inf, d), initial=0.0))


def assert_close(what: str, ours, ref, rtol: float, scale: float = 0.0) -> None:
    """Assert ``rel_diff(ours, ref, scale) <= rtol``, recording the difference under ``what``."""
    d = rel_diff(ours, ref, scale)
    MEASURED[what] = max(MEASURED.get(what, 0.0), d)
    if not MEASURE:
        assert d <= rtol, f"{what}: max relative difference {d:.3g} > {rtol:g}"


def pytest_terminal_summary(terminalreporter):
    if MEASURE and MEASURED:
        terminalreporter.section("largest relative differences from R (BM_MEASURE)")
        for k in sorted(MEASURED):
            terminalreporter.write_line(f"{k:45s} {MEASURED[k]:.3g}")


def fit_at_theta(formula: str, data: str, theta, reml: bool = True):
    """The REML/ML fit of ``formula`` to ``load_data(data)`` at ``theta`` (no optimizer)."""
    import warnings

    import bayesmixed as bm
    from bayesmixed.reml.optimize import fit_lmm_at

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = bm.MixedModel(formula, load_data(data))
        return fit_lmm_at(model.design, theta, reml)


def _hessian(f, x, h):
    """Central-difference Hessian of a scalar function of a vector."""
    import numpy as np

    k = len(x)
    H = np.empty((k, k))
    E = np.eye(k) * h
    for i in range(k):
        for j in range(i, k):
            H[i, j] = H[j, i] = (
                f(x + E[i] + E[j]) - f(x + E[i] - E[j]) - f(x - E[i] + E[j]) + f(x - E[i] - E[j])
            ) / (4 * h[i] * h[j])
    return H


def assert_same_optimum(fit, theta_r, crit_tol: float = 1e-8, curv_tol: float = 1e-6) -> None:
    """Our optimum ``fit.theta`` against R's ``theta_r`` for the same criterion.

    Where two optimizers stop on a flat criterion depends on their stopping rules and on
    rounding, so θ is not compared coordinate by coordinate. Instead: (1) our criterion is no
    higher than R's at its θ (up to ``crit_tol``: rounding of a sum of n terms), and (2) the
    difference Δ = θ_R − θ̂ is one a criterion tolerance of ``curv_tol`` allows given the
    curvature: ½ ΔᵀHΔ ≤ ``curv_tol``, with H the Hessian of the criterion at θ̂ over the
    coordinates not on their bound.
    """
    import numpy as np

    dev, reml = fit.deviance_fn, fit.reml
    theta = np.asarray(fit.theta, dtype=float)
    theta_r = np.asarray(theta_r, dtype=float).ravel()
    f_ours, f_r = dev(theta, reml), dev(theta_r, reml)
    assert f_ours <= f_r + crit_tol, f"criterion {f_ours!r} above R's {f_r!r} at R's θ"
    free = theta > fit.design.lower + 1e-6
    if not free.any():
        return
    delta = (theta_r - theta)[free]

    def crit(x):
        th = theta.copy()
        th[free] = x
        return dev(th, reml)

    H = _hessian(crit, theta[free], 1e-4 * np.maximum(np.abs(theta[free]), 1e-2))
    half = 0.5 * delta @ H @ delta
    assert half <= curv_tol, f"½ΔᵀHΔ = {half:.3g} > {curv_tol:g} (Δθ = {delta})"
