"""The Fit base: the three engines' results share predict/fitted/refit and the tables' builders."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.errors import ArgumentError, RefitWarning
from bayesmixed.quantities import effects
from bayesmixed.results.components import RANEF_COLUMNS, TIDY_COLUMNS, ran_pars_values
from bayesmixed.results.fit import Fit
from bayesmixed.results.predictor import (
    linear_predictor,
    predict_components,
    prediction_matrices,
    term_contribution,
    training_matrices,
)

SLEEP = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def ss() -> pd.DataFrame:
    return bm.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def reml_fit(ss):
    return bm.MixedModel(SLEEP, ss).fit_reml()


@pytest.fixture(scope="module")
def ols_fit(ss):
    return bm.MixedModel("Reaction ~ Days", ss).fit_reml()


@pytest.fixture(scope="module")
def bayes_fit():
    # a small marginal-parameterization run: seconds, enough for the shared semantics
    model = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.sample(draws=200, tune=200, chains=2, random_seed=1, progressbar=False)


@pytest.fixture(params=["reml", "ols", "bayes"])
def any_fit(request):
    return request.getfixturevalue(f"{request.param}_fit")


def _unseen(fit) -> pd.DataFrame:
    """The first rows of the fitting data with every grouping factor set to an unseen level."""
    new = fit.design.frame.iloc[:5].copy()
    for t in fit.design.terms:
        for col in t.factors:
            new[col] = "__unseen__"
    return new


# --------------------------------------------------------------------------- one base
def test_all_three_fit_types_share_the_base(reml_fit, ols_fit, bayes_fit):
    for fit in (reml_fit, ols_fit, bayes_fit):
        assert isinstance(fit, Fit)
        assert fit.nobs == fit.design.n == fit.n
        for name in ("fitted", "residuals", "predict", "icc", "r2", "shrinkage", "refit"):
            assert getattr(type(fit), name) is not None
    # the forwarding methods are the base's, not per-engine copies
    for name in ("fitted", "residuals", "icc", "r2", "shrinkage", "refit"):
        assert getattr(type(reml_fit), name) is getattr(Fit, name)
        assert getattr(type(bayes_fit), name) is getattr(Fit, name)


def test_predict_on_training_data_is_fitted(any_fit):
    fitted = any_fit.fitted()
    assert fitted.shape == (any_fit.nobs,)
    np.testing.assert_allclose(any_fit.predict(), fitted, rtol=1e-12)
    np.testing.assert_allclose(any_fit.predict(re=True), fitted, rtol=1e-12)
    # the new-data path (level lookup) gives the same numbers as the training design
    np.testing.assert_allclose(any_fit.predict(any_fit.design.frame), fitted, rtol=1e-10)
    np.testing.assert_allclose(any_fit.residuals(), any_fit.design.y - fitted, rtol=1e-12)


def test_fitted_is_xbeta_plus_zb(reml_fit):
    d = reml_fit.design
    b = reml_fit.components().b[0]
    by_hand = d.X @ reml_fit.beta + np.einsum("ij,ij->i", d.terms[0].X, b[d.terms[0].codes])
    np.testing.assert_allclose(reml_fit.fitted(), by_hand, rtol=1e-12)
    np.testing.assert_allclose(reml_fit.predict(re=False), d.X @ reml_fit.beta, rtol=1e-12)


def test_unseen_levels_get_the_population_prediction(any_fit):
    new = _unseen(any_fit)
    np.testing.assert_allclose(
        any_fit.predict(new, re=True), any_fit.predict(new, re=False), rtol=1e-12
    )
    X, _ = prediction_matrices(any_fit.design, new, re=False)
    np.testing.assert_allclose(any_fit.predict(new, re=False), X @ any_fit.fixef().to_numpy())


def test_bayes_predictions_are_posterior_means_of_the_draws(bayes_fit):
    draws = bayes_fit.predict(summary=False)
    S = bayes_fit.nchains * bayes_fit.ndraws
    assert draws.shape == (S, bayes_fit.nobs)
    np.testing.assert_allclose(draws.mean(axis=0), bayes_fit.fitted(), rtol=1e-10)
    new = _unseen(bayes_fit)
    pop = bayes_fit.predict(new, summary=False)
    beta = bayes_fit.components().beta
    np.testing.assert_allclose(pop, beta @ prediction_matrices(bayes_fit.design, new)[0].T)


# --------------------------------------------------------------------------- the predictor
def test_linear_predictor_over_draw_axes(reml_fit):
    rng = np.random.default_rng(0)
    d = reml_fit.design
    X, blocks = training_matrices(d)
    beta = reml_fit.beta + rng.normal(size=(3, 4, d.p))
    b = [bt + rng.normal(size=(3, 4) + bt.shape) for bt in reml_fit.components().b]
    eta = linear_predictor(X, beta, blocks, b)
    assert eta.shape == (3, 4, d.n)
    for c in range(3):
        for s in range(4):
            one = linear_predictor(X, beta[c, s], blocks, [bt[c, s] for bt in b])
            np.testing.assert_allclose(eta[c, s], one, rtol=1e-12)


def test_term_contribution_of_unseen_rows_is_zero():
    b = np.arange(6.0).reshape(3, 2)
    Xt = np.ones((4, 2))
    codes = np.array([2, -1, 0, -1])
    np.testing.assert_array_equal(term_contribution(codes, Xt, b), [9.0, 0.0, 1.0, 0.0])
    draws = np.stack([b, 2 * b])
    np.testing.assert_array_equal(
        term_contribution(codes, Xt, draws), [[9.0, 0.0, 1.0, 0.0], [18.0, 0.0, 2.0, 0.0]]
    )


def test_predict_components_point_and_draws_agree(reml_fit):
    comp = reml_fit.components()
    point = predict_components(comp)
    draws = predict_components(comp.as_draws())
    assert draws.shape == (1, reml_fit.nobs)
    np.testing.assert_allclose(draws[0], point, rtol=1e-12)
    np.testing.assert_allclose(point, reml_fit.fitted(), rtol=1e-12)


# --------------------------------------------------------------------------- tables
def test_tidy_and_ranef_share_columns(reml_fit, ols_fit, bayes_fit):
    for fit in (reml_fit, ols_fit, bayes_fit):
        tab = fit.tidy()
        assert tab.columns[: len(TIDY_COLUMNS)].tolist() == TIDY_COLUMNS
        fixed = tab[tab["effect"] == "fixed"]
        assert fixed["term"].tolist() == fit.design.xnames
        assert fixed["group"].map(lambda g: g is None).all()
    for fit in (reml_fit, bayes_fit):
        assert fit.ranef().columns[:5].tolist() == RANEF_COLUMNS
        with pytest.raises(ArgumentError, match="effects must be"):
            fit.tidy(effects="random")
    assert bayes_fit.ranef().columns.tolist() == RANEF_COLUMNS + ["conf_low", "conf_high"]
    assert reml_fit.tidy(conf_int=True).columns.tolist() == TIDY_COLUMNS + [
        "conf_low",
        "conf_high",
    ]


def test_bayes_ran_pars_come_from_components(bayes_fit):
    tab = bayes_fit.tidy(effects="ran_pars")
    vals = ran_pars_values(bayes_fit.components())
    assert tab["term"].tolist() == [rp.term for rp in vals]
    np.testing.assert_allclose(tab["estimate"], [v.mean() for v in vals.values()], rtol=1e-12)
    post = bayes_fit.idata.posterior
    # the same numbers as the sampled SDs (up to rounding in Σ = L Lᵀ)
    np.testing.assert_allclose(
        tab["estimate"], [post["sd_Batch"].values.mean(), post["sigma"].values.mean()], rtol=1e-10
    )


def test_aic_bic_from_loglik_and_nparams(reml_fit, ols_fit):
    for fit in (reml_fit, ols_fit):
        assert fit.aic == pytest.approx(-2 * fit.loglik + 2 * fit.nparams)
        assert fit.bic == pytest.approx(-2 * fit.loglik + np.log(fit.nobs) * fit.nparams)
        g = fit.glance().iloc[0]
        assert g["AIC"] == pytest.approx(fit.aic) and g["BIC"] == pytest.approx(fit.bic)


# --------------------------------------------------------------------------- refits
def test_refit_by_ml_equals_a_direct_ml_fit(ss, reml_fit):
    ml = reml_fit.refit(reml=False)
    direct = bm.MixedModel(SLEEP, ss).fit_reml(reml=False)
    assert ml.reml is False and reml_fit.reml is True
    assert ml.loglik == pytest.approx(direct.loglik, rel=1e-12)
    np.testing.assert_allclose(ml.theta, direct.theta, rtol=1e-8)
    np.testing.assert_allclose(ml.beta, direct.beta, rtol=1e-10)
    again = reml_fit.refit()
    assert again.reml is True and again.loglik == pytest.approx(reml_fit.loglik, rel=1e-12)


def test_refit_crosses_engines_for_model_fits(ss, reml_fit, ols_fit):
    ols = reml_fit.refit("Reaction ~ Days")
    assert type(ols).__name__ == "OLSFit"
    np.testing.assert_allclose(ols.beta, ols_fit.beta, rtol=1e-12)
    # the model frame holds only the columns the fit used: a bigger model needs the data
    back = ols.refit(SLEEP, reml=True, data=ss)
    assert type(back).__name__ == "REMLFit"
    assert back.loglik == pytest.approx(reml_fit.loglik, rel=1e-10)
    sub = reml_fit.refit(data=ss[ss["Days"] < 5])
    assert sub.nobs == int((ss["Days"] < 5).sum())


def test_refit_without_refitter_is_an_argument_error(bayes_fit):
    with pytest.raises(ArgumentError, match="cannot be refitted"):
        bayes_fit.refit()


def test_reduced_fit_and_lrt_refit_through_the_fit(ss, reml_fit):
    red = effects.reduced_fit(reml_fit, "Days")
    direct = bm.MixedModel("Reaction ~ 1 + (Days | Subject)", ss).fit_reml()
    assert red.loglik == pytest.approx(direct.loglik, rel=1e-10)
    ols_red = effects.reduced_fit(bm.MixedModel("Reaction ~ Days", ss).fit_reml(), "Days")
    assert type(ols_red).__name__ == "OLSFit" and ols_red.design.xnames == ["(Intercept)"]
    m0 = bm.MixedModel("Reaction ~ Days + (1 | Subject)", ss).fit_reml()
    with pytest.warns(RefitWarning):
        tab = bm.anova(m0, reml_fit)
    ml0 = bm.MixedModel("Reaction ~ Days + (1 | Subject)", ss).fit_reml(reml=False)
    ml1 = bm.MixedModel(SLEEP, ss).fit_reml(reml=False)
    np.testing.assert_allclose(tab["logLik"], [ml0.loglik, ml1.loglik], rtol=1e-10)
