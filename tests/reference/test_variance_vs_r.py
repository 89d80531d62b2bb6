"""ICC, R² and the variance decomposition against performance 0.10.2 / insight 0.19.0.

Fixtures: the ``performance`` block of every REML lmer fixture (make_fixtures.R) and
``primer_variance.json`` (make_primer_fixtures.R: get_variance components, icc by group, r2 on
ML fits, and Johnson's random-effect variance computed by hand over every VarCorr term).

Every fit is the one at lme4's own θ (stored in the lmer fixtures), so the tolerances are those
of the computation, a decade above the largest difference measured there (``BM_MEASURE=1``,
see tests/reference/README.md): ``TOL_PROP`` absolute on ICC and R² (proportions), ``TOL_VAR``
relative on variances (relative to 1e-6·σ² at least, for components that are zero). The
optimum itself is tested against lme4's in test_reml_vs_r.py.

Known difference (documented in bayesmixed.variance): insight 0.19.0 leaves a second term on
the same grouping factor out of var.random ((Days || Subject), (1 | Subject) +
(0 + Days | Subject)). For those fits bayesmixed matches the hand computation over all terms,
and R's numbers are reproduced from bayesmixed's per-term variances with the second term left
out, which pins the difference down to exactly that term.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_close, fit_at_theta, fixture_names, load_fixture
from draws_stub import perturbed_draws, repeated_draws

import bayesmixed as bm
from bayesmixed.errors import ArgumentError, SingularFitWarning
from bayesmixed.quantities import variance
from bayesmixed.results.components import Components
from bayesmixed.results.draws import Posterior

CASES = fixture_names("lmer")
REML_CASES = [c for c in CASES if c.endswith("_reml")]
PRIMER = load_fixture("primer_variance")["cases"]
TOL_PROP = 1e-11  # measured 2.2e-13
TOL_VAR = 1e-10  # measured 8.3e-12

_FITS: dict[str, object] = {}


def get_fit(case: str):
    if case not in _FITS:
        fx = load_fixture(case)
        _FITS[case] = (fx, fit_at_theta(fx["formula"], fx["data"], fx["theta"], fx["REML"]))
    return _FITS[case]


def insight_drops_terms(case: str) -> bool:
    """True where insight's var.random leaves out a term (see the module docstring)."""
    ref = PRIMER[case]
    if ref["var_random"] is None:
        return False
    return abs(ref["var_random"] - ref["johnson_var_random"]) > 1e-6 * ref["johnson_var_random"]


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        return fn(*args, **kwargs)


def assert_prop(ours, ref, what):
    if ref is None:
        assert np.isnan(ours), f"{what}: R gives NA, we give {ours}"
    else:
        # absolute: relative to max(|ref|, 1)
        assert_close("variance.proportion", ours, ref, TOL_PROP, scale=1.0)


def assert_var(ours, ref, fx, what=""):
    """A variance, relative to itself or to 1e-6·σ² (components estimated as zero)."""
    scale = 1e-6 * PRIMER[fx["case"]]["sigma"] ** 2
    assert_close(f"variance.{what or 'variance'}", ours, ref, TOL_VAR, scale=scale)


# --------------------------------------------------------------------------- performance
@pytest.mark.parametrize("case", [c for c in REML_CASES if not insight_drops_terms(c)])
def test_performance_icc_r2(case):
    fx, fit = get_fit(case)
    perf = fx["performance"]
    ic = quiet(fit.icc)
    rr = quiet(fit.r2)
    assert_prop(ic["adjusted"], perf["icc_adjusted"], "icc adjusted")
    assert_prop(ic["unadjusted"], perf["icc_unadjusted"], "icc unadjusted")
    assert_prop(ic["conditional"], perf["icc_conditional"], "icc conditional")
    assert_prop(rr["marginal"], perf["r2_marginal"], "r2 marginal")
    assert_prop(rr["conditional"], perf["r2_conditional"], "r2 conditional")


@pytest.mark.parametrize("case", [c for c in CASES if insight_drops_terms(c)])
def test_insight_dropped_term(case):
    fx, fit = get_fit(case)
    ref = PRIMER[case]
    vc = variance.variance_components(fit)
    # ours = Johnson over all terms (hand computation in R)
    assert_var(vc["var_random"], ref["johnson_var_random"], fx)
    # R's var.random is exactly our first term on the factor
    kept = [n for n in ref["johnson_by_term"] if n in {t.name for t in fit.design.terms}]
    first = kept[0]
    assert_var(vc["by_term"][first], ref["var_random"], fx)
    s2, vf = vc["var_residual"], vc["var_fixed"]
    vr = vc["by_term"][first]
    assert_prop(vr / (vr + s2), ref["icc_adjusted"], "icc adjusted (first term only)")
    assert_prop(vf / (vf + vr + s2), ref["r2_marginal"], "r2 marginal (first term only)")
    assert_prop((vf + vr) / (vf + vr + s2), ref["r2_conditional"], "r2 cond. (first term only)")
    # and with every term the ICC is larger than R's
    assert quiet(fit.icc)["adjusted"] > ref["icc_adjusted"]


# --------------------------------------------------------------------------- components
@pytest.mark.parametrize("case", CASES)
def test_variance_components(case):
    fx, fit = get_fit(case)
    ref = PRIMER[case]
    vc = variance.variance_components(fit)
    assert_var(vc["var_fixed"], ref["var_fixed_manual"], fx)
    assert_var(vc["var_residual"], ref["sigma"] ** 2, fx)
    assert_var(vc["var_random"], ref["johnson_var_random"], fx)
    for name, v in ref["johnson_by_term"].items():
        assert_var(vc["by_term"][name], v, fx, "by_term")
    if ref["var_intercept"] is not None and not insight_drops_terms(case):
        for name, v in ref["var_intercept"].items():
            assert_var(vc["var_intercept"][name], v, fx, "intercept")
    assert vc["singular"] == ref["singular"]


@pytest.mark.parametrize("case", [c for c in CASES if not insight_drops_terms(c)])
def test_icc_r2_all_fits(case):
    """ML fits too (performance accepts them; make_fixtures stores only REML). The fits where
    insight drops a term are covered by test_insight_dropped_term."""
    fx, fit = get_fit(case)
    ref = PRIMER[case]
    ic = quiet(variance.icc, fit)
    rr = quiet(variance.r2, fit)
    assert_prop(ic["adjusted"], ref["icc_adjusted"], "icc adjusted")
    assert_prop(ic["conditional"], ref["icc_conditional"], "icc conditional")
    assert_prop(rr["marginal"], ref["r2_marginal"], "r2 marginal")
    assert_prop(rr["conditional"], ref["r2_conditional"], "r2 conditional")
    if ref["icc_by_group"] is not None:
        for name, v in ref["icc_by_group"].items():
            assert_prop(ic["by_group"][name], v, f"icc by group {name}")


@pytest.mark.parametrize("case", [c for c in CASES if not c.startswith("dyestuff2")])
def test_by_component_sums_to_one(case):
    _, fit = get_fit(case)
    ic = fit.icc()
    shares = ic["by_component"]
    assert list(shares.index) == [t.name for t in fit.design.terms] + ["Residual"]
    assert shares.sum() == pytest.approx(1.0, abs=1e-12)
    assert (shares >= 0).all()
    assert 1 - shares["Residual"] == pytest.approx(ic["adjusted"], abs=1e-12)


def test_random_intercept_icc_is_tau_over_total():
    _, fit = get_fit("dyestuff_reml")
    tau = fit.varcorr()["Batch"].iloc[0, 0]
    s2 = fit.sigma**2
    ic = fit.icc()
    assert ic["adjusted"] == pytest.approx(tau / (tau + s2), rel=1e-12)
    assert ic["by_component"]["Batch"] == pytest.approx(tau / (tau + s2), rel=1e-12)
    assert ic["by_component"]["Residual"] == pytest.approx(s2 / (tau + s2), rel=1e-12)


def test_singular_fit_follows_performance():
    fx, fit = get_fit("dyestuff2_reml")
    with pytest.warns(SingularFitWarning, match="tolerance=0"):
        ic = fit.icc()
    assert np.isnan(ic["adjusted"]) and np.isnan(ic["conditional"])
    assert ic["by_component"].isna().all()
    with pytest.warns(SingularFitWarning):
        rr = fit.r2()
    assert rr["marginal"] == 0.0 and np.isnan(rr["conditional"])
    assert fx["performance"]["r2_marginal"] == 0
    # tolerance=0: the boundary estimate itself
    ic0 = fit.icc(tolerance=0)
    assert ic0["adjusted"] == 0.0
    assert ic0["by_component"]["Residual"] == 1.0


def test_no_random_effects():
    fit = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")).fit_reml()
    with pytest.raises(ArgumentError, match="random effects"):
        variance.icc(fit)
    rr = variance.r2(fit)
    assert rr["marginal"] == rr["conditional"]
    assert rr["marginal"] == pytest.approx(fit.r_squared, abs=0.01)


def test_bad_arguments():
    _, fit = get_fit("dyestuff_reml")
    with pytest.raises(ArgumentError, match="ci"):
        variance.icc(fit, ci=1.5)
    with pytest.raises(ArgumentError, match="fitted model"):
        variance.icc("not a fit")


# --------------------------------------------------------------------------- draws path
@pytest.mark.parametrize("case", ["sleepstudy_slopes_reml", "three_level_nested_reml"])
def test_repeated_draws_equal_point_estimates(case):
    _, fit = get_fit(case)
    post = repeated_draws(fit, 4)
    ic, ic_post = fit.icc(), variance.icc(post)
    assert isinstance(ic_post["adjusted"], Posterior)
    for key in ("adjusted", "conditional"):
        assert ic_post[key].mean == pytest.approx(ic[key], rel=1e-12)
        assert ic_post[key].sd == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(ic_post["by_component"], ic["by_component"], rtol=1e-12)
    rr, rr_post = fit.r2(), variance.r2(post)
    for key in ("marginal", "conditional"):
        assert float(rr_post[key]) == pytest.approx(rr[key], rel=1e-12)


def _draw(comp: Components, s: int) -> Components:
    return Components(
        design=comp.design,
        beta=comp.beta[s],
        sigma=np.asarray(comp.sigma[s]),
        cov=[c[s] for c in comp.cov],
        b=[b[s] for b in comp.b],
        draws=False,
    )


@pytest.mark.parametrize("case", ["sleepstudy_slopes_reml", "crossed_slopes_reml"])
def test_draws_are_per_draw_values(case):
    """The vectorised draws path gives, draw by draw, the point-estimate computation."""
    _, fit = get_fit(case)
    post = perturbed_draws(fit, 50, seed=3)
    comp = post.components()
    ic = variance.icc(post, ci=0.9)
    rr = variance.r2(post)
    assert ic["adjusted"].draws.shape == (50,)
    assert ic["by_component_draws"].shape == (50, len(fit.design.terms) + 1)
    np.testing.assert_allclose(ic["by_component_draws"].sum(axis=1), 1.0)
    for s in (0, 17, 49):
        one = _draw(comp, s)
        assert ic["adjusted"].draws[s] == pytest.approx(variance.icc(one)["adjusted"], rel=1e-12)
        assert rr["conditional"].draws[s] == pytest.approx(
            variance.r2(one)["conditional"], rel=1e-12
        )
    summ = ic["by_component_summary"]
    assert list(summ.columns) == ["mean", "sd", "median", "conf_low", "conf_high"]
    assert (summ["conf_low"] <= summ["mean"]).all() and (summ["mean"] <= summ["conf_high"]).all()
    p = ic["adjusted"]
    assert p.conf_low == pytest.approx(np.quantile(p.draws, 0.05))
    assert "interval" in repr(p)


def _bayes_available() -> bool:
    try:
        from bayesmixed.bayes.result import BayesFit  # noqa: F401
    except ImportError:
        return False
    return hasattr(bm.MixedModel, "sample")


@pytest.mark.slow
@pytest.mark.skipif(not _bayes_available(), reason="bayesmixed.bayes (BayesFit) not available yet")
def test_real_bayes_fit():
    data = bm.datasets.load("sleepstudy")
    model = bm.MixedModel("Reaction ~ Days + (Days | Subject)", data)
    fit = model.fit_reml()
    post = model.sample(draws=600, tune=500, chains=2, random_seed=1, progressbar=False)
    comp = post.components()
    assert comp.draws
    ic = variance.icc(post)
    assert isinstance(ic["adjusted"], Posterior)
    assert 0 < ic["adjusted"].mean < 1
    # the posterior should sit near the REML value for this well-identified model
    assert abs(ic["adjusted"].mean - fit.icc()["adjusted"]) < 0.15
    rr = variance.r2(post)
    assert rr["marginal"].conf_low < fit.r2()["marginal"] < rr["marginal"].conf_high
    if comp.b is not None:  # a marginalized parameterization may not carry b
        tab = variance.shrinkage(post)
        assert {"weight_low", "partial_pooling_high"} <= set(tab.columns)
        assert tab["weight"].between(0, 1).all()
