"""Likelihood-ratio tables (``bm.anova``) against lme4's ``anova()`` (tests/reference/make_lrt.R).

Tolerances (DEVELOPERS.md): logLik, AIC, BIC, deviance and χ² 1e-4 absolute; p-values 1e-4
relative (they follow from the χ² to that precision).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import load_data, load_fixture
from scipy import stats

import bayesmixed as bm
from bayesmixed.errors import ArgumentError, RefitWarning

CASES = load_fixture("lrt")["cases"]


def _fits(case):
    data = load_data(case["data"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [bm.MixedModel(f, data).fit_reml() for f in case["formulas"]]


@pytest.mark.parametrize("case", CASES, ids=[" vs ".join(c["formulas"]) for c in CASES])
def test_anova_matches_lme4(case):
    fits = _fits(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RefitWarning)
        tab = bm.anova(*fits, refit=case["refit"])
    assert tab["model"].tolist() == case["model"]
    assert tab["npar"].tolist() == case["npar"]
    for col in ["AIC", "BIC", "logLik", "deviance"]:
        np.testing.assert_allclose(tab[col], case[col], rtol=0, atol=1e-4)
    ref = {k: np.array(case[k][1:], dtype=float) for k in ["statistic", "df", "p_value"]}
    np.testing.assert_allclose(tab["statistic"].iloc[1:], ref["statistic"], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(tab["df"].iloc[1:], ref["df"])
    np.testing.assert_allclose(tab["p_value"].iloc[1:], ref["p_value"], rtol=1e-4, atol=1e-300)
    assert np.isnan(tab[["statistic", "df", "p_value", "p_boundary"]].iloc[0]).all()


def test_refit_warns_like_lme4_and_ml_fits_do_not():
    data = bm.datasets.load("sleepstudy")
    m0 = bm.MixedModel("Reaction ~ Days + (1 | Subject)", data)
    m1 = bm.MixedModel("Reaction ~ Days + (Days || Subject)", data)
    with pytest.warns(RefitWarning, match="refitting model"):
        bm.anova(m0.fit_reml(), m1.fit_reml())
    with warnings.catch_warnings():
        warnings.simplefilter("error", RefitWarning)
        bm.anova(m0.fit_reml(reml=False), m1.fit_reml(reml=False))


def test_boundary_p_value_by_hand():
    """One added variance: p_boundary = ½·P(χ²₁ > x) (the χ²₀ half puts no mass above 0);
    adding only a correlation: no boundary, NaN; adding one random slope with its correlation
    (2 parameters, one new SD): ½·P(χ²₁ > x) + ½·P(χ²₂ > x)."""
    data = bm.datasets.load("sleepstudy")
    f = {
        k: bm.MixedModel(s, data).fit_reml(reml=False)
        for k, s in {
            "int": "Reaction ~ Days + (1 | Subject)",
            "unc": "Reaction ~ Days + (Days || Subject)",
            "cor": "Reaction ~ Days + (Days | Subject)",
        }.items()
    }
    t = bm.anova(f["int"], f["unc"], f["cor"])
    x1 = t["statistic"].iloc[1]
    assert t["p_boundary"].iloc[1] == pytest.approx(0.5 * stats.chi2.sf(x1, 1), rel=1e-12)
    assert np.isnan(t["p_boundary"].iloc[2])
    t2 = bm.anova(f["int"], f["cor"])
    x2 = t2["statistic"].iloc[1]
    expect = 0.5 * stats.chi2.sf(x2, 1) + 0.5 * stats.chi2.sf(x2, 2)
    assert t2["p_boundary"].iloc[1] == pytest.approx(expect, rel=1e-12)
    # different fixed effects: no variance-component test
    f3 = bm.MixedModel("Reaction ~ 1 + (Days | Subject)", data).fit_reml(reml=False)
    assert np.isnan(bm.anova(f3, f["cor"])["p_boundary"].iloc[1])


def test_bad_arguments_name_the_problem():
    data = bm.datasets.load("sleepstudy")
    fit = bm.MixedModel("Reaction ~ Days + (1 | Subject)", data).fit_reml(reml=False)
    with pytest.raises(ArgumentError, match="two or more fits"):
        bm.anova(fit)
    with pytest.raises(ArgumentError, match="argument 2 of anova"):
        bm.anova(fit, data)
    small = bm.MixedModel("Reaction ~ Days + (1 | Subject)", data.iloc[:100]).fit_reml(reml=False)
    with pytest.raises(ArgumentError, match="same observations"):
        bm.anova(fit, small)
    with pytest.raises(ArgumentError, match="names="):
        bm.anova(fit, fit, names=["a"])


RANOVA = load_fixture("lrt")["ranova"]


@pytest.mark.parametrize(
    "case",
    RANOVA,
    ids=[f"{c['data']}:{c['formula']}|{'REML' if c['REML'] else 'ML'}" for c in RANOVA],
)
def test_ranova_matches_lmertest(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bm.MixedModel(case["formula"], load_data(case["data"])).fit_reml(reml=case["REML"])
        tab = fit.ranova()
    assert tab["term"].tolist() == case["term"]
    assert tab["npar"].tolist() == case["npar"]
    np.testing.assert_allclose(tab["logLik"], case["logLik"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(tab["AIC"], case["AIC"], rtol=0, atol=1e-4)
    ref = {k: np.array(case[k], dtype=float) for k in ["statistic", "df", "p_value"]}
    np.testing.assert_allclose(tab["statistic"], ref["statistic"], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(tab["df"], ref["df"])
    np.testing.assert_allclose(tab["p_value"], ref["p_value"], rtol=1e-4, atol=1e-300)
