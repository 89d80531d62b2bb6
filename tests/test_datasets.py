"""Bundled data sets: they load, equal R's copies, and fit as lme4 fits them.

Reference numbers are from R 4.2 (lme4 1.1-31, nlme): ``nrow``, ``colSums`` of the numeric
columns, the number of distinct values of the factor columns, and two fits with the fixture
optimizer settings (tests/reference/README.md). Sums are exact in R to 10 significant digits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm

# name: (rows, columns, {numeric column: sum}, {factor column: number of levels})
R_SUMMARIES = {
    "sleepstudy": (180, ["Reaction", "Days", "Subject"], {"Reaction": 53731.4205, "Days": 810}, {"Subject": 18}),
    "Penicillin": (144, ["diameter", "plate", "sample"], {"diameter": 3308}, {"plate": 24, "sample": 6}),
    "Pastes": (60, ["strength", "batch", "cask", "sample"], {"strength": 3603.2}, {"batch": 10, "cask": 3, "sample": 30}),
    "Dyestuff": (30, ["Batch", "Yield"], {"Yield": 45825}, {"Batch": 6}),
    "Dyestuff2": (30, ["Batch", "Yield"], {"Yield": 169.968}, {"Batch": 6}),
    "Orthodont": (108, ["distance", "age", "Subject", "Sex"], {"distance": 2594.5, "age": 1188}, {"Subject": 27, "Sex": 2}),
    "BodyWeight": (176, ["weight", "Time", "Rat", "Diet"], {"weight": 67669, "Time": 5904}, {"Rat": 16, "Diet": 3}),
}  # fmt: skip


def test_available_lists_every_dataset():
    avail = bm.datasets.available()
    assert set(avail) == set(R_SUMMARIES)
    assert all(isinstance(v, str) and v for v in avail.values())
    assert "sleep deprivation" in avail["sleepstudy"]


@pytest.mark.parametrize("name", sorted(R_SUMMARIES))
def test_dataset_equals_r(name):
    rows, cols, sums, nlev = R_SUMMARIES[name]
    d = bm.datasets.load(name)
    assert isinstance(d, pd.DataFrame)
    assert d.shape == (rows, len(cols))
    assert list(d.columns) == cols
    for col, total in sums.items():
        assert pd.api.types.is_numeric_dtype(d[col])
        assert d[col].sum() == pytest.approx(total, rel=1e-12)
    for col, k in nlev.items():
        assert d[col].nunique() == k
    assert not d.isna().any().any()


def test_factor_columns_are_text_or_integer_codes():
    assert bm.datasets.load("sleepstudy")["Subject"].dtype == np.int64
    assert bm.datasets.load("BodyWeight")["Rat"].dtype == np.int64
    assert not pd.api.types.is_numeric_dtype(bm.datasets.load("Pastes")["batch"])
    # grouping by integer codes works exactly as grouping by a factor
    d = bm.MixedModel("Reaction ~ Days + (1 | Subject)", bm.datasets.load("sleepstudy")).design
    assert d.terms[0].levels[:3] == ["308", "309", "310"]


def test_load_returns_a_fresh_copy():
    a = bm.datasets.load("Dyestuff")
    a.loc[0, "Yield"] = -1
    assert bm.datasets.load("Dyestuff").loc[0, "Yield"] == 1545


def test_unknown_name_lists_choices():
    with pytest.raises(bm.BayesMixedError, match="choose one of: BodyWeight, Dyestuff"):
        bm.datasets.load("Dyestuf")


def test_orthodont_fit_matches_lme4():
    # R: lmer(distance ~ age + Sex + (age | Subject), nlme::Orthodont); Sex has R's levels
    # Male, Female, so the contrast is SexFemale
    fit = bm.MixedModel(
        "distance ~ age + Sex + (age | Subject)", bm.datasets.load("Orthodont")
    ).fit_reml()
    np.testing.assert_allclose(
        fit.fixef().to_numpy(), [17.635199413088, 0.660185185185, -2.145489468489], rtol=1e-6
    )
    assert fit.design.xnames == ["(Intercept)", "age", "SexFemale"]
    assert fit.criterion == pytest.approx(435.233857445, abs=1e-4)
    assert fit.sigma == pytest.approx(1.31003955563, rel=1e-5)
    vc = fit.varcorr_table()
    np.testing.assert_allclose(
        vc["sdcor"], [2.7970231194, 0.2264278825, -0.7658470533, 1.3100395556], rtol=1e-4
    )


def test_bodyweight_ml_fit_matches_lme4():
    # Diet is a factor in R; the bundled copy loads it as a Categorical with levels 1, 2, 3
    data = bm.datasets.load("BodyWeight")
    assert isinstance(data["Diet"].dtype, pd.CategoricalDtype)
    fit = bm.MixedModel("weight ~ Time + Diet + (1 | Rat)", data).fit_reml(reml=False)
    assert fit.design.xnames == ["(Intercept)", "Time", "Diet2", "Diet3"]
    np.testing.assert_allclose(
        fit.fixef().to_numpy(),
        [244.068897163918, 0.585683282376, 220.988636363654, 262.079545454544],
        rtol=1e-6,
    )
    assert fit.criterion == pytest.approx(1321.16386527, abs=1e-4)
    assert fit.sigma == pytest.approx(8.15085856433, rel=1e-5)


@pytest.mark.parametrize(
    "name", ["sleep_period", "sleep9", "sim_three_level", "sim_crossed", "sim_unbalanced"]
)
def test_reference_data_files_load(name):
    from conftest import load_data

    d = load_data(name)
    assert len(d) > 50
    assert not d.isna().any().any()
