"""Partial pooling (λ_j), the design effect and between/within variances, by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import fixture_names, load_data, load_fixture
from draws_stub import perturbed_draws, repeated_draws

import bayesmixed as bm
from bayesmixed.errors import ArgumentError, ColumnError
from bayesmixed.quantities import variance
from bayesmixed.results.components import Components
from bayesmixed.results.draws import Posterior
from bayesmixed.results.pooling import SHRINKAGE_COLUMNS, pooling_weight, shrinkage


# --------------------------------------------------------------------------- λ_j by hand
def hand_example() -> tuple[pd.DataFrame, Components]:
    """Three clusters of sizes 1, 5 and 20 with τ00 = 4, σ² = 20 and γ00 = 5.

    λ_j = (n_j/σ²) / (n_j/σ² + 1/τ00) = n_j τ00 / (n_j τ00 + σ²):
      a: n = 1   λ = 4 / (4 + 20)   = 1/6
      b: n = 5   λ = 20 / (20 + 20) = 1/2
      c: n = 20  λ = 80 / (80 + 20) = 4/5
    Cluster means (no pooling): a: 10; b: (2+4+6+8+10)/5 = 6; c: ten 2s and ten 4s → 3.
    Partial pooling γ00 + λ_j (ȳ_j − γ00):
      a: 5 + (1/6)(10 − 5) = 5.8333...
      b: 5 + (1/2)(6 − 5)  = 5.5
      c: 5 + (4/5)(3 − 5)  = 3.4
    """
    data = pd.DataFrame(
        {
            "g": ["a"] + ["b"] * 5 + ["c"] * 20,
            "y": [10.0, 2, 4, 6, 8, 10] + [2.0, 4.0] * 10,
        }
    )
    design = bm.MixedModel("y ~ 1 + (1 | g)", data).design
    b = np.array([[5 / 6], [0.5], [-1.6]])  # λ_j (ȳ_j − γ00)
    comp = Components(
        design=design,
        beta=np.array([5.0]),
        sigma=np.asarray(np.sqrt(20.0)),
        cov=[np.array([[4.0]])],
        b=[b],
    )
    return data, comp


def test_lambda_by_hand():
    _, comp = hand_example()
    tab = shrinkage(comp)
    assert list(tab.columns) == SHRINKAGE_COLUMNS
    assert tab["level"].tolist() == ["a", "b", "c"]
    assert tab["n"].tolist() == [1, 5, 20]
    np.testing.assert_allclose(tab["weight"], [1 / 6, 1 / 2, 4 / 5], rtol=1e-12)
    np.testing.assert_allclose(tab["no_pooling"], [10.0, 6.0, 3.0], rtol=1e-12)
    np.testing.assert_allclose(tab["partial_pooling"], [5 + 5 / 6, 5.5, 3.4], rtol=1e-12)
    assert (tab["complete_pooling"] == 5.0).all()
    assert (tab["group"] == "g").all() and (tab["term"] == "(Intercept)").all()
    # the same numbers from the closed form
    np.testing.assert_allclose(pooling_weight(np.array([1, 5, 20]), 4.0, 20.0), [1 / 6, 0.5, 0.8])
    assert pooling_weight(5, tau00=0.0, sigma2=20.0) == 0.0


def test_pooling_weight_errors():
    with pytest.raises(ArgumentError, match="sigma2"):
        pooling_weight(5, 1.0, 0.0)
    with pytest.raises(ArgumentError, match="tau00"):
        pooling_weight(5, -1.0, 1.0)


def test_reml_random_intercept_identity():
    """On a REML fit, weight = λ_j from τ̂00, σ̂², and partial = λ·no + (1 − λ)·complete."""
    fit = bm.MixedModel("y ~ x + (1 | g)", load_data("sim_unbalanced")).fit_reml()
    tab = fit.shrinkage()
    tau = fit.varcorr()["g"].iloc[0, 0]
    np.testing.assert_allclose(
        tab["weight"], pooling_weight(tab["n"].to_numpy(), tau, fit.sigma**2), rtol=1e-10
    )
    lam = tab["weight"]
    np.testing.assert_allclose(
        tab["partial_pooling"],
        lam * tab["no_pooling"] + (1 - lam) * tab["complete_pooling"],
        rtol=1e-9,
    )
    # the no-pooling estimate is the cluster mean of y − x γ̂_x (on the intercept scale)
    data = load_data("sim_unbalanced")
    gx = fit.fixef()["x"]
    means = (data["y"] - gx * data["x"]).groupby(data["g"]).mean()
    np.testing.assert_allclose(tab["no_pooling"], means.loc[tab["level"]].to_numpy(), rtol=1e-10)
    # small clusters are pulled hardest
    assert tab.sort_values("n")["weight"].is_monotonic_increasing


def test_intercept_only_no_pooling_is_cluster_mean():
    data = bm.datasets.load("Dyestuff")
    fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", data).fit_reml()
    tab = fit.shrinkage()
    means = data.groupby("Batch")["Yield"].mean()
    np.testing.assert_allclose(tab["no_pooling"], means.loc[tab["level"]].to_numpy())
    assert tab["complete_pooling"].iloc[0] == pytest.approx(fit.fixef()["(Intercept)"])


_FITS: dict[str, object] = {}


def get_fit(case):
    if case not in _FITS:
        fx = load_fixture(case)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITS[case] = bm.MixedModel(fx["formula"], load_data(fx["data"])).fit_reml(
                reml=fx["REML"]
            )
    return _FITS[case]


@pytest.mark.parametrize("case", [c for c in fixture_names("lmer") if c.endswith("_reml")])
def test_blup_is_matrix_shrinkage_of_no_pooling(case):
    """b̂_j = (G_j + σ² Σ⁻¹)⁻¹ G_j d_j for every term: the general form of λ_j."""
    fit = get_fit(case)
    tab = fit.shrinkage()
    comp = fit.components()
    s2 = float(comp.sigma) ** 2
    assert tab["weight"].between(0, 1).all()
    for i, t in enumerate(fit.design.terms):
        Sig = comp.cov[i]
        d = np.empty((t.m, t.k))
        for k, c in enumerate(t.cnames):
            rows = tab[(tab["group"] == t.group) & (tab["term"] == c)]
            assert len(rows) == t.m
            d[:, k] = rows["no_pooling"] - rows["complete_pooling"]
        G = t.ZtZ_blocks
        scale = np.abs(comp.b[i]).max() + 1e-12
        for j in range(t.m):
            if not np.all(np.isfinite(d[j])):
                continue  # G_j singular: no no-pooling estimate
            # (G + σ²Σ⁻¹)⁻¹ G d, written as Σ (GΣ + σ²I)⁻¹ G d so that Σ may be singular
            pred = Sig @ np.linalg.solve(G[j] @ Sig + s2 * np.eye(t.k), G[j] @ d[j])
            np.testing.assert_allclose(comp.b[i][j], pred, atol=1e-6 * scale)


def test_shrinkage_draws():
    fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    fit = fit.fit_reml()
    same = shrinkage(repeated_draws(fit, 3))
    ref = fit.shrinkage()
    for col in ("weight", "no_pooling", "partial_pooling", "complete_pooling"):
        np.testing.assert_allclose(same[col], ref[col], rtol=1e-10)
    tab = shrinkage(perturbed_draws(fit, 100, seed=2), ci=0.8)
    assert {"weight_low", "weight_high", "partial_pooling_low", "partial_pooling_high"} <= set(
        tab.columns
    )
    assert (tab["weight_low"] <= tab["weight"]).all() and (
        tab["weight"] <= tab["weight_high"]
    ).all()
    assert tab["weight"].between(0, 1).all()


def test_shrinkage_errors():
    ols = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")).fit_reml()
    with pytest.raises(ArgumentError, match="random effects"):
        shrinkage(ols)
    _, comp = hand_example()
    comp.b = None
    with pytest.raises(ArgumentError, match="random effects b"):
        shrinkage(comp)


# --------------------------------------------------------------------------- design effect
def test_design_effect_balanced_by_hand():
    # 4 clusters of 10, ICC 0.2: deff = 1 + (10 − 1)·0.2 = 2.8; n_eff = 40 / 2.8 = 14.2857
    out = variance.design_effect([10, 10, 10, 10], icc=0.2)
    assert out["deff"] == pytest.approx(2.8)
    assert out["n_eff"] == pytest.approx(40 / 2.8)
    assert out["m_bar"] == 10 and out["n"] == 40 and out["clusters"] == 4
    mean = variance.design_effect([10, 10, 10, 10], icc=0.2, method="mean")
    assert mean["deff"] == pytest.approx(2.8)


def test_design_effect_unbalanced_by_hand():
    # sizes 2, 4, 6, 8: n = 20, J = 4, ICC = 0.1
    # mean:     m̄ = 20/4 = 5;                     deff = 1 + 4·0.1 = 1.4; n_eff = 14.2857
    # weighted: m̄ = (4+16+36+64)/20 = 120/20 = 6; deff = 1 + 5·0.1 = 1.5; n_eff = 13.3333
    sizes = [2, 4, 6, 8]
    w = variance.design_effect(sizes, icc=0.1)
    m = variance.design_effect(sizes, icc=0.1, method="mean")
    assert w["method"] == "weighted"
    assert (w["m_bar"], w["deff"]) == (pytest.approx(6.0), pytest.approx(1.5))
    assert w["n_eff"] == pytest.approx(20 / 1.5)
    assert (m["m_bar"], m["deff"]) == (pytest.approx(5.0), pytest.approx(1.4))
    assert m["n_eff"] == pytest.approx(20 / 1.4)
    # The weighted deff is the exact variance inflation of the grand mean: with τ = 0.1,
    # σ² = 0.9, Var(Σy) = Σ n_j (τ+σ²) + τ Σ n_j (n_j − 1) = 20 + 0.1·(2+12+30+56) = 30,
    # Var(ȳ) = 30/400 = 0.075 = (1/20)·1.5.
    tau, s2 = 0.1, 0.9
    V = np.zeros((20, 20))
    start = 0
    for n in sizes:
        V[start : start + n, start : start + n] = tau
        start += n
    V += s2 * np.eye(20)
    var_mean = np.ones(20) @ V @ np.ones(20) / 400
    assert var_mean == pytest.approx(0.075)
    assert var_mean / ((tau + s2) / 20) == pytest.approx(w["deff"])


def test_design_effect_from_fit_and_draws():
    data = load_data("sim_unbalanced")
    fit = bm.MixedModel("y ~ x + (1 | g)", data).fit_reml()
    out = variance.design_effect(fit)
    sizes = data.groupby("g").size().to_numpy()
    icc = fit.icc()["adjusted"]
    assert out["icc"] == pytest.approx(icc)
    m_bar = (sizes**2).sum() / sizes.sum()
    assert out["deff"] == pytest.approx(1 + (m_bar - 1) * icc)
    assert out["n_eff"] == pytest.approx(len(data) / out["deff"])
    assert out["group"] == "g"
    post = variance.design_effect(perturbed_draws(fit, 60))
    assert isinstance(post["deff"], Posterior) and post["deff"].draws.shape == (60,)
    draws = np.random.default_rng(0).uniform(0.1, 0.3, 200)
    p = variance.design_effect(sizes, icc=draws)
    assert isinstance(p["n_eff"], Posterior)
    np.testing.assert_allclose(p["deff"].draws, 1 + (m_bar - 1) * draws)


def test_design_effect_errors():
    with pytest.raises(ArgumentError, match="icc"):
        variance.design_effect([5, 5])
    with pytest.raises(ArgumentError, match="positive integers"):
        variance.design_effect([5, 0], icc=0.1)
    with pytest.raises(ArgumentError, match="method"):
        variance.design_effect([5, 5], icc=0.1, method="kish")
    with pytest.raises(ArgumentError, match="between -1 and 1"):
        variance.design_effect([5, 5], icc=2.0)
    fit = bm.MixedModel("diameter ~ 1 + (1 | plate) + (1 | sample)", bm.datasets.load("Penicillin"))
    fit = fit.fit_reml()
    with pytest.raises(ArgumentError, match="group="):
        variance.design_effect(fit)
    assert variance.design_effect(fit, group="plate")["clusters"] == 24


# --------------------------------------------------------------------------- between/within
def test_between_within_variance_is_exact_gls():
    """With x split into cluster mean and deviation, REML's SEs are the two formulas."""
    data = variance.center(load_data("sim_unbalanced"), "x", by="g")
    fit = bm.MixedModel("y ~ xc + xm + (1 | g)", data).fit_reml()
    out = variance.between_within_variance(fit, "x", data=data)
    V = fit.vcov()
    assert out["var_within"] == pytest.approx(V.loc["xc", "xc"], rel=1e-8)
    assert out["var_between"] == pytest.approx(V.loc["xm", "xm"], rel=1e-8)
    assert out["ratio"] > 1
    post = variance.between_within_variance(perturbed_draws(fit, 40), "x", data=data)
    assert isinstance(post["se_between"], Posterior)


def test_between_within_errors():
    fit = bm.MixedModel("Reaction ~ Days + (1 | Subject)", bm.datasets.load("sleepstudy"))
    fit = fit.fit_reml()
    with pytest.raises(ColumnError, match="'age'"):
        variance.between_within_variance(fit, "age")
