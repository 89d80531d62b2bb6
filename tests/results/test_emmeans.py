"""Unit tests of marginal means and contrasts (bayesmixed.results.emmeans / .contrasts):
the reference grid, contrast methods and labels, adjustments, bad input and the posterior path.
The numbers against emmeans itself are in tests/reference/test_emmeans_vs_r.py."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from draws_stub import perturbed_draws, repeated_draws
from scipy import stats

import bayesmixed as bm
from bayesmixed.errors import ArgumentError, BayesMixedWarning
from bayesmixed.results.contrasts import (
    _mvt_cdf,
    adjust_p,
    contrast_coefficients,
    critical_value,
    posterior_contrast_table,
)
from bayesmixed.results.emmeans import (
    PosteriorTable,
    marginal_means,
    posterior_emmeans_table,
)


def _data(seed=1, n_id=16):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_id):
        u = rng.normal(0, 2)
        for j, t in enumerate(["T0", "T3", "T6", "T9"]):
            arm = "treated" if i % 2 else "control"
            age = 40.0 + i
            y = 20 + j + (arm == "treated") * j * 0.5 + 0.1 * age + u + rng.normal()
            rows.append({"id": f"s{i}", "time": t, "arm": arm, "age": age, "y": y})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def fit():
    return bm.MixedModel("y ~ time * arm + age + (1 | id)", _data()).fit_reml()


@pytest.fixture(scope="module")
def ols():
    return bm.MixedModel("y ~ time * arm + age", _data()).fit_reml()


def test_reference_grid_averages_with_equal_weights(fit):
    mm = marginal_means(fit.design, "time")
    assert mm.levels == ["T0", "T3", "T6", "T9"]
    means = fit.emmeans(["time", "arm"])
    by_time = means.groupby("time", sort=False)["estimate"].mean().to_numpy()
    np.testing.assert_allclose(fit.emmeans("time")["estimate"], by_time, rtol=1e-12)
    # the numeric covariate is at its mean
    age_col = fit.design.xnames.index("age")
    np.testing.assert_allclose(mm.L[:, age_col], fit.design.frame["age"].mean())


def test_rows_ordered_as_emmeans(fit):
    tab = fit.emmeans("time", by="arm")
    assert list(tab.columns) == [
        "time", "arm", "estimate", "std_error", "df", "conf_low", "conf_high",
    ]  # fmt: skip
    assert tab["arm"].tolist() == ["control"] * 4 + ["treated"] * 4
    assert tab["time"].tolist()[:4] == ["T0", "T3", "T6", "T9"]


def test_at_fixes_covariates_and_restricts_levels(fit):
    at60 = fit.emmeans("time", at={"age": 60})
    base = fit.emmeans("time")
    shift = (60 - fit.design.frame["age"].mean()) * fit.fixef()["age"]
    np.testing.assert_allclose(at60["estimate"] - base["estimate"], shift, rtol=1e-10)
    two = fit.emmeans("time", at={"time": ["T0", "T9"]})
    assert two["time"].tolist() == ["T0", "T9"]
    np.testing.assert_allclose(two["estimate"], base["estimate"].iloc[[0, 3]], rtol=1e-12)


def test_ddf_choices(fit):
    asy = fit.emmeans("time", ddf="asymptotic")
    assert np.all(np.isinf(asy["df"]))
    q = stats.norm.ppf(0.975)
    np.testing.assert_allclose(asy["conf_high"] - asy["estimate"], q * asy["std_error"])
    sat = fit.emmeans("time", ddf="Satterthwaite")
    assert np.all(np.isfinite(sat["df"]))
    with pytest.raises(ArgumentError, match="kenward-roger, satterthwaite, asymptotic"):
        fit.emmeans("time", ddf="containment")


def test_ols_uses_the_residual_df(ols):
    tab = ols.contrast("time", adjust="none")
    assert np.all(tab["df"] == ols.df_residual)
    assert np.all(np.isinf(ols.emmeans("time", ddf="asymptotic")["df"]))


def test_labels_and_default_adjustments(fit):
    cases = {
        "pairwise": (["T0 - T3", "T0 - T6", "T0 - T9", "T3 - T6", "T3 - T9", "T6 - T9"], "tukey"),
        "revpairwise": (
            ["T3 - T0", "T6 - T0", "T6 - T3", "T9 - T0", "T9 - T3", "T9 - T6"],
            "tukey",
        ),
        "trt.vs.ctrl": (["T3 - T0", "T6 - T0", "T9 - T0"], "dunnettx"),
        "consec": (["T3 - T0", "T6 - T3", "T9 - T6"], "mvt"),
        "poly": (["linear", "quadratic", "cubic"], "none"),
        "eff": (["T0 effect", "T3 effect", "T6 effect", "T9 effect"], "fdr"),
    }
    for method, (labels, adjust) in cases.items():
        tab = fit.contrast("time", method=method)
        assert tab["contrast"].tolist() == labels, method
        assert tab.attrs["adjust"] == adjust, method
    tab = fit.contrast("arm", method="revpairwise", by="time")
    assert tab["contrast"].unique().tolist() == ["treated - control"]
    assert tab.attrs["adjust"] == "none"  # families of one contrast
    ref = fit.contrast("time", method="trt.vs.ctrl", ref="T9")
    assert ref["contrast"].tolist() == ["T0 - T9", "T3 - T9", "T6 - T9"]


def test_custom_contrast(fit):
    tab = fit.contrast("time", method={"T9 - (T6+T3)/2": [0, -0.5, -0.5, 1]})
    emm = fit.emmeans("time")["estimate"].to_numpy()
    assert tab["contrast"].tolist() == ["T9 - (T6+T3)/2"]
    np.testing.assert_allclose(tab["estimate"], emm[3] - (emm[1] + emm[2]) / 2, rtol=1e-12)
    assert tab.attrs["adjust"] == "none"
    with pytest.warns(BayesMixedWarning, match="sum to 1"):
        fit.contrast("time", method={"T9": [0, 0, 0, 1]})
    with pytest.raises(ArgumentError, match="3 coefficients but there are 4 means"):
        fit.contrast("time", method={"bad": [1, -1, 0]})


def test_poly_coefficients_are_emmeans_integers():
    C, labels, _ = contrast_coefficients(list("abcd"), "poly")
    assert C.tolist() == [[-3, -1, 1, 3], [1, -1, -1, 1], [-1, 3, -3, 1]]
    C5, labels5, _ = contrast_coefficients(list("abcde"), "poly")
    assert C5.tolist()[1] == [2, -1, -2, -1, 2]
    assert labels5 == ["linear", "quadratic", "cubic", "quartic"]


def test_p_value_adjustments_match_p_adjust():
    p = np.array([0.01, 0.04, 0.03, 0.2])
    t = stats.t.isf(p / 2, 20)
    # R: p.adjust(c(.01,.04,.03,.2), "holm") / "BH"
    np.testing.assert_allclose(adjust_p(t, 20, "holm"), [0.04, 0.09, 0.09, 0.2], rtol=1e-8)
    np.testing.assert_allclose(
        adjust_p(t, 20, "fdr"), [0.04, 0.05333333, 0.05333333, 0.2], rtol=1e-6
    )
    np.testing.assert_allclose(adjust_p(t, 20, "sidak"), 1 - (1 - p) ** 4, rtol=1e-8)


def test_mvt_of_pairwise_contrasts_is_tukey():
    """Pairwise differences of independent equal-variance means: max |t| is the
    studentized range / √2, so the singular multivariate t must reproduce Tukey."""
    eye = np.eye(4)
    C = np.array([eye[i] - eye[j] for i in range(4) for j in range(i + 1, 4)])
    S = C @ C.T
    corr = S / np.sqrt(np.outer(np.diag(S), np.diag(S)))
    for c, df in [(2.0, 30.0), (2.7, np.inf)]:
        tukey = stats.studentized_range.cdf(np.sqrt(2) * c, 4, df)
        assert abs(_mvt_cdf(c, corr, df) - tukey) < 2e-5
    t = np.array([1.0, 2.5, 3.0])
    full = np.array([[1, -0.5, 0], [-0.5, 1, -0.5], [0, -0.5, 1]])
    ref = stats.multivariate_t.cdf(
        np.full(3, 2.0), shape=full, df=12, lower_limit=np.full(3, -2.0), maxpts=300_000,
        random_state=0,
    )  # fmt: skip
    assert abs(_mvt_cdf(2.0, full, 12.0) - ref) < 2e-5
    crit = critical_value(0.95, np.full(3, 12.0), "mvt", full)
    assert abs(_mvt_cdf(crit[0], full, 12.0) - 0.95) < 1e-6
    assert np.all(adjust_p(t, 12.0, "mvt", full) >= adjust_p(t, 12.0, "none"))


def test_tukey_is_changed_to_sidak_outside_pairwise(fit):
    with pytest.warns(BayesMixedWarning, match="changed to 'sidak'"):
        tab = fit.contrast("time", method="trt.vs.ctrl", adjust="tukey")
    assert tab.attrs["adjust"] == "sidak"


def test_ml_fit_warns_and_uses_satterthwaite():
    ml = bm.MixedModel("y ~ time + (1 | id)", _data()).fit_reml(reml=False)
    with pytest.warns(BayesMixedWarning, match="needs a REML fit"):
        kr = ml.emmeans("time")
    assert kr.equals(ml.emmeans("time", ddf="satterthwaite"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"specs": "visit"}, "not a factor of the fixed part: use one of arm, time"),
        ({"specs": "time", "by": "site"}, "'site' is not a factor"),
        ({"specs": "age"}, "numeric variable"),
        ({"specs": "time", "at": {"time": ["T1"]}}, "levels \\['T1'\\]"),
        ({"specs": "time", "at": {"weight": 3}}, "not a variable of the fixed part"),
        ({"specs": "time", "level": 1.5}, "level must be between 0 and 1"),
        ({"specs": "time", "by": "time"}, "twice"),
        ({"specs": 3}, "factor name"),
    ],
)
def test_bad_emmeans_input(fit, kwargs, match):
    with pytest.raises(ArgumentError, match=match):
        fit.emmeans(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "dunnett"}, "pairwise, revpairwise, trt.vs.ctrl, consec, poly, eff"),
        ({"adjust": "scheffe"}, "tukey, holm, bonferroni, sidak, fdr, dunnettx, mvt, none"),
        ({"method": "trt.vs.ctrl", "ref": "T12"}, "ref='T12' is not one of the levels"),
        ({"method": "pairwise", "ref": "T0"}, "only used by method='trt.vs.ctrl'"),
    ],
)
def test_bad_contrast_input(fit, kwargs, match):
    with pytest.raises(ArgumentError, match=match):
        fit.contrast("time", **kwargs)


def test_rank_deficient_model_reports_non_estimable_means_as_nan():
    d = _data()
    d = d[~((d["arm"] == "treated") & (d["time"] == "T9"))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = bm.MixedModel("y ~ time * arm + (1 | id)", d).fit_reml()
    tab = f.emmeans("time", by="arm")
    nan = tab["estimate"].isna().to_numpy()
    assert nan.tolist() == [False] * 7 + [True]
    assert f.contrast("time", by="arm", adjust="none")["estimate"].isna().sum() == 3


class _Post:
    """A posterior-like fit (draws around the REML fit) with chains."""

    def __init__(self, stub, nchains):
        self.design, self.components, self.nchains = stub.design, stub.components, nchains


def test_posterior_tables_equal_the_point_fit_for_repeated_draws(fit):
    post = _Post(repeated_draws(fit, draws=4), nchains=2)
    emm = posterior_emmeans_table(post, "time", by="arm")
    np.testing.assert_allclose(emm["estimate"], fit.emmeans("time", by="arm")["estimate"])
    con = posterior_contrast_table(post, "time", method="consec")
    np.testing.assert_allclose(con["estimate"], fit.contrast("time", method="consec")["estimate"])
    assert con.draws.dims == ("chain", "draw", "contrast")
    assert con.draws.shape == (2, 2, 3)
    assert con.draws.coords["contrast"].values.tolist() == ["T3 - T0", "T6 - T3", "T9 - T6"]


def test_posterior_summaries_and_draws(fit):
    post = _Post(perturbed_draws(fit, draws=400, seed=3), nchains=4)
    tab = posterior_contrast_table(post, "arm", method="revpairwise", by="time", interval=0.9)
    assert isinstance(tab, PosteriorTable)
    assert list(tab.columns) == [
        "contrast", "time", "estimate", "std_error", "conf_low", "conf_high", "pd",
    ]  # fmt: skip
    d = tab.draws.values.reshape(400, -1)
    np.testing.assert_allclose(tab["estimate"], d.mean(axis=0))
    np.testing.assert_allclose(tab["std_error"], d.std(axis=0, ddof=1))
    np.testing.assert_allclose(tab["conf_low"], np.quantile(d, 0.05, axis=0))
    assert np.all((tab["pd"] >= 0.5) & (tab["pd"] <= 1))
    assert tab.draws.coords["contrast"].values[0] == "treated - control | time=T0"
    # derived frames are plain DataFrames: the draws never describe other rows
    assert type(tab.head(2)) is pd.DataFrame
    with pytest.raises(ArgumentError, match="interval"):
        posterior_emmeans_table(post, "time", interval=95)
