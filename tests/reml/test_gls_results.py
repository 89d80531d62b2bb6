"""GLSFit as a full fit: ranef, marginal means and their df choices, summary display."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.errors import ArgumentError


def _data(n=30, seed=11):
    rng = np.random.default_rng(seed)
    d = pd.DataFrame(
        {
            "id": np.repeat([f"s{i:02d}" for i in range(n)], 3),
            "visit": ["a", "b", "c"] * n,
            "arm": np.repeat(rng.permutation(["c", "t"] * (n // 2)), 3),
        }
    )
    d["y"] = np.repeat(rng.normal(size=n), 3) + rng.normal(size=3 * n)
    return d


@pytest.fixture(scope="module")
def fits():
    d = _data()
    ar1 = bm.residual.AR1(time="visit", group="id")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gls = bm.MixedModel("y ~ visit * arm", d, residual=ar1).fit_reml()
        lme = bm.MixedModel("y ~ visit + (1 | id)", d, residual=ar1).fit_reml()
    return gls, lme


def test_ranef_matches_the_dense_formula(fits):
    _, fit = fits
    tab = fit.ranef()
    assert tab.columns.tolist() == ["group", "level", "term", "estimate", "std_error"]
    # dense check of one subject: b = g Z' V^-1 r, var = σ²(g − g Z'V⁻¹Z g)
    rows = fit.rd.subject_rows("s03")
    V = fit.marginal_cov("s03").to_numpy()
    g = fit.covs[0][0, 0]
    r = fit.design.y[rows] - fit.design.X[rows] @ fit.beta
    z = np.ones(len(rows))
    row = tab.set_index("level").loc["s03"]
    assert row["estimate"] == pytest.approx(g * z @ np.linalg.solve(V, r), rel=1e-10)
    assert row["std_error"] ** 2 == pytest.approx(g - g * z @ np.linalg.solve(V, z) * g, rel=1e-10)
    np.testing.assert_allclose(
        fit.fitted(),
        fit.design.X @ fit.beta + tab["estimate"].to_numpy()[fit.design.terms[0].codes],
    )


def test_ranef_without_random_terms_is_empty(fits):
    gls, _ = fits
    assert gls.ranef().empty


def test_emmeans_df_choices(fits):
    gls, _ = fits
    s = gls.emmeans("visit", by="arm")
    a = gls.emmeans("visit", by="arm", ddf="asymptotic")
    np.testing.assert_allclose(s["std_error"], a["std_error"])
    assert np.isinf(a["df"]).all() and (s["df"] < gls.n).all()
    L = np.eye(gls.design.p)
    _, df = gls._lincomb_cov(L, "residual")
    assert (df == gls.n - gls.design.p).all()
    np.testing.assert_allclose(
        gls._lincomb_cov(L, "satterthwaite")[1], gls.fixed_df("satterthwaite")
    )
    kr = gls.emmeans("visit", ddf="kenward-roger")
    assert (kr["std_error"] >= gls.emmeans("visit")["std_error"] - 1e-12).all()
    ct = gls.contrast("visit", "trt.vs.ctrl", by="arm")
    assert ct.attrs["adjust"] == "dunnettx" and len(ct) == 4


def test_summary_is_one_description(fits):
    gls, lme = fits
    for fit in fits:
        summ = fit.summary(ddf="satterthwaite")
        text, html = str(summ), summ._repr_html_()
        assert repr(fit) == str(fit.summary())
        assert fit._repr_html_() == fit.summary()._repr_html_()
        assert "Fixed effects (df: satterthwaite):" in text and "Fixed effects" in html
        assert "Residual correlation" in text and html.count("<table") == 4
    assert str(gls.summary()).startswith("Generalized least squares fit by REML")
    assert str(lme.summary()).startswith("Linear mixed model fit by REML")
    with pytest.raises(ArgumentError, match="ddf"):
        gls.summary(ddf="nope")
