"""bm.compare_structures: R's (nlme's) AIC/BIC and ranking of the residual structures, error
rows for structures that cannot be fitted, REML note, Bayesian columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import load_data, load_fixture

import bayesmixed as bm
from bayesmixed.errors import ArgumentError, ColumnError
from bayesmixed.quantities.structures import DEFAULT_STRUCTURES, STRUCTURE_COLUMNS

FORMULA = "y ~ visit * arm"
# nlme's logLik is polished to ~1e-9; the fits agree to ~1e-7 (optimizer tolerances)
TOL = 1e-4


def r_cases(data: str, reml: bool, formula: str = FORMULA, by=None) -> dict[str, dict]:
    return {
        c["structure"]: c
        for c in load_fixture("residual")["cases"]
        if c["data"] == f"longitudinal_{data}"
        and c["reml"] is reml
        and c["formula"] == formula
        and c.get("by") == by
        and c["time"] == "visit"
    }


@pytest.fixture(scope="module", params=["balanced", "unbalanced"])
def ml_table(request):
    d = load_data(f"longitudinal_{request.param}")
    return request.param, bm.compare_structures(FORMULA, d, time="visit", group="id")


def test_ml_matches_nlme_per_structure(ml_table):
    data, tab = ml_table
    ref = r_cases(data, reml=False)
    assert set(tab["structure"]) == set(DEFAULT_STRUCTURES) == set(ref)
    assert list(tab.columns) == STRUCTURE_COLUMNS
    assert tab["error"].isna().all()
    for row in tab.itertuples():
        r = ref[row.structure]
        assert row.npar == r["npar"], row.structure
        assert row.logLik == pytest.approx(r["logLik"], abs=TOL), row.structure
        assert row.AIC == pytest.approx(r["AIC"], abs=TOL), row.structure
        assert row.BIC == pytest.approx(r["BIC"], abs=TOL), row.structure


def test_ml_ranking_is_r_ranking(ml_table):
    data, tab = ml_table
    ref = r_cases(data, reml=False)
    r_aic = sorted(ref, key=lambda s: ref[s]["AIC"])
    assert tab["structure"].tolist() == r_aic
    r_bic = sorted(ref, key=lambda s: ref[s]["BIC"])
    assert tab.sort_values("BIC")["structure"].tolist() == r_bic
    assert tab["delta_AIC"].iloc[0] == 0.0 and (np.diff(tab["delta_AIC"]) >= 0).all()
    assert tab["delta_BIC"].min() == 0.0
    assert tab.attrs["method"] == "ML"


def test_reml_by_arm_matches_r_and_says_why_reml_is_comparable():
    d = load_data("longitudinal_balanced")
    tab, fits = bm.compare_structures(
        FORMULA,
        d,
        time="visit",
        group="id",
        structures=["UN", bm.residual.CS],
        method="REML",
        by="arm",
        return_fits=True,
    )
    ref = r_cases("balanced", reml=True, by="arm")
    assert set(tab["structure"]) == {"UN by arm", "CS by arm"}
    for row in tab.itertuples():
        r = ref[row.structure.split()[0]]
        assert row.logLik == pytest.approx(r["logLik"], abs=TOL)
        assert row.npar == r["npar"]
    assert "same fixed effects" in tab.attrs["note"] and tab.attrs["method"] == "REML"
    assert fits["UN by arm"].reml and fits["UN by arm"].rd.spec.by == "arm"


def test_numeric_time_adds_car1_and_failures_are_rows():
    d = load_data("longitudinal_times")
    tab = bm.compare_structures(FORMULA, d, time="t", group="id", structures=["CAR1", "AR1", "CS"])
    ref = r_cases("times", reml=False) | {
        c["structure"]: c for c in load_fixture("residual")["cases"] if c["id"] == "CAR1_ml_times"
    }
    car1 = tab.set_index("structure").loc["CAR1"]
    assert car1["AIC"] == pytest.approx(ref["CAR1"]["AIC"], abs=TOL)
    ar1 = tab.set_index("structure").loc["AR1"]
    # AR1 on a non-integer numeric time is refused; the row says why and comes last
    assert tab["structure"].iloc[-1] == "AR1"
    assert np.isnan(ar1["AIC"]) and pd.isna(ar1["npar"]) and "whole-number" in ar1["error"]
    assert tab["error"].notna().sum() == 1
    # the default list gains CAR1 for a numeric time only
    from bayesmixed.quantities.structures import _resolve

    assert [s.name for s in _resolve(None, "t", "id", None, True)][-1] == "CAR1"
    assert "CAR1" not in [s.name for s in _resolve(None, "visit", "id", None, False)]


def test_categorical_time_car1_is_an_error_row():
    d = load_data("longitudinal_balanced")
    tab = bm.compare_structures(FORMULA, d, time="visit", group="id", structures=["CAR1", "CS"])
    assert tab["structure"].tolist() == ["CS", "CAR1"]
    assert "numeric time" in tab["error"].iloc[1] and tab["delta_AIC"].iloc[0] == 0.0


def test_bad_arguments():
    d = load_data("longitudinal_balanced")
    with pytest.raises(ArgumentError, match="method"):
        bm.compare_structures(FORMULA, d, time="visit", group="id", method="GLS")
    with pytest.raises(ArgumentError, match="not a residual structure"):
        bm.compare_structures(FORMULA, d, time="visit", group="id", structures=["ARMA"])
    with pytest.raises(ArgumentError, match="each structure once"):
        bm.compare_structures(FORMULA, d, time="visit", group="id", structures=["CS", "cs"])
    with pytest.raises(ColumnError, match="time='week'"):
        bm.compare_structures(FORMULA, d, time="week", group="id")
    with pytest.raises(ArgumentError, match="bayes"):
        bm.compare_structures(FORMULA, d, time="visit", group="id", bayes="yes")


def test_bayes_columns():
    d = load_data("longitudinal_balanced")
    tab = bm.compare_structures(
        FORMULA,
        d,
        time="visit",
        group="id",
        structures=["CS"],
        bayes=True,
        draws=100,
        tune=100,
        chains=1,
    )
    assert {"elpd_loo", "se", "p_loo", "bayes_error"} <= set(tab.columns)
    row = tab.iloc[0]
    # either the posterior run worked, or the row says why (the ML columns stay)
    assert np.isfinite(row["AIC"])
    assert np.isfinite(row["elpd_loo"]) or isinstance(row["bayes_error"], str)


def test_dropped_rows_are_reported_once():
    from bayesmixed.errors import MissingDataWarning

    d = load_data("longitudinal_balanced")
    d.loc[5, "y"] = np.nan
    with pytest.warns(MissingDataWarning) as rec:
        tab = bm.compare_structures(FORMULA, d, time="visit", group="id", structures=["CS", "AR1"])
    assert sum(issubclass(w.category, MissingDataWarning) for w in rec) == 1
    assert tab["error"].isna().all()
