"""Plots of priors: prior_implied (τ, ICC, R² before the data) and the sensitivity grid.

The PNGs are written to tests/_artifacts/ for a person to look at.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import bayesmixed as bm
from bayesmixed.bayes.priors import Prior
from bayesmixed.errors import ArgumentError


@pytest.fixture(scope="module")
def sleep():
    return bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))


def test_prior_implied_panels(sleep, artifacts):
    axes = bm.plots.prior_implied(sleep, draws=1000, random_seed=1, fit=sleep.fit_reml())
    assert [a.get_title() for a in axes] == ["τ (random-effect SDs)", "ICC", "R²"]
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert labels == ["sd__(Intercept)|Subject", "sd__Days|Subject"]
    assert axes[1].get_xlim() == pytest.approx((-0.05, 1.05))
    axes[0].figure.savefig(artifacts / "prior_implied_sleepstudy.png", dpi=80)
    plt.close(axes[0].figure)


def test_prior_implied_follows_the_priors(sleep, artifacts):
    """A tight prior on τ against a wide one on σ moves the prior ICC towards 0."""
    from bayesmixed.views.plots.priors import _prior_components, _shares

    m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    tight = {"sd": Prior("halfnormal", sigma=1.0), "sigma": Prior("halfnormal", sigma=100.0)}
    prior = m.sample_prior_predictive(2000, priors=tight, random_seed=2).prior
    icc_draws = _shares(_prior_components(m.design, prior))[0]
    assert np.median(icc_draws) < 0.01
    axes = bm.plots.prior_implied(m, priors=tight, draws=500, random_seed=2)
    axes[0].figure.savefig(artifacts / "prior_implied_tight.png", dpi=80)
    plt.close(axes[0].figure)
    with pytest.raises(ArgumentError, match="3 Axes|3 panels"):
        bm.plots.prior_implied(m, draws=100, ax=plt.subplots(1, 2)[1])
    plt.close("all")


def test_prior_implied_needs_random_effects():
    m = bm.MixedModel("Yield ~ 1", bm.datasets.load("Dyestuff"))
    with pytest.raises(ArgumentError, match="random effects"):
        bm.plots.prior_implied(m)


@pytest.mark.slow
def test_sensitivity_grid_plot(artifacts):
    m = bm.MixedModel("Reaction ~ Days + (1 | Subject)", bm.datasets.load("sleepstudy"))
    priors = {
        "sd__(Intercept)|Subject": [
            Prior("halfnormal", sigma=40),
            Prior("exponential", lam=0.05),
            Prior("inversegamma", alpha=1, beta=1, on="variance"),
        ]
    }
    res = bm.sensitivity(m, priors, draws=300, tune=300, chains=2, random_seed=3,
                         progressbar=False)  # fmt: skip
    axes = res.plot()
    assert axes.shape == (3, 3)
    assert axes[0, 2].get_title() == "γ: Days"
    assert axes[0, 0].get_title() == "τ: sd__(Intercept)|Subject"
    axes[0, 0].figure.savefig(artifacts / "sensitivity_grid_sleepstudy.png", dpi=80)
    plt.close("all")
    axes = bm.plots.sensitivity_grid(res, tau="sigma", gamma="(Intercept)")
    assert axes[0, 0].get_title() == "τ: sigma"
    plt.close("all")
    with pytest.raises(ArgumentError, match="not an SD"):
        bm.plots.sensitivity_grid(res, tau="sd__Days|Subject")
    with pytest.raises(ArgumentError, match="not a fixed effect"):
        bm.plots.sensitivity_grid(res, gamma="age")
