"""Ordinary least squares against R's ``lm`` / ``anova`` / broom (fixtures of kind "lm").

Tolerance: 1e-8 relative on every number (lm is a direct QR computation on both sides, so the
two agree to rounding; 1e-8 leaves room for differences in the order of floating-point
operations). p-values below 1e-300 are compared absolutely. Quantities that are exactly zero
in R are compared with an absolute tolerance of 1e-8 times the scale of the quantity.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import fixture_names, load_data, load_fixture

import bayesmixed as bm
from bayesmixed.ols.fit import ANOVA_COLUMNS, GLANCE_COLUMNS, OLSFit

CASES = fixture_names("lm")
REL = 1e-8

_FITS: dict[str, tuple[dict, OLSFit]] = {}


def get_fit(case: str) -> tuple[dict, OLSFit]:
    if case not in _FITS:
        fx = load_fixture(case)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the fixture models are full rank and complete
            fit = bm.MixedModel(fx["formula"], load_data(fx["data"])).fit_reml()
        _FITS[case] = (fx, fit)
    return _FITS[case]


def close(ours, ref, rel=REL, abs_=0.0):
    np.testing.assert_allclose(
        np.asarray(ours, dtype=float), np.asarray(ref, dtype=float), rtol=rel, atol=abs_
    )


def test_there_are_lm_fixtures():
    assert set(CASES) >= {"sleep9_lm_interaction", "sleepstudy_lm", "unbalanced_lm_interaction"}


@pytest.mark.parametrize("case", CASES)
def test_fit_is_ols(case):
    _, fit = get_fit(case)
    assert isinstance(fit, OLSFit)
    assert fit.reml is False


@pytest.mark.parametrize("case", CASES)
def test_tidy(case):
    fx, fit = get_fit(case)
    ours = fit.tidy()
    assert list(ours.columns) == [
        "effect",
        "group",
        "term",
        "estimate",
        "std_error",
        "statistic",
        "df",
        "p_value",
    ]
    assert (ours["effect"] == "fixed").all()
    assert ours["group"].isna().all()
    ref = pd.DataFrame(fx["tidy"])
    assert list(ours["term"]) == list(ref["term"])
    scale = np.abs(ref["estimate"]).max()
    close(ours["estimate"], ref["estimate"], REL, 1e-10 * scale)
    close(ours["std_error"], ref["std_error"])
    close(ours["statistic"], ref["statistic"], REL, 1e-9)
    close(ours["df"], ref["df"], 0)
    close(ours["p_value"], ref["p_value"], 1e-6, 1e-300)


@pytest.mark.parametrize("case", CASES)
def test_tidy_conf_int(case):
    # confint.lm: estimate ± qt(0.975, df.residual) · SE
    fx, fit = get_fit(case)
    tab = fit.tidy(conf_int=True, conf_level=0.9)
    ref = pd.DataFrame(fx["tidy"])
    from scipy import stats

    q = stats.t.ppf(0.95, ref["df"].iloc[0])
    close(tab["conf_low"], ref["estimate"] - q * ref["std_error"], REL, 1e-10)
    close(tab["conf_high"], ref["estimate"] + q * ref["std_error"], REL, 1e-10)


@pytest.mark.parametrize("case", CASES)
def test_glance(case):
    fx, fit = get_fit(case)
    g = fit.glance()
    assert list(g.columns) == GLANCE_COLUMNS
    row = g.iloc[0]
    ref = fx["glance"]
    for key in GLANCE_COLUMNS:
        if key in ("df", "df_residual", "nobs"):
            assert int(row[key]) == ref[key], key
        elif key == "p_value":
            close(row[key], ref[key], 1e-6, 1e-300)
        else:
            close(row[key], ref[key], REL)
    assert fit.sigma == pytest.approx(ref["sigma"], rel=REL)
    assert fit.loglik == pytest.approx(ref["logLik"], rel=REL)
    assert fit.aic == pytest.approx(ref["AIC"], rel=REL)
    assert fit.bic == pytest.approx(ref["BIC"], rel=REL)


@pytest.mark.parametrize("case", CASES)
def test_anova(case):
    fx, fit = get_fit(case)
    ours = fit.anova()
    assert list(ours.columns) == ANOVA_COLUMNS
    ref = pd.DataFrame(fx["anova"])
    assert list(ours["term"]) == list(ref["term"])
    assert ours["df"].tolist() == ref["df"].astype(int).tolist()
    close(ours["sum_sq"], ref["sum_sq"])
    close(ours["mean_sq"], ref["mean_sq"])
    stat = ref["statistic"].astype(float)
    close(ours["statistic"].iloc[:-1], stat.iloc[:-1])
    close(ours["p_value"].iloc[:-1], ref["p_value"].astype(float).iloc[:-1], 1e-6, 1e-300)
    assert np.isnan(ours["statistic"].iloc[-1]) and np.isnan(ours["p_value"].iloc[-1])
    # sequential sums of squares add up to the total (centred) sum of squares
    y = fit.design.y
    assert ours["sum_sq"].sum() == pytest.approx(np.sum((y - y.mean()) ** 2), rel=1e-10)


@pytest.mark.parametrize("case", CASES)
def test_fixef_vcov(case):
    fx, fit = get_fit(case)
    fe = fit.fixef()
    assert list(fe.index) == list(fx["fixef"])
    close(fe.to_numpy(), list(fx["fixef"].values()), REL, 1e-10 * np.abs(fe).max())
    V = fit.vcov()
    assert list(V.index) == fx["vcov"]["names"]
    M = np.array(fx["vcov"]["matrix"])
    close(V.to_numpy(), M, 1e-7, 1e-10 * np.abs(M).max())


@pytest.mark.parametrize("case", CASES)
def test_fitted_residuals(case):
    fx, fit = get_fit(case)
    scale = np.abs(fx["fitted"]).max()
    close(fit.fitted(), fx["fitted"], REL, 1e-10 * scale)
    close(fit.residuals(), fx["residuals"], 1e-7, 1e-10 * scale)
    close(fit.predict(), fx["fitted"], REL, 1e-10 * scale)


@pytest.mark.parametrize("case", CASES)
def test_predict_newdata(case):
    fx, fit = get_fit(case)
    new = pd.DataFrame(fx["newdata"])
    pred, se = fit.predict(new, se_fit=True)
    close(pred, fx["predict"], REL)
    close(se, fx["predict_se"], REL)
    # re= is accepted and ignored
    close(fit.predict(new, re=False), fx["predict"], REL)


@pytest.mark.parametrize("case", CASES)
def test_components(case):
    _, fit = get_fit(case)
    comp = fit.components()
    assert comp.cov == []
    assert comp.draws is False
    close(comp.beta, fit.fixef().to_numpy(), 0)
    assert float(comp.sigma) == fit.sigma


def test_summary_text_sleepstudy():
    _, fit = get_fit("sleepstudy_lm")
    text = str(fit.summary())
    assert "(Intercept)  251.405      6.610  38.033  < 2e-16 ***" in text
    assert "Days          10.467      1.238   8.454 9.89e-15 ***" in text
    assert "Residual standard error: 47.71 on 178 degrees of freedom" in text
    assert "Multiple R-squared:  0.2865,\tAdjusted R-squared:  0.2825" in text
    assert "F-statistic: 71.46 on 1 and 178 DF,  p-value: 9.894e-15" in text
    assert repr(fit) == text
    html = fit._repr_html_()
    assert "<table" in html and "251.4" in html


def test_no_intercept_r_squared_is_uncentred():
    # R: summary(lm(Reaction ~ 0 + Days, sleepstudy)) — uncentred R² 0.7772931, adj 0.7760489;
    # broom's glance gives no F test for a single coefficient
    fit = bm.MixedModel("Reaction ~ 0 + Days", bm.datasets.load("sleepstudy")).fit_reml()
    g = fit.glance().iloc[0]
    assert g["r_squared"] == pytest.approx(0.7772931, abs=5e-8)
    assert g["adj_r_squared"] == pytest.approx(0.7760489, abs=5e-8)
    assert g["sigma"] == pytest.approx(143.7436, abs=5e-5)
    assert np.isnan(g["statistic"]) and np.isnan(g["df"])
    y = fit.design.y
    r = fit.residuals()
    assert g["r_squared"] == pytest.approx(1 - (r @ r) / (y @ y), rel=1e-12)
    # anova(lm(Reaction ~ 0 + Days)): Days 12908667 on 1 df, F = 624.75
    a = fit.anova()
    assert a["term"].tolist() == ["Days", "Residuals"]
    assert a["sum_sq"].iloc[0] == pytest.approx(12908667, abs=1)
    assert a["statistic"].iloc[0] == pytest.approx(624.75, abs=5e-3)
    assert "F-statistic: 624.7 on 1 and 179 DF,  p-value: < 2.2e-16" in str(fit.summary())


def test_intercept_only():
    # R: glance(lm(Reaction ~ 1, sleepstudy)): R² 0, sigma 56.32876, logLik -980.5245
    fit = bm.MixedModel("Reaction ~ 1", bm.datasets.load("sleepstudy")).fit_reml()
    g = fit.glance().iloc[0]
    assert g["r_squared"] == 0.0 and g["adj_r_squared"] == 0.0
    assert g["sigma"] == pytest.approx(56.32876, abs=5e-6)
    assert g["logLik"] == pytest.approx(-980.5245, abs=5e-5)
    assert np.isnan(g["statistic"])
    assert fit.anova()["term"].tolist() == ["Residuals"]
    assert "F-statistic" not in str(fit.summary())


def test_rank_deficient_ols_matches_reduced_model():
    data = bm.datasets.load("sleepstudy")
    data["Weeks"] = data["Days"] / 7.0
    with pytest.warns(bm.errors.RankDeficiencyWarning, match="Weeks"):
        fit = bm.MixedModel("Reaction ~ Days + Weeks", data).fit_reml()
    fx, ref = get_fit("sleepstudy_lm")
    assert fit.design.dropped == ["Weeks"]
    close(fit.fixef().to_numpy(), ref.fixef().to_numpy(), 1e-10)
    close(fit.glance().iloc[0]["logLik"], fx["glance"]["logLik"], REL)
    text = str(fit.summary())
    assert "Coefficients: (1 not defined because of singularities)" in text
    assert "Weeks" in text and "NA" in text


def test_glance_df_residual_after_na_drop():
    data = bm.datasets.load("sleepstudy")
    data.loc[[0, 10], "Reaction"] = np.nan
    with pytest.warns(bm.errors.MissingDataWarning, match="2"):
        fit = bm.MixedModel("Reaction ~ Days", data).fit_reml()
    assert fit.n == 178
    assert int(fit.glance()["df_residual"].iloc[0]) == 176
    assert "(2 observations deleted due to missingness)" in str(fit.summary())


def test_conf_level_validated():
    _, fit = get_fit("sleepstudy_lm")
    with pytest.raises(bm.BayesMixedError, match="conf_level"):
        fit.tidy(conf_int=True, conf_level=95)


def test_qr_is_stable_for_ill_conditioned_columns():
    # a badly scaled, nearly collinear design where the normal equations lose digits
    rng = np.random.default_rng(3)
    n = 200
    x = rng.normal(size=n)
    data = pd.DataFrame({"x": 1e4 + x, "z": 1e4 + x + 1e-2 * rng.normal(size=n)})
    data["y"] = 2.0 + 0.5 * data["x"] - 0.25 * data["z"] + 0.01 * rng.normal(size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # still full rank
        fit = bm.MixedModel("y ~ x + z", data).fit_reml()
    X = fit.design.X
    assert np.linalg.cond(X) > 1e7  # cond(X'X) > 1e14: the normal equations lose most digits
    ref, *_ = np.linalg.lstsq(X, fit.design.y, rcond=None)  # SVD solution
    close(fit.fixef().to_numpy(), ref, 1e-6)
