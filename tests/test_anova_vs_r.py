"""F tables of the fixed-effect terms (``fit.anova()``) against lmerTest's ``anova(fit, type=)``
(tests/reference/make_anova.R): type III (Goodnight/SAS hypotheses) and type I (sequential),
Satterthwaite denominator df.

Tolerances: F and sums of squares 5e-5 relative, Satterthwaite df 1e-4 relative
(numerical derivatives on both sides), p-values 1e-3 relative. F depends on θ through V(β̂); on BodyWeight's
``(Time | Rat)`` the REML criterion is flat enough that lme4 (even converged with rhoend =
1e-12) stops 5e-6 (relative) away from bayesmixed's θ, whose criterion is 4e-10 lower, which
moves F by 1e-5. Every other case agrees to 1e-7.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import load_data, load_fixture

import bayesmixed as bm
from bayesmixed.errors import ArgumentError

CASES = load_fixture("anova_f")["cases"]
_FITS: dict = {}


def _fit(data: str, formula: str):
    if (data, formula) not in _FITS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITS[(data, formula)] = bm.MixedModel(formula, load_data(data)).fit_reml()
    return _FITS[(data, formula)]


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c['data']}:{c['formula']}|type{c['type']}" for c in CASES]
)
def test_anova_matches_lmertest(case):
    tab = _fit(case["data"], case["formula"]).anova(type=case["type"])
    # one-term tables come back from R's JSON as scalars
    case = {k: np.atleast_1d(v).tolist() if k != "data" else v for k, v in case.items()}
    assert tab["term"].tolist() == case["term"]
    assert tab["num_df"].tolist() == case["num_df"]
    for col in ["sum_sq", "mean_sq", "statistic"]:
        np.testing.assert_allclose(tab[col], case[col], rtol=5e-5, err_msg=col)
    np.testing.assert_allclose(tab["den_df"], case["den_df"], rtol=1e-4)
    # p-values of 1e-8 move 2e-4 (relative) with the 1e-5 F difference above
    np.testing.assert_allclose(tab["p_value"], case["p_value"], rtol=1e-3, atol=1e-300)


def test_type_argument_is_checked():
    fit = _fit("sleepstudy", "Reaction ~ Days + (Days | Subject)")
    assert fit.anova("III").equals(fit.anova(3))
    with pytest.raises(ArgumentError, match="type=2"):
        fit.anova(type=2)


KR = load_fixture("anova_f")["kr"]


def _vec(v):
    return np.atleast_1d(np.asarray(v, dtype=object)).tolist()


@pytest.mark.parametrize("case", KR, ids=[f"{c['data']}:{c['formula']}" for c in KR])
def test_kenward_roger_matches_pbkrtest(case):
    """lmerTest's summary/anova with ddf="Kenward-Roger" (pbkrtest 0.5): adjusted covariance
    1e-5 relative; SEs, t, F 5e-5 relative and df 1e-4 relative (the same flat-criterion caveat
    as above applies to BodyWeight); p-values 1e-3 relative."""
    fit = _fit(case["data"], case["formula"])
    p = fit.design.p
    np.testing.assert_allclose(
        fit.kenward_roger.PhiA, np.array(case["vcov_adj"], dtype=float).reshape(p, p), rtol=1e-5
    )
    tab = fit.tidy(effects="fixed", ddf="Kenward-Roger")
    co = {k: _vec(v) for k, v in case["coef"].items()}
    assert tab["term"].tolist() == co["term"]
    np.testing.assert_allclose(tab["estimate"], co["estimate"], rtol=1e-5)
    for col in ["std_error", "statistic"]:
        np.testing.assert_allclose(tab[col], co[col], rtol=5e-5, err_msg=col)
    np.testing.assert_allclose(tab["df"], co["df"], rtol=1e-4)
    np.testing.assert_allclose(tab["p_value"], co["p_value"], rtol=1e-3, atol=1e-300)
    an = fit.anova(ddf="Kenward-Roger")
    ref = {k: _vec(v) for k, v in case["anova"].items()}
    assert an["term"].tolist() == ref["term"]
    if not ref["term"]:
        return
    for col in ["sum_sq", "mean_sq", "statistic"]:
        np.testing.assert_allclose(an[col], ref[col], rtol=5e-5, err_msg=col)
    np.testing.assert_allclose(an["den_df"], ref["den_df"], rtol=1e-4)
    np.testing.assert_allclose(an["p_value"], ref["p_value"], rtol=1e-3, atol=1e-300)


def test_kenward_roger_needs_reml():
    fit = bm.MixedModel(
        "Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy")
    ).fit_reml(reml=False)
    with pytest.raises(ArgumentError, match="only available for REML"):
        fit.tidy(ddf="Kenward-Roger")
    with pytest.raises(ArgumentError, match="ddf='bogus'"):
        fit.anova(ddf="bogus")
