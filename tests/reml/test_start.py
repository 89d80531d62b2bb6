"""Moment-estimate starts and the settled polish for large scalar models (reml.start).

The start and the shorter polish change the optimizer's path only: the fit must reach the
same optimum as from lme4's start with the full polish, in fewer evaluations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.reml import optimize
from bayesmixed.reml.start import moment_start, moment_variances, wants_moment_start


def _crossed(seed: int = 7, n: int = 6000, ma: int = 900, mb: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = np.concatenate([np.arange(ma), rng.integers(0, ma, n - ma)])
    b = np.concatenate([np.arange(mb), rng.integers(0, mb, n - mb)])
    c = b % 12  # a 12-level term b is nested in, as InstEval's lecturers in departments
    x = rng.normal(size=n)
    y = (
        0.5 * x
        + rng.normal(0, 0.6, ma)[a]
        + rng.normal(0, 0.8, mb)[b]
        + rng.normal(0, 0.3, 12)[c]
        + rng.normal(size=n)
    )
    return pd.DataFrame(
        {"y": y, "x": x, "A": [f"a{i}" for i in a], "B": [f"b{i}" for i in b], "C": c.astype(str)}
    )


FORMULA = "y ~ x + (1 | A) + (1 | B) + (1 | C)"


def test_moment_estimates_are_reml_for_balanced_crossed_data():
    m = bm.MixedModel("diameter ~ 1 + (1 | plate) + (1 | sample)", bm.datasets.load("Penicillin"))
    fit = m.fit_reml()
    v = moment_variances(m.design)
    want = [fit.varcorr()["plate"].iloc[0, 0], fit.varcorr()["sample"].iloc[0, 0], fit.sigma**2]
    np.testing.assert_allclose(v, want, rtol=1e-6)
    np.testing.assert_allclose(moment_start(m.design), fit.theta, rtol=1e-6)
    assert not wants_moment_start(m.design, width=6 + 1)  # small: lme4's start


@pytest.mark.parametrize("reml", [True, False])
def test_large_scalar_model_reaches_lme4_start_optimum_in_fewer_evaluations(monkeypatch, reml):
    data = _crossed()
    fast = bm.MixedModel(FORMULA, data).fit_reml(reml=reml)
    n_fast = fast.deviance_fn.evaluations
    assert wants_moment_start(fast.design, fast.deviance_fn.N)

    # the reference path: lme4's start, polish until the Newton step is negligible
    monkeypatch.setattr(optimize, "wants_moment_start", lambda design, width: False)
    monkeypatch.setattr(optimize, "_SETTLE_MIN_WIDTH", 10**9)
    ref = bm.MixedModel(FORMULA, data).fit_reml(reml=reml)
    n_ref = ref.deviance_fn.evaluations

    assert abs(fast.criterion - ref.criterion) < 1e-7
    np.testing.assert_allclose(fast.theta, ref.theta, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fast.beta, ref.beta, rtol=1e-7, atol=1e-9)
    assert not fast.optinfo["messages"]
    assert n_fast < n_ref


def test_a_worse_moment_start_falls_back_to_lme4s(monkeypatch):
    data = _crossed(n=3000, ma=400, mb=280)
    ref = bm.MixedModel(FORMULA, data).fit_reml()
    far = np.array([50.0, 50.0, 50.0])  # a criterion far above the one at θ = 1
    monkeypatch.setattr(optimize, "moment_start", lambda design: far)
    m = bm.MixedModel(FORMULA, data)
    dev = optimize.ProfiledDeviance(m.design)
    theta0, step, f0 = optimize._start(dev, True)
    np.testing.assert_array_equal(theta0, m.design.theta0)
    assert step is None and f0 is None
    fit = m.fit_reml()
    assert abs(fit.criterion - ref.criterion) < 1e-7
