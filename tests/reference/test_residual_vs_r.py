"""Residual covariance structures against R (nlme's gls/lme, or a dense Gaussian likelihood
for AD and by= structures): tests/reference/fixtures/residual.json, made by
tests/reference/make_residual.R.

Tolerances: logLik, AIC, BIC 1e-4 absolute; covariance parameters, σ, the implied T×T
covariance and fixed effects 1e-5 relative; standard errors 1e-4 relative; Satterthwaite df
1e-4 relative; Kenward–Roger df and SEs (CS against lmer + pbkrtest) 1e-4 relative.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm

HERE = Path(__file__).parent
FIXTURE = HERE / "fixtures" / "residual.json"
CASES = json.loads(FIXTURE.read_text())["cases"] if FIXTURE.exists() else []

pytestmark = pytest.mark.skipif(not CASES, reason="residual.json fixture not present")


@cache
def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(HERE / "data" / f"{name}.csv", dtype={"id": str})


@cache
def _fit(case_id: str):
    case = next(c for c in CASES if c["id"] == case_id)
    structure = getattr(bm.residual, case["structure"])(
        time=case["time"], group=case["group"], by=case["by"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.errors.SingularFitWarning)
        model = bm.MixedModel(case["formula"], _data(case["data"]), residual=structure)
        return case, model.fit_reml(reml=case["reml"])


IDS = [c["id"] for c in CASES]


@pytest.mark.parametrize("case_id", IDS)
def test_likelihood(case_id):
    case, fit = _fit(case_id)
    g = fit.glance().iloc[0]
    assert int(g["npar"]) == case["npar"]
    assert g["logLik"] == pytest.approx(case["logLik"], abs=1e-4)
    assert g["AIC"] == pytest.approx(case["AIC"], abs=1e-4)
    assert g["BIC"] == pytest.approx(case["BIC"], abs=1e-4)
    assert g["sigma"] == pytest.approx(case["sigma"], rel=1e-5)


@pytest.mark.parametrize("case_id", IDS)
def test_fixed_effects(case_id):
    case, fit = _fit(case_id)
    tab = fit.tidy(effects="fixed").set_index("term")
    fx = case["fixef"]
    assert list(tab.index) == fx["term"]
    np.testing.assert_allclose(tab["estimate"], fx["estimate"], rtol=1e-5, atol=1e-7)
    se = np.asarray(fx["std_error"])
    if fit.design.terms and not case["reml"]:
        # the fixture takes lme's vcov() (varFix, σ̂²_ML); nlme's summary.lme (adjustSigma =
        # TRUE) and gls' vcov() scale ML fits by N / (N − p), as bayesmixed does throughout
        se = se * np.sqrt(fit.n / (fit.n - fit.design.p))
    np.testing.assert_allclose(tab["std_error"], se, rtol=1e-4)


@pytest.mark.parametrize("case_id", IDS)
def test_covariance_parameters(case_id):
    case, fit = _fit(case_id)
    tab = fit.tidy(effects="ran_pars")
    rp = case["ran_pars"]
    assert list(zip(tab["group"], tab["term"], strict=True)) == list(
        zip(rp["group"], rp["term"], strict=True)
    )
    np.testing.assert_allclose(tab["estimate"], rp["estimate"], rtol=1e-5, atol=1e-6)


def _complete_subject(fit, level: str | None) -> str:
    rd = fit.rd
    T = len(rd.time_levels)
    for code, name in enumerate(rd.subjects):
        rows = rd.subject_codes == code
        if rows.sum() == T and (level is None or rd.by_levels[rd.by_codes[rows][0]] == level):
            return name
    raise AssertionError("no subject observed at every visit")


@pytest.mark.parametrize("case_id", IDS)
def test_implied_covariance(case_id):
    case, fit = _fit(case_id)
    cov = case["cov"]
    blocks = [(None, cov["matrix"])]
    if "by" in cov and isinstance(cov["by"], dict):
        blocks = list(zip(cov["by"]["level"], cov["by"]["matrix"], strict=True))
    for level, matrix in blocks:
        subject = cov.get("subject") or _complete_subject(fit, level)
        got = fit.residual_cov(subject)
        assert [float(t) if not isinstance(t, str) else t for t in cov["times"]] == [
            float(t) if not isinstance(cov["times"][0], str) else t for t in got.index
        ]
        np.testing.assert_allclose(got.to_numpy(), np.asarray(matrix), rtol=1e-5, atol=1e-7)


DF_IDS = [c["id"] for c in CASES if c.get("df")]


@pytest.mark.parametrize("case_id", DF_IDS)
def test_satterthwaite_df(case_id):
    case, fit = _fit(case_id)
    want = case["df"].get("satterthwaite")
    if want is None:
        pytest.skip("no Satterthwaite df in the fixture")
    got = fit.tidy(effects="fixed", ddf="satterthwaite")["df"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4)


KR_IDS = [c["id"] for c in CASES if c.get("df") and "kenward_roger" in c["df"]]


def _lmer_scale(fit):
    """CS as lmer's random intercept: (τ², σ²_e) = (σ²ρ, σ²(1 − ρ)), from ω = (log σ², u)."""
    cov = fit.criterion_fn.cov

    def to_lmer(omega):
        s2, rho = np.exp(omega[0]), cov.rho(omega[1:])
        return np.array([s2 * rho, s2 * (1.0 - rho)])

    return to_lmer


@pytest.mark.parametrize("case_id", KR_IDS)
def test_kenward_roger_against_lmer(case_id):
    """CS with ρ ≥ 0 is lmer's random-intercept model. On lmer's (τ², σ²_e), where V is
    linear, the KR df and adjusted SEs are pbkrtest's (1e-4 relative; ~1e-8 seen). The df
    do not depend on the parameterization; the natural scale (σ², ρ) adds the second
    derivative ∂²V/∂σ²∂ρ = J − I, which moves the SEs by about 0.6% here."""
    from bayesmixed.reml.gls.kenward_roger import GLSKenwardRoger

    case, fit = _fit(case_id)
    want_df = np.asarray(case["df"]["kenward_roger"])
    want_se = np.asarray(case["df"]["std_error_kr"])
    lmer = GLSKenwardRoger(fit, transform=_lmer_scale(fit))
    np.testing.assert_allclose(lmer.df(), want_df, rtol=1e-4)
    np.testing.assert_allclose(lmer.std_errors(), want_se, rtol=1e-4)
    # the default (natural scale): same df, SEs within 1% and never below the linear ones
    tab = fit.tidy(effects="fixed", ddf="kenward-roger")
    np.testing.assert_allclose(tab["df"], want_df, rtol=1e-4)
    np.testing.assert_allclose(tab["std_error"], want_se, rtol=1e-2)
    np.testing.assert_allclose(GLSKenwardRoger(fit, linear=True).std_errors(), want_se, rtol=1e-4)
