"""Marginal means, contrasts and BLUPs of fits with residual structures against R:
tests/reference/fixtures/emmeans_gls.json, made by tests/reference/make_emmeans_gls.R (emmeans
1.8 on nlme::gls; nlme::lme's BLUPs).

The tables are compared at nlme's own covariance parameters (this fit's φ moved to reproduce
nlme's implied covariance matrix), so that optima that agree to ~1e-6 do not blur the 1e-6
comparison. Satterthwaite df are compared (1e-4) with the fixture's ``df_accurate``: emmeans'
formula with an accurate Hessian, where emmeans' own uses nlme's ``apVar`` (fdHess, ~1e-3
relative error; compared at 1e-2). For ML fits emmeans scales the covariance parameters' part
of the gradient by σ̂²_ML but the σ part and the estimate by vcov's r²/(n − p): its df are
reproduced from this fit's Satterthwaite parts under that convention, while ``fit.contrast``
uses the consistent one (as lmerTest).
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import bayesmixed as bm
from bayesmixed.reml.gls.optimize import fit_gls_at
from bayesmixed.results.emmeans import marginal_means

HERE = Path(__file__).parent
FIXTURE = json.loads((HERE / "fixtures" / "emmeans_gls.json").read_text())
CASES = {c["id"]: c for c in FIXTURE["cases"]}
RANEF = {c["id"]: c for c in FIXTURE["ranef"]}


@cache
def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(HERE / "data" / f"{name}.csv")


def _at_r_parameters(fit, cov_r: np.ndarray, sigma_r: float):
    """The fit at the φ whose relative covariance of a complete subject is nlme's."""
    crit = fit.criterion_fn
    target = np.asarray(cov_r) / sigma_r**2
    pos = np.arange(target.shape[0])
    iu = np.triu_indices_from(target)

    def resid(phi):
        return (crit.residual_block(phi, 0, pos) - target)[iu]

    sol = optimize.least_squares(resid, fit.phi, xtol=1e-15, ftol=1e-15, gtol=1e-15)
    assert np.max(np.abs(sol.fun)) < 1e-10
    return fit_gls_at(fit.design, fit.rd, sol.x, fit.reml)


@cache
def _fits(case_id: str):
    case = CASES[case_id]
    structure = getattr(bm.residual, case["structure"])(time="visit", group="id")
    model = bm.MixedModel(case["formula"], _data(case["data"]), residual=structure)
    fit = model.fit_reml(case["reml"])
    return case, fit, _at_r_parameters(fit, np.asarray(case["cov"]), case["sigma"])


@pytest.mark.parametrize("case_id", list(CASES))
def test_the_optimum_is_nlme_s(case_id):
    case, fit, at_r = _fits(case_id)
    assert fit.loglik == pytest.approx(case["logLik"], abs=1e-6)
    assert at_r.loglik == pytest.approx(case["logLik"], abs=1e-8)
    assert at_r.sigma == pytest.approx(case["sigma"], rel=1e-9)
    assert at_r.design.xnames == case["terms"]
    np.testing.assert_allclose(at_r.beta, case["coef"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(at_r.vcov().to_numpy(), case["vcov"], rtol=1e-7, atol=1e-12)
    assert fit.criterion_fn.n_params == case["ncov"]  # emmeans' df.error: n − p − this


def _emmeans_ml_df(fit, L: np.ndarray) -> np.ndarray:
    """emmeans' Satterthwaite df of an ML gls fit (see the module notes)."""
    Phi, J, A = fit._satterthwaite_parts
    c = fit.n / (fit.n - fit.design.p)
    out = []
    for k in L:
        g = np.einsum("i,kij,j->k", k, J, k)
        g[-1] *= c
        out.append(2 * (c * k @ Phi @ k) ** 2 / (g @ A @ g))
    return np.array(out)


def _contrast_L(fit, method: str) -> np.ndarray:
    mm = marginal_means(fit.design, ["visit"], ["arm"], None)
    rows = []
    for g in mm.groups:
        Lg = mm.L[g]
        if method == "pairwise":
            rows += [Lg[i] - Lg[j] for i in range(len(g)) for j in range(i + 1, len(g))]
        else:
            rows += [Lg[i] - Lg[0] for i in range(1, len(g))]
    return np.array(rows)


@pytest.mark.parametrize("case_id", list(CASES))
@pytest.mark.parametrize("mode", ["auto", "asymptotic"])
def test_emmeans_by_arm(case_id, mode):
    case, _, fit = _fits(case_id)
    ref = case["tables"][mode]["emmeans"]
    ddf = "satterthwaite" if mode == "auto" else "asymptotic"
    tab = fit.emmeans("visit", by="arm", ddf=ddf)
    assert tab["visit"].tolist() == ref["visit"] and tab["arm"].tolist() == ref["arm"]
    np.testing.assert_allclose(tab["estimate"], ref["emmean"], rtol=1e-6)
    np.testing.assert_allclose(tab["std_error"], ref["SE"], rtol=1e-6)
    if mode == "asymptotic":
        assert np.isinf(tab["df"]).all()
        np.testing.assert_allclose(tab["conf_low"], ref["asymp.LCL"], rtol=1e-6)
        return
    if case["reml"]:
        np.testing.assert_allclose(tab["df"], ref["df_accurate"], rtol=1e-4)
        np.testing.assert_allclose(tab["df"], ref["df"], rtol=1e-2)
        # the intervals use emmeans' own (fdHess) df
        np.testing.assert_allclose(tab["conf_low"], ref["lower.CL"], rtol=1e-5)
    else:
        L = marginal_means(fit.design, ["visit"], ["arm"], None).L
        np.testing.assert_allclose(_emmeans_ml_df(fit, L), ref["df_accurate"], rtol=1e-4)


@pytest.mark.parametrize("case_id", list(CASES))
@pytest.mark.parametrize("method,adjust", [("pairwise", "tukey"), ("trt.vs.ctrl", "dunnettx")])
def test_contrasts_by_arm(case_id, method, adjust):
    case, _, fit = _fits(case_id)
    ref = case["tables"]["auto"][method]
    assert ("tukey" if adjust == "tukey" else "dunnettx") in ref["adjust"].lower()
    tab = fit.contrast("visit", method, by="arm")
    assert tab.attrs["adjust"] == adjust
    assert tab["contrast"].tolist() == ref["contrast"] and tab["arm"].tolist() == ref["arm"]
    np.testing.assert_allclose(tab["estimate"], ref["estimate"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(tab["std_error"], ref["SE"], rtol=1e-6)
    np.testing.assert_allclose(tab["statistic"], ref["t.ratio"], rtol=1e-6, atol=1e-9)
    if not case["reml"]:
        L = _contrast_L(fit, method)
        np.testing.assert_allclose(_emmeans_ml_df(fit, L), ref["df_accurate"], rtol=1e-4)
        return
    np.testing.assert_allclose(tab["df"], ref["df_accurate"], rtol=1e-4)
    # Tukey and Dunnett p-values and intervals go through emmeans' own (fdHess) df: tight
    # where those are accurate (AR1), as loose as their error where not (UN, ~5e-3)
    exact = np.allclose(ref["df"], ref["df_accurate"], rtol=1e-5)
    tol = 1e-4 if exact else 2e-2
    np.testing.assert_allclose(tab["p_value"], ref["p.value"], rtol=tol, atol=1e-6)
    np.testing.assert_allclose(tab["conf_low"], ref["lower.CL"], rtol=tol / 4, atol=1e-6)


@pytest.mark.parametrize("case_id", list(RANEF))
def test_blups_and_conditional_sds(case_id):
    case = RANEF[case_id]
    structure = bm.residual.AR1(time="visit", group="id")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.errors.SingularFitWarning)
        fit = bm.MixedModel(case["formula"], _data(case["data"]), residual=structure).fit_reml(
            case["reml"]
        )
    assert fit.loglik == pytest.approx(case["logLik"], abs=1e-6)
    tab = fit.ranef()
    assert tab["level"].tolist() == case["level"]
    assert set(tab["group"]) == {"id"} and set(tab["term"]) == {"(Intercept)"}
    np.testing.assert_allclose(tab["estimate"], case["estimate"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(tab["std_error"], case["std_error"], rtol=1e-4)
