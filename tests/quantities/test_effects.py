"""Effect sizes (§8) against R (primer_effects.json, make_primer_fixtures.R) and by hand.

f² marginal: performance::r2_nakagawa on the full and reduced lmer fits, to 1e-4.
f² conditional: against the same R² computed in R with Johnson's variance over every term
(``*_johnson``); performance itself drops the random slope of a variable that is no longer a
fixed effect (the reduced sleepstudy model), which is checked separately.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import load_data, load_fixture
from draws_stub import perturbed_draws, repeated_draws

import bayesmixed as bm
from bayesmixed.errors import ArgumentError
from bayesmixed.quantities import effects
from bayesmixed.results.draws import Posterior

CASES = load_fixture("primer_effects")["cases"]
_FITS: dict[str, tuple] = {}


def fits(name: str):
    if name not in _FITS:
        c = CASES[name]
        data = load_data(c["data"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full = bm.MixedModel(c["full"], data).fit_reml(reml=c["REML"])
            red = bm.MixedModel(c["reduced"], data).fit_reml(reml=c["REML"])
        _FITS[name] = (c, full, red)
    return _FITS[name]


@pytest.mark.parametrize("name", list(CASES))
def test_f2_marginal_vs_r(name):
    c, full, red = fits(name)
    out = effects.cohens_f2(full, reduced=red)
    assert out["r2"] == "marginal"
    assert out["f2"] == pytest.approx(c["f2_marginal"], abs=1e-4)
    assert out["r2_full"] == pytest.approx(c["r2_full"]["marginal"], abs=1e-4)
    assert out["r2_reduced"] == pytest.approx(c["r2_reduced"]["marginal"], abs=1e-4)


@pytest.mark.parametrize("name", list(CASES))
def test_f2_by_refit_equals_explicit_reduced(name):
    c, full, red = fits(name)
    a = effects.cohens_f2(full, c["term"])
    b = effects.cohens_f2(full, reduced=red)
    assert a["f2"] == pytest.approx(b["f2"], rel=1e-6, abs=1e-9)
    assert a["term"] == c["term"]


@pytest.mark.parametrize("name", list(CASES))
def test_f2_conditional_vs_r(name):
    c, full, red = fits(name)
    out = effects.cohens_f2(full, reduced=red, r2="conditional")
    assert out["f2"] == pytest.approx(c["f2_conditional_johnson"], abs=1e-4)
    perf_agrees = abs(c["f2_conditional"] - c["f2_conditional_johnson"]) < 1e-8
    if perf_agrees:
        assert out["f2"] == pytest.approx(c["f2_conditional"], abs=1e-4)
    else:
        # performance: the reduced model's random slope on Days is not a fixed effect any
        # more, so insight leaves its variance out of var.random
        assert name == "sleepstudy_days"


def _varcorr(rows, grp, var1):
    for r in rows:
        if r["grp"] == grp and r["var1"] == var1 and r["var2"] is None:
            return r["vcov"]
    raise KeyError((grp, var1))


@pytest.mark.parametrize(
    "name, group", [("three_level_null", "school"), ("three_level_null", "class:school")]
)
def test_pcv_and_d_tau_vs_r(name, group):
    c, full, red = fits(name)
    tf = _varcorr(c["varcorr_full"], group, "(Intercept)")
    tr = _varcorr(c["varcorr_reduced"], group, "(Intercept)")
    out = effects.variance_change(full, red, group)
    assert out["var_full"] == pytest.approx(tf, rel=1e-4)
    assert out["var_reduced"] == pytest.approx(tr, rel=1e-4)
    assert out["pcv"] == pytest.approx((tr - tf) / tr, abs=1e-4)
    total_red = sum(c["johnson_reduced"].values()) + _varcorr(
        c["varcorr_reduced"], "Residual", None
    )
    assert out["d_tau"] == pytest.approx((tr - tf) / total_red, abs=1e-4)
    assert effects.pcv(full, red, group) == out["pcv"]
    assert effects.d_tau(full, red, group) == out["d_tau"]


def test_pcv_residual_and_d_tau_sum():
    c, full, red = fits("three_level_null")
    groups = ["school", "class:school", "Residual"]
    d = [effects.d_tau(full, red, g) for g in groups]
    # the d_τ of all components add up to the total proportional reduction of variance
    vf = bm.variance.variance_components(full)
    vr = bm.variance.variance_components(red)
    tot_f = vf["var_random"] + vf["var_residual"]
    tot_r = vr["var_random"] + vr["var_residual"]
    assert sum(d) == pytest.approx((tot_r - tot_f) / tot_r, rel=1e-10)


def test_standardized_effect():
    data = bm.datasets.load("sleepstudy")
    fit = bm.MixedModel("Reaction ~ Days + (1 | Subject)", data).fit_reml()
    g = fit.fixef()["Days"]
    tau = fit.varcorr()["Subject"].iloc[0, 0]
    s2 = fit.sigma**2
    assert effects.standardized_effect(fit, "Days") == pytest.approx(g / np.sqrt(tau + s2))
    assert effects.standardized_effect(fit, "Days", scale="within") == pytest.approx(
        g / np.sqrt(s2)
    )
    assert effects.standardized_effect(fit, "Days", scale="between") == pytest.approx(
        g / np.sqrt(tau)
    )
    with pytest.raises(ArgumentError, match="choose one of"):
        effects.standardized_effect(fit, "days")
    with pytest.raises(ArgumentError, match="scale"):
        effects.standardized_effect(fit, "Days", scale="pooled")


def test_ols_f2_is_partial_f_effect_size():
    data = load_data("sim_unbalanced")
    full = bm.MixedModel("y ~ x + w", data).fit_reml()
    red = bm.MixedModel("y ~ x", data).fit_reml()
    out = effects.cohens_f2(full, "w")
    assert out["f2"] == pytest.approx((red.rss - full.rss) / full.rss, rel=1e-10)
    assert effects.cohens_f2(full, reduced=red)["f2"] == pytest.approx(out["f2"], rel=1e-12)


def test_draws_path():
    _, full, red = fits("three_level_z")
    same = effects.cohens_f2(repeated_draws(full, 3), reduced=repeated_draws(red, 3))
    ref = effects.cohens_f2(full, reduced=red)
    assert isinstance(same["f2"], Posterior)
    assert same["f2"].mean == pytest.approx(ref["f2"], rel=1e-10)
    post_f, post_r = perturbed_draws(full, 80, seed=1), perturbed_draws(red, 80, seed=2)
    out = effects.cohens_f2(post_f, reduced=post_r)
    assert out["f2"].draws.shape == (80,)
    v = effects.variance_change(post_f, post_r, "school")
    assert isinstance(v["pcv"], Posterior) and isinstance(v["d_tau"], Posterior)
    # a REML fit pairs with every draw of a posterior
    mixed = effects.variance_change(full, post_r, "school")
    assert mixed["pcv"].draws.shape == (80,)
    mixed = effects.variance_change(post_f, red, "school")
    assert mixed["d_tau"].draws.shape == (80,)
    with pytest.raises(ArgumentError, match=r"variance_change\(\).*draws \(80 and 50\)"):
        effects.variance_change(post_f, perturbed_draws(red, 50), "school")
    with pytest.raises(ArgumentError, match="different numbers of posterior draws"):
        effects.cohens_f2(post_f, reduced=perturbed_draws(red, 50))
    with pytest.raises(ArgumentError, match="cannot be refitted"):
        effects.cohens_f2(post_f, "z")
    assert isinstance(effects.standardized_effect(post_f, "z"), Posterior)


def test_errors():
    _, full, red = fits("three_level_z")
    with pytest.raises(ArgumentError, match="not a fixed-effect term.*sector"):
        effects.cohens_f2(full, "w")
    with pytest.raises(ArgumentError, match="term="):
        effects.cohens_f2(full)
    with pytest.raises(ArgumentError, match="r2"):
        effects.cohens_f2(full, "z", r2="adjusted")
    with pytest.raises(ArgumentError, match="no variance component.*school"):
        effects.pcv(full, red, "classroom")
    with pytest.raises(ArgumentError, match="fitted model"):
        effects.reduced_fit(pd.DataFrame(), "z")


def test_reduced_fit_keeps_random_part_and_criterion():
    _, full, _ = fits("unbalanced_x_ml")
    red = effects.reduced_fit(full, "x")
    assert red.reml is False
    assert [t.name for t in red.design.terms] == [t.name for t in full.design.terms]
    assert red.design.xnames == ["(Intercept)"]
    two = effects.reduced_fit(fits("three_level_z")[1], "x + z")
    assert "x" not in two.design.xnames and "z" not in two.design.xnames
