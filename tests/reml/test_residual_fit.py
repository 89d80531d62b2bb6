"""The residual-structure engine: blocked criterion against a dense n×n likelihood, the
design's checks, and the fit's methods."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.errors import ColumnError, DataError, IdentifiabilityError
from bayesmixed.reml.gls.criterion import GLSCriterion


def _data(n=24, T=4, seed=1, drop=0.2):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        b = rng.normal()
        for j in range(T):
            if j > 0 and rng.uniform() < drop:
                continue
            x = rng.normal()
            rows.append(
                dict(
                    id=f"s{i:02d}",
                    arm="treated" if i % 2 else "control",
                    visit=f"V{j}",
                    t=3.0 * j + rng.uniform(-1, 1),
                    week=3 * j,
                    x=x,
                    y=1 + 0.3 * j + 0.5 * x + b + rng.normal(),
                )
            )
    return pd.DataFrame(rows)


def _dense(crit: GLSCriterion, phi, reml):
    """−2 log-likelihood from the stacked n×n V (σ² profiled), by brute force."""
    d, rd = crit.design, crit.rd
    n, p = d.n, d.p
    V = np.zeros((n, n))
    for code in range(len(rd.subjects)):
        rows = rd.subject_rows(rd.subjects[code])
        ZGZ, R = crit.marginal_block(phi, rows)
        V[np.ix_(rows, rows)] = ZGZ + R
    Vi = np.linalg.inv(V)
    A = d.X.T @ Vi @ d.X
    beta = np.linalg.solve(A, d.X.T @ Vi @ d.y)
    r = d.y - d.X @ beta
    r2 = r @ Vi @ r
    nd = n - p if reml else n
    out = np.linalg.slogdet(V)[1] + nd * (1 + np.log(2 * np.pi * r2 / nd))
    return out + (np.linalg.slogdet(A)[1] if reml else 0.0)


CASES = [
    ("UN", "visit", None, "y ~ visit + x"),
    ("CSH", "visit", "arm", "y ~ visit * arm"),
    ("AR1", "week", None, "y ~ x"),
    ("CAR1", "t", "arm", "y ~ x + arm"),
    ("TOEPH", "visit", None, "y ~ visit"),
    ("AD", "visit", None, "y ~ x"),
    ("AR1", "visit", None, "y ~ visit + (1 | id)"),
    ("CS", "visit", None, "y ~ x + (x | id)"),
]


@pytest.mark.parametrize(("name", "time", "by", "formula"), CASES)
@pytest.mark.parametrize("reml", [True, False])
def test_blocked_criterion_equals_dense(name, time, by, formula, reml):
    d = _data()
    S = getattr(bm.residual, name)(time=time, group="id", by=by)
    m = bm.MixedModel(formula, d, residual=S)
    crit = GLSCriterion(m.design, m.residual_design)
    rng = np.random.default_rng(3)
    for _ in range(3):
        phi = crit.start() + rng.normal(scale=0.4, size=crit.n_params)
        phi[: crit.ntheta] = np.abs(phi[: crit.ntheta])
        assert crit.profiled(phi, reml) == pytest.approx(_dense(crit, phi, reml), abs=1e-10)


def test_fit_methods():
    d = _data(n=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.errors.SingularFitWarning)
        fit = bm.MixedModel(
            "y ~ visit + x", d, residual=bm.residual.UN(time="visit", group="id")
        ).fit_reml()
    g = fit.glance().iloc[0]
    assert g["npar"] == fit.design.p + 10 + 0 and g["nobs"] == len(d)
    tab = fit.tidy()
    assert tab.loc[tab.effect == "ran_pars", "term"].tolist()[:4] == [
        "sd__V0",
        "sd__V1",
        "sd__V2",
        "sd__V3",
    ]
    assert fit.fixef().index.tolist() == fit.design.xnames
    np.testing.assert_allclose(fit.fitted(), fit.design.X @ fit.beta)
    np.testing.assert_allclose(fit.residuals() + fit.fitted(), fit.design.y)
    cov = fit.residual_cov("s00")
    cor = fit.residual_cor("s00")
    assert list(cov.index) == list(cor.columns)
    np.testing.assert_allclose(np.diag(cor), 1.0)
    np.testing.assert_allclose(fit.marginal_cov("s00"), cov)  # no random effects
    assert fit.residual_cov("s00").iloc[0, 0] == pytest.approx(fit.sigma**2)
    assert "Generalized least squares" in str(fit.summary())
    df = fit.tidy(effects="fixed", ddf="satterthwaite")["df"]
    assert (df > 0).all() and (df < fit.n).all()
    new = d.head(3)
    np.testing.assert_allclose(fit.predict(new), fit.fitted()[:3])
    ml = fit.refit(reml=False)
    assert not ml.reml and ml.loglik > fit.loglik
    assert fit.r2() is not None


def test_random_effects_and_icc():
    d = _data(n=40, drop=0.0)
    fit = bm.MixedModel(
        "y ~ visit + (1 | id)", d, residual=bm.residual.AR1(time="visit", group="id")
    ).fit_reml()
    tab = fit.tidy(effects="ran_pars")
    assert tab["group"].tolist() == ["id", "Residual", "Residual"]
    assert tab["term"].tolist() == ["sd__(Intercept)", "sd__Observation", "rho"]
    V = fit.marginal_cov("s01")
    R = fit.residual_cov("s01")
    tau2 = tab["estimate"].iloc[0] ** 2
    np.testing.assert_allclose(V - R, tau2, rtol=1e-8)
    assert len(fit.ranef()) == 40 if hasattr(fit, "ranef") else True
    comp = fit.components()
    assert comp.b[0].shape == (40, 1)
    icc = fit.icc()
    assert icc is not None


def _bad(**over):
    d = _data()
    return d.assign(**over) if over else d


def test_design_errors():
    d = _data()
    with pytest.raises(ColumnError, match="'visti'.*Did you mean 'visit'|visit"):
        bm.MixedModel("y ~ 1", d, residual=bm.residual.CS(time="visti", group="id"))
    with pytest.raises(ColumnError, match="'idd'"):
        bm.MixedModel("y ~ 1", d, residual=bm.residual.CS(time="visit", group="idd"))
    with pytest.raises(ColumnError, match="'armm'"):
        bm.MixedModel("y ~ 1", d, residual=bm.residual.CS(time="visit", group="id", by="armm"))
    dup = pd.concat([d, d.head(1)], ignore_index=True)
    with pytest.raises(DataError, match="subject 's00'.*visit 'V0'"):
        bm.MixedModel("y ~ 1", dup, residual=bm.residual.CS(time="visit", group="id"))
    one = d.assign(visit="V0").drop_duplicates("id")
    with pytest.raises(DataError, match="one level"):
        bm.MixedModel("y ~ 1", one, residual=bm.residual.CS(time="visit", group="id"))
    with pytest.raises(ColumnError, match="CAR1 needs a numeric time"):
        bm.MixedModel("y ~ 1", d, residual=bm.residual.CAR1(time="visit", group="id"))
    with pytest.raises(DataError, match="whole-number"):
        bm.MixedModel("y ~ 1", d, residual=bm.residual.AR1(time="t", group="id"))
    small = d[d.id.isin(["s00", "s01"])]
    with pytest.raises(IdentifiabilityError, match="parameters"):
        bm.MixedModel("y ~ visit", small, residual=bm.residual.UN(time="visit", group="id"))
    apart = pd.DataFrame(
        {"id": ["a", "a", "b", "b"] * 5, "visit": ["V0", "V1", "V0", "V2"] * 5, "y": range(20)}
    )
    apart["id"] = apart["id"] + (np.arange(20) // 4).astype(str)
    with pytest.raises(IdentifiabilityError, match="'V1' and 'V2'"):
        bm.MixedModel("y ~ 1", apart, residual=bm.residual.UN(time="visit", group="id"))
    mixed_by = d.assign(arm=np.where(np.arange(len(d)) % 2, "a", "b"))
    with pytest.raises(DataError, match="constant within each subject"):
        bm.MixedModel(
            "y ~ 1", mixed_by, residual=bm.residual.CS(time="visit", group="id", by="arm")
        )
    with pytest.raises(IdentifiabilityError, match="not nested"):
        bm.MixedModel("y ~ 1 + (1 | arm)", d, residual=bm.residual.CS(time="visit", group="id"))


def test_missing_rows_dropped_consistently():
    d = _data()
    d.loc[3, "visit"] = None
    d.loc[5, "x"] = np.nan
    with pytest.warns(bm.errors.MissingDataWarning, match="dropped 2"):
        m = bm.MixedModel("y ~ x", d, residual=bm.residual.AR1(time="visit", group="id"))
    assert m.design.n == len(d) - 2 == len(m.residual_design.subject_codes)


def test_prior_predictive_refuses_residual():
    """Residual-structure models sample (tests/bayes/test_residual_sampling.py); their prior
    predictive draws are not implemented and say so."""
    d = _data()
    m = bm.MixedModel("y ~ 1", d, residual=bm.residual.CS(time="visit", group="id"))
    with pytest.raises(bm.errors.ArgumentError, match="residual="):
        m.sample_prior_predictive(draws=10)
