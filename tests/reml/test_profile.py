"""Profile-likelihood intervals (reml/profile.py) and REMLFit.confint's three methods."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

import bayesmixed as bm
from bayesmixed.errors import ArgumentError
from bayesmixed.reml.confint import CONFINT_COLUMNS
from bayesmixed.reml.profile import _Profiler, sdcor_from_theta, theta_from_sdcor
from bayesmixed.reml.simulate import boot_percentile


@pytest.fixture(scope="module")
def sleep():
    d = bm.datasets.load("sleepstudy")
    return bm.MixedModel("Reaction ~ Days + (Days | Subject)", d)


@pytest.fixture(scope="module")
def sleep_reml(sleep):
    return sleep.fit_reml()


def test_sdcor_theta_round_trip(sleep_reml):
    d = sleep_reml.design
    v = sdcor_from_theta(d, sleep_reml.theta, sleep_reml.sigma)
    sd, cor = np.sqrt(np.diag(sleep_reml.covs[0])), sleep_reml.varcorr()["Subject"]
    np.testing.assert_allclose(v[[0, 2]], sd, rtol=1e-12)
    np.testing.assert_allclose(v[1], cor.iloc[0, 1] / (sd[0] * sd[1]), rtol=1e-12)
    np.testing.assert_allclose(theta_from_sdcor(d, v), sleep_reml.theta, rtol=1e-12)
    # a correlation of ±1 and an SD of 0 are valid (semi-definite) points; |cor| > 1 is not
    assert theta_from_sdcor(d, np.array([20.0, 1.0, 5.0, 25.0])) is not None
    assert theta_from_sdcor(d, np.array([0.0, 0.3, 5.0, 25.0])) is not None
    assert theta_from_sdcor(d, np.array([20.0, 1.2, 5.0, 25.0])) is None


def test_limits_solve_the_profile(sleep):
    """At each limit the profiled ML deviance is the minimum plus z² (the definition)."""
    ml = sleep.fit_reml(reml=False)
    prof = _Profiler(ml.design, ml.theta, ml.sigma, ml.beta)
    q = stats.norm.ppf(0.975)
    ci = ml.confint()
    ran = ci[ci["effect"] == "ran_pars"][["conf_low", "conf_high"]].to_numpy()
    for j, (lo, hi) in enumerate(ran):
        for c in (lo, hi):
            f, _ = prof._zeta_var(j, c, prof.vhat)
            assert f - prof.dev0 == pytest.approx(q**2, abs=1e-5)
    fixed = ci[ci["effect"] == "fixed"][["conf_low", "conf_high"]].to_numpy()
    for j, (lo, hi) in enumerate(fixed):
        for c in (lo, hi):
            f, _ = prof._zeta_fixed(j, c, prof.theta)
            assert f - prof.dev0 == pytest.approx(q**2, abs=1e-5)


def test_reml_fit_profiles_its_ml_refit(sleep, sleep_reml):
    """As lme4 (devfun2 calls refitML): the intervals of a REML fit are its ML refit's."""
    a = sleep_reml.confint()
    b = sleep.fit_reml(reml=False).confint()
    assert a.columns.tolist() == CONFINT_COLUMNS
    np.testing.assert_allclose(
        a[["conf_low", "conf_high"]], b[["conf_low", "conf_high"]], atol=1e-5
    )


def test_wald_and_tidy(sleep_reml):
    w = sleep_reml.confint(method="Wald", level=0.9)
    se = np.sqrt(np.diag(sleep_reml.vcov()))
    z = stats.norm.ppf(0.95)
    fixed = w[w["effect"] == "fixed"]
    np.testing.assert_allclose(fixed["conf_low"], sleep_reml.beta - z * se, rtol=1e-12)
    assert w[w["effect"] == "ran_pars"][["conf_low", "conf_high"]].isna().all().all()
    tab = sleep_reml.tidy(conf_int=True)
    prof = sleep_reml.confint()
    ran = tab["effect"] == "ran_pars"
    np.testing.assert_allclose(
        tab.loc[ran, ["conf_low", "conf_high"]], prof.loc[ran, ["conf_low", "conf_high"]]
    )
    # fixed rows keep the t intervals (Satterthwaite df)
    t = tab[~ran]
    q = stats.t.ppf(0.975, t["df"])
    np.testing.assert_allclose(t["conf_low"], t["estimate"] - q * t["std_error"], rtol=1e-12)


def test_singular_fit_has_lower_limit_zero():
    m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff2"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = m.fit_reml()
    ci = fit.confint()
    row = ci[ci["term"] == "sd__(Intercept)"].iloc[0]
    assert row["conf_low"] == 0.0 and row["conf_high"] > 1


def test_boot_intervals_are_reproducible(sleep_reml):
    a = sleep_reml.confint(method="boot", nsim=24, random_seed=5)
    b = sleep_reml.confint(method="boot", nsim=24, random_seed=5)
    pd_cols = ["conf_low", "conf_high"]
    np.testing.assert_array_equal(a[pd_cols], b[pd_cols])
    assert (a["conf_low"] < a["conf_high"]).all()
    # percentile intervals bracket the estimates for this well-determined model
    est = sleep_reml.tidy()["estimate"].to_numpy()
    assert ((a["conf_low"] < est) & (est < a["conf_high"])).all()


def test_boot_percentile_matches_boot_ci():
    # boot::boot.ci(type = "perc") of t = 1..99 at 90%: norm.inter at (R+1)α = 5 and 95
    lo, hi = boot_percentile(np.arange(1.0, 100.0), 0.9)
    assert lo == pytest.approx(5.0) and hi == pytest.approx(95.0)
    # R = 10, α = 0.025: (R+1)α = 0.275 → the smallest value
    assert boot_percentile(np.arange(10.0), 0.95) == (0.0, 9.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "bayes"}, "method must be"),
        ({"level": 1.5}, "level must be"),
        ({"method": "boot", "nsim": 1}, "nsim must be"),
    ],
)
def test_confint_bad_arguments(sleep_reml, kwargs, match):
    with pytest.raises(ArgumentError, match=match):
        sleep_reml.confint(**kwargs)
