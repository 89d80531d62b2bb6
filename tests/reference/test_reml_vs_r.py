"""REML/ML fits against lme4 + lmerTest + broom.mixed (fixtures from tests/reference/).

Tolerances (DEVELOPERS.md): fixed effects 1e-5 relative; variance parameters 1e-4 relative;
logLik / criteria 1e-4 absolute. Standard errors 1e-5 relative, Satterthwaite df 1e-4 relative
(both sides use Richardson-extrapolated numerical derivatives). Random effects and fitted
values: 1e-4 relative to the scale of the quantity.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import fixture_names, load_data, load_fixture

import bayesmixed as bm

CASES = fixture_names("lmer")

_FITS: dict[str, object] = {}


def get_fit(case: str):
    if case not in _FITS:
        fx = load_fixture(case)
        data = load_data(fx["data"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = bm.MixedModel(fx["formula"], data)
            _FITS[case] = (fx, model.fit_reml(reml=fx["REML"]))
    return _FITS[case]


def close(a, b, rel, abs_=0.0):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    np.testing.assert_allclose(a, b, rtol=rel, atol=abs_)


@pytest.mark.parametrize("case", CASES)
def test_fixed_effects(case):
    fx, fit = get_fit(case)
    ours = fit.tidy(effects="fixed").set_index("term")
    ref = pd.DataFrame([r for r in fx["tidy"] if r["effect"] == "fixed"]).set_index("term")
    assert list(ours.index) == list(ref.index)
    close(ours["estimate"], ref["estimate"], 1e-5, 1e-8 * np.abs(ref["estimate"]).max())
    close(ours["std_error"], ref["std_error"], 1e-5)
    close(ours["statistic"], ref["statistic"], 1e-5, 1e-7)
    close(ours["df"], ref["df"], 1e-4)
    close(ours["p_value"], ref["p_value"], 1e-3, 1e-12)


@pytest.mark.parametrize("case", CASES)
def test_ran_pars(case):
    fx, fit = get_fit(case)
    ours = fit.tidy(effects="ran_pars").set_index(["group", "term"])["estimate"]
    ref = pd.DataFrame([r for r in fx["tidy"] if r["effect"] == "ran_pars"])
    ref = ref.set_index(["group", "term"])["estimate"]
    assert sorted(ours.index) == sorted(ref.index)
    ours = ours.loc[ref.index]
    is_cor = np.array([t.startswith("cor__") for _, t in ref.index])
    close(ours[~is_cor], ref[~is_cor], 1e-4, 1e-6)
    if is_cor.any():
        close(ours[is_cor], ref[is_cor], 0, 1e-4)


@pytest.mark.parametrize("case", CASES)
def test_theta_and_varcorr(case):
    fx, fit = get_fit(case)
    assert fit.design.theta_names == fx["theta_names"]
    close(fit.theta, fx["theta"], 1e-4, 1e-6)
    ours = fit.varcorr_table()
    ref = pd.DataFrame(fx["varcorr"])
    assert list(ours["grp"]) == list(ref["grp"])
    close(ours["vcov"], ref["vcov"], 1e-4, 1e-6 * np.abs(ref["vcov"]).max())
    assert fit.is_singular == fx["singular"]


@pytest.mark.parametrize("case", CASES)
def test_glance(case):
    fx, fit = get_fit(case)
    ours = fit.glance().iloc[0]
    ref = fx["glance"]
    assert int(ours["nobs"]) == ref["nobs"]
    assert int(ours["df_residual"]) == ref["df_residual"]
    close(ours["sigma"], ref["sigma"], 1e-4)
    crit = "REMLcrit" if fx["REML"] else "deviance"
    for k in ["logLik", "AIC", "BIC", crit]:
        close(ours[k], ref[k], 0, 1e-4)


@pytest.mark.parametrize("case", CASES)
def test_ranef(case):
    fx, fit = get_fit(case)
    ours = fit.ranef().set_index(["group", "term", "level"])
    ref = pd.DataFrame(fx["ranef"])
    ref["level"] = ref["level"].astype(str)
    ref = ref.set_index(["group", "term", "level"])
    assert sorted(ours.index) == sorted(ref.index)
    ours = ours.loc[ref.index]
    scale = max(np.abs(ref["estimate"]).max(), 1e-8)
    close(ours["estimate"], ref["estimate"], 1e-4, 1e-4 * scale)
    se_scale = max(np.abs(ref["std_error"]).max(), 1e-8)
    close(ours["std_error"], ref["std_error"], 1e-4, 1e-5 * se_scale)


@pytest.mark.parametrize("case", CASES)
def test_vcov_fitted_predict(case):
    fx, fit = get_fit(case)
    V = fit.vcov()
    assert list(V.index) == fx["vcov"]["names"]
    close(V.to_numpy(), np.array(fx["vcov"]["matrix"]), 1e-4, 1e-10)
    yscale = np.abs(fx["fitted"]).max()
    close(fit.fitted(), fx["fitted"], 1e-5, 1e-6 * yscale)
    close(fit.residuals(), fx["residuals"], 0, 1e-5 * yscale)
    new = pd.DataFrame(fx["newdata"])
    close(fit.predict(new, re=True), fx["predict_re"], 1e-5, 1e-6 * yscale)
    close(fit.predict(new, re=False), fx["predict_fixed"], 1e-5, 1e-6 * yscale)
