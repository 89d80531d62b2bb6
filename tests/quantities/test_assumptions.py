"""OLS assumption checks against R's lmtest/stats (primer_assumptions.json) and against
statsmodels/scipy called directly."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_data, load_fixture
from scipy import stats
from statsmodels.stats.diagnostic import het_breuschpagan
from statsmodels.stats.stattools import durbin_watson

import bayesmixed as bm
from bayesmixed.errors import ArgumentError, ColumnError
from bayesmixed.quantities.assumptions import (
    ASSUMPTION_COLUMNS,
    assumption_checks,
    breusch_pagan_test,
    durbin_watson_test,
)

CASES = load_fixture("primer_assumptions")["cases"]


def ols(name):
    c = CASES[name]
    return c, bm.MixedModel(c["formula"], load_data(c["data"])).fit_reml()


def p_close(ours, ref):
    # Imhof's integral is accurate to ~1e-10 absolute; very small p values compare absolutely
    assert ours == pytest.approx(ref, rel=1e-4, abs=1e-9)


@pytest.mark.parametrize("name", list(CASES))
def test_vs_lmtest(name):
    c, fit = ols(name)
    e, X = fit.residuals(), fit.design.X
    dw, p_exact = durbin_watson_test(e, X, exact=True)
    assert dw == pytest.approx(c["dw_statistic"], rel=1e-10)
    if c["dw_exact_ok"]:  # lmtest's pan algorithm fell back to the approximation otherwise
        p_close(p_exact, c["dw_p_exact"])
        p_close(
            durbin_watson_test(e, X, exact=True, alternative="two.sided")[1],
            c["dw_p_exact_two_sided"],
        )
    p_close(durbin_watson_test(e, X, exact=False)[1], c["dw_p_approx"])
    bp, df, bp_p = breusch_pagan_test(e, X)
    assert bp == pytest.approx(c["bp_statistic"], rel=1e-8)
    assert df == c["bp_df"]
    p_close(bp_p, c["bp_p"])
    tab = assumption_checks(fit).set_index("test")
    assert tab.loc["Shapiro-Wilk", "statistic"] == pytest.approx(c["sw_statistic"], rel=1e-5)
    assert tab.loc["Shapiro-Wilk", "p_value"] == pytest.approx(c["sw_p"], rel=1e-3)
    # default: exact p for n < 100, normal approximation otherwise (as dwtest)
    default_p = c["dw_p_exact"] if c["n"] < 100 else c["dw_p_approx"]
    p_close(tab.loc["Durbin-Watson", "p_value"], default_p)


def test_vs_statsmodels_and_scipy():
    _, fit = ols("unbalanced_lm_interaction")
    e, X = fit.residuals(), fit.design.X
    tab = assumption_checks(fit)
    assert list(tab.columns) == ASSUMPTION_COLUMNS
    assert tab["test"].tolist() == ["Durbin-Watson", "Breusch-Pagan", "Shapiro-Wilk"]
    assert tab["statistic"][0] == pytest.approx(durbin_watson(e), rel=1e-12)
    lm, lm_p, _, _ = het_breuschpagan(e, X, robust=True)
    assert tab["statistic"][1] == pytest.approx(lm, rel=1e-12)
    assert tab["p_value"][1] == pytest.approx(lm_p, rel=1e-12)
    sw = stats.shapiro(e)
    assert tab["statistic"][2] == pytest.approx(sw.statistic, rel=1e-12)
    assert tab["p_value"][2] == pytest.approx(sw.pvalue, rel=1e-12)
    assert all(isinstance(s, str) and s for s in tab["interpretation"])


def test_interpretation_reads_the_result():
    _, fit = ols("sleepstudy_lm")
    tab = assumption_checks(fit).set_index("test")
    # sleepstudy sorted by subject: strongly autocorrelated residuals
    assert "positive autocorrelation" in tab.loc["Durbin-Watson", "interpretation"]
    _, dye = ols("dyestuff_lm")
    tab = assumption_checks(dye).set_index("test")
    assert "no evidence" in tab.loc["Durbin-Watson", "interpretation"]
    assert "no evidence" in tab.loc["Shapiro-Wilk", "interpretation"]


def test_order_by_and_mixed_fit():
    data = bm.datasets.load("sleepstudy")
    fit = bm.MixedModel("Reaction ~ Days", data).fit_reml()
    by_days = assumption_checks(fit, order_by="Days")
    order = np.argsort(data["Days"].to_numpy(), kind="stable")
    assert by_days["statistic"][0] == pytest.approx(durbin_watson(fit.residuals()[order]))
    same = assumption_checks(fit, order_by=data["Days"].to_numpy())
    assert same["statistic"][0] == by_days["statistic"][0]
    mixed = bm.MixedModel("Reaction ~ Days + (Days | Subject)", data).fit_reml()
    tab = assumption_checks(mixed)  # conditional residuals
    assert tab["statistic"][0] == pytest.approx(durbin_watson(mixed.residuals()))
    assert bm.variance.assumption_checks(mixed).equals(tab)


def test_intercept_only_model_has_nothing_for_bp():
    fit = bm.MixedModel("Yield ~ 1", bm.datasets.load("Dyestuff")).fit_reml()
    tab = assumption_checks(fit).set_index("test")
    assert np.isnan(tab.loc["Breusch-Pagan", "p_value"])
    assert "nothing to test" in tab.loc["Breusch-Pagan", "interpretation"]


def test_errors():
    _, fit = ols("sleepstudy_lm")
    with pytest.raises(ColumnError, match="order_by='day'"):
        assumption_checks(fit, order_by="day")
    with pytest.raises(ArgumentError, match="has 3 values"):
        assumption_checks(fit, order_by=[1, 2, 3])
    with pytest.raises(ArgumentError, match="alternative"):
        assumption_checks(fit, alternative="bigger")
    with pytest.raises(ArgumentError, match="alpha"):
        assumption_checks(fit, alpha=5)
    with pytest.raises(ArgumentError, match="residuals"):
        assumption_checks(object())
