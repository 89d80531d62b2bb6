"""Compiled multi-term marginal likelihood, log posterior and conditional draws of b.

For nested chains and crossed (dense Schur) designs of many shapes, on small simulated data:

* the compiled ℓ equals the NumPy reference and a dense multivariate-normal log density
  (1e-9 relative), and its gradient equals the reference and central finite differences;
* the compiled log posterior equals the Python assembly around the NumPy likelihood;
* draws of b | y reproduce the NumPy draws from the same random stream, and 20,000 of them
  have the conditional modes as mean (within 4 Monte Carlo SE) and the conditional variances
  (diagonal blocks of σ²ΛA⁻¹Λ') as variance.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest
from conftest import central_differences
from scipy.stats import multivariate_normal

import bayesmixed as bm
from bayesmixed.bayes.graph import graph_info
from bayesmixed.bayes.marginal.likelihood import MarginalModel
from bayesmixed.bayes.marginal.logdensity import MarginalPosterior
from bayesmixed.bayes.priors import resolve_priors


def _balanced(seed: int = 0) -> pd.DataFrame:
    """a/b/c nested (3 × 3 × 2 cells, 3 obs each), crossed with f1 (8), f2 (6), f3 (5), g (12)."""
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(3):
        for b in range(3):
            for c in range(2):
                for _ in range(3):
                    rows.append((f"a{a}", f"b{b}", f"c{c}"))
    df = pd.DataFrame(rows, columns=["a", "b", "c"])
    n = len(df)
    df["f1"] = [f"p{i}" for i in rng.permutation(np.arange(n) % 8)]
    df["f2"] = [f"q{i}" for i in rng.permutation(np.arange(n) % 6)]
    df["f3"] = [f"r{i}" for i in rng.permutation(np.arange(n) % 5)]
    df["g"] = [f"g{i:02d}" for i in rng.permutation(np.arange(n) % 12)]
    df["x"] = rng.normal(size=n)
    df["x2"] = rng.uniform(-1, 1, size=n)
    ga = df["a"].map({"a0": -1.0, "a1": 0.3, "a2": 0.9})
    df["y"] = 2.0 + 0.5 * df["x"] + ga + rng.normal(scale=0.8, size=n)
    return df


def _unbalanced(seed: int = 1) -> pd.DataFrame:
    """Skewed group sizes with singleton levels: u (1–9 obs), nested v within u, crossed w."""
    rng = np.random.default_rng(seed)
    sizes = [1, 1, 2, 9, 3, 1, 7, 5, 1, 4, 8, 2]
    u = np.repeat(np.arange(len(sizes)), sizes)
    n = len(u)
    # levels with more than two observations split in two nested cells, the rest stay whole
    size_of = np.array(sizes)[u]
    v = np.array([f"v{i % 2 if size_of[i] > 2 else 0}" for i in range(n)])
    df = pd.DataFrame({"u": [f"u{i:02d}" for i in u], "v": v})
    df["w"] = [f"w{i}" for i in rng.integers(0, 7, size=n)]
    df["x"] = rng.normal(size=n)
    df["y"] = 1.0 - 0.4 * df["x"] + rng.normal(size=len(sizes))[u] + rng.normal(size=n)
    return df


# (formula, data, expected structure)
CASES = [
    ("y ~ x + (1 | g)", "bal", "nested"),
    ("y ~ x + (1 + x | g)", "bal", "nested"),
    ("y ~ x + (1 + x + x2 | g)", "bal", "nested"),
    ("y ~ x + (1 + x || g)", "bal", "nested"),
    ("y ~ x + (1 | a/b)", "bal", "nested"),
    ("y ~ 1 + (1 | a/b/c)", "bal", "nested"),
    ("y ~ x + (1 + x | a) + (1 | a:b)", "bal", "nested"),
    ("y ~ x + (1 + x | a/b/c)", "bal", "nested"),
    ("y ~ x + (1 | f1) + (1 | f2)", "bal", "dense"),
    ("y ~ x + (1 + x | f1) + (1 | f2)", "bal", "dense"),
    ("y ~ x + (1 | f1) + (1 + x | f2)", "bal", "dense"),
    ("y ~ x + (1 + x + x2 | g) + (1 + x | f2)", "bal", "dense"),
    ("y ~ x + (1 | f1) + (1 | f2) + (1 | f3)", "bal", "dense"),
    ("y ~ x + (1 + x || f1) + (1 | f2)", "bal", "dense"),
    ("y ~ x + (1 | a/b) + (1 | f2)", "bal", "dense"),
    ("y ~ x + (1 + x | u)", "unbal", "nested"),
    ("y ~ x + (1 | u/v)", "unbal", "nested"),
    ("y ~ x + (1 + x | u) + (1 | w)", "unbal", "dense"),
]
IDS = [f"{d}:{f.split('~')[1].strip()}" for f, d, _ in CASES]

_DATA: dict = {}


def _design(formula: str, data: str):
    if data not in _DATA:
        _DATA[data] = _balanced() if data == "bal" else _unbalanced()
    return bm.MixedModel(formula, _DATA[data]).design


def _random_params(d, rng):
    beta = rng.normal(0.0, 1.0, d.p)
    sigma = rng.uniform(0.5, 1.3)
    Ls = []
    for t in d.terms:
        M = rng.normal(size=(t.k, t.k))
        S = 0.3 * M @ M.T + rng.uniform(0.2, 0.8) * np.eye(t.k)
        Ls.append(np.linalg.cholesky(S))
    return beta, sigma, Ls


def _dense_loglik(d, beta, sigma, Ls) -> float:
    V = sigma**2 * np.eye(d.n)
    for t, L in zip(d.terms, Ls, strict=True):
        Z = t.Z.toarray()
        V += Z @ np.kron(np.eye(t.m), L @ L.T) @ Z.T
    return float(multivariate_normal(mean=d.X @ beta, cov=V).logpdf(d.y))


@pytest.mark.parametrize("formula,data,structure", CASES, ids=IDS)
def test_loglik_and_gradient(formula, data, structure):
    d = _design(formula, data)
    mk = MarginalModel(d, d.X)
    mn = MarginalModel(d, d.X, use_kernel=False)
    assert mk.structure == structure
    rng = np.random.default_rng(zlib.crc32(formula.encode()))
    for _ in range(2):
        beta, sigma, Ls = _random_params(d, rng)
        ll, db, ds, dS = mk.loglik_grad(beta, sigma, Ls)
        ll0, db0, ds0, dS0 = mn.loglik_grad(beta, sigma, Ls)
        ref = _dense_loglik(d, beta, sigma, Ls)
        assert ll == pytest.approx(ref, rel=1e-9)
        assert ll == pytest.approx(ll0, rel=1e-10)
        scale = max(1.0, np.max(np.abs(db0)), abs(ds0))
        np.testing.assert_allclose(db, db0, rtol=1e-8, atol=1e-10 * scale)
        assert ds == pytest.approx(ds0, rel=1e-8, abs=1e-10 * scale)
        for G, G0 in zip(dS, dS0, strict=True):
            np.testing.assert_allclose(G, G0, rtol=1e-8, atol=1e-10 * scale)

    def f(b, s, L_):
        return mk.loglik_grad(b, s, L_)[0]

    # finite differences at the last point; absolute slack covers round-off in ℓ itself
    slack = 1e-9 * abs(ll)
    for what, h, fd in central_differences(f, beta, sigma, Ls, beta_step=1e-5):
        if what[0] == "beta":
            assert db[what[1]] == pytest.approx(fd, rel=1e-5, abs=slack / h)
        elif what[0] == "sigma":
            assert ds == pytest.approx(fd, rel=1e-5, abs=slack / h)
        else:
            _, ti, a, b = what
            analytic = dS[ti][a, b] * (1 if a == b else 2)
            assert analytic == pytest.approx(fd, rel=1e-5, abs=slack / h), (ti, a, b)


@pytest.mark.parametrize("formula,data,structure", CASES, ids=IDS)
def test_compiled_log_posterior_equals_python_assembly(formula, data, structure):
    d = _design(formula, data)
    info = graph_info(d, "marginal")
    mp = MarginalPosterior(d, resolve_priors(d, None), info.xmeans)
    rng = np.random.default_rng(7)
    for _ in range(3):
        x = rng.normal(0.0, 0.7, mp.ndim)
        lp, g = mp.logp_grad(x)
        mp.mm.use_kernel = False
        try:
            lp0, g0 = mp.logp_grad(x)
        finally:
            mp.mm.use_kernel = True
        assert np.isfinite(lp)
        assert lp == pytest.approx(lp0, rel=1e-10)
        np.testing.assert_allclose(g, g0, rtol=1e-8, atol=1e-9 * max(1.0, np.max(np.abs(g0))))


@pytest.mark.parametrize(
    "formula", ["y ~ x + (1 | a/b)", "y ~ x + (1 + x | f1) + (1 | f2)"], ids=["nested", "dense"]
)
def test_log_posterior_outside_support_is_minus_inf(formula):
    d = _design(formula, "bal")
    info = graph_info(d, "marginal")
    mp = MarginalPosterior(d, resolve_priors(d, None), info.xmeans)
    for bad in (-800.0, 800.0, np.nan):
        x = np.zeros(mp.ndim)
        x[d.p] = bad  # log σ: σ underflows to 0, overflows to inf, or is nan
        lp, g = mp.logp_grad(x)
        assert lp == -np.inf
        assert g.shape == (mp.ndim,) and np.all(g == 0.0)


@pytest.mark.parametrize("formula,data,structure", CASES, ids=IDS)
def test_draws_reproduce_numpy_stream(formula, data, structure):
    d = _design(formula, data)
    mk = MarginalModel(d, d.X)
    mn = MarginalModel(d, d.X, use_kernel=False)
    beta, sigma, Ls = _random_params(d, np.random.default_rng(2))
    bk = mk.draw_b(beta, sigma, Ls, np.random.default_rng(9))
    bn = mn.draw_b(beta, sigma, Ls, np.random.default_rng(9))
    for x, y, t in zip(bk, bn, d.terms, strict=True):
        assert x.shape == (t.m, t.k)
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-11)
    # the batched call consumes the stream exactly as successive single draws do
    S = 3
    many = mk.draw_b_many(
        np.tile(beta, (S, 1)), np.full(S, sigma), [np.tile(L, (S, 1, 1)) for L in Ls],
        np.random.default_rng(9),
    )  # fmt: skip
    rng = np.random.default_rng(9)
    for s in range(S):
        one = mn.draw_b(beta, sigma, Ls, rng)
        for ti in range(len(d.terms)):
            np.testing.assert_allclose(many[ti][s], one[ti], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize(
    "formula,data",
    [
        ("y ~ x + (1 + x + x2 | g)", "bal"),
        ("y ~ 1 + (1 | a/b/c)", "bal"),
        ("y ~ x + (1 + x | a) + (1 | a:b)", "bal"),
        ("y ~ x + (1 | f1) + (1 + x | f2)", "bal"),
        ("y ~ x + (1 | a/b) + (1 | f2)", "bal"),
        ("y ~ x + (1 + x | u) + (1 | w)", "unbal"),
    ],
)
def test_draw_moments_match_conditional_mode_and_variance(formula, data):
    d = _design(formula, data)
    mk = MarginalModel(d, d.X)
    mn = MarginalModel(d, d.X, use_kernel=False)
    beta, sigma, Ls = _random_params(d, np.random.default_rng(4))
    f = mn.factor(beta, sigma, Ls)
    modes = [u @ T.T for u, T in zip(mn.solve_u(f), f.T, strict=True)]
    covs = [
        sigma**2 * np.einsum("ab,jbc,dc->jad", T, Z, T)
        for T, Z in zip(f.T, mn.inverse_diag(f), strict=True)
    ]
    S = 20_000
    draws = mk.draw_b_many(
        np.tile(beta, (S, 1)), np.full(S, sigma), [np.tile(L, (S, 1, 1)) for L in Ls],
        np.random.default_rng(11),
    )  # fmt: skip
    for b, mode, cov in zip(draws, modes, covs, strict=True):
        var = np.einsum("jaa->ja", cov)
        mcse = np.sqrt(var / S)
        assert np.all(np.abs(b.mean(axis=0) - mode) < 4.0 * mcse)
        # sample covariance entries: SE² = (Σ_aa Σ_bb + Σ_ab²)/S
        dev = b - b.mean(axis=0)
        emp = np.einsum("sja,sjb->jab", dev, dev) / (S - 1)
        se = np.sqrt((np.einsum("jaa,jbb->jab", cov, cov) + cov**2) / S)
        assert np.all(np.abs(emp - cov) < 4.5 * se)
