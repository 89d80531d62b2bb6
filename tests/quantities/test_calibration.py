"""bm.sbc: the uniformity tests, the result object, seeds locally and on Dask."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayesmixed as bm
from bayesmixed.errors import ArgumentError
from bayesmixed.quantities.rank_uniformity import chi2_uniform, ecdf_uniform, rank_of

L = 99


@pytest.fixture(scope="module")
def dyestuff():
    return bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))


def _sbc(model, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bm.sbc(model, **{"n_sims": 3, "draws": 100, "tune": 100, "random_seed": 5, **kw})


def test_uniformity_tests_are_calibrated():
    rng = np.random.default_rng(3)
    p = np.array(
        [(chi2_uniform(r, L), ecdf_uniform(r, L)) for r in rng.integers(0, L + 1, (200, 40))]
    )
    # uniform ranks: p-values spread out, not piled up near 0
    assert (p < 0.05).mean() < 0.12
    # ranks skewed to the top, as when the posterior sits too low: both tests reject
    skewed = np.minimum((rng.beta(2.0, 1.0, 40) * 100).astype(int), L)
    assert chi2_uniform(skewed, L) < 0.01
    assert ecdf_uniform(skewed, L) < 0.01


def test_rank_of_thins_evenly():
    draws = np.arange(2000.0).reshape(2, 1000)
    assert rank_of(draws, -1.0, L) == 0
    assert rank_of(draws, 1e9, L) == L
    assert rank_of(draws, 1000.0, L) in (49, 50)


def test_result_tables(dyestuff):
    res = _sbc(dyestuff, n_workers=1)
    assert res.parameterization == "marginal" and res.L == L and not res.errors
    params = [
        "(Intercept)",
        "sd__(Intercept)|Batch",
        "sigma",
        "b|Batch[A,(Intercept)]",
        "b|Batch[B,(Intercept)]",
    ]
    assert res.ranks["parameter"].unique().tolist() == params
    assert res.ranks["rank"].between(0, L).all()
    s = res.summary()
    assert s.columns.tolist() == ["parameter", "n", "mean_rank", "chi2_p", "ecdf_p", "flagged"]
    assert (s["n"] == 3).all() and s["chi2_p"].isna().all()  # too few simulations for χ² bins
    assert res.diagnostics()["n_sims"].iloc[0] == 3
    # the same seed gives the same truths and ranks
    again = _sbc(dyestuff, n_workers=1)
    assert again.ranks[["truth", "rank"]].equals(res.ranks[["truth", "rank"]])
    assert len(bm.plots.sbc_ranks(res)) == 5
    assert len(bm.plots.sbc_ecdf(res)) == 5
    assert len(res.plot(kind="ecdf")) == 5
    with pytest.raises(ArgumentError, match="kind"):
        res.plot(kind="qq")


def test_bad_arguments(dyestuff):
    with pytest.raises(ArgumentError, match="n_sims"):
        bm.sbc(dyestuff, n_sims=0)
    with pytest.raises(ArgumentError, match="at least L"):
        bm.sbc(dyestuff, draws=10, chains=2)
    with pytest.raises(ArgumentError, match="draws the truth from the priors"):
        bm.sbc(dyestuff, priors={"(Intercept)": bm.Prior("flat")})


@pytest.mark.slow
def test_same_seed_same_ranks_locally_and_on_dask(dyestuff):
    distributed = pytest.importorskip("distributed")
    local = _sbc(dyestuff, n_sims=4, n_workers=1)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        dask = _sbc(dyestuff, n_sims=4, client=client)
    assert not dask.errors
    assert dask.ranks[["sim", "parameter", "truth", "rank"]].equals(
        local.ranks[["sim", "parameter", "truth", "rank"]]
    )
