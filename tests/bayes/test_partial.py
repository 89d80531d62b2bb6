"""The partly marginal posterior (some terms' effects sampled, the others integrated out),
the choice of which, and the native (C-callback) densities nutpie calls.

* log density: for every split of a crossed and a random-slope design, the partial density
  minus the full marginal density equals log p(b_S | y, θ), the exact Gaussian conditional
  of the sampled effects computed densely (1e-8 absolute; measured ≤ 2e-9) — for centred and
  for non-centred terms (with the Jacobian m log|L|);
* gradient: central differences, 1e-6 relative to the largest component (measured ≤ 1e-9);
* the native callbacks return exactly what the compiled kernels return (1e-12);
* the split: fewest sampled effects; the centring rule from REML values; the conditional
  draws of the integrated effects given the sampled ones have the dense conditional mean.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

import bayesmixed as bm
from bayesmixed.bayes.graph import Parameterization, choose_parameterization, graph_info
from bayesmixed.bayes.marginal import native
from bayesmixed.bayes.marginal.logdensity import MarginalPosterior
from bayesmixed.bayes.marginal.partial import PartialPosterior
from bayesmixed.bayes.marginal.partition import centring, partial_split
from bayesmixed.bayes.priors import resolve_priors


def _crossed_slopes(seed=1, n=300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "g": rng.integers(0, 12, n).astype(str),
            "h": rng.integers(0, 7, n).astype(str),
            "x": rng.normal(size=n),
        }
    )
    df["y"] = rng.normal(size=n) + df.x + 0.5 * df.g.astype(int) / 12
    return df


CASES = [
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin"),
    ("y ~ x + (x | g) + (x | h)", "slopes"),
    ("strength ~ 1 + (1 | batch/cask)", "Pastes"),
    ("y ~ 1 + (1 | a/b) + (1 | c)", "three"),
]


def _three_levels(seed=2, n=240) -> pd.DataFrame:
    """b within a, crossed with c: a nested pair to centre hierarchically, one more term."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, n)
    b = a * 3 + rng.integers(0, 3, n)
    c = rng.integers(0, 5, n)
    y = rng.normal(size=4)[a] + rng.normal(size=12)[b] + rng.normal(size=5)[c]
    return pd.DataFrame({"a": a.astype(str), "b": b.astype(str), "c": c.astype(str),
                         "y": y + rng.normal(size=n)})  # fmt: skip


def _model(formula, data):
    makers = {"slopes": _crossed_slopes, "three": _three_levels}
    df = makers[data]() if data in makers else bm.datasets.load(data)
    m = bm.MixedModel(formula, df)
    d = m.design
    xm = d.X.mean(axis=0)
    if d.has_intercept:
        xm[d.xnames.index("(Intercept)")] = 0.0
    return m, d, resolve_priors(d, None), xm


def _splits(nt):
    """Every proper non-empty subset sampled, all centred or all non-centred (and mixed)."""
    from itertools import combinations

    for r in range(1, nt):
        for sub in combinations(range(nt), r):
            for mode in ("centered", "noncentered", "mixed"):
                if mode == "mixed" and r < 2:
                    continue
                modes = ["marginal"] * nt
                for j, i in enumerate(sub):
                    modes[i] = ("centered", "noncentered")[j % 2] if mode == "mixed" else mode
                yield modes, [i for i in range(nt) if i not in sub]


def _point(pp, mp, rng):
    xs = 0.3 * rng.standard_normal(mp.ndim)
    x = pp.start(xs, rng)
    x[pp.nb :] = 0.8 * rng.standard_normal(pp.ndim - pp.nb)
    return xs, x


def _effects_of(pp, x, i, pt):
    """b of sampled term i at x: η minus its centre (centred), or L z (non-centred)."""
    t = pp.design.terms[i]
    e = x[pp.nb + pp.eoff[i] : pp.nb + pp.eoff[i + 1]].reshape(t.m, t.k).copy()
    if pp.modes[i] == "noncentered":
        return e @ pt.L[i].T
    c = pp.centre[pp.lo_all[i] : pp.lo_all[i + 1]]
    e[c >= 0, 0] -= x[c[c >= 0]]
    return e


@pytest.mark.parametrize("formula,data", CASES)
def test_partial_density_is_marginal_times_exact_conditional(formula, data):
    m, d, ps, xm = _model(formula, data)
    mp = MarginalPosterior(d, ps, xm)
    rng = np.random.default_rng(3)
    Z = [t.Z.toarray() for t in d.terms]
    for modes, order in _splits(len(d.terms)):
        pp = PartialPosterior(d, ps, xm, modes, order)
        xs, x = _point(pp, mp, rng)
        lp = pp.logp(x)
        pt = mp.point(xs)
        S = [i for i, s in enumerate(modes) if s != "marginal"]
        Sig = [np.kron(np.eye(tt.m), pt.L[i] @ pt.L[i].T) for i, tt in enumerate(d.terms)]
        b = np.concatenate([_effects_of(pp, x, i, pt).ravel() for i in S])
        V = pt.sigma**2 * np.eye(d.n) + sum(Z[i] @ Sig[i] @ Z[i].T for i in range(len(Z)))
        Vi = np.linalg.inv(V)
        r = d.y - (d.X - xm) @ pt.beta
        from scipy.linalg import block_diag

        SZ = block_diag(*[Sig[i] for i in S]) @ np.hstack([Z[i] for i in S]).T
        cond = multivariate_normal(SZ @ Vi @ r, block_diag(*[Sig[i] for i in S]) - SZ @ Vi @ SZ.T)
        ref = mp.logp(xs) + cond.logpdf(b)
        for i in S:
            if modes[i] == "noncentered":
                ref += d.terms[i].m * np.sum(np.log(np.diag(pt.L[i])))
        assert abs(lp - ref) < 1e-8, (modes, lp, ref)


@pytest.mark.parametrize("formula,data", CASES)
def test_partial_gradient_matches_central_differences(formula, data):
    m, d, ps, xm = _model(formula, data)
    mp = MarginalPosterior(d, ps, xm)
    rng = np.random.default_rng(4)
    for modes, order in _splits(len(d.terms)):
        pp = PartialPosterior(d, ps, xm, modes, order)
        _, x = _point(pp, mp, rng)
        _, g = pp.logp_grad(x)
        h = 1e-5
        fd = np.array([(pp.logp(x + h * e) - pp.logp(x - h * e)) / (2 * h) for e in np.eye(x.size)])
        assert np.max(np.abs(fd - g)) <= 1e-6 * max(1.0, np.abs(g).max()), modes


def _call_native(kernel, args, x):
    """Call the C callback nutpie would call, through ctypes."""
    fn = native._compiled(native.CFUNCS[kernel][0])
    table = native.ArgTable(native._flatten(args))
    grad = np.zeros(x.size)
    lp = np.zeros(1)
    proto = ctypes.CFUNCTYPE(
        ctypes.c_int64,
        ctypes.c_uint64,
        ctypes.POINTER(ctypes.c_double),
        ctypes.POINTER(ctypes.c_double),
        ctypes.POINTER(ctypes.c_double),
        ctypes.c_void_p,
    )(fn.address)
    dbl = ctypes.POINTER(ctypes.c_double)
    xx = np.ascontiguousarray(x, dtype=float)
    code = proto(
        x.size,
        xx.ctypes.data_as(dbl),
        grad.ctypes.data_as(dbl),
        lp.ctypes.data_as(dbl),
        table.table.ctypes.data,
    )
    return code, float(lp[0]), grad


@pytest.mark.parametrize(
    "formula,data",
    [
        ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
        ("strength ~ 1 + (1 | batch/cask)", "Pastes"),
        ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin"),
    ],
)
def test_native_callbacks_return_the_kernels_values(formula, data):
    m, d, ps, xm = _model(formula, data)
    mp = MarginalPosterior(d, ps, xm)
    rng = np.random.default_rng(5)
    x = mp.to_unconstrained(
        np.r_[d.y.mean(), np.zeros(d.p - 1)], d.y.std(), [np.ones(t.k) for t in d.terms],
        [np.eye(t.k) for t in d.terms],
    ) + 0.1 * rng.standard_normal(mp.ndim)  # fmt: skip
    kernel, args = mp.kernel()
    code, lp, g = _call_native(kernel, args, x)
    ref_lp, ref_g = mp.logp_grad(x)
    assert code == 0
    assert abs(lp - ref_lp) <= 1e-12 * abs(ref_lp)
    np.testing.assert_allclose(g, ref_g, rtol=1e-12, atol=1e-12)
    if len(d.terms) > 1:
        pp = PartialPosterior(d, ps, xm, ["centered"] + ["marginal"] * (len(d.terms) - 1),
                              list(range(1, len(d.terms))))  # fmt: skip
        xp = pp.start(x, rng)
        code, lp, g = _call_native(*pp.kernel(), xp)
        ref_lp, ref_g = pp.logp_grad(xp)
        assert code == 0 and abs(lp - ref_lp) <= 1e-12 * abs(ref_lp)
        np.testing.assert_allclose(g, ref_g, rtol=1e-12, atol=1e-12)


def test_native_callback_reports_a_point_outside_the_support():
    m, d, ps, xm = _model("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    mp = MarginalPosterior(d, ps, xm)
    x = np.zeros(mp.ndim)
    x[d.p] = 800.0  # σ = e^800 overflows: the density is not finite
    code, _, _ = _call_native(*mp.kernel(), x)
    assert code != 0


def _insteval_like(n=6000, seed=0) -> pd.DataFrame:
    """Students × lecturers crossed, lecturers within departments (as lme4's InstEval)."""
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 900, n)
    d = rng.integers(0, 450, n)
    dept = d % 9
    y = (
        3.0 + 0.3 * rng.standard_normal(900)[s] + 0.5 * rng.standard_normal(450)[d]
        + 0.1 * rng.standard_normal(9)[dept] + rng.standard_normal(n)
    )  # fmt: skip
    return pd.DataFrame({"s": s.astype(str), "d": d.astype(str), "dept": dept.astype(str),
                         "y": y})  # fmt: skip


def test_split_samples_the_fewest_effects_and_auto_picks_partial():
    m = bm.MixedModel("y ~ 1 + (1 | s) + (1 | d) + (1 | dept)", _insteval_like())
    names = [t.name for t in m.design.terms]
    sampled, integrated = partial_split(m.design)
    # fewest effects: d (450) sampled; lecturers are nested in departments, so dept too
    assert sorted(names[i] for i in sampled) == ["d", "dept"]
    assert [names[i] for i in integrated] == ["s"]
    assert choose_parameterization(m.design) == "partial"
    info = graph_info(m.design, "auto")
    assert info.parameterization == "partial" and info.sampled == sampled


def test_nested_centred_terms_are_centred_hierarchically():
    m, d, ps, xm = _model("y ~ 1 + (1 | a/b) + (1 | c)", "three")
    names = [t.name for t in d.terms]
    ib, ia, ic = names.index("b:a"), names.index("a"), names.index("c")
    modes = ["marginal"] * 3
    modes[ib] = modes[ia] = "centered"
    pp = PartialPosterior(d, ps, xm, modes, [ic])
    tb, ta = d.terms[ib], d.terms[ia]
    parent = {tb.codes[i]: ta.codes[i] for i in range(d.n)}
    cb = pp.centre[pp.lo_all[ib] : pp.lo_all[ib + 1]]
    # each b level is centred on its a level's coordinate; a's levels on the intercept
    assert cb.tolist() == [pp.nb + pp.eoff[ia] + parent[j] for j in range(tb.m)]
    assert set(pp.centre[pp.lo_all[ia] : pp.lo_all[ia + 1]].tolist()) == {0}
    assert set(pp.centre[pp.lo_all[ic] : pp.lo_all[ic + 1]].tolist()) == {-1}


def test_centring_follows_the_information_per_level():
    m = bm.MixedModel("y ~ 1 + (1 | s) + (1 | d) + (1 | dept)", _insteval_like())
    d_ = [t.name for t in m.design.terms].index("d")
    covs = [np.eye(1) * v for v in (0.09, 0.25, 0.01)]
    # ~13 rows per lecturer: 13 · 0.25 / 1 > 1 → centred; with τ² = 0.01, 0.13 < 1 → not
    assert centring(m.design, [d_], 1.0, covs) == {d_: "centered"}
    covs[d_] = np.eye(1) * 0.01
    assert centring(m.design, [d_], 1.0, covs) == {d_: "noncentered"}


def test_draws_of_the_integrated_effects_have_the_exact_conditional_mean():
    m, d, ps, xm = _model("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin")
    mp = MarginalPosterior(d, ps, xm)
    pp = PartialPosterior(d, ps, xm, ["marginal", "centered"], [0])
    rng = np.random.default_rng(6)
    xs, x = _point(pp, mp, rng)
    pt = mp.point(xs)
    S = 20000
    effects = pp.draw_effects(np.tile(x, (S, 1)), rng)
    Z = [t.Z.toarray() for t in d.terms]
    bS = _effects_of(pp, x, 1, pt)[:, 0]
    assert pp.centre[pp.lo_all[1]] == 0  # the sample effects are centred on the intercept
    np.testing.assert_allclose(effects[1][:, :, 0], np.tile(bS, (S, 1)))
    # b_plate | b_sample, y: Gaussian regression of y − Z_s b_s on plate effects
    s2 = pt.sigma**2
    tau2 = (pt.L[0] @ pt.L[0].T)[0, 0]
    r = d.y - (d.X - xm) @ pt.beta - Z[1] @ bS
    prec = Z[0].T @ Z[0] / s2 + np.eye(d.terms[0].m) / tau2
    mean = np.linalg.solve(prec, Z[0].T @ r / s2)
    sd = np.sqrt(np.diag(np.linalg.inv(prec)))
    err = np.abs(effects[0][:, :, 0].mean(axis=0) - mean) / (sd / np.sqrt(S))
    assert err.max() < 4.5


def test_parameterization_says_what_each_term_got():
    p = Parameterization("partial", {"s": "marginal", "d": "centered"})
    assert p == "partial" and isinstance(p, str)
    assert p.terms == {"s": "marginal", "d": "centered"}
    assert "d: centered" in repr(p)
    import pickle

    assert pickle.loads(pickle.dumps(p)).terms == p.terms


@pytest.mark.slow
def test_partial_posterior_agrees_with_the_marginal_one():
    """The same posterior two ways: NUTS on the partial and on the full marginal form."""
    df = _insteval_like(n=3000, seed=2)
    m = bm.MixedModel("y ~ 1 + (1 | s) + (1 | d) + (1 | dept)", df)
    kw = dict(draws=1000, tune=1000, chains=2, random_seed=3, progressbar=False)
    a = m.sample(parameterization="partial", **kw)
    assert a.parameterization.terms["d"] in ("centered", "noncentered")
    assert a.parameterization.terms["s"] == "marginal"
    b = m.sample(parameterization="marginal", **kw)
    for v in ("beta", "sigma", "sd_s", "sd_d", "sd_dept"):
        pa, pb = a.idata.posterior[v], b.idata.posterior[v]
        diff = float(np.abs(pa.mean(("chain", "draw")) - pb.mean(("chain", "draw"))).max())
        sd = float(pb.std(("chain", "draw")).max())
        assert diff < 0.25 * sd, v


def test_partial_needs_nutpie():
    from bayesmixed.errors import ArgumentError

    m = bm.MixedModel("y ~ 1 + (1 | s) + (1 | d) + (1 | dept)", _insteval_like())
    with pytest.raises(ArgumentError, match="sampler='nutpie'"):
        m.sample(parameterization="partial", sampler="pymc", draws=10, tune=10, chains=1)
    with pytest.raises(ArgumentError, match="no PyMC graph"):
        m.pymc_model(parameterization="partial")
    assert graph_info(m.design, "noncentered").parameterization == "noncentered"


def test_partial_sample_end_to_end_and_saved(tmp_path):
    """A short run: per-term choice recorded, every term's BLUP draws finite, and a saved
    fit loads back with the same per-term parameterization."""
    m = bm.MixedModel("y ~ 1 + (1 | s) + (1 | d) + (1 | dept)", _insteval_like(n=3000, seed=4))
    post = m.sample(draws=150, tune=150, chains=2, random_seed=2, progressbar=False)
    assert post.parameterization == "partial"
    assert post.parameterization.terms == {"s": "marginal", "d": "centered", "dept": "centered"}
    attrs = post.idata.posterior.attrs
    assert attrs["parameterization"] == "partial"
    assert "d: centered" in attrs["parameterization_terms"]
    for t in m.design.terms:
        b = post.idata.posterior[f"b_{t.name}"].values
        assert b.shape == (2, 150, t.m, 1) and np.isfinite(b).all()
    path = tmp_path / "fit.bmfit"
    post.save(path)
    back = bm.load(path)
    assert back.parameterization.terms == post.parameterization.terms
