"""Likelihood-ratio tables (``bm.anova``) against lme4's ``anova()`` and lmerTest's ``ranova()``
(tests/reference/make_lrt.R).

What is computed and where an optimizer stops are tested apart. The tables are computed at
lme4's own θ — of every fit, of every ML refit anova() makes and of every reduced model ranova()
fits (stored in the fixture; the refits are fed to bayesmixed through the fit's ``refitter``)
— with tolerances a decade above the largest relative difference measured there (``TOL``; see
tests/reference/README.md). Whether our optimizer reaches lme4's optimum for every one of
those models is ``test_optimum_matches_lme4`` (see ``conftest.assert_same_optimum``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_close, assert_same_optimum, fit_at_theta, load_data, load_fixture
from scipy import stats

import bayesmixed as bm
from bayesmixed.errors import ArgumentError, RefitWarning
from bayesmixed.reml.optimize import fit_lmm_at

CASES = load_fixture("lrt")["cases"]
RANOVA = load_fixture("lrt")["ranova"]

# the largest relative difference measured at lme4's θ (BM_MEASURE=1) × 10, rounded up
TOL = {
    "loglik": 1e-11,  # measured 4.7e-13 (logLik, AIC, BIC, deviance)
    "statistic": 1e-8,  # 3.2e-10: a difference of log-likelihoods of about 400
    "p_value": 1e-8,  # 1.8e-10
}


def _theta(th):
    """A fixture θ: None for lm fits (R's NULL is written as {}), else a float array."""
    return None if isinstance(th, dict) or th is None else np.atleast_1d(np.asarray(th, float))


def _at_theta(formula, data, theta, reml, refit_thetas=()):
    """The fit at lme4's θ whose refits (anova's ML refit, ranova's reductions) are, in turn,
    the fits at the next θ of ``refit_thetas``."""
    queue = [np.atleast_1d(np.asarray(t, float)) for t in refit_thetas]
    fit = fit_at_theta(formula, data, theta, reml)

    def refitter(design, reml):
        th = queue.pop(0)
        assert len(th) == design.ntheta, (design.theta_names, th)
        return fit_lmm_at(design, th, reml)

    fit.refitter = refitter
    fit.pending_refits = queue
    return fit


def _anova_fits(case):
    data = load_data(case["data"])
    fits = []
    for f, th, th_ml in zip(case["formulas"], case["theta"], case["theta_ml"], strict=True):
        if _theta(th) is None:  # no random term: the least-squares fit
            fits.append(bm.MixedModel(f, data).fit_reml())
        else:
            refits = [th_ml] if case["refit"] else []
            fits.append(_at_theta(f, case["data"], _theta(th), True, refits))
    return fits


@pytest.mark.parametrize("case", CASES, ids=[" vs ".join(c["formulas"]) for c in CASES])
def test_anova_matches_lme4(case):
    fits = _anova_fits(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RefitWarning)
        tab = bm.anova(*fits, refit=case["refit"])
    assert all(not getattr(f, "pending_refits", []) for f in fits)
    assert tab["model"].tolist() == case["model"]
    assert tab["npar"].tolist() == case["npar"]
    for col in ["AIC", "BIC", "logLik", "deviance"]:
        assert_close("lrt.loglik", tab[col], case[col], TOL["loglik"])
    ref = {k: np.array(case[k][1:], dtype=float) for k in ["statistic", "df", "p_value"]}
    assert_close("lrt.statistic", tab["statistic"].iloc[1:], ref["statistic"], TOL["statistic"])
    np.testing.assert_array_equal(tab["df"].iloc[1:], ref["df"])
    assert_close("lrt.p_value", tab["p_value"].iloc[1:], ref["p_value"], TOL["p_value"])
    assert np.isnan(tab[["statistic", "df", "p_value", "p_boundary"]].iloc[0]).all()


def _optimum_cases():
    """(label, data, formula, REML, lme4's θ) of every mixed model the tables fit."""
    out = []
    for c in CASES:
        for f, th, th_ml in zip(c["formulas"], c["theta"], c["theta_ml"], strict=True):
            if _theta(th) is not None:
                out.append((c["data"], f, True, _theta(th)))
                if c["refit"]:
                    out.append((c["data"], f, False, _theta(th_ml)))
    for c in RANOVA:
        out.append((c["data"], c["formula"], c["REML"], _theta(c["theta"])))
    seen, uniq = set(), []
    for o in out:
        key = (o[0], o[1], o[2])
        if key not in seen:
            seen.add(key)
            uniq.append(o)
    return uniq


@pytest.mark.parametrize(
    "data,formula,reml,theta",
    _optimum_cases(),
    ids=[f"{o[0]}:{o[1]}|{'REML' if o[2] else 'ML'}" for o in _optimum_cases()],
)
def test_optimum_matches_lme4(data, formula, reml, theta):
    """Our optimizer against lme4's bobyqa (rhoend = 1e-12; anova's ML refits use refitML's
    default bobyqa settings), for every fit the tables start from. ranova's reduced models are
    only compared at lme4's θ (``test_ranova_matches_lmertest``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bm.MixedModel(formula, load_data(data)).fit_reml(reml=reml)
    assert_same_optimum(fit, theta)


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


@pytest.mark.parametrize(
    "case",
    RANOVA,
    ids=[f"{c['data']}:{c['formula']}|{'REML' if c['REML'] else 'ML'}" for c in RANOVA],
)
def test_ranova_matches_lmertest(case):
    fit = _at_theta(
        case["formula"], case["data"], _theta(case["theta"]), case["REML"], case["theta_reduced"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = fit.ranova()
    assert not fit.pending_refits
    assert tab["term"].tolist() == case["term"]
    assert tab["npar"].tolist() == case["npar"]
    assert_close("ranova.loglik", tab["logLik"], case["logLik"], TOL["loglik"])
    assert_close("ranova.loglik", tab["AIC"], case["AIC"], TOL["loglik"])
    ref = {k: np.array(case[k], dtype=float) for k in ["statistic", "df", "p_value"]}
    assert_close("ranova.statistic", tab["statistic"], ref["statistic"], TOL["statistic"])
    np.testing.assert_array_equal(tab["df"], ref["df"])
    assert_close("ranova.p_value", tab["p_value"], ref["p_value"], TOL["p_value"])
