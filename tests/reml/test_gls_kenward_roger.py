"""Kenward–Roger for residual-structure (GLS/MMRM) fits: block derivatives against their
analytic forms, the exact multivariate df of a balanced UN model, invariance of the df to the
parameterization, Φ_A ≥ Φ, and the routing of ``ddf="kenward-roger"`` through tidy, summary,
emmeans and contrast. (Agreement with lmer/pbkrtest on CS: tests/reference.)"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmixed as bm
from bayesmixed.errors import ArgumentError, BayesMixedWarning
from bayesmixed.reml.gls.block_derivatives import BlockDerivatives, array_derivatives
from bayesmixed.reml.gls.kenward_roger import GLSKenwardRoger


def _data(n=24, T=3, seed=0, drop=0.0):
    rng = np.random.default_rng(seed)
    visits = [f"T{j}" for j in range(T)]
    d = pd.DataFrame(
        {
            "id": np.repeat([f"s{i:02d}" for i in range(n)], T),
            "visit": visits * n,
            "arm": np.repeat(np.where(np.arange(n) % 2 == 0, "ctl", "trt"), T),
            "x": rng.normal(size=n * T),
        }
    )
    b = np.repeat(rng.normal(size=n), T)
    e = rng.normal(size=n * T)
    d["y"] = 10 + 0.5 * (d["arm"] == "trt") + 0.3 * d["visit"].str[1:].astype(int) + b + e
    d["week"] = d["visit"].str[1:].astype(float) * 2
    if drop:
        keep = (rng.uniform(size=len(d)) > drop) | (d["visit"] == "T0")
        d = d[keep].reset_index(drop=True)
    return d


@cache
def _fit(structure: str, formula: str = "y ~ visit * arm", drop: float = 0.0, reml=True, **kw):
    d = _data(drop=drop)
    res = getattr(bm.residual, structure)(time=kw.pop("time", "visit"), group="id", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bm.MixedModel(formula, d, residual=res).fit_reml(reml=reml)


def test_array_derivatives_are_accurate():
    f = lambda v: np.array([np.exp(v[0]) * np.tanh(v[1]), v[0] ** 3])  # noqa: E731
    x = np.array([0.3, -0.7])
    _, J, H = array_derivatives(f, x)
    e, t = np.exp(x[0]), np.tanh(x[1])
    np.testing.assert_allclose(J[:, 0], [e * t, e * (1 - t**2)], rtol=1e-9)
    want = [[e * t, e * (1 - t**2)], [e * (1 - t**2), -2 * e * t * (1 - t**2)]]
    np.testing.assert_allclose(H[..., 0], want, rtol=1e-8)
    np.testing.assert_allclose(H[..., 1], [[6 * x[0], 0], [0, 0]], atol=1e-8)


def test_cs_natural_derivatives_match_the_analytic_ones():
    # V = σ²[(1 − ρ) I + ρ J]: ∂/∂σ² = (1 − ρ) I + ρ J, ∂/∂ρ = σ²(J − I), ∂²/∂σ²∂ρ = J − I
    fit = _fit("CS", drop=0.2)
    bd = BlockDerivatives(fit)
    assert bd.names == ["Residual.var__Observation", "Residual.rho"]
    s2 = fit.sigma**2
    rho = fit.tidy(effects="ran_pars")["estimate"].iloc[1]
    for b in fit.rd.batches:
        J, H = bd.residual(b)
        m = len(b.pos)
        one, eye = np.ones((m, m)), np.eye(m)
        np.testing.assert_allclose(J[0], (1 - rho) * eye + rho * one, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(J[1], s2 * (one - eye), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(H[0, 1], one - eye, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(H[1, 0], one - eye, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(H[0, 0], 0, atol=1e-8)
        np.testing.assert_allclose(H[1, 1], 0, atol=1e-6 * s2)


def test_balanced_un_gives_the_exact_multivariate_df():
    # complete balanced data, UN: the arm effects are Hotelling-type tests with exact df
    fit = _fit("UN")
    kr = fit.kenward_roger
    n, g = 24, 2
    names = fit.design.xnames
    arm = [i for i, nm in enumerate(names) if "arm" in nm]
    np.testing.assert_allclose(kr.df()[arm], n - g, rtol=1e-8)
    # the joint test of the arm difference at every visit: Hotelling's T², F(q, n − g − q + 1)
    L = np.eye(len(names))[arm]
    res = kr.test_md(L)
    q = len(arm)
    assert res["den_df"] == pytest.approx(n - g - q + 1, rel=1e-8)
    d = _data()
    wide = d.pivot(index="id", columns="visit", values="y")
    grp = d.groupby("id")["arm"].first().loc[wide.index]
    a, b = wide[grp == "ctl"].to_numpy(), wide[grp == "trt"].to_numpy()
    S = ((len(a) - 1) * np.cov(a.T) + (len(b) - 1) * np.cov(b.T)) / (n - g)
    diff = b.mean(0) - a.mean(0)
    T2 = diff @ np.linalg.solve(S * (1 / len(a) + 1 / len(b)), diff)
    F = T2 * (n - g - q + 1) / ((n - g) * q)
    # exact in the covariance-element parameterization of UN (V linear: R = 0, the linear
    # variant); on the natural scale (variances, correlations) R shifts Φ_A by ~0.2%
    lin = GLSKenwardRoger(fit, linear=True).test_md(L)
    assert lin["den_df"] == pytest.approx(n - g - q + 1, rel=1e-8)
    assert lin["statistic"] == pytest.approx(F, rel=1e-5)
    assert lin["p_value"] == pytest.approx(stats.f.sf(F, q, n - g - q + 1), rel=1e-5)
    assert res["statistic"] == pytest.approx(F, rel=1e-2)


# (structure, formula, missing share, structure options, full-KR SE ≥ model SE)
CASES = [
    ("CS", "y ~ visit * arm", 0.2, {}, True),
    ("UN", "y ~ visit * arm", 0.2, {}, True),
    ("CSH", "y ~ visit + arm + x", 0.2, {}, True),
    ("AR1", "y ~ visit * arm + (1 | id)", 0.2, {}, True),
    ("CAR1", "y ~ visit + arm", 0.2, {"time": "week"}, False),
    ("TOEP", "y ~ visit + arm", 0.0, {"by": "arm"}, False),
]


@pytest.mark.parametrize("structure, formula, drop, kw, full_ge", CASES)
def test_df_are_invariant_and_adjusted_se_not_smaller(structure, formula, drop, kw, full_ge):
    fit = _fit(structure, formula, drop, **kw)
    kr = GLSKenwardRoger(fit)
    lin = GLSKenwardRoger(fit, linear=True)
    se0 = np.sqrt(np.diag(fit.vcov().to_numpy()))
    np.testing.assert_allclose(kr.Phi, fit.vcov().to_numpy(), rtol=1e-10, atol=1e-14)
    # Φ + 2Φ[Σ W_rs (Q_rs − P_rΦP_s)]Φ ≥ Φ (the bracket is Σ W_rs A_r'(V − XΦX')A_s); the
    # second-derivative term −½ΦΣW_rsR_rsΦ may lower an SE (AR-type ρ^lag: ∂²V/∂ρ² > 0)
    assert (lin.std_errors() >= se0 * (1 - 1e-9)).all()
    if full_ge:
        assert (kr.std_errors() >= se0 * (1 - 1e-9)).all()
    else:
        assert (kr.std_errors() >= se0 * 0.99).all()
    # W and P change covariantly: the df do not depend on the residual parameterization
    work = GLSKenwardRoger(fit, transform="working")
    np.testing.assert_allclose(work.df(), kr.df(), rtol=1e-6)
    np.testing.assert_allclose(lin.df(), kr.df(), rtol=1e-12)
    # Φ_A(natural) − Φ_A(linear) is the second-derivative term −½ Φ (Σ W_rs R_rs) Φ
    R = np.einsum("rs,rsij->ij", kr.W, kr.R)
    np.testing.assert_allclose(
        kr.PhiA - lin.PhiA, -0.5 * kr.Phi @ R @ kr.Phi, atol=1e-12 * np.abs(kr.Phi).max()
    )
    assert np.all(np.isfinite(kr.df())) and (kr.df() > 1).all()


def test_shared_and_per_subject_blocks_agree():
    # AR1 over visit positions (one block per visit pattern) and CAR1 over weeks = 2 × visit
    # (a block per subject) are one model: same df, and the same linear-KR SEs (ρ_week² =
    # ρ_visit is a reparameterization, so only the second-derivative term differs)
    a = _fit("AR1", "y ~ visit + arm", 0.2)
    c = _fit("CAR1", "y ~ visit + arm", 0.2, time="week")
    ka, kc = a.kenward_roger, c.kenward_roger
    np.testing.assert_allclose(kc.df(), ka.df(), rtol=1e-5)
    la, lc = GLSKenwardRoger(a, linear=True), GLSKenwardRoger(c, linear=True)
    np.testing.assert_allclose(lc.std_errors(), la.std_errors(), rtol=1e-5)


def test_random_intercept_blocks_are_linear_in_g():
    fit = _fit("AR1", "y ~ visit * arm + (1 | id)", 0.2)
    kr = fit.kenward_roger
    assert kr.names[0] == "G:id[0,0]" and kr.n_random_effect_params == 1
    assert np.abs(kr.R[0]).max() == 0 and np.abs(kr.R[:, 0]).max() == 0


def test_tidy_summary_emmeans_and_contrast_use_kenward_roger():
    fit = _fit("UN", drop=0.2)
    kr = fit.kenward_roger
    tab = fit.tidy(effects="fixed", ddf="kenward-roger", conf_int=True)
    np.testing.assert_allclose(tab["std_error"], kr.std_errors())
    np.testing.assert_allclose(tab["df"], kr.df())
    np.testing.assert_allclose(tab["statistic"], fit.beta / kr.std_errors())
    np.testing.assert_allclose(fit.fixed_df("KR"), kr.df())
    assert "Fixed effects (df: kenward-roger):" in str(fit.summary(ddf="kenward-roger"))
    em = fit.emmeans("visit", by="arm", ddf="kenward-roger")
    es = fit.emmeans("visit", by="arm")
    assert (em["std_error"] >= es["std_error"] * (1 - 1e-9)).all()
    assert (em["df"] != es["df"]).any()
    ct = fit.contrast("visit", "pairwise", by="arm", ddf="kenward-roger")
    L = np.zeros(len(fit.beta))
    L[fit.design.xnames.index("visitT1")] = 1.0  # T1 − T0 in the control arm
    row = ct[(ct["arm"] == "ctl") & (ct["contrast"] == "T0 - T1")].iloc[0]
    assert row["std_error"] == pytest.approx(np.sqrt(L @ kr.PhiA @ L), rel=1e-10)
    assert row["df"] == pytest.approx(kr.test_1d(L)["df"], rel=1e-10)


def test_ml_fits_and_bad_arguments():
    ml = _fit("CS", reml=False)
    with pytest.raises(ArgumentError, match="REML"):
        ml.tidy(ddf="kenward-roger")
    with pytest.warns(BayesMixedWarning, match="REML"):
        em = ml.emmeans("visit", ddf="kenward-roger")
    np.testing.assert_allclose(em["df"], ml.emmeans("visit")["df"])
    fit = _fit("CS")
    with pytest.raises(ArgumentError, match="transform"):
        GLSKenwardRoger(fit, transform="log")
    with pytest.raises(ArgumentError, match="as many parameters"):
        GLSKenwardRoger(fit, transform=lambda w: w[:1])
    with pytest.raises(ArgumentError, match="ddf"):
        fit.fixed_df("kenward")
