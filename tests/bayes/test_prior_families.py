"""Prior families for variance components, and priors on the variance (``on="variance"``).

* every family's log density (and its derivative) equals scipy's, with the Jacobian 2τ when
  the prior is on τ² (``on="variance"``); LKJ(η) on a 2×2 matrix is Beta(η, η) on (−1, 1);
* draws follow the family (Kolmogorov–Smirnov against scipy);
* the compiled marginal density and PyMC's ``logp`` agree for priors on the variance (the
  single-term kernel, the multi-term kernels and the NumPy path);
* sampling works with each family (slow).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import bayesmixed as bm
from bayesmixed.bayes.densities import prior_draws, prior_logp, scalar_logp
from bayesmixed.bayes.priors import Prior, PriorSet, resolve_priors
from bayesmixed.errors import PriorError

X = np.array([0.05, 0.4, 1.3, 3.7, 12.0])
LOG2 = np.log(2.0)

# (prior, frozen scipy distribution of the parameter itself, of its square or None)
FAMILIES = [
    (Prior("halfnormal", sigma=5.0), stats.halfnorm(scale=5.0)),
    (Prior("halfstudentt", nu=3, sigma=2.5), None),  # scipy: 2·t(3, scale) on x > 0
    (Prior("halfcauchy", beta=2.0), stats.halfcauchy(scale=2.0)),
    (Prior("exponential", lam=0.7), stats.expon(scale=1 / 0.7)),
    (Prior("exponential", scale=3.0), stats.expon(scale=3.0)),
    (Prior("lognormal", mu=0.5, sigma=1.2), stats.lognorm(s=1.2, scale=np.exp(0.5))),
    (Prior("uniform", lower=0.0, upper=20.0), stats.uniform(0.0, 20.0)),
    (Prior("gamma", alpha=2.0, beta=0.5), stats.gamma(2.0, scale=2.0)),
    (Prior("inversegamma", alpha=3.0, beta=2.0), stats.invgamma(3.0, scale=2.0)),
]
ON_VARIANCE = [
    (Prior("inversegamma", alpha=1.0, beta=1.0, on="variance"), stats.invgamma(1.0, scale=1.0)),
    (Prior("inversegamma", alpha=0.01, beta=0.01, on="variance"), stats.invgamma(0.01, scale=0.01)),
    (Prior("gamma", alpha=2.0, beta=0.1, on="variance"), stats.gamma(2.0, scale=10.0)),
    (Prior("halfnormal", sigma=4.0, on="variance"), stats.halfnorm(scale=4.0)),
]


def _ref_logpdf(prior: Prior, ref, x):
    if prior.family == "halfstudentt":
        return stats.t(prior.params["nu"], scale=prior.params["sigma"]).logpdf(x) + LOG2
    return ref.logpdf(x)


@pytest.mark.parametrize("prior,ref", FAMILIES, ids=[str(p) for p, _ in FAMILIES])
def test_family_log_density_matches_scipy(prior, ref):
    lp, d = prior_logp(prior, X)
    np.testing.assert_allclose(lp, _ref_logpdf(prior, ref, X), rtol=1e-10, atol=1e-12)
    h = 1e-6 * X
    fd = (_ref_logpdf(prior, ref, X + h) - _ref_logpdf(prior, ref, X - h)) / (2 * h)
    np.testing.assert_allclose(np.broadcast_to(d, X.shape), fd, rtol=1e-5, atol=1e-8)
    f = scalar_logp(prior)
    for x in X:
        assert f(float(x))[0] == pytest.approx(float(_ref_logpdf(prior, ref, x)), rel=1e-10)


@pytest.mark.parametrize("prior,ref", ON_VARIANCE, ids=[str(p) for p, _ in ON_VARIANCE])
def test_prior_on_the_variance_has_the_jacobian(prior, ref):
    """p(τ) = p_var(τ²) · 2τ, so that ∫ p(τ) dτ = 1 and τ² has the stated distribution."""
    expected = ref.logpdf(X**2) + LOG2 + np.log(X)
    lp, d = prior_logp(prior, X)
    np.testing.assert_allclose(lp, expected, rtol=1e-10)
    h = 1e-6 * X
    fd = (prior_logp(prior, X + h)[0] - prior_logp(prior, X - h)[0]) / (2 * h)
    np.testing.assert_allclose(d, fd, rtol=1e-5)
    f = scalar_logp(prior)
    assert [f(float(x))[0] for x in X] == pytest.approx(list(expected), rel=1e-10)
    if prior.params["alpha" if "alpha" in prior.params else "sigma"] >= 0.5:
        from scipy.integrate import quad

        mass = quad(lambda t: np.exp(prior_logp(prior, t)[0]), 0, np.inf, limit=200)[0]
        assert mass == pytest.approx(1.0, abs=1e-6)


# InverseGamma(0.01, 0.01) draws overflow to inf too often to test this way
@pytest.mark.parametrize(
    "prior,ref", FAMILIES + ON_VARIANCE[:1] + ON_VARIANCE[2:], ids=lambda v: str(v)[:40]
)
def test_draws_follow_the_family(prior, ref):
    d = prior_draws(prior, np.random.default_rng(3), 4000)
    assert (d > 0).all()
    if prior.family == "halfstudentt":
        cdf = stats.t(prior.params["nu"], scale=prior.params["sigma"]).cdf
        assert stats.kstest(d, lambda x: 2 * cdf(x) - 1).pvalue > 1e-3
        return
    target = d**2 if prior.on_variance else d
    assert stats.kstest(target, ref.cdf).pvalue > 1e-3


@pytest.mark.parametrize("eta", [0.5, 1.0, 2.0, 5.0])
def test_lkj_on_two_by_two_is_a_scaled_beta(eta):
    """LKJ(η) for k = 2 puts Beta(η, η) on (1 + r)/2 (Lewandowski et al. 2009)."""
    from bayesmixed.bayes.posterior import _lkj_logp

    r = np.array([-0.9, -0.3, 0.0, 0.4, 0.95])
    R = np.stack([np.array([[1.0, v], [v, 1.0]]) for v in r])
    expected = stats.beta(eta, eta, loc=-1.0, scale=2.0).logpdf(r)
    np.testing.assert_allclose(_lkj_logp(R, eta, 2), expected, rtol=1e-10)


def test_labels_repr_and_round_trip():
    p = Prior("inversegamma", alpha=0.001, beta=0.001, on="variance")
    assert p.label == "InverseGamma(0.001, 0.001) on the variance"
    assert repr(p) == "Prior('inversegamma', alpha=0.001, beta=0.001, on='variance')"
    assert p != Prior("inversegamma", alpha=0.001, beta=0.001)
    assert p.base == Prior("inversegamma", alpha=0.001, beta=0.001)
    assert Prior("halfnormal", sigma=5).label == "HalfNormal(5)"
    assert Prior("exponential", scale=2).label == "Exponential(scale=2)"
    m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    ps = resolve_priors(m.design, {"sd__(Intercept)|Batch": p})
    assert PriorSet.from_dict(ps.to_dict()) == ps
    assert "on the variance" in ps.table()["prior"].iloc[1]


def test_priors_on_the_variance_are_refused_where_they_make_no_sense():
    with pytest.raises(PriorError, match="positive family"):
        Prior("normal", mu=0, sigma=1, on="variance")
    with pytest.raises(PriorError, match="'sd' or 'variance'"):
        Prior("gamma", alpha=2, beta=1, on="precision")
    m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    with pytest.raises(PriorError, match="only for a standard deviation"):
        resolve_priors(m.design, {"(Intercept)": Prior("gamma", alpha=2, beta=1, on="variance")})


VARIANCE_CASES = [
    ("Yield ~ 1 + (1 | Batch)", "Dyestuff", True),
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", True),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", True),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", False),
]


@pytest.mark.parametrize("formula,data,use_kernel", VARIANCE_CASES)
def test_compiled_density_equals_pymc_logp_on_the_variance(formula, data, use_kernel):
    from pymc.blocking import DictToArrayBijection

    from bayesmixed.bayes.graph import build_model
    from bayesmixed.bayes.marginal.logdensity import MarginalPosterior

    d = bm.MixedModel(formula, bm.datasets.load(data)).design
    priors = {
        "sd": Prior("inversegamma", alpha=1.0, beta=50.0, on="variance"),
        "sigma": Prior("gamma", alpha=2.0, beta=0.01, on="variance"),
    }
    ps = resolve_priors(d, priors)
    model, info = build_model(d, ps, "marginal")
    mp = MarginalPosterior(d, ps, info.xmeans)
    mp.mm.use_kernel = use_kernel
    if not use_kernel:
        mp.single = False
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    rng = np.random.default_rng(5)
    ip = model.initial_point()
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.4, size=np.shape(v)) for k, v in ip.items()}
        x = DictToArrayBijection.map(point).data
        lp, g = mp.logp_grad(x)
        assert lp == pytest.approx(float(logp(point)), abs=1e-6)
        np.testing.assert_allclose(g, dlogp(point), rtol=1e-8, atol=1e-8)


def test_pymc_variable_on_the_variance_matches_prior_logp():
    import pymc as pm

    p = Prior("inversegamma", alpha=2.0, beta=3.0, on="variance")
    rv = p.dist_()
    vals = pm.logp(rv, X).eval()
    # PyMC's gamma-function constants differ from scipy's by ~4e-8
    np.testing.assert_allclose(vals, prior_logp(p, X)[0], rtol=0, atol=1e-6)
    draws = pm.draw(rv, draws=3000, random_seed=1)
    assert stats.kstest(draws**2, stats.invgamma(2.0, scale=3.0).cdf).pvalue > 1e-3


SAMPLED = [p for p, _ in FAMILIES if p.family != "inversegamma"] + [
    ON_VARIANCE[0][0],
    ON_VARIANCE[2][0],
]


@pytest.mark.slow
@pytest.mark.parametrize("prior", SAMPLED, ids=str)
def test_sampling_with_each_family(prior):
    m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    if prior.family in ("halfnormal", "halfstudentt", "halfcauchy", "uniform", "lognormal"):
        scale = {"halfnormal": "sigma", "halfstudentt": "sigma", "halfcauchy": "beta"}
        if prior.family in scale:  # on the data's scale (SD of Batch ≈ 40)
            prior = Prior(prior.family, **{**prior.params, scale[prior.family]: 50.0})
        elif prior.family == "uniform":
            prior = Prior("uniform", lower=0.0, upper=200.0)
        else:
            prior = Prior("lognormal", mu=np.log(40.0), sigma=1.0)
    if prior.family == "gamma" and prior.on_variance:
        prior = Prior("gamma", alpha=2.0, beta=1e-3, on="variance")
    elif prior.family in ("gamma", "exponential") and not prior.on_variance:
        prior = (
            Prior("exponential", lam=np.log(100) / 100)
            if prior.family == "exponential"
            else (Prior("gamma", alpha=2.0, beta=0.05))
        )
    post = m.sample(draws=300, tune=300, chains=2, random_seed=1, progressbar=False,
                    priors={"sd__(Intercept)|Batch": prior})  # fmt: skip
    row = post.tidy().set_index("term").loc["sd__(Intercept)"]
    assert np.isfinite(row["estimate"]) and row["estimate"] > 0
    assert post.glance()["divergences"].iloc[0] <= 10
    lp = post.idata.log_prior["sd_Batch"].values
    assert np.isfinite(lp).all()


@pytest.mark.slow
def test_sampling_a_prior_on_the_variance_through_the_pymc_graph():
    m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    prior = Prior("inversegamma", alpha=1.0, beta=100.0, on="variance")
    post = m.sample(draws=300, tune=300, chains=2, random_seed=1, progressbar=False,
                    parameterization="noncentered", target_accept=0.95,
                    priors={"sd__(Intercept)|Batch": prior})  # fmt: skip
    assert post.parameterization == "noncentered"
    assert 0 < post.tidy().set_index("term").loc["sd__(Intercept)", "estimate"] < 500
