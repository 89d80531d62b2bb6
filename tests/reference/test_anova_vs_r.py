"""F tables of the fixed-effect terms (``fit.anova()``) against lmerTest's ``anova(fit, type=)``
(tests/reference/make_anova.R): type III (Goodnight/SAS hypotheses) and type I (sequential),
Satterthwaite and Kenward-Roger denominator df.

What is computed and where an optimizer stops are tested apart. Every table is computed at
lme4's own θ (stored in the fixture), so the tolerances below are those of the computation:
Kenward-Roger (analytic on both sides) 1e-9 relative; F and sums of squares 1e-6 relative
(the type III hypothesis matrices agree to 1e-7); Satterthwaite df 1e-5 relative (lmerTest
differentiates numerically, errors about 1e-6); p-values 1e-4 relative. Whether both
optimizers found the same optimum is tested separately (``test_optimum_matches_lme4``) with
a tolerance derived from the criterion's curvature.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_same_optimum, load_data, load_fixture

import bayesmixed as bm
from bayesmixed.errors import ArgumentError
from bayesmixed.reml.optimize import fit_lmm_at

CASES = load_fixture("anova_f")["cases"]
_FITS: dict = {}


def _fit(data: str, formula: str, theta=None):
    """The REML fit at lme4's θ when given (no optimizer involved), else our optimum."""
    key = (data, formula, None if theta is None else tuple(np.atleast_1d(theta)))
    if key not in _FITS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = bm.MixedModel(formula, load_data(data))
            _FITS[key] = model.fit_reml() if theta is None else fit_lmm_at(model.design, theta)
    return _FITS[key]


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c['data']}:{c['formula']}|type{c['type']}" for c in CASES]
)
def test_anova_matches_lmertest(case):
    tab = _fit(case["data"], case["formula"], case["theta"]).anova(type=case["type"])
    # one-term tables come back from R's JSON as scalars
    case = {k: np.atleast_1d(v).tolist() if k != "data" else v for k, v in case.items()}
    assert tab["term"].tolist() == case["term"]
    assert tab["num_df"].tolist() == case["num_df"]
    for col in ["sum_sq", "mean_sq", "statistic"]:
        np.testing.assert_allclose(tab[col], case[col], rtol=1e-6, err_msg=col)
    np.testing.assert_allclose(tab["den_df"], case["den_df"], rtol=1e-5)
    np.testing.assert_allclose(tab["p_value"], case["p_value"], rtol=1e-4, atol=1e-300)


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
    """lmerTest's summary/anova with ddf="Kenward-Roger" (pbkrtest 0.5) at lme4's θ: adjusted
    covariance, SEs, t, df 1e-9 relative; F tables as in the module docstring."""
    fit = _fit(case["data"], case["formula"], case["theta"])
    p = fit.design.p
    np.testing.assert_allclose(
        fit.kenward_roger.PhiA, np.array(case["vcov_adj"], dtype=float).reshape(p, p), rtol=1e-9
    )
    tab = fit.tidy(effects="fixed", ddf="Kenward-Roger")
    co = {k: _vec(v) for k, v in case["coef"].items()}
    assert tab["term"].tolist() == co["term"]
    for col in ["estimate", "std_error", "statistic", "df"]:
        np.testing.assert_allclose(tab[col], co[col], rtol=1e-9, err_msg=col)
    np.testing.assert_allclose(tab["p_value"], co["p_value"], rtol=1e-6, atol=1e-300)
    an = fit.anova(ddf="Kenward-Roger")
    ref = {k: _vec(v) for k, v in case["anova"].items()}
    assert an["term"].tolist() == ref["term"]
    if not ref["term"]:
        return
    for col in ["sum_sq", "mean_sq", "statistic"]:
        np.testing.assert_allclose(an[col], ref[col], rtol=1e-6, err_msg=col)
    np.testing.assert_allclose(an["den_df"], ref["den_df"], rtol=1e-9)
    np.testing.assert_allclose(an["p_value"], ref["p_value"], rtol=1e-4, atol=1e-300)


@pytest.mark.parametrize("case", KR, ids=[f"{c['data']}:{c['formula']}" for c in KR])
def test_optimum_matches_lme4(case):
    """Our REML optimum against lme4's (bobyqa, rhoend = 1e-12): see
    ``conftest.assert_same_optimum`` (on BodyWeight, where the criterion is flattest, |Δθ| is
    5e-5 and ½ Δ'HΔ about 4e-10)."""
    assert_same_optimum(_fit(case["data"], case["formula"]), case["theta"])


def test_kenward_roger_needs_reml():
    fit = bm.MixedModel(
        "Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy")
    ).fit_reml(reml=False)
    with pytest.raises(ArgumentError, match="only available for REML"):
        fit.tidy(ddf="Kenward-Roger")
    with pytest.raises(ArgumentError, match="ddf='bogus'"):
        fit.anova(ddf="bogus")
