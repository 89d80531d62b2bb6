"""Power-scaling sensitivity (bm.prior_sensitivity) against arviz.psens and on known cases."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.bayes.power_scaling import cjs_distance, diagnose
from bayesmixed.errors import ArgumentError

# arviz.psens power-scales by 1/(1 + δ) and 1 + δ; priorsense (our default) by 0.99 and 1.01
ARVIZ_LOWER = 1 / 1.01


@pytest.fixture(scope="module")
def post():
    m = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.sample(draws=400, tune=400, chains=2, random_seed=3, progressbar=False)


def _psens(idata, component, **kw):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return az.psens(idata, component=component, var_names=["beta", "sigma", "sd_Subject"], **kw)


@pytest.mark.parametrize("component", ["prior", "likelihood"])
def test_agrees_with_arviz_psens(post, component):
    tab = bm.prior_sensitivity(post, lower_alpha=ARVIZ_LOWER).set_index("parameter")
    ref = _psens(post.idata, component)
    ours = tab[component]
    np.testing.assert_allclose(
        ours[["(Intercept)", "Days"]].to_numpy(), ref["beta"].values, rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(ours["sigma"], float(ref["sigma"].values), rtol=1e-6)
    np.testing.assert_allclose(
        ours[["sd__(Intercept)|Subject", "sd__Days|Subject"]].to_numpy(),
        ref["sd_Subject"].values,
        rtol=1e-6,
    )


def test_components_scale_only_the_chosen_priors(post):
    tab = bm.prior_sensitivity(post, components="sd", lower_alpha=ARVIZ_LOWER)
    assert tab.attrs["components"] == ["sd__(Intercept)|Subject", "sd__Days|Subject"]
    ref = _psens(post.idata, "prior", component_var_names=["sd_Subject"])
    got = tab.set_index("parameter")["prior"]
    np.testing.assert_allclose(got[["(Intercept)", "Days"]], ref["beta"].values, rtol=1e-6)
    # one named prior is a subset of its class: its log density alone is power-scaled
    one = bm.prior_sensitivity(post, components="sd__Days|Subject")
    assert one.attrs["components"] == ["sd__Days|Subject"]
    assert not np.allclose(one["prior"], tab["prior"])


def test_defaults_are_priorsense_and_table_columns(post):
    tab = bm.prior_sensitivity(post)
    # the BayesFit method is the same computation
    pd.testing.assert_frame_equal(post.prior_sensitivity(), tab)
    assert tab.columns.tolist() == ["parameter", "prior", "likelihood", "diagnosis"]
    assert tab["parameter"].tolist() == [
        "(Intercept)",
        "Days",
        "sd__(Intercept)|Subject",
        "sd__Days|Subject",
        "cor__(Intercept).Days|Subject",
        "sigma",
    ]
    # weakly informative defaults, 180 observations: the data decide
    assert (tab["prior"] < 0.05).all()
    assert (tab["likelihood"] > 0.01).all()
    close = bm.prior_sensitivity(post, lower_alpha=ARVIZ_LOWER)
    np.testing.assert_allclose(tab["prior"], close["prior"], rtol=0.05)


@pytest.mark.parametrize(
    ("priors", "parameter", "diagnosis"),
    [
        # σ is near 50: a half-normal(20) prior pulls it down against 30 observations
        ({"sigma": bm.Prior("halfnormal", sigma=20)}, "sigma", "prior-data conflict"),
        # six batches say little about the mean: a tight prior decides it
        ({"(Intercept)": bm.Prior("normal", mu=1400, sigma=10)}, "(Intercept)",
         "strong prior / weak likelihood"),
    ],
)  # fmt: skip
def test_diagnoses_on_dyestuff(priors, parameter, diagnosis):
    m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = m.sample(draws=400, tune=400, chains=2, random_seed=1, progressbar=False,
                        priors=priors)  # fmt: skip
        tab = bm.prior_sensitivity(post).set_index("parameter")
    assert tab.loc[parameter, "diagnosis"] == diagnosis


def test_diagnosis_rules():
    assert diagnose(0.08, 0.09, 0.05) == "prior-data conflict"
    assert diagnose(0.08, 0.01, 0.05) == "strong prior / weak likelihood"
    assert diagnose(0.01, 0.2, 0.05) == "-"
    assert diagnose(0.01, np.nan, 0.05) == "-"


def test_cjs_distance_is_unsigned_and_zero_for_equal_weights():
    x = np.random.default_rng(2).normal(size=2000)
    assert cjs_distance(x, np.ones_like(x)) < 1e-6
    w = np.exp(0.3 * x)
    assert cjs_distance(x, w) == pytest.approx(cjs_distance(-x, w))


def test_bad_arguments(post):
    with pytest.raises(ArgumentError, match="unknown prior 'sd__x'"):
        bm.prior_sensitivity(post, components="sd__x")
    with pytest.raises(ArgumentError, match="lower_alpha"):
        bm.prior_sensitivity(post, lower_alpha=1.2)


def test_plot(post):
    axes = bm.plots.prior_sensitivity(post, components="sd", parameters=["Days", "sigma"])
    assert axes.shape == (2, 2)
