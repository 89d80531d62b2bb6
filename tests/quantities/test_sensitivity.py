"""bm.sensitivity: the refit grid over priors (table, labels, seeds, Dask, bad input)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.bayes.priors import Prior
from bayesmixed.errors import ArgumentError, PriorError
from bayesmixed.quantities.sensitivity import SENSITIVITY_COLUMNS, SensitivityResult

FAST = {"draws": 300, "tune": 300, "chains": 2, "progressbar": False}
TAU = "sd__(Intercept)|Batch"
GRID = {TAU: [Prior("halfnormal", sigma=50), Prior("exponential", lam=0.05)]}


@pytest.fixture(scope="module")
def dyestuff():
    return bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))


@pytest.fixture(scope="module")
def run(dyestuff):
    return bm.sensitivity(dyestuff, GRID, random_seed=7, n_workers=1, **FAST)


# ----------------------------------------------------------------- bad input (no sampling)
def test_unknown_name_lists_the_parameters(dyestuff):
    with pytest.raises(PriorError, match=r"sd__\(Intercept\)\|Batch") as e:
        bm.sensitivity(dyestuff, {"sd__(Intercept)|Rail": [Prior("halfnormal", sigma=5)]})
    assert "valid names" in str(e.value)


def test_empty_grid_is_refused(dyestuff):
    for bad in ({}, None, {TAU: []}):
        with pytest.raises(ArgumentError, match="non-empty"):
            bm.sensitivity(dyestuff, bad)


def test_wrong_kind_of_prior_is_refused(dyestuff):
    with pytest.raises(PriorError, match="standard deviation"):
        bm.sensitivity(
            dyestuff, {TAU: [Prior("halfnormal", sigma=5), Prior("normal", mu=0, sigma=1)]}
        )
    with pytest.raises(PriorError, match="must be a bayesmixed Prior"):
        bm.sensitivity(dyestuff, {TAU: ["halfnormal(5)"]})
    with pytest.raises(PriorError, match="only for a standard deviation"):
        bm.sensitivity(dyestuff, {"(Intercept)": [Prior("gamma", alpha=2, beta=1, on="variance")]})


def test_client_of_the_wrong_type_is_refused(dyestuff):
    with pytest.raises(ArgumentError, match="distributed.Client"):
        bm.sensitivity(dyestuff, GRID, client=4)
    with pytest.raises(ArgumentError, match="MixedModel"):
        bm.sensitivity("Yield ~ 1 + (1 | Batch)", GRID)


def test_the_grid_is_the_product_on_top_of_the_base(dyestuff):
    from bayesmixed.quantities.sensitivity import _grid, _label

    grid = {
        TAU: GRID[TAU],
        "sigma": [Prior("halfnormal", sigma=100), Prior("exponential", lam=0.02)],
    }
    combos = _grid(dyestuff, grid, {"(Intercept)": Prior("normal", mu=1500, sigma=100)})
    assert len(combos) == 4
    assert _label(combos[1]) == "sd__(Intercept)|Batch ~ HalfNormal(50); sigma ~ Exponential(0.02)"


# ----------------------------------------------------------------- sampling
@pytest.mark.slow
def test_table_rows_and_labels(run):
    assert isinstance(run, SensitivityResult)
    t = run.table
    assert list(t.columns) == SENSITIVITY_COLUMNS
    assert t["prior"].unique().tolist() == [
        "sd__(Intercept)|Batch ~ HalfNormal(50)",
        "sd__(Intercept)|Batch ~ Exponential(0.05)",
    ]
    per = t[t["combination"] == 0]
    assert per["term"].tolist() == [
        "(Intercept)", "sd__(Intercept)", "sd__Observation", "icc_adjusted", "r2_marginal",
        "r2_conditional",
    ]  # fmt: skip
    assert per["effect"].tolist() == ["fixed", "ran_pars", "ran_pars", "icc", "r2", "r2"]
    icc = per.set_index("term").loc["icc_adjusted"]
    assert 0 < icc["conf_low"] < icc["estimate"] < icc["conf_high"] < 1
    assert np.isfinite(per["rhat"].iloc[:4]).all()
    assert run.failures.empty and len(run.fits) == 2
    fit = run.fits[1]
    assert fit.priors.sd[TAU] == Prior("exponential", lam=0.05)
    row = per.set_index("term").loc["sd__(Intercept)"]
    assert row["estimate"] == pytest.approx(float(run.fits[0].tidy()["estimate"].iloc[1]))
    ref = run.reference.set_index("term")["estimate"]
    assert ref["sd__(Intercept)"] == pytest.approx(42.0006, abs=1e-3)  # lme4's REML estimate
    assert ref["icc_adjusted"] == pytest.approx(0.4185, abs=1e-4)


@pytest.mark.slow
def test_same_seed_same_table_with_any_number_of_workers(dyestuff, run):
    again = bm.sensitivity(dyestuff, GRID, random_seed=7, n_workers=2, **FAST)
    pd.testing.assert_frame_equal(run.table, again.table)
    other = bm.sensitivity(dyestuff, GRID, random_seed=8, n_workers=1, keep_fits=False, **FAST)
    assert not np.allclose(other.table["estimate"], run.table["estimate"])
    assert other.fits == [None, None]


@pytest.mark.slow
def test_fits_pickle_for_transport(run):
    back = pickle.loads(pickle.dumps(run.fits[0]))
    pd.testing.assert_frame_equal(back.tidy(), run.fits[0].tidy())


def test_failed_fits_are_reported_not_raised(dyestuff):
    with pytest.warns(bm.errors.RefitWarning, match="2 of 2 fits failed"):
        res = bm.sensitivity(dyestuff, GRID, random_seed=1, n_workers=1, sampler="nosuch", **FAST)
    assert res.failures["prior"].tolist() == res.grid["prior"].tolist()
    assert res.failures["error"].str.contains("nosuch").all()
    assert res.table.empty and res.fits == [None, None]
    with pytest.raises(ArgumentError, match="every fit"):
        res.plot()


@pytest.mark.slow
def test_same_table_on_a_dask_cluster(dyestuff, run):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = bm.sensitivity(dyestuff, GRID, random_seed=7, client=client, **FAST)
    pd.testing.assert_frame_equal(run.table, on_dask.table)
    assert on_dask.fits[0].tidy().shape == run.fits[0].tidy().shape
