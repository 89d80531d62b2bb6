"""Longitudinal views render (categorical and numeric time, data and fits) and are saved to
tests/_artifacts/*.png; the correlation panels hold the fit's and the data's numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import load_data  # noqa: E402

import bayesmixed as bm  # noqa: E402
from bayesmixed.errors import ArgumentError, ColumnError  # noqa: E402
from bayesmixed.views import plots  # noqa: E402
from bayesmixed.views.plots.longitudinal import (  # noqa: E402
    empirical_correlation,
    implied_correlation,
)

FORMULA = "y ~ visit * arm"


def gls(data: str, structure: str, formula: str = FORMULA, time: str = "visit"):
    spec = getattr(bm.residual, structure)(time=time, group="id")
    return bm.MixedModel(formula, load_data(f"longitudinal_{data}"), residual=spec).fit_reml()


@pytest.fixture(scope="module")
def fits():
    return {s: gls("balanced", s) for s in ("CS", "AR1", "TOEP", "UN")}


def save(obj, artifacts, name):
    ax = obj[0] if isinstance(obj, list) else obj
    path = artifacts / f"{name}.png"
    ax.figure.savefig(path, dpi=80)
    plt.close(ax.figure)
    assert path.stat().st_size > 5_000
    return path


def test_trajectories_categorical_time_from_a_fit(fits, artifacts):
    ax = plots.trajectories_by_time(fits["UN"], color="arm")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["T0", "T3", "T6", "T9"]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == [
        "population (fixed effects): arm = control",
        "population (fixed effects): arm = treated",
    ]
    # y ~ visit * arm: the subject fits are the arm lines, so they are not drawn
    assert "subject fit" not in labels
    treated = ax.get_lines()[-2]  # subject lines, the two arm lines, the legend entry
    d = load_data("longitudinal_balanced")
    means = fits["UN"].fitted()[(d["arm"] == "treated").to_numpy()]
    assert treated.get_ydata()[0] == pytest.approx(means[::4].mean())
    save(ax, artifacts, "longitudinal_trajectories_gls")


def test_trajectories_subject_lines_with_random_effects_and_numeric_time(artifacts):
    fit = gls("times", "CAR1", formula="y ~ t * arm + (1 | id)", time="t")
    ax = plots.trajectories_by_time(fit, color="arm")
    assert "subject fit" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.get_xlabel() == "t" and not ax.get_xticklabels()[0].get_text().startswith("T")
    save(ax, artifacts, "longitudinal_trajectories_car1_ri")
    sleep = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    ax = plots.trajectories_by_time(sleep.fit_reml())
    assert ax.get_xlabel() == "Days" and len(ax.get_lines()) >= 36
    save(ax, artifacts, "longitudinal_trajectories_sleep")


def test_trajectories_from_data(artifacts):
    d = load_data("longitudinal_unbalanced")
    ax = plots.trajectories_by_time(d, "visit", y="y", group="id", color="arm")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["T0", "T3", "T6", "T9"]
    assert ax.get_legend().get_texts()[0].get_text() == "observed mean: arm = control"
    ctrl = d[d["arm"] == "control"].groupby("visit")["y"].mean().to_numpy()
    np.testing.assert_allclose(ax.get_lines()[-3].get_ydata(), ctrl)
    save(ax, artifacts, "longitudinal_trajectories_data")
    with pytest.raises(ArgumentError, match="y=, time= and group="):
        plots.trajectories_by_time(d, "visit")
    with pytest.raises(ColumnError, match="color='group'"):
        plots.trajectories_by_time(d, "visit", y="y", group="id", color="group")


def test_residual_correlation_panels(fits, artifacts):
    axes = plots.residual_correlation(fits["UN"])
    assert len(axes) == 2 and "UN" in axes[0].get_title()
    fitted = axes[0].get_images()[0].get_array()
    np.testing.assert_allclose(fitted, fits["UN"].residual_cor("s001").to_numpy())
    emp, n = empirical_correlation(fits["UN"])
    assert n == 80 and "80 complete subjects" in axes[1].get_title()
    np.testing.assert_allclose(axes[1].get_images()[0].get_array(), emp.to_numpy())
    # UN fitted by REML on complete data is close to the empirical correlation
    assert np.abs(fitted - emp.to_numpy()).max() < 0.05
    save(axes, artifacts, "longitudinal_residual_correlation_un")
    save(
        plots.residual_correlation(fits["AR1"]), artifacts, "longitudinal_residual_correlation_ar1"
    )
    unb = gls("unbalanced", "TOEP")
    _, n = empirical_correlation(unb)
    assert 0 < n < 80
    save(plots.residual_correlation(unb), artifacts, "longitudinal_residual_correlation_unbalanced")


def test_marginal_correlation_with_random_effects(artifacts):
    fit = gls("balanced", "AR1", formula="y ~ visit * arm + (1 | id)")
    M = implied_correlation(fit).to_numpy()
    R = fit.residual_cor("s001").to_numpy()
    assert (M[np.triu_indices(4, 1)] > R[np.triu_indices(4, 1)]).all()  # + subject variance
    axes = plots.residual_correlation(fit)
    assert "marginal" in axes[0].get_title()
    save(axes, artifacts, "longitudinal_residual_correlation_ri_ar1")


def test_correlation_by_lag(fits, artifacts):
    ax = plots.correlation_by_lag(fits)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:4] == ["CS", "AR1", "TOEP", "UN"] and labels[4].startswith("empirical")
    cs = ax.get_lines()[0].get_ydata()
    assert np.ptp(cs) < 1e-12  # CS: one correlation at every lag
    ar1 = ax.get_lines()[1].get_ydata()
    rho = fits["AR1"].tidy().set_index("term").loc["rho", "estimate"]
    np.testing.assert_allclose(ar1, rho ** np.arange(1, 4))
    save(ax, artifacts, "longitudinal_correlation_by_lag")
    # a list, one fit and compare_structures' fits (failures skipped) all work
    plots.correlation_by_lag([fits["CS"], fits["CS"]], empirical=False)
    plt.close("all")
    plots.correlation_by_lag(fits["UN"])
    plt.close("all")
    plots.correlation_by_lag({"CS": fits["CS"], "CAR1": None})
    plt.close("all")


def test_correlation_views_need_a_residual_structure():
    fit = bm.MixedModel("Reaction ~ Days + (1 | Subject)", bm.datasets.load("sleepstudy"))
    with pytest.raises(ArgumentError, match="residual structure"):
        plots.residual_correlation(fit.fit_reml())
    with pytest.raises(ArgumentError, match="at least one fit"):
        plots.correlation_by_lag({})
    with pytest.raises(ArgumentError, match="pass ax= with 2 Axes"):
        plots.residual_correlation(gls("balanced", "CS"), ax=plt.subplots()[1])
    plt.close("all")


def test_numeric_time_data_mean_is_binned(artifacts):
    d = load_data("longitudinal_times")
    ax = plots.trajectories_by_time(d, "t", y="y", group="id")
    mean_line = ax.get_lines()[-2]
    assert len(mean_line.get_xdata()) == 10  # ten bins of the jittered times, not 280 points
    assert np.all(np.diff(mean_line.get_xdata()) > 0)
    save(ax, artifacts, "longitudinal_trajectories_numeric_data")


def test_numeric_time_correlation_is_by_visit_order(artifacts):
    fit = gls("times", "CAR1", time="t")
    emp, n = empirical_correlation(fit)
    assert list(emp.index) == ["visit 1", "visit 2", "visit 3", "visit 4"] and n > 20
    axes = plots.residual_correlation(fit)
    assert "CAR1" in axes[0].get_title()
    save(axes, artifacts, "longitudinal_residual_correlation_car1")
