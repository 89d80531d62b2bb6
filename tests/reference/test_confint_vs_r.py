"""Confidence intervals and bootstrap p-values against R (tests/reference/make_confint.R).

* Profile intervals (lme4's ``confint(fit)``) are computed at lme4's ML θ — lme4 profiles the
  ML deviance, refitting a REML fit by ML first — and must match to 1e-3 relative. lme4
  interpolates its profile by splines between the points it evaluated, so its own limits move
  by up to ~2e-4 with the grid (the REML and ML fits of sleepstudy, the same ML profile, differ
  by 1.3e-5 relative); we solve ζ = ±z exactly and compare with the fine grid
  (``delta.cutoff = 1/64``), and with the default grid to 2e-3.
* Wald intervals (``method = "Wald"``) at lme4's θ of the fit itself, to 1e-6.
* Bootstrap p-values (``bm.anova(bootstrap=)``) against pbkrtest's ``PBmodcomp`` and the exact
  finite-sample null distributions of RLRsim (``exactLRT``, ``exactRLRT``, 10⁵ draws): within
  4 Monte Carlo standard errors of the difference, √(se² + se_R²).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import fit_at_theta, load_data, load_fixture

import bayesmixed as bm

FIX = load_fixture("confint")
CASES = FIX["confint"]
BOOTS = FIX["bootstrap"]
N_SE = 4.0  # tolerance of a bootstrap p-value, in Monte Carlo standard errors


def _r_table(rows):
    """R's rows (.sig01…, .sigma, fixed effects) in confint()'s order: fixed, then ran_pars."""
    sig = [r for r in rows if r["name"].startswith(".sig") and r["name"] != ".sigma"]
    sigma = [r for r in rows if r["name"] == ".sigma"]
    fixed = [r for r in rows if not r["name"].startswith(".sig")]
    out = np.array([[r["low"], r["high"]] for r in fixed + sig + sigma], dtype=float)
    return out, [r["name"] for r in fixed]


def _ml_at_r(case):
    return fit_at_theta(case["formula"], case["data"], case["theta_ml"], reml=False)


@pytest.mark.parametrize("name", list(CASES))
def test_profile_matches_lme4(name):
    case = CASES[name]
    ci = _ml_at_r(case).confint()
    ours = ci[["conf_low", "conf_high"]].to_numpy()
    fine, fixed_names = _r_table(case["profile_fine"])
    assert ci.loc[ci["effect"] == "fixed", "term"].tolist() == fixed_names
    np.testing.assert_allclose(ours, fine, rtol=1e-3, atol=1e-6)
    default, _ = _r_table(case["profile"])
    np.testing.assert_allclose(ours, default, rtol=2e-3, atol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_profile_level_90(name):
    case = CASES[name]
    ci = _ml_at_r(case).confint(level=0.9)
    r, _ = _r_table(case["profile_90"])
    np.testing.assert_allclose(ci[["conf_low", "conf_high"]].to_numpy(), r, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_wald_matches_lme4(name):
    case = CASES[name]
    fit = fit_at_theta(case["formula"], case["data"], case["theta"], reml=case["reml"])
    ci = fit.confint(method="wald")
    r, _ = _r_table(case["wald"])
    fixed = ci["effect"] == "fixed"
    np.testing.assert_allclose(
        ci.loc[fixed, ["conf_low", "conf_high"]].to_numpy(), r[: fixed.sum()], rtol=1e-6
    )
    assert np.isnan(r[fixed.sum() :]).all()
    assert ci.loc[~fixed, ["conf_low", "conf_high"]].isna().all().all()


def _fits(b, reml):
    data = load_data(b["data"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [bm.MixedModel(f, data).fit_reml(reml=reml) for f in (b["small"], b["large"])]


def _boot_p(b, nsim, reml=False, refit=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = bm.anova(*_fits(b, reml), refit=refit, bootstrap=nsim, random_seed=20240501)
    return tab["statistic"].iloc[1], tab["p_bootstrap"].iloc[1], tab["p_bootstrap_se"].iloc[1]


def _within_mc_error(p, se, p_r, se_r):
    assert abs(p - p_r) <= N_SE * np.hypot(se, se_r), (p, se, p_r, se_r)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in BOOTS if "p_pb" in BOOTS[n]])
def test_bootstrap_matches_pbmodcomp(name):
    b = BOOTS[name]
    stat, p, se = _boot_p(b, 1000)
    assert stat == pytest.approx(b["stat"], rel=1e-5)
    # pbkrtest (0.5) reports (1 + #{LRT* > LRT}) / (1 + #{LRT* > 0}), leaving out the
    # replicates on the boundary (LRT* = 0); the p-value over its whole reference
    # distribution, as here, is (1 + #{LRT* >= LRT}) / (N + 1) from the same draws
    p_r = (1 + b["n_extremes"]) / (b["n_ref"] + 1)
    _within_mc_error(p, se, p_r, np.sqrt(p_r * (1 - p_r) / b["n_ref"]))


@pytest.mark.slow
def test_bootstrap_matches_exact_lrt():
    b = BOOTS["dyestuff_intercept"]
    stat, p, se = _boot_p(b, 1000)
    assert stat == pytest.approx(b["exact_lrt_stat"], rel=1e-5)
    p_r = b["exact_lrt_p"]
    _within_mc_error(p, se, p_r, np.sqrt(p_r * (1 - p_r) / b["exact_nsim"]))


@pytest.mark.slow
def test_reml_bootstrap_matches_exact_rlrt():
    """anova(refit=False) compares REML criteria: its bootstrap is of the restricted LRT."""
    b = BOOTS["pastes_batch"]
    stat, p, se = _boot_p(b, 1000, reml=True, refit=False)
    assert stat == pytest.approx(b["exact_rlrt_stat"], rel=1e-5)
    p_r = b["exact_rlrt_p"]
    _within_mc_error(p, se, p_r, np.sqrt(p_r * (1 - p_r) / b["exact_nsim"]))
