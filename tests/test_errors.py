"""Every bad input becomes a ``BayesMixedError`` that names the culprit and says what to do.

Also: rank-deficient fixed effects (aliased columns dropped with a warning, and the fit still
matches lme4 on the reduced model) and missing values (dropped with a count, or refused).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import load_fixture

import bayesmixed as bm
from bayesmixed.errors import (
    ArgumentError,
    BayesMixedError,
    ColumnError,
    DataError,
    FormulaError,
    IdentifiabilityError,
    MissingDataWarning,
    RankDeficiencyWarning,
)


@pytest.fixture()
def ss() -> pd.DataFrame:
    d = bm.datasets.load("sleepstudy")
    d["Days"] = d["Days"].astype(float)
    return d


@pytest.fixture()
def pairs() -> pd.DataFrame:
    """10 groups of 2 observations."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "y": rng.normal(size=20),
            "x": np.tile([0.0, 1.0], 10),
            "g": np.repeat([f"g{i}" for i in range(10)], 2),
        }
    )


def test_every_error_is_a_value_error():
    for cls in (FormulaError, DataError, ColumnError, IdentifiabilityError, ArgumentError):
        assert issubclass(cls, BayesMixedError)
        assert issubclass(cls, ValueError)
    assert bm.BayesMixedError is BayesMixedError


# --------------------------------------------------------------------------- unknown columns
@pytest.mark.parametrize(
    "formula, culprit, where, suggestion",
    [
        ("Reaction ~ Dayz + (1 | Subject)", "Dayz", "fixed part", "Days"),
        ("Reactio ~ Days + (1 | Subject)", "Reactio", "response", "Reaction"),
        ("np.log(Reactio) ~ Days + (1 | Subject)", "Reactio", "response", "Reaction"),
        ("Reaction ~ Days + (Dayz | Subject)", "Dayz", "random term", "Days"),
        ("Reaction ~ Days + (1 | Subjet)", "Subjet", "grouping factor", "Subject"),
        ("Reaction ~ Days + (1 | Subject:Dayz)", "Dayz", "grouping factor", "Days"),
    ],
)
def test_unknown_column_suggests_close_names(ss, formula, culprit, where, suggestion):
    with pytest.raises(ColumnError) as info:
        bm.MixedModel(formula, ss)
    msg = str(info.value)
    assert f"'{culprit}'" in msg
    assert where in msg
    assert f"Did you mean '{suggestion}'" in msg
    assert "Available columns: Reaction, Days, Subject" in msg
    assert info.value.column == culprit


def test_unknown_column_without_close_match(ss):
    with pytest.raises(ColumnError, match="'zzz'") as info:
        bm.MixedModel("Reaction ~ zzz", ss)
    assert "Did you mean" not in str(info.value)


# --------------------------------------------------------------------------- response and values
@pytest.mark.parametrize(
    "values",
    [
        lambda n: np.array(["a", "b"] * (n // 2)),
        lambda n: np.arange(n) % 2 == 0,
        lambda n: pd.Categorical(np.arange(n) % 3),
    ],
    ids=["text", "bool", "categorical"],
)
def test_non_numeric_response(ss, values):
    ss["resp"] = values(len(ss))
    with pytest.raises(ColumnError, match="response 'resp' must be numeric") as info:
        bm.MixedModel("resp ~ Days + (1 | Subject)", ss)
    assert "to_numeric" in str(info.value)


def test_infinite_response(ss):
    ss.loc[[3, 7], "Reaction"] = np.inf
    with pytest.raises(DataError, match=r"response 'Reaction' has 2 infinite"):
        bm.MixedModel("Reaction ~ Days + (1 | Subject)", ss)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_transform_makes_response_undefined(ss):
    ss["Reaction"] -= 300  # log of negative numbers
    with pytest.raises(DataError, match=r"response 'np.log\(Reaction\)' has \d+ infinite"):
        bm.MixedModel("np.log(Reaction) ~ Days + (1 | Subject)", ss)


def test_infinite_fixed_predictor(ss):
    ss.loc[5, "Days"] = -np.inf
    with pytest.raises(DataError, match=r"fixed-effect column 'Days' has infinite .* \(1 rows\)"):
        bm.MixedModel("Reaction ~ Days + (1 | Subject)", ss)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_transform_makes_predictor_undefined(ss):
    with pytest.raises(DataError, match=r"'log\(Days\)' has infinite"):
        bm.MixedModel("Reaction ~ np.log(Days) + (1 | Subject)", ss)  # log(0) = -inf
    ss["Days"] -= 1
    with pytest.raises(DataError, match=r"'log\(Days\)' has infinite"):
        bm.MixedModel("Reaction ~ np.log(Days) + (1 | Subject)", ss)  # log(-1) = nan


def test_infinite_random_predictor(ss):
    ss.loc[5, "Days"] = np.inf
    with pytest.raises(DataError, match=r"column 'Days' of random-effect term \(Days \| Subject\)"):
        bm.MixedModel("Reaction ~ 1 + (Days | Subject)", ss)


# --------------------------------------------------------------------------- data
def test_empty_data(ss):
    with pytest.raises(DataError, match="data has no rows"):
        bm.MixedModel("Reaction ~ Days + (1 | Subject)", ss.iloc[:0])


@pytest.mark.parametrize("bad", [{"Reaction": [1.0]}, np.zeros((3, 3)), [1, 2, 3], None])
def test_data_not_a_dataframe(bad):
    with pytest.raises(DataError, match="data must be a pandas DataFrame") as info:
        bm.MixedModel("Reaction ~ Days + (1 | Subject)", bad)
    assert "pandas.DataFrame(" in str(info.value)


def test_no_complete_rows(ss):
    ss["Reaction"] = np.nan
    with pytest.warns(MissingDataWarning), pytest.raises(DataError, match="no complete rows"):
        bm.MixedModel("Reaction ~ Days + (1 | Subject)", ss)


# --------------------------------------------------------------------------- grouping factors
def test_grouping_factor_with_one_level(ss):
    ss["site"] = "A"
    with pytest.raises(IdentifiabilityError, match="'site' .* only 1 level") as info:
        bm.MixedModel("Reaction ~ Days + (1 | site)", ss)
    assert "fixed effect" in str(info.value)


def test_one_level_after_dropping_missing_rows(ss):
    ss["site"] = np.where(np.arange(len(ss)) < 10, "A", "B")
    ss.loc[ss["site"] == "A", "Reaction"] = np.nan
    with pytest.warns(MissingDataWarning), pytest.raises(IdentifiabilityError, match="'site'"):
        bm.MixedModel("Reaction ~ Days + (1 | site)", ss)


def test_one_level_per_observation(ss):
    ss["obs"] = np.arange(len(ss))
    with pytest.raises(IdentifiabilityError, match="'obs' has 180 levels for 180 observations"):
        bm.MixedModel("Reaction ~ Days + (1 | obs)", ss)


def test_more_random_effects_than_observations(pairs):
    # lme4: "number of observations (=20) <= number of random effects (=20) for term (x | g)"
    with pytest.raises(IdentifiabilityError, match=r"\(x \| g\) has 20 random effects") as info:
        bm.MixedModel("y ~ x + (x | g)", pairs)
    assert "20 observations" in str(info.value)
    assert "||" in str(info.value)
    bm.MixedModel("y ~ x + (1 | g)", pairs)  # 10 random effects: fine


def test_too_few_observations_for_fixed_effects(ss):
    with pytest.raises(IdentifiabilityError, match="2 observations cannot estimate 2 fixed"):
        bm.MixedModel("Reaction ~ Days", ss.iloc[:2])


# --------------------------------------------------------------------------- formula syntax
@pytest.mark.parametrize(
    "formula, position, fragment",
    [
        ("y ~ x + (1 | g", 8, "unmatched '('"),
        ("y ~ x + 1 | g)", 13, "unmatched ')'"),
        ("y ~ x +", 6, "missing a term"),
        ("y ~ ( | g)", 5, "nothing before '|'"),
        ("y ~ (1 | )", 8, "no grouping factor"),
        ("~ x", 0, "no response"),
        ("y ~ x ~ z", 6, "exactly one '~'"),
        ("y ~ (1 | g | h)", 11, "more than one '|'"),
        ("y ~ x * (1 | g)", 11, "must stand alone"),
        ("y ~ (0 | g)", 5, "no columns"),
        ("y ~ x + (1 | g + h)", 12, "grouping factor 'g + h'"),
        ("y ~ x - (1 | g)", 8, "cannot be subtracted"),
    ],
)
def test_formula_syntax_error_shows_position(formula, position, fragment):
    with pytest.raises(FormulaError) as info:
        bm.MixedModel(formula, pd.DataFrame({"y": [1.0, 2.0], "x": [1.0, 2.0]}))
    err = info.value
    assert fragment in str(err)
    assert err.formula == formula
    assert err.position == position
    lines = str(err).split("\n")
    assert lines[-2] == "    " + formula
    assert lines[-1] == " " * (4 + position) + "^"


def test_formula_with_unknown_operator():
    with pytest.raises(FormulaError, match=r"fixed part 'x \$ z'"):
        bm.MixedModel("y ~ x $ z", pd.DataFrame({"y": [1.0], "x": [1.0], "z": [1.0]}))


@pytest.mark.parametrize("bad", [3, None, ["y ~ x"]])
def test_formula_not_a_string(bad):
    with pytest.raises(FormulaError, match="formula must be a string"):
        bm.MixedModel(bad, pd.DataFrame({"y": [1.0]}))


# --------------------------------------------------------------------------- rank deficiency
def test_rank_deficient_fixed_effects_dropped_and_fit_matches_lme4(ss):
    fx = load_fixture("sleepstudy_slopes_reml")  # lme4 fit of Reaction ~ Days + (Days | Subject)
    ss["Hours"] = 24.0 * ss["Days"]
    ss["Const"] = 5.0
    with pytest.warns(RankDeficiencyWarning) as rec:
        model = bm.MixedModel("Reaction ~ Days + Hours + Const + (Days | Subject)", ss)
    msg = str(rec[0].message)
    assert "dropping 2 columns: Hours, Const" in msg
    assert model.design.xnames == ["(Intercept)", "Days"]
    assert model.design.dropped == ["Hours", "Const"]
    fit = model.fit_reml()
    ref = pd.DataFrame([r for r in fx["tidy"] if r["effect"] == "fixed"])
    np.testing.assert_allclose(fit.fixef().to_numpy(), ref["estimate"], rtol=1e-6)
    np.testing.assert_allclose(fit.tidy(effects="fixed")["std_error"], ref["std_error"], rtol=1e-5)
    np.testing.assert_allclose(fit.theta, fx["theta"], rtol=1e-4)
    assert fit.criterion == pytest.approx(fx["glance"]["REMLcrit"], abs=1e-4)
    assert "dropping 2 columns" in str(fit.summary())


def test_aliased_factor_level_named(ss):
    ss["half"] = np.where(ss["Days"] < 5, "early", "late")
    ss["late"] = (ss["Days"] >= 5).astype(float)
    with pytest.warns(RankDeficiencyWarning, match="late"):
        model = bm.MixedModel("Reaction ~ half + late + (1 | Subject)", ss)
    assert model.design.xnames == ["(Intercept)", "halflate"]


# --------------------------------------------------------------------------- missing values
def test_missing_rows_dropped_with_count(ss):
    ss.loc[[1, 5, 9], "Reaction"] = np.nan
    ss.loc[7, "Days"] = np.nan
    ss["unused"] = np.nan  # columns the model does not use do not matter
    with pytest.warns(MissingDataWarning, match=r"dropped 4 of 180 rows .*Reaction: 3, Days: 1"):
        model = bm.MixedModel("Reaction ~ Days + (1 | Subject)", ss)
    assert model.design.n == 176
    assert model.design.nrows_dropped == 4
    fit = model.fit_reml()
    assert fit.glance()["nobs"].iloc[0] == 176


def test_missing_rows_refused_with_na_action_raise(ss):
    ss.loc[[1, 5], "Reaction"] = np.nan
    with pytest.raises(DataError, match=r"2 rows have missing values \(Reaction: 2\)") as info:
        bm.MixedModel("Reaction ~ Days + (1 | Subject)", ss, na_action="raise")
    assert "na_action='drop'" in str(info.value)


def test_missing_grouping_value_dropped(ss):
    ss["Subject"] = ss["Subject"].astype(object)
    ss.loc[0, "Subject"] = None
    with pytest.warns(MissingDataWarning, match="Subject: 1"):
        model = bm.MixedModel("Reaction ~ Days + (1 | Subject)", ss)
    assert model.design.n == 179


def test_bad_na_action(ss):
    with pytest.raises(BayesMixedError, match="na_action must be 'drop' or 'raise', got 'omit'"):
        bm.MixedModel("Reaction ~ Days + (1 | Subject)", ss, na_action="omit")


# --------------------------------------------------------------------------- arguments
@pytest.fixture(scope="module")
def fit():
    return bm.MixedModel(
        "Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy")
    ).fit_reml()


@pytest.mark.parametrize("bad", ["yes", 1, None, "REML"])
def test_bad_reml_argument(ss, bad):
    model = bm.MixedModel("Reaction ~ Days + (1 | Subject)", ss)
    with pytest.raises(ArgumentError, match="reml must be True or False"):
        model.fit_reml(reml=bad)


def test_residual_structure_given_as_text(ss):
    with pytest.raises(ArgumentError, match="bm.residual.AR1"):
        bm.MixedModel("Reaction ~ Days + (1 | Subject)", ss, residual="AR1")


def test_newdata_missing_fixed_column(fit):
    with pytest.raises(ColumnError, match="newdata lacks column 'Days'") as info:
        fit.predict(pd.DataFrame({"Subject": [308]}))
    assert info.value.column == "Days"


def test_newdata_missing_grouping_column(fit):
    new = pd.DataFrame({"Days": [1.0, 2.0]})
    with pytest.raises(ColumnError, match="lacks grouping column 'Subject'") as info:
        fit.predict(new)
    assert "re=False" in str(info.value)
    assert fit.predict(new, re=False) == pytest.approx(
        fit.fixef()["(Intercept)"] + fit.fixef()["Days"] * np.array([1.0, 2.0])
    )


def test_newdata_not_a_dataframe(fit):
    with pytest.raises(DataError, match="newdata must be a pandas DataFrame"):
        fit.predict([[1, 2]])


def test_ols_newdata_missing_column():
    ols = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")).fit_reml()
    with pytest.raises(ColumnError, match="newdata lacks column 'Days'"):
        ols.predict(pd.DataFrame({"x": [1.0]}))


def test_bad_tidy_and_contrast_arguments(fit):
    with pytest.raises(ArgumentError, match="effects must be"):
        fit.tidy(effects="random")
    with pytest.raises(ArgumentError, match="contrast L must have 2 columns"):
        fit.contest([1, 0, 0])


def test_unknown_dataset():
    with pytest.raises(ArgumentError, match="unknown data set 'sleep'.*sleepstudy"):
        bm.datasets.load("sleep")


def test_no_warnings_for_clean_input(ss):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bm.MixedModel("Reaction ~ Days + (Days | Subject)", ss).fit_reml()
