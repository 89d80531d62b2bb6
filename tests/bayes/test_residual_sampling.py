"""Sampling models with residual structures end to end (nutpie, and PyMC's sampler once).

Criteria: no divergences; posterior means of the fixed effects within 0.3 posterior SD of
the REML (GLS) fit; correlation parameters inside their interval; tidy() rows named as the
REML fit's, so compare() pairs every row; ranef(), predict(), glance() and residual_cov().
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.bayes.priors import Prior
from bayesmixed.bayes.residual import ResidualBayesFit
from bayesmixed.errors import ArgumentError, SamplingWarning

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "reference" / "data"


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"longitudinal_{name}.csv")


def _fit_both(structure, formula="y ~ visit * arm", data="balanced", **kw):
    m = bm.MixedModel(
        formula, _data(data), residual=getattr(bm.residual, structure)(time="visit", group="id")
    )
    kw = {"draws": 400, "tune": 400, "chains": 2, "random_seed": 1, "progressbar": False, **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)  # ESS is checked below, not warned
        post = m.sample(**kw)
    return m, post, m.fit_reml()


def _check(post, fit, lo=-1.0, hi=1.0):
    assert isinstance(post, ResidualBayesFit)
    assert post.glance()["divergences"].item() == 0
    cmp = bm.compare(post, fit)
    # row for row: every posterior row has its REML estimate
    assert cmp["reml_estimate"].notna().all(), cmp[cmp["reml_estimate"].isna()]
    assert cmp[["group", "term"]].equals(fit.tidy()[["group", "term"]])
    fixed = cmp[cmp["effect"] == "fixed"]
    assert (fixed["z_diff"].abs() < 0.3).all(), fixed
    cors = cmp[cmp["term"].str.startswith(("rho", "cor__"))]
    assert ((cors["post_mean"] > lo) & (cors["post_mean"] < hi)).all()
    assert (cors["conf_low"] >= lo).all() and (cors["conf_high"] <= hi).all()
    return cmp


@pytest.mark.parametrize("data", ["balanced", "unbalanced"])
def test_ar1(data):
    m, post, fit = _fit_both("AR1", data=data)
    cmp = _check(post, fit)
    assert cmp["term"].tolist()[-2:] == ["sd__Observation", "rho"]
    assert post.parameterization == "marginal"
    assert np.allclose(post.predict(), fit.predict(), atol=0.3)
    g = post.glance()
    assert np.isfinite(g["elpd_loo"].item()) and g["nobs"].item() == m.design.n
    assert post.idata.log_likelihood["y"].dims == ("chain", "draw", "subject")


@pytest.mark.parametrize("data", ["balanced", "unbalanced"])
def test_un(data):
    _, post, fit = _fit_both("UN", data=data)
    cmp = _check(post, fit)
    sds = cmp[cmp["term"].str.startswith("sd__")]
    # the SDs are well identified with 80 subjects: within 20% of REML
    assert np.allclose(sds["post_mean"], sds["reml_estimate"], rtol=0.2)
    cov = post.residual_cov("s001")
    n = len(post.rd.subject_rows("s001"))
    assert cov.shape == (n, n) and np.allclose(cov, cov.T)


@pytest.mark.parametrize("data", ["balanced", "unbalanced"])
def test_cs(data):
    _, post, fit = _fit_both("CS", data=data)
    _check(post, fit, lo=-1.0 / 3.0)


def test_ar1_with_random_intercept():
    _, post, fit = _fit_both("AR1", formula="y ~ visit * arm + (1 | id)", data="unbalanced")
    cmp = _check(post, fit)
    assert cmp["group"].tolist()[-3:] == ["id", "Residual", "Residual"]
    re_b, re_r = post.ranef(), fit.ranef()
    assert re_b[["group", "level", "term"]].equals(re_r[["group", "level", "term"]])
    # BLUPs and posterior means of b agree to a fraction of their spread
    assert np.corrcoef(re_b["estimate"], re_r["estimate"])[0, 1] > 0.95


def test_pymc_sampler_and_prior_override():
    _, post, fit = _fit_both(
        "AR1",
        draws=300,
        tune=300,
        sampler="pymc",
        priors={"rho|Residual": Prior("uniform", lower=0.0, upper=1.0)},
    )
    assert post.sampler == "pymc"
    rho = post.tidy().set_index("term").loc["rho"]
    assert rho["conf_low"] >= 0.0
    tab = post.prior_summary()
    assert tab.loc[tab["parameter"] == "rho|Residual", "source"].item() == "user"


def test_residual_models_refuse_other_parameterizations():
    m = bm.MixedModel(
        "y ~ visit", _data("balanced"), residual=bm.residual.AR1(time="visit", group="id")
    )
    with pytest.raises(ArgumentError, match="marginal"):
        m.sample(draws=10, tune=10, chains=1, parameterization="noncentered")
