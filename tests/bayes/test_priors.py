"""Priors: defaults scaled to the data, overrides by name and class, densities and encodings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import bayesmixed as bm
from bayesmixed.bayes.densities import prior_draws, prior_logp, scalar_logp, transform_for
from bayesmixed.bayes.marginal import _kernels as K
from bayesmixed.bayes.marginal.logdensity import encode_prior
from bayesmixed.bayes.priors import Prior, default_priors, resolve_priors
from bayesmixed.errors import BayesMixedError, PriorError


@pytest.fixture(scope="module")
def design():
    return bm.MixedModel(
        "Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy")
    ).design


def test_default_rule_is_data_scaled(design):
    y = design.y
    sy = 1.4826 * np.median(np.abs(y - np.median(y)))
    ps = default_priors(design)
    icpt = ps.fixed["(Intercept)"]
    assert icpt.family == "studentt"
    assert icpt.params["mu"] == pytest.approx(np.median(y))
    assert icpt.params["sigma"] == pytest.approx(2.5 * sy)
    days = ps.fixed["Days"]
    assert days.params["sigma"] == pytest.approx(2.5 * sy / np.std(design.X[:, 1], ddof=1))
    assert ps.sd["sd__(Intercept)|Subject"].params["sigma"] == pytest.approx(sy)
    assert ps.sd["sd__Days|Subject"].params["sigma"] == pytest.approx(
        sy / np.std(design.terms[0].X[:, 1], ddof=1)
    )
    assert ps.cor["cor|Subject"].params["eta"] == 2.0
    assert ps.sigma.params == {"nu": 3, "sigma": pytest.approx(sy)}
    tab = ps.table()
    assert list(tab.columns) == ["parameter", "class", "prior", "source"]
    assert set(tab["source"]) == {"default"}


def test_overrides_by_name_and_class(design):
    ps = resolve_priors(
        design,
        {
            "sd": Prior("halfnormal", sigma=10.0),
            "sd__Days|Subject": Prior("exponential", lam=0.5),
            "fixed": Prior("normal", mu=0.0, sigma=5.0),
            "Intercept": Prior("normal", mu=250.0, sigma=50.0),
            "cor|Subject": Prior("lkj", eta=4.0),
            "sigma": Prior("halfcauchy", beta=20.0),
        },
    )
    # a specific name beats its class, whatever the dict order
    assert ps.sd["sd__Days|Subject"] == Prior("exponential", lam=0.5)
    assert ps.sd["sd__(Intercept)|Subject"] == Prior("halfnormal", sigma=10.0)
    assert ps.fixed["Days"] == Prior("normal", mu=0.0, sigma=5.0)
    assert ps.fixed["(Intercept)"] == Prior("normal", mu=250.0, sigma=50.0)
    assert ps.cor["cor|Subject"].params["eta"] == 4.0
    assert ps.sigma.family == "halfcauchy"
    src = ps.table().set_index("parameter")["source"]
    assert src["sd__Days|Subject"] == "user"
    assert src["sd__(Intercept)|Subject"] == "class 'sd'"


def test_unknown_name_lists_valid_names(design):
    with pytest.raises(PriorError) as err:
        resolve_priors(design, {"sd_Days": Prior("halfnormal", sigma=1.0)})
    msg = str(err.value)
    assert "sd_Days" in msg and "sd__Days|Subject" in msg and "cor|Subject" in msg
    assert isinstance(err.value, BayesMixedError) and isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    "key,prior",
    [
        ("sigma", Prior("normal", mu=0, sigma=1)),
        ("sd__Days|Subject", Prior("studentt", nu=3, mu=0, sigma=1)),
        ("cor|Subject", Prior("normal", mu=0, sigma=1)),
        ("Days", Prior("lkj", eta=2)),
    ],
)
def test_support_mismatch_is_refused(design, key, prior):
    with pytest.raises(PriorError, match=key.replace("|", r"\|")):
        resolve_priors(design, {key: prior})


def test_bad_prior_specifications():
    with pytest.raises(PriorError, match="unknown prior family"):
        Prior("gaussian", mu=0)
    with pytest.raises(PriorError, match="no parameter 'scale'"):
        Prior("normal", mu=0, scale=1)
    with pytest.raises(PriorError, match="finite"):
        Prior("normal", mu=0, sigma=np.inf)
    with pytest.raises(PriorError, match="Prior"):
        resolve_priors(
            bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).design,
            {"sigma": 3.0},
        )


# scipy equivalents of every family (same parameterization as PyMC)
CASES = [
    (Prior("normal", mu=1.0, sigma=2.0), stats.norm(1.0, 2.0), 0.3),
    (Prior("studentt", nu=3, mu=1.0, sigma=2.0), stats.t(3, 1.0, 2.0), -0.7),
    (Prior("cauchy", alpha=1.0, beta=2.0), stats.cauchy(1.0, 2.0), 2.5),
    (Prior("laplace", mu=1.0, b=2.0), stats.laplace(1.0, 2.0), 0.2),
    (Prior("halfnormal", sigma=2.0), stats.halfnorm(0, 2.0), 1.3),
    (Prior("halfstudentt", nu=3, sigma=2.0), None, 1.3),
    (Prior("halfcauchy", beta=2.0), stats.halfcauchy(0, 2.0), 1.3),
    (Prior("exponential", lam=0.5), stats.expon(scale=2.0), 1.3),
    (Prior("exponential", scale=2.0), stats.expon(scale=2.0), 1.3),
    (Prior("gamma", alpha=2.0, beta=3.0), stats.gamma(2.0, scale=1 / 3.0), 0.8),
    (Prior("gamma", mu=2.0, sigma=1.0), stats.gamma(4.0, scale=0.5), 0.8),
    (Prior("inversegamma", alpha=3.0, beta=2.0), stats.invgamma(3.0, scale=2.0), 0.8),
    (Prior("lognormal", mu=0.5, sigma=0.7), stats.lognorm(0.7, scale=math.exp(0.5)), 0.8),
    (Prior("uniform", lower=0.0, upper=5.0), stats.uniform(0.0, 5.0), 0.8),
]


@pytest.mark.parametrize("prior,ref,x", CASES, ids=[str(c[0]) for c in CASES])
def test_prior_densities(prior, ref, x):
    """Log densities equal scipy's (PyMC's parameterization) and derivatives match FD;
    the fast scalar version and the compiled encoding agree with them (1e-10)."""
    lp, d = prior_logp(prior, x)
    if ref is not None:
        assert lp == pytest.approx(ref.logpdf(x), abs=1e-10)
    else:  # half-t: twice the t density on the positive half line
        assert lp == pytest.approx(math.log(2) + stats.t(3, 0, 2.0).logpdf(x), abs=1e-10)
    h = 1e-6
    fd = (prior_logp(prior, x + h)[0] - prior_logp(prior, x - h)[0]) / (2 * h)
    assert d == pytest.approx(fd, rel=1e-5, abs=1e-8)
    assert scalar_logp(prior)(x)[0] == pytest.approx(lp, abs=1e-12)
    # compiled path, value on the constrained scale plus the transform's log-Jacobian
    code, par, trk, lo, hi = encode_prior(prior)
    tr = transform_for(prior)
    eta = tr.inverse(x)
    val, dval, lpc, grad = K.scalar_params(
        np.array([eta]), np.array([code]), par[None, :], np.array([trk]),
        np.array([lo]), np.array([hi]),
    )  # fmt: skip
    _, dx, lj = tr.forward(eta)
    assert val[0] == pytest.approx(x, rel=1e-12)
    assert lpc == pytest.approx(lp + lj, abs=1e-10)
    assert grad[0] == pytest.approx(d * dx + tr.jac_grad(eta), rel=1e-8, abs=1e-10)


def test_prior_draws_match_the_family():
    rng = np.random.default_rng(0)
    for prior, ref, _ in CASES:
        draws = prior_draws(prior, rng, 4000)
        if ref is None or prior.family in ("cauchy", "halfcauchy"):
            continue
        # Kolmogorov–Smirnov against the same distribution
        assert stats.kstest(draws, ref.cdf).pvalue > 1e-4, str(prior)
    with pytest.raises(ValueError, match="improper"):
        prior_draws(Prior("flat"), rng, 3)
