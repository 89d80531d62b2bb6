"""The marginalized posterior: log density, gradient, and exact conditional draws of b.

* ``MarginalModel`` log-likelihood equals a dense multivariate-normal log density (1e-9
  relative) and its gradient equals central finite differences (1e-5 relative);
* the compiled ``MarginalPosterior`` density equals the PyMC model's ``logp`` (1e-6 absolute:
  both include all normalizing constants) and ``dlogp`` (1e-8 relative), for every structure
  and several prior families;
* draws of b given (β̂, σ̂, θ̂) have the REML conditional modes as mean and lme4's conditional
  variances as variance (within 4 Monte Carlo standard errors).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import central_differences, load_data
from scipy.stats import multivariate_normal

import bayesmixed as bm
from bayesmixed.bayes.graph import build_model, graph_info
from bayesmixed.bayes.marginal.likelihood import MarginalModel
from bayesmixed.bayes.marginal.logdensity import MarginalPosterior
from bayesmixed.bayes.priors import Prior, resolve_priors

STRUCTURES = [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", None),
    ("Reaction ~ Days + (Days || Subject)", "sleepstudy", {"sd": Prior("halfnormal", sigma=30)}),
    (
        "strength ~ 1 + (1 | batch/cask)",
        "Pastes",
        {"sd": Prior("gamma", alpha=2.0, beta=1.0), "sigma": Prior("exponential", lam=1.0)},
    ),
    (
        "diameter ~ 1 + (1 | plate) + (1 | sample)",
        "Penicillin",
        {
            "(Intercept)": Prior("normal", mu=20, sigma=5),
            "sigma": Prior("uniform", lower=0, upper=10),
        },
    ),
    (
        "y ~ x * sector + z + (1 + x | school) + (1 | school:class)",
        "sim_three_level",
        {"fixed": Prior("cauchy", alpha=0, beta=2), "cor": Prior("lkj", eta=3.0)},
    ),
    (
        "rt ~ cond + group + (1 + cond | subject) + (1 | item)",
        "sim_crossed",
        {"sd": Prior("lognormal", mu=1.0, sigma=2.0)},
    ),
    (
        "Reaction ~ Days + period + (1 + period | Subject)",
        "sleep_period",
        {"sigma": Prior("inversegamma", alpha=3.0, beta=200.0)},
    ),
]


def _model(formula: str, data: str) -> bm.MixedModel:
    return bm.MixedModel(formula, load_data(data))


def _random_point(design, rng, fit):
    beta = fit.beta + rng.normal(0, 1.0, design.p)
    sigma = fit.sigma * rng.uniform(0.7, 1.4)
    Ls = []
    for t, C in zip(design.terms, fit.covs, strict=True):
        M = rng.normal(size=(t.k, t.k))
        scale = np.sqrt(np.outer(np.diag(C), np.diag(C))) + 1e-2 * fit.sigma**2
        Ls.append(
            np.linalg.cholesky(
                C + 0.2 * scale * (M @ M.T) / t.k + 1e-2 * fit.sigma**2 * np.eye(t.k)
            )
        )
    return beta, sigma, Ls


@pytest.mark.parametrize(
    "formula,data,_", STRUCTURES, ids=[s[1] + ":" + s[0][:25] for s in STRUCTURES]
)
@pytest.mark.parametrize("use_kernel", [True, False], ids=["kernel", "numpy"])
def test_marginal_loglik_and_gradient(formula, data, _, use_kernel):
    m = _model(formula, data)
    d = m.design
    fit = m.fit_reml()
    mm = MarginalModel(d, d.X, use_kernel=use_kernel)
    rng = np.random.default_rng(11)
    beta, sigma, Ls = _random_point(d, rng, fit)
    ll, db, ds, dS = mm.loglik_grad(beta, sigma, Ls)
    V = sigma**2 * np.eye(d.n)
    for t, L in zip(d.terms, Ls, strict=True):
        Z = t.Z.toarray()
        V += Z @ np.kron(np.eye(t.m), L @ L.T) @ Z.T
    ref = multivariate_normal(mean=d.X @ beta, cov=V).logpdf(d.y)
    assert ll == pytest.approx(ref, rel=1e-9)

    def f(b, s, L_):
        return mm.loglik_grad(b, s, L_)[0]

    for what, _h, fd in central_differences(f, beta, sigma, Ls, beta_step=1e-4):
        if what[0] == "beta":
            j = what[1]
            assert db[j] == pytest.approx(fd, rel=1e-5, abs=1e-6 * abs(ll) / max(1.0, abs(beta[j])))
        elif what[0] == "sigma":
            assert ds == pytest.approx(fd, rel=1e-5)
        else:
            _, ti, a, b = what
            analytic = dS[ti][a, b] * (1 if a == b else 2)
            assert analytic == pytest.approx(fd, rel=1e-4, abs=1e-7), (ti, a, b)


@pytest.mark.parametrize(
    "formula,data,priors", STRUCTURES, ids=[s[1] + ":" + s[0][:25] for s in STRUCTURES]
)
def test_compiled_density_equals_pymc_logp(formula, data, priors):
    d = _model(formula, data).design
    ps = resolve_priors(d, priors)
    model, info = build_model(d, ps, "marginal")
    mp = MarginalPosterior(d, ps, info.xmeans)
    assert mp.ndim == sum(np.size(v) for v in model.initial_point().values())
    logp = model.compile_logp()
    dlogp = model.compile_dlogp()
    from pymc.blocking import DictToArrayBijection

    rng = np.random.default_rng(5)
    ip = model.initial_point()
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.4, size=np.shape(v)) for k, v in ip.items()}
        x = DictToArrayBijection.map(point).data
        lp, g = mp.logp_grad(x)
        assert lp == pytest.approx(float(logp(point)), abs=1e-6)
        np.testing.assert_allclose(g, dlogp(point), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize(
    "formula,data",
    [
        ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
        ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin"),
        ("strength ~ 1 + (1 | batch/cask)", "Pastes"),
    ],
)
def test_conditional_draws_of_b_match_reml(formula, data):
    """At the REML estimates, b | y is Gaussian with the BLUPs as mean and lme4's condVar."""
    m = _model(formula, data)
    fit = m.fit_reml()
    d = m.design
    mm = MarginalModel(d, d.X)
    Ls = [np.linalg.cholesky(C) for C in fit.covs]
    rng = np.random.default_rng(3)
    S = 4000
    draws = [mm.draw_b(fit.beta, fit.sigma, Ls, rng) for _ in range(S)]
    re = fit.ranef().set_index(["group", "level", "term"])
    for ti, t in enumerate(d.terms):
        b = np.stack([dr[ti] for dr in draws])  # (S, m, k)
        for a, cname in enumerate(t.cnames):
            ref = re.xs((t.group, cname), level=["group", "term"]).loc[t.levels]
            mean, sd = b[:, :, a].mean(0), b[:, :, a].std(0)
            mcse = ref["std_error"].to_numpy() / np.sqrt(S)
            assert np.all(np.abs(mean - ref["estimate"].to_numpy()) < 4.5 * mcse + 1e-9)
            # SD of a normal from S draws has relative SE 1/sqrt(2S)
            np.testing.assert_allclose(sd, ref["std_error"].to_numpy(), rtol=4.5 / np.sqrt(2 * S))


def test_graph_info_without_pymc():
    d = _model("Reaction ~ Days + (Days | Subject)", "sleepstudy").design
    info = graph_info(d)
    assert info.parameterization == "marginal"
    assert info.structure == "nested"
    assert info.sd_rv == [["sd__(Intercept)|Subject", "sd__Days|Subject"]]
    assert info.xmeans[1] == pytest.approx(4.5)
    crossed_big = graph_info(d, "noncentered")
    assert crossed_big.re_rv == ["z|Subject"]
