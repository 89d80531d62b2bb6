"""Every plot renders (REML and posterior draws) and is saved to tests/_artifacts/*.png."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import load_data  # noqa: E402
from draws_stub import perturbed_draws  # noqa: E402

import bayesmixed as bm  # noqa: E402
from bayesmixed.errors import ArgumentError, ColumnError  # noqa: E402
from bayesmixed.views import plots  # noqa: E402


@pytest.fixture(scope="module")
def sleep_fit():
    return bm.MixedModel(
        "Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy")
    ).fit_reml()


@pytest.fixture(scope="module")
def sleep_post(sleep_fit):
    return perturbed_draws(sleep_fit, 300, seed=4)


@pytest.fixture(scope="module")
def unbalanced_fit():
    return bm.MixedModel("y ~ x + (1 | g)", load_data("sim_unbalanced")).fit_reml()


def save(obj, artifacts, name):
    ax = obj[0] if isinstance(obj, (list, np.ndarray)) else obj
    fig = ax.figure
    path = artifacts / f"{name}.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    assert path.stat().st_size > 5_000
    return path


def test_data_lines(artifacts):
    d = bm.datasets.load("sleepstudy")
    ax = plots.data_lines(d, "Days", "Reaction")
    assert ax.get_xlabel() == "Days" and ax.get_legend() is not None
    save(ax, artifacts, "data_lines_ols")
    save(plots.data_lines(d, "Days", "Reaction", group="Subject"), artifacts, "data_lines_groups")
    few = d[d["Subject"].isin([308, 309, 330, 337])]
    ax = plots.data_lines(few, "Days", "Reaction", group="Subject")
    assert len(ax.collections) >= 8  # 4 scatters + 4 bands
    save(ax, artifacts, "data_lines_bands")
    with pytest.raises(ColumnError, match="x='day'"):
        plots.data_lines(d, "day", "Reaction")
    with pytest.raises(ArgumentError, match="bands"):
        plots.data_lines(d, "Days", "Reaction", bands="all")


def test_pooling_plots(artifacts, sleep_fit, sleep_post, unbalanced_fit):
    ax = plots.pooling(unbalanced_fit)
    assert ax.get_ylabel() == "(Intercept)"
    save(ax, artifacts, "pooling_intercept")
    save(plots.pooling(sleep_fit, ("(Intercept)", "Days")), artifacts, "pooling_2d")
    save(plots.pooling(sleep_post, "Days"), artifacts, "pooling_days_bayes")
    save(plots.pooling_weights(unbalanced_fit), artifacts, "pooling_weights")
    save(
        plots.pooling_weights(perturbed_draws(unbalanced_fit, 200)),
        artifacts,
        "pooling_weights_bayes",
    )
    with pytest.raises(ArgumentError, match="choose one of"):
        plots.pooling(sleep_fit, "days")


def test_caterpillar(artifacts, sleep_fit, sleep_post):
    axes = plots.caterpillar(sleep_fit)
    assert len(axes) == 2
    save(axes, artifacts, "caterpillar_reml")
    save(plots.caterpillar(sleep_post), artifacts, "caterpillar_bayes")
    fig, ax = plt.subplots()
    out = plots.caterpillar(sleep_fit, term="Days", ax=ax)
    assert out is ax
    plt.close(fig)
    with pytest.raises(ArgumentError, match="2 panels"):
        plots.caterpillar(sleep_fit, ax=plt.subplots()[1])
    pen = bm.MixedModel("diameter ~ 1 + (1 | plate) + (1 | sample)", bm.datasets.load("Penicillin"))
    pen = pen.fit_reml()
    with pytest.raises(ArgumentError, match="group="):
        plots.caterpillar(pen)
    save(plots.caterpillar(pen, group="plate"), artifacts, "caterpillar_penicillin")


def test_trajectories(artifacts, sleep_fit, sleep_post):
    ax = plots.trajectories(sleep_fit)
    assert ax.get_xlabel() == "Days"
    save(ax, artifacts, "trajectories_reml")
    save(plots.trajectories(sleep_post, fitted=False), artifacts, "trajectories_bayes")
    with pytest.raises(ColumnError, match="time='week'"):
        plots.trajectories(sleep_fit, time="week")


def test_diagnostics(artifacts, sleep_fit, sleep_post):
    ols = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")).fit_reml()
    axes = plots.diagnostics(ols)
    assert [a.get_title() for a in axes] == ["Residuals vs fitted", "Scale-location", "Normal QQ"]
    save(axes, artifacts, "diagnostics_ols")
    save(plots.diagnostics(sleep_fit), artifacts, "diagnostics_reml")
    save(plots.diagnostics(sleep_post), artifacts, "diagnostics_bayes")


def test_icc_r2_posteriors(artifacts, sleep_fit, sleep_post):
    ax = plots.icc_r2_posteriors(sleep_post, sleep_fit)
    assert len(ax.get_lines()) >= 6  # 3 densities + 3 REML lines
    save(ax, artifacts, "icc_r2_posteriors")
    with pytest.raises(ArgumentError, match="Bayesian fit"):
        plots.icc_r2_posteriors(sleep_fit)
    with pytest.raises(ArgumentError, match="unknown quantity"):
        plots.icc_r2_posteriors(sleep_post, quantities=("icc",))


def compare_table() -> pd.DataFrame:
    """A hand-built table in the shape bm.compare(post, fit) returns."""
    return pd.DataFrame(
        {
            "effect": ["fixed", "fixed", "ran_pars", "ran_pars", "ran_pars", "ran_pars"],
            "group": [None, None, "Subject", "Subject", "Subject", "Residual"],
            "term": [
                "(Intercept)",
                "Days",
                "sd__(Intercept)",
                "cor__(Intercept).Days",
                "sd__Days",
                "sd__Observation",
            ],
            "reml_estimate": [251.41, 10.467, 24.74, 0.066, 5.92, 25.59],
            "reml_std_error": [6.82, 1.546, np.nan, np.nan, np.nan, np.nan],
            "post_mean": [251.2, 10.45, 27.1, 0.08, 6.55, 25.85],
            "post_sd": [7.4, 1.71, 6.3, 0.29, 1.5, 1.5],
            "conf_low": [236.6, 7.1, 16.2, -0.46, 4.1, 23.1],
            "conf_high": [265.7, 13.8, 41.3, 0.62, 9.9, 28.9],
            "rhat": [1.00, 1.00, 1.01, 1.04, 1.00, 1.00],
            "ess_bulk": [2100.0, 2300.0, 900.0, 310.0, 1200.0, 3000.0],
        }
    )


def test_compare(artifacts):
    t = compare_table()
    ax = plots.compare(t)
    labels = [lab.get_text() for lab in ax.get_yticklabels()]
    assert labels[0] == "(Intercept)" and labels[-1] == "sd__Observation  (Residual)"
    flagged = [txt.get_text() for txt in ax.texts if "!" in txt.get_text()]
    assert len(flagged) == 1 and "R̂=1.04" in flagged[0] and "ESS=310" in flagged[0]
    save(ax, artifacts, "compare_row_scale")
    save(plots.compare(t[t["effect"] == "fixed"], scale="shared"), artifacts, "compare_shared")
    with pytest.raises(ArgumentError, match="rhat"):
        plots.compare(t.drop(columns="rhat"))
    with pytest.raises(ArgumentError, match="scale"):
        plots.compare(t, scale="log")
