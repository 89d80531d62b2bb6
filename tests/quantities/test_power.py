"""bm.power: simulated power of Satterthwaite t-tests in clustered designs."""

from __future__ import annotations

import numpy as np
import pytest

import bayesmixed as bm
from bayesmixed.errors import ArgumentError

FORMULA = "y ~ treat + x + (1 | school)"
DESIGN = {"treat": ("cluster", [0, 1]), "x": ("observation", "normal")}


@pytest.fixture(scope="module")
def result():
    # the same total n (160) as 8 × 20 and as 32 × 5, and a smaller 8 × 5
    return bm.power(
        FORMULA,
        design=DESIGN,
        effects={"treat": 0.5, "x": 0.15},
        tau=0.5,
        sigma=1.0,
        n_clusters=[8, 32],
        cluster_size=[5, 20],
        nsim=80,
        random_seed=4,
        n_workers=1,
    )


def _power(res, J, m, term):
    t = res.table
    row = t[(t["n_clusters"] == J) & (t["cluster_size"] == m) & (t["term"] == term)]
    return float(row["power"].iloc[0])


def test_between_cluster_power_follows_the_number_of_clusters(result):
    # same n = 160: 32 small clusters beat 8 large ones for a cluster-level treatment
    assert _power(result, 32, 5, "treat") > _power(result, 8, 20, "treat") + 0.15
    # and 8 clusters stay weak however large they get
    assert _power(result, 8, 20, "treat") - _power(result, 8, 5, "treat") < 0.15


def test_within_cluster_power_follows_the_total_n(result):
    # same n = 160: the observation-level effect has about the same power either way
    assert abs(_power(result, 32, 5, "x") - _power(result, 8, 20, "x")) < 0.15
    # quadrupling n (same clusters) raises it well
    assert _power(result, 8, 20, "x") > _power(result, 8, 5, "x") + 0.15


def test_table_columns_and_mcse(result):
    t = result.table
    assert t.columns.tolist() == [
        "n_clusters", "cluster_size", "n_obs", "term", "level", "effect", "power", "mcse",
        "mean_estimate", "nsim", "failed",
    ]  # fmt: skip
    assert set(t["level"]) == {"cluster", "observation"}
    np.testing.assert_allclose(t["mcse"], np.sqrt(t["power"] * (1 - t["power"]) / t["nsim"]))
    assert (t["nsim"] == 80).all() and (t["failed"] == 0).all()
    # estimates are unbiased on average
    assert np.allclose(t["mean_estimate"], t["effect"], atol=0.1)


def test_same_seed_same_table():
    kw = dict(design=DESIGN, effects={"treat": 0.5}, tau=0.5, sigma=1.0, n_clusters=4,
              cluster_size=3, nsim=5, random_seed=9, n_workers=1)  # fmt: skip
    a, b = bm.power(FORMULA, **kw), bm.power(FORMULA, **kw)
    assert a.sims.equals(b.sims)


def test_factor_levels_and_random_slopes():
    res = bm.power(
        "y ~ arm * time + (time | id)",
        design={"arm": ("cluster", ["A", "B"]), "time": ("observation", [0, 1, 2, 3])},
        effects={"armB": 0.0, "time": 0.5, "armB:time": 0.3},
        tau={"(Intercept)": 1.0, "time": 0.2},
        sigma=1.0,
        n_clusters=6,
        cluster_size=4,
        nsim=4,
        random_seed=1,
        n_workers=1,
    )
    assert res.table["term"].tolist() == ["armB", "time", "armB:time"]
    assert res.table["level"].tolist() == ["cluster", "observation", "both"]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"n_clusters": [1, 4]}, "at least 2 clusters"),
        ({"cluster_size": 0}, "cluster_size"),
        ({"effects": {"dose": 1.0}}, "'dose' is not a fixed effect"),
        ({"design": {"treat": ("school", [0, 1])}}, "level must be"),
        ({"design": {"treat": ("cluster", "poisson")}}, "generator"),
        ({"tau": {"x": 1.0}}, "tau has no SD"),
        ({"nsim": 0}, "nsim"),
    ],
)
def test_bad_arguments(kw, match):
    args = dict(design=DESIGN, effects={"treat": 0.5}, tau=0.5, sigma=1.0, n_clusters=4,
                cluster_size=3, nsim=2, n_workers=1)  # fmt: skip
    args.update(kw)
    with pytest.raises(ArgumentError, match=match):
        bm.power(FORMULA, **args)


def test_plot(result):
    axes = bm.plots.power_curves(result)
    assert len(axes) == 2
    assert len(result.plot()) == 2
