"""REML/ML fits against lme4 + lmerTest + broom.mixed (fixtures from tests/reference/).

What is computed and where an optimizer stops are tested apart. Every statistic is computed
at lme4's own θ (stored in each fixture), so the tolerances below are those of the
computation, a decade above the largest relative difference measured over all the fixtures
(``BM_MEASURE=1``, see tests/reference/README.md); differences relative to the largest entry
of the vector where entries can be near zero (random effects, residuals, near-zero fixed
effects and t values), relative to each entry otherwise. Whether both optimizers found the
same optimum is tested separately (``test_optimum_matches_lme4``, see
``conftest.assert_same_optimum``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import (
    assert_close,
    assert_same_optimum,
    fit_at_theta,
    fixture_names,
    load_data,
    load_fixture,
)

import bayesmixed as bm

CASES = fixture_names("lmer")

# tolerance = the largest relative difference measured at lme4's θ (BM_MEASURE=1) × 10,
# rounded up to a power of ten
TOL = {
    "estimate": 1e-11,  # measured 2.6e-13
    "std_error": 1e-10,  # 4.2e-12
    "statistic": 1e-10,  # 4.2e-12
    "df": 1e-5,  # 1.3e-7: lmerTest's numerical derivatives (Richardson extrapolation)
    "p_value": 1e-4,  # 2.8e-6: follows from the df
    "sd": 1e-10,  # 4.2e-12
    "cor": 1e-13,  # 1.3e-15 (absolute: a correlation's scale is 1)
    "vcov_re": 1e-10,  # 8.3e-12
    "sigma": 1e-10,  # 4.2e-12
    "loglik": 1e-10,  # 2.0e-12 (logLik, AIC, BIC, criterion)
    "ranef": 1e-10,  # 1.9e-12
    "ranef_se": 1e-10,  # 4.2e-12
    "vcov": 1e-10,  # 8.3e-12
    "fitted": 1e-12,  # 1.2e-14
    "residuals": 1e-12,  # 1.1e-14 (relative to max|fitted|)
    "predict": 1e-11,  # 2.6e-13
}

_FITS: dict[str, tuple] = {}


def get_fit(case: str):
    """(fixture, our fit at lme4's θ)."""
    if case not in _FITS:
        fx = load_fixture(case)
        _FITS[case] = (fx, fit_at_theta(fx["formula"], fx["data"], fx["theta"], fx["REML"]))
    return _FITS[case]


def close(what, ours, ref, vector_scale: bool = False):
    ref = np.asarray(ref, dtype=float)
    scale = float(np.abs(ref).max()) if vector_scale and ref.size else 0.0
    assert_close(f"reml.{what}", ours, ref, TOL[what], scale)


@pytest.mark.parametrize("case", CASES)
def test_fixed_effects(case):
    fx, fit = get_fit(case)
    ours = fit.tidy(effects="fixed").set_index("term")
    ref = pd.DataFrame([r for r in fx["tidy"] if r["effect"] == "fixed"]).set_index("term")
    assert list(ours.index) == list(ref.index)
    close("estimate", ours["estimate"], ref["estimate"], vector_scale=True)
    close("std_error", ours["std_error"], ref["std_error"])
    close("statistic", ours["statistic"], ref["statistic"], vector_scale=True)
    close("df", ours["df"], ref["df"])
    close("p_value", ours["p_value"], ref["p_value"])


@pytest.mark.parametrize("case", CASES)
def test_ran_pars(case):
    fx, fit = get_fit(case)
    ours = fit.tidy(effects="ran_pars").set_index(["group", "term"])["estimate"]
    ref = pd.DataFrame([r for r in fx["tidy"] if r["effect"] == "ran_pars"])
    ref = ref.set_index(["group", "term"])["estimate"]
    assert sorted(ours.index) == sorted(ref.index)
    ours = ours.loc[ref.index]
    is_cor = np.array([t.startswith("cor__") for _, t in ref.index])
    close("sd", ours[~is_cor], ref[~is_cor], vector_scale=True)
    if is_cor.any():
        # a correlation's scale is 1
        assert_close("reml.cor", ours[is_cor], ref[is_cor], TOL["cor"], scale=1.0)


@pytest.mark.parametrize("case", CASES)
def test_theta_names_and_varcorr(case):
    fx, fit = get_fit(case)
    assert fit.design.theta_names == fx["theta_names"]
    ours = fit.varcorr_table()
    ref = pd.DataFrame(fx["varcorr"])
    assert list(ours["grp"]) == list(ref["grp"])
    close("vcov_re", ours["vcov"], ref["vcov"], vector_scale=True)
    assert fit.is_singular == fx["singular"]


@pytest.mark.parametrize("case", CASES)
def test_glance(case):
    fx, fit = get_fit(case)
    ours = fit.glance().iloc[0]
    ref = fx["glance"]
    assert int(ours["nobs"]) == ref["nobs"]
    assert int(ours["df_residual"]) == ref["df_residual"]
    close("sigma", ours["sigma"], ref["sigma"])
    crit = "REMLcrit" if fx["REML"] else "deviance"
    close(
        "loglik",
        [ours[k] for k in ["logLik", "AIC", "BIC", crit]],
        [ref[k] for k in ["logLik", "AIC", "BIC", crit]],
    )


@pytest.mark.parametrize("case", CASES)
def test_ranef(case):
    fx, fit = get_fit(case)
    ours = fit.ranef().set_index(["group", "term", "level"])
    ref = pd.DataFrame(fx["ranef"])
    ref["level"] = ref["level"].astype(str)
    ref = ref.set_index(["group", "term", "level"])
    assert sorted(ours.index) == sorted(ref.index)
    ours = ours.loc[ref.index]
    if np.abs(ref["estimate"]).max() == 0:  # singular: all exactly zero in lme4
        assert np.all(np.abs(ours["estimate"]) < 1e-12)
    else:
        close("ranef", ours["estimate"], ref["estimate"], vector_scale=True)
    if np.abs(ref["std_error"]).max() > 0:
        close("ranef_se", ours["std_error"], ref["std_error"], vector_scale=True)


@pytest.mark.parametrize("case", CASES)
def test_vcov_fitted_predict(case):
    fx, fit = get_fit(case)
    V = fit.vcov()
    assert list(V.index) == fx["vcov"]["names"]
    close("vcov", V.to_numpy(), np.array(fx["vcov"]["matrix"]), vector_scale=True)
    close("fitted", fit.fitted(), fx["fitted"], vector_scale=True)
    # residuals relative to the scale of y (they are differences of nearly equal numbers)
    yscale = float(np.abs(fx["fitted"]).max())
    assert_close("reml.residuals", fit.residuals(), fx["residuals"], TOL["residuals"], yscale)
    new = pd.DataFrame(fx["newdata"])
    close("predict", fit.predict(new, re=True), fx["predict_re"], vector_scale=True)
    close("predict", fit.predict(new, re=False), fx["predict_fixed"], vector_scale=True)


@pytest.mark.parametrize("case", CASES)
def test_optimum_matches_lme4(case):
    """Our optimizer against lme4's (nloptwrap BOBYQA, tolerances in the fixture's
    ``control``): see ``conftest.assert_same_optimum``."""
    import warnings

    fx = load_fixture(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bm.MixedModel(fx["formula"], load_data(fx["data"])).fit_reml(reml=fx["REML"])
    assert_same_optimum(fit, fx["theta"])
    assert fit.is_singular == fx["singular"]
