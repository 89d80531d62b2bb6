"""The residual-covariance fixture (tests/reference/make_residual.R) is well formed.

Only the fixture itself is checked here: every case has the agreed keys in the agreed order, the
covariance parameters are named by the rules of the schema (tests/reference/README.md), and the
stored covariance matrix is symmetric positive definite and agrees with the parameter rows (its
diagonal with the SDs, its correlations with the structure). Comparisons of bayesmixed's fits
with these numbers live with the engine's tests.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import REF, load_data, load_fixture

FIXTURE = load_fixture("residual")
CASES = FIXTURE["cases"]
VISITS = ["T0", "T3", "T6", "T9"]
KEYS = [
    "id", "data", "formula", "structure", "time", "group", "by", "reml", "method",
    "logLik", "AIC", "BIC", "npar", "sigma", "fixef", "ran_pars", "cov", "df",
]  # fmt: skip
HETERO = {"CSH", "ARH1", "TOEPH", "UN", "AD"}


def _residual_terms(structure: str) -> list[str]:
    """The ran_pars terms of one residual block, in the schema's order."""
    sds = [f"sd__{t}" for t in VISITS] if structure in HETERO else ["sd__Observation"]
    if structure in {"CS", "CSH", "AR1", "ARH1", "CAR1"}:
        return [*sds, "rho"]
    if structure in {"TOEP", "TOEPH"}:
        return sds + [f"cor__lag{k}" for k in range(1, len(VISITS))]
    if structure == "UN":
        return sds + [f"cor__{a}.{b}" for a, b in itertools.combinations(VISITS, 2)]
    if structure == "AD":
        return sds + [f"rho__{a}.{b}" for a, b in itertools.pairwise(VISITS)]
    raise AssertionError(structure)


def _implied_correlation(structure: str, pars: dict, times: np.ndarray) -> np.ndarray:
    """The correlation matrix the parameter rows of one block imply at ``times``."""
    n = len(VISITS)
    lag = np.abs(np.subtract.outer(times, times))
    if structure in {"CS", "CSH"}:
        return np.where(lag == 0, 1.0, pars["rho"])
    if structure in {"AR1", "ARH1", "CAR1"}:
        return pars["rho"] ** lag
    if structure in {"TOEP", "TOEPH"}:
        r = np.array([1.0] + [pars[f"cor__lag{k}"] for k in range(1, n)])
        return r[lag.astype(int)]
    if structure == "UN":
        out = np.eye(n)
        for (i, a), (j, b) in itertools.combinations(enumerate(VISITS), 2):
            out[i, j] = out[j, i] = pars[f"cor__{a}.{b}"]
        return out
    if structure == "AD":
        rho = [pars[f"rho__{a}.{b}"] for a, b in itertools.pairwise(VISITS)]
        out = np.eye(n)
        for i, j in itertools.combinations(range(n), 2):
            out[i, j] = out[j, i] = np.prod(rho[i:j])
        return out
    raise AssertionError(structure)


def _blocks(case: dict) -> list[tuple[str, np.ndarray]]:
    """(group label, covariance matrix) of every residual block of a case."""
    cov = case["cov"]
    if case["by"] is None:
        return [("Residual", np.array(cov["matrix"]))]
    levels = cov["by"]["level"]
    assert np.array_equal(cov["matrix"], cov["by"]["matrix"][0])
    return [
        (f"Residual:{case['by']}={lv}", np.array(m))
        for lv, m in zip(levels, cov["by"]["matrix"], strict=True)
    ]


def test_header():
    assert FIXTURE["kind"] == "residual"
    for key in ["R", "nlme", "lme4", "lmerTest", "pbkrtest"]:
        assert isinstance(FIXTURE[key], str) and FIXTURE[key]
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    structures = {c["structure"] for c in CASES}
    assert structures == {"CS", "CSH", "AR1", "ARH1", "TOEP", "TOEPH", "UN", "AD", "CAR1"}


@pytest.mark.parametrize("name", ["balanced", "unbalanced", "times"])
def test_data_columns(name):
    data = load_data(f"longitudinal_{name}")
    assert (REF / "data" / f"longitudinal_{name}.csv").exists()
    assert {"id", "arm", "visit", "x", "y"} <= set(data.columns)
    assert set(data["visit"]) == set(VISITS)
    assert set(data["arm"]) == {"control", "treated"}
    assert not data.duplicated(["id", "visit"]).any()
    if name == "times":
        assert (data["t"].diff()[data["visit"] != "T0"] > 0).all()  # sorted by id, then t


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_is_well_formed(case):
    assert list(case) == KEYS
    data = load_data(case["data"])
    assert case["time"] in data.columns and case["group"] == "id"
    assert case["by"] is None or case["by"] in data.columns
    fixef = case["fixef"]
    assert len(fixef["term"]) == len(fixef["estimate"]) == len(fixef["std_error"])
    assert fixef["term"][0] == "(Intercept)" and min(fixef["std_error"]) > 0
    ll, npar = case["logLik"], case["npar"]
    assert case["AIC"] == pytest.approx(-2 * ll + 2 * npar, rel=1e-12)
    assert case["BIC"] > case["AIC"]

    # ran_pars: random-effect rows first, then one residual block per by-level
    rp = case["ran_pars"]
    assert len(rp["group"]) == len(rp["term"]) == len(rp["estimate"])
    rows = list(zip(rp["group"], rp["term"], rp["estimate"], strict=True))
    if "(1 | id)" in case["formula"]:
        assert rows[0][:2] == ("id", "sd__(Intercept)") and rows[0][2] > 0
        rows = rows[1:]
    blocks = _blocks(case)
    terms = _residual_terms(case["structure"])
    assert [(g, t) for g, t, _ in rows] == [(g, t) for g, _ in blocks for t in terms]

    numeric_time = case["time"] != "visit"
    times = np.array(case["cov"]["times"], dtype=float if numeric_time else object)
    if numeric_time:
        assert "subject" in case["cov"]
        assert np.all(np.diff(times) > 0)
    else:
        assert list(times) == VISITS
        times = np.arange(len(VISITS), dtype=float)
    for b, (group, cov) in enumerate(blocks):
        pars = {t: v for g, t, v in rows if g == group}
        assert cov.shape == (len(VISITS), len(VISITS))
        np.testing.assert_array_equal(cov, cov.T)
        assert np.linalg.eigvalsh(cov).min() > 0
        sds = [pars[t] for t in terms if t.startswith("sd__")]
        sds = np.broadcast_to(sds, len(VISITS))
        np.testing.assert_allclose(np.diag(cov), sds**2, rtol=1e-12)
        if b == 0:
            assert case["sigma"] == pytest.approx(sds[0], rel=1e-12)
        corr = cov / np.outer(sds, sds)
        implied = _implied_correlation(case["structure"], pars, times)
        np.testing.assert_allclose(corr, implied, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_df_block(case):
    df = case["df"]
    if case["id"] in {"CS_reml_balanced", "CS_reml_unbalanced"}:
        assert df is not None
    if df is None:
        return
    assert list(df) == ["satterthwaite", "kenward_roger", "std_error_kr"]
    n = len(case["fixef"]["term"])
    for key, values in df.items():
        assert len(values) == n and min(values) > 0, key
