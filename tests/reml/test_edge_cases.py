"""Numerical edge cases of the REML/ML fit, against lme4 (tests/reference/make_edge_cases.R).

Each case either fits as lme4 does — the same warnings (a singular fit warns
``SingularFitWarning``, an aliased column ``RankDeficiencyWarning``, nothing else), the
statistics at lme4's θ within the tolerances below, and the same optimum (see
``conftest.assert_same_optimum``) — or warns with advice:

* a variance estimated as exactly zero (lme4's Dyestuff2) and a correlation at +1 and −1;
* nearly collinear predictors: x2 = x1 + 1e-5·z is above lme4's rank tolerance (1e-7
  relative), so both programs fit it with finite, huge SEs; x3 = x1 + 1e-9·z is below it, so
  both drop x3 with a warning;
* 20 clusters of one row among 20 of 15; one cluster of 500 rows among 30 of 1–2; a balanced
  design;
* an optimizer stopped after 5 evaluations warns ``ConvergenceWarning`` with advice.

Tolerances: a decade above the largest relative difference measured at lme4's θ
(``BM_MEASURE=1``), except for the nearly collinear x2, whose X has condition number 2e5: its
criterion and estimates lose about ten digits (estimates and SEs agree to 6e-6), the REML
optimum is flat within that noise (½ΔᵀHΔ = 2e-6 there), and the Satterthwaite df of x1 and x2
(numerical derivatives of a variance of 6e7) are not determined to better than tens of percent
by either program, so for them only finite, positive df are required.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_close, assert_same_optimum, fit_at_theta, load_data, load_fixture

import bayesmixed as bm
from bayesmixed.errors import (
    ConvergenceWarning,
    RankDeficiencyWarning,
    SingularFitWarning,
)
from bayesmixed.reml import OptControl

FITS = load_fixture("edge_cases")["fits"]
IDS = [f"{r['data']}:{r['formula']}|{'REML' if r['REML'] else 'ML'}" for r in FITS]

TOL = {  # measured at lme4's θ (BM_MEASURE=1) × 10, rounded up to a power of ten
    "estimate": 1e-11,  # measured 3.3e-13 (relative to the largest |estimate|)
    "std_error": 1e-11,  # 6.4e-13
    "df": 1e-5,  # 1.5e-7: lmerTest's numerical derivatives
    "sdcor": 1e-12,  # 1.4e-13
    "loglik": 1e-13,  # 1.1e-14
}
# the nearly collinear x2 (condition number of X 2e5): measured 6.3e-6, 3.2e-6, 1.6e-9, 1.1e-8
ILL = {"estimate": 1e-4, "std_error": 1e-4, "sdcor": 1e-8, "loglik": 1e-7}


def _vec(v):
    return np.atleast_1d(np.asarray(v)).tolist()


def _ill_conditioned(ref) -> bool:
    return "x2" in ref["formula"]


def _fit(ref):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = bm.MixedModel(ref["formula"], load_data(ref["data"])).fit_reml(reml=ref["REML"])
    return fit, [w for w in caught if issubclass(w.category, bm.errors.BayesMixedWarning)]


@pytest.mark.parametrize("ref", FITS, ids=IDS)
def test_statistics_at_lme4_theta(ref):
    fit = fit_at_theta(ref["formula"], ref["data"], ref["theta"], ref["REML"])
    tol = ILL if _ill_conditioned(ref) else TOL
    fixed = fit.tidy(effects="fixed")
    assert fixed["term"].tolist() == _vec(ref["term"])
    est = np.asarray(_vec(ref["estimate"]), dtype=float)
    what = "edge_ill" if _ill_conditioned(ref) else "edge"
    assert_close(f"{what}.estimate", fixed["estimate"], est, tol["estimate"], np.abs(est).max())
    assert_close(f"{what}.std_error", fixed["std_error"], _vec(ref["std_error"]), tol["std_error"])
    if _ill_conditioned(ref):
        assert np.all(np.isfinite(fixed["df"]) & (fixed["df"] > 0))
    else:
        assert_close("edge.df", fixed["df"], _vec(ref["df"]), TOL["df"])
    sdcor = np.sort(fit.tidy(effects="ran_pars")["estimate"].to_numpy())
    assert_close(f"{what}.sdcor", sdcor, np.sort(_vec(ref["sdcor"])), tol["sdcor"], 1.0)
    assert_close(f"{what}.loglik", fit.loglik, ref["logLik"], tol["loglik"])
    assert fit.is_singular == ref["singular"]


@pytest.mark.parametrize("ref", FITS, ids=IDS)
def test_fit_warns_as_lme4_and_reaches_its_optimum(ref):
    fit, caught = _fit(ref)
    kinds = sorted({w.category.__name__ for w in caught})
    expect = []
    if ref["singular"]:
        expect.append("SingularFitWarning")
    if ref["dropped"]:
        expect.append("RankDeficiencyWarning")
    assert kinds == sorted(expect), [str(w.message) for w in caught]
    for w in caught:
        if w.category is SingularFitWarning:
            assert "consider simplifying the random part" in str(w.message)
        if w.category is RankDeficiencyWarning:
            msg = str(w.message)
            assert all(c in msg for c in ref["dropped"]) and "remove or recode" in msg
    assert fit.design.dropped == list(ref["dropped"])
    assert fit.is_singular == ref["singular"]
    assert_same_optimum(fit, ref["theta"], curv_tol=1e-5 if _ill_conditioned(ref) else 1e-6)


def test_zero_variance_is_exactly_zero():
    """Dyestuff2: τ̂ = 0 exactly (as lme4), so every random effect is 0 and the ICC undefined."""
    ref = next(r for r in FITS if r["data"] == "Dyestuff2" and r["REML"])
    fit, _ = _fit(ref)
    assert fit.theta.tolist() == [0.0]
    assert np.all(fit.ranef()["estimate"] == 0.0)
    assert fit.singular_parameters == ["Batch.(Intercept)"]


@pytest.mark.parametrize("sign", ["pos", "neg"])
def test_correlation_on_the_boundary(sign):
    ref = next(r for r in FITS if r["formula"].startswith(f"y_{sign}") and r["REML"])
    fit, _ = _fit(ref)
    cor = fit.tidy(effects="ran_pars").set_index("term")["estimate"]["cor__(Intercept).x"]
    assert cor == pytest.approx(1.0 if sign == "pos" else -1.0, abs=1e-12)
    assert fit.theta[2] == 0.0


def test_unconverged_fit_warns_with_advice():
    data = bm.datasets.load("sleepstudy")
    model = bm.MixedModel("Reaction ~ Days + (Days | Subject)", data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = model.fit_reml(control=OptControl(maxeval=5))
    conv = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    assert any("model failed to converge" in m for m in conv), conv
    # every message says what to do
    assert all("consider" in m or "try" in m for m in conv), conv
    assert fit.optinfo["messages"] == conv
