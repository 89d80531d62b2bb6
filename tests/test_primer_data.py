"""bm.datasets.primer: the primer's data sets simulated with their columns, sizes and ranges."""

from __future__ import annotations

import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.datasets.primer import KINDS
from bayesmixed.errors import ArgumentError

# kind: (columns, rows (exact or a (low, high) range), {grouping column: number of levels})
SHAPES = {
    "square": (["patient", "age", "age_group", "arm", "score"], 64, {}),
    "groups": (["patient", "group", "age", "score"], (72, 144), {"group": 9}),
    "hospitals": (
        ["patient", "hospital", "type", "age", "agem", "agec", "score"],
        (240, 600),
        {"hospital": 20, "type": 2},
    ),
    "wards": (["patient", "hospital", "ward", "age", "score"], (384, 672), {"hospital": 12, "ward": 4}),
    "schools": (["student", "school", "neighbourhood", "ses", "score"], 600, {"school": 30, "neighbourhood": 20}),
    "longitudinal": (["id", "arm", "visit", "month", "age", "score"], 320, {"id": 80, "visit": 4, "arm": 2}),
}  # fmt: skip


def test_every_kind_is_listed():
    assert set(SHAPES) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_columns_sizes_and_score_range(kind):
    cols, rows, levels = SHAPES[kind]
    d = bm.datasets.primer(kind, seed=3)
    assert list(d.columns) == cols
    if isinstance(rows, tuple):
        assert rows[0] <= len(d) <= rows[1]
    else:
        assert len(d) == rows
    for col, k in levels.items():
        assert d[col].nunique() == k, col
    score = d["score"]
    assert score.dtype.kind == "i"
    assert score.between(0, 20).all()
    # similar magnitudes: a mid-range mean and a spread of a few points, hardly any clipping
    assert 6 < score.mean() < 14 and 1.5 < score.std() < 5
    assert ((score == 0) | (score == 20)).mean() < 0.05
    assert not d.isna().any().any()


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_same_seed_same_frame_other_seed_other_frame(kind):
    a = bm.datasets.primer(kind, seed=7)
    pd.testing.assert_frame_equal(a, bm.datasets.primer(kind, seed=7))
    assert not a["score"].equals(bm.datasets.primer(kind, seed=8)["score"])


def test_reference_levels_and_time_order():
    sq = bm.datasets.primer("square")
    assert sq["arm"].cat.categories.tolist() == ["control", "treatment"]
    assert sq["age_group"].cat.categories.tolist() == ["younger", "older"]
    assert (sq["arm"] == "treatment").sum() == 32
    older = sq.loc[sq["age_group"] == "older", "age"]
    assert older.min() >= sq.loc[sq["age_group"] == "younger", "age"].max()
    lo = bm.datasets.primer("longitudinal")
    assert lo["visit"].cat.categories.tolist() == ["T0", "T3", "T6", "T9"]
    months = lo.groupby("id", observed=True)["month"].apply(tuple)
    assert set(months) == {(0, 3, 6, 9)}
    assert lo.groupby("id", observed=True)["arm"].nunique().eq(1).all()


def test_hospital_type_and_age_split_are_hospital_level():
    d = bm.datasets.primer("hospitals")
    by = d.groupby("hospital")
    assert by["type"].nunique().eq(1).all()
    assert by["agem"].nunique().eq(1).all()
    pd.testing.assert_series_equal(d["agem"] + d["agec"], d["age"].astype(float), check_names=False)
    # as bm.center names and computes them
    centred = bm.center(d[["hospital", "age"]], "age", by="hospital")
    assert (centred["agem"] - d["agem"]).abs().max() < 1e-12


def test_ward_labels_repeat_across_hospitals_and_schools_are_crossed():
    w = bm.datasets.primer("wards")
    assert w.groupby("ward")["hospital"].nunique().eq(12).all()  # W1 is in every hospital
    s = bm.datasets.primer("schools")
    assert s.groupby("school")["neighbourhood"].nunique().gt(1).all()
    assert s.groupby("neighbourhood")["school"].nunique().gt(1).all()


@pytest.mark.parametrize("kind", ["tables", "", None, 3])
def test_unknown_kind_lists_the_kinds(kind):
    with pytest.raises(ArgumentError, match="choose one of: square, groups, hospitals, wards"):
        bm.datasets.primer(kind)


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_bad_seed(seed):
    with pytest.raises(ArgumentError, match="seed must be a non-negative integer"):
        bm.datasets.primer("square", seed=seed)
