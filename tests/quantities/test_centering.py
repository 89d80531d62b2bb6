"""bm.center: cluster means and within-cluster deviations (§3.3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.errors import ArgumentError, BayesMixedError, ColumnError


@pytest.fixture
def small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "group": ["a", "a", "a", "b", "b"],
            "school": ["s1", "s1", "s2", "s2", "s2"],
            "age": [10.0, 12.0, 14.0, 20.0, 30.0],
            "iq": [100, 110, 90, 95, 105],
            "name": list("vwxyz"),
        }
    )


def test_default_names_and_values(small):
    out = bm.center(small, "age", by="group")
    # group a: mean 12 → deviations −2, 0, 2; group b: mean 25 → −5, 5
    assert out["agem"].tolist() == [12.0, 12.0, 12.0, 25.0, 25.0]
    assert out["agec"].tolist() == [-2.0, 0.0, 2.0, -5.0, 5.0]
    np.testing.assert_allclose(out["agem"] + out["agec"], small["age"])
    assert list(out.columns) == [*small.columns, "agem", "agec"]
    assert "agem" not in small.columns  # a copy, the input is untouched


def test_custom_names(small):
    out = bm.center(small, "age", by="group", mean_name="age_between", dev_name="age_within")
    assert {"age_between", "age_within"} <= set(out.columns)
    two = bm.center(small, ["age", "iq"], by="group", mean_name="{}_mean", dev_name="{}_dev")
    assert {"age_mean", "age_dev", "iq_mean", "iq_dev"} <= set(two.columns)
    # iq group a: mean 100 → 0, 10, −10
    assert two["iq_dev"].tolist()[:3] == [0.0, 10.0, -10.0]


def test_several_cluster_columns(small):
    out = bm.center(small, "age", by=["group", "school"])
    # (a, s1): 11; (a, s2): 14; (b, s2): 25
    assert out["agem"].tolist() == [11.0, 11.0, 14.0, 25.0, 25.0]


def test_missing_values_are_ignored_in_means(small):
    d = small.copy()
    d.loc[1, "age"] = np.nan
    out = bm.center(d, "age", by="group")
    assert out["agem"].iloc[0] == 12.0  # mean of 10 and 14
    assert np.isnan(out["agec"].iloc[1])


def test_within_between_model():
    """The deviation carries the within-cluster slope: with a random intercept its estimate
    is exactly the fixed-effects (cluster dummies) slope, since x − x̄_j is orthogonal to
    anything constant within clusters."""
    from conftest import load_data

    raw = load_data("sim_unbalanced")
    data = bm.center(raw, "x", by="g")
    fit = bm.MixedModel("y ~ xc + xm + (1 | g)", data).fit_reml()
    dummies = bm.MixedModel("y ~ x + g", raw).fit_reml()
    assert fit.fixef()["xc"] == pytest.approx(dummies.fixef()["x"], rel=1e-8)
    # the between slope is a different quantity (cluster means against cluster means)
    assert abs(fit.fixef()["xm"] - fit.fixef()["xc"]) > 0.05


def test_errors_name_the_argument(small):
    with pytest.raises(ColumnError, match=r"by='grp'.*Did you mean 'group'"):
        bm.center(small, "age", by="grp")
    with pytest.raises(ColumnError, match=r"columns='agee'.*Did you mean 'age'"):
        bm.center(small, "agee", by="group")
    with pytest.raises(ColumnError, match="must be numeric"):
        bm.center(small, "name", by="group")
    with pytest.raises(ArgumentError, match="same name"):
        bm.center(small, ["age", "iq"], by="group", mean_name="m")
    with pytest.raises(ArgumentError, match="already has a column 'iq'"):
        bm.center(small, "age", by="group", mean_name="iq")
    with pytest.raises(ArgumentError, match="both"):
        bm.center(small, "age", by="group", mean_name="x", dev_name="x")
    with pytest.raises(ArgumentError, match="also a cluster column"):
        bm.center(small, "iq", by=["group", "iq"])
    with pytest.raises(ArgumentError, match="DataFrame"):
        bm.center(small.to_dict(), "age", by="group")
    with pytest.raises(ArgumentError, match="empty"):
        bm.center(small, [], by="group")
    assert issubclass(ColumnError, BayesMixedError)
