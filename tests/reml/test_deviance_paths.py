"""The profiled deviance's evaluation strategies agree with each other.

``ProfiledDeviance`` picks how to form the Schur complement by model size (full dense system
for tiny models; blocked with a dense, fused-pair, pair-map or sparse rank update otherwise).
The R fixtures are small, so they exercise only the first choices; here every strategy is
forced on the same designs and must give the same criterion, estimates and conditional modes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
import bayesmixed.reml.deviance as D

KNOBS = ("_FULL_DENSE_MAX", "_DENSE_FLOPS", "_FUSED_MAX", "_PAIR_BUDGET")
STRATEGIES = {
    "default": {},
    "blocked-dense": {"_FULL_DENSE_MAX": 0},
    "fused": {"_FULL_DENSE_MAX": 0, "_DENSE_FLOPS": 0},
    "pairs": {"_FULL_DENSE_MAX": 0, "_DENSE_FLOPS": 0, "_FUSED_MAX": -1},
    "sparse": {"_FULL_DENSE_MAX": 0, "_DENSE_FLOPS": 0, "_PAIR_BUDGET": 0},
}


def _crossed() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 400
    df = pd.DataFrame(
        {
            "a": rng.integers(0, 30, n).astype(str),
            "b": rng.integers(0, 12, n).astype(str),
            "c": rng.integers(0, 6, n).astype(str),
            "x": rng.normal(size=n),
        }
    )
    df["y"] = df["x"] + rng.normal(size=n)
    return df


MODELS = [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
    ("Reaction ~ Days + (Days || Subject)", "sleepstudy"),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin"),
    ("strength ~ 1 + (1 | batch/cask)", "Pastes"),
    ("y ~ x + (1 | a) + (1 | b) + (1 | c)", None),
    ("y ~ x + (x | a) + (1 | b)", None),
    ("y ~ x + (x || a) + (1 | b) + (x | c)", None),
]


def _evaluate(design, thetas):
    dev = D.ProfiledDeviance(design)
    crit = [dev(th, reml) for th in thetas for reml in (True, False)]
    f = dev.factor(thetas[0])
    beta, _, bs = dev.solve(f)
    return {
        "mode": dev._mode + ("/full" if dev._full is not None else ""),
        "criterion": np.array(crit),
        "factor_criterion": dev.criterion(f, True),
        "beta": beta,
        "b": np.concatenate([b.ravel() for b in bs]),
        "vcov": dev.unscaled_vcov(f),
        "condvar": np.concatenate([v.ravel() for v in dev.conditional_vcov(f)]),
    }


@pytest.mark.parametrize("formula,dataset", MODELS)
def test_strategies_agree(formula, dataset, monkeypatch):
    data = bm.datasets.load(dataset) if dataset else _crossed()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        design = bm.MixedModel(formula, data).design
    rng = np.random.default_rng(1)
    off_diag = design.lower < 0
    thetas = [
        design.theta0 * rng.uniform(0.2, 2.0, design.ntheta)
        + off_diag * rng.normal(0.0, 0.3, design.ntheta)
        for _ in range(3)
    ]
    thetas.append(np.where(off_diag, 0.1, 0.0))  # every variance on its bound
    defaults = {k: getattr(D, k) for k in KNOBS}
    results = {}
    for name, knobs in STRATEGIES.items():
        for k, v in {**defaults, **knobs}.items():
            monkeypatch.setattr(D, k, v)
        results[name] = _evaluate(design, thetas)
    ref = results["default"]
    for name, res in results.items():
        for key in ("criterion", "beta", "vcov"):
            np.testing.assert_allclose(res[key], ref[key], rtol=1e-9, err_msg=f"{name}: {key}")
        np.testing.assert_allclose(
            res["factor_criterion"], ref["criterion"][0], rtol=1e-10, err_msg=name
        )
        for key in ("b", "condvar"):
            scale = np.abs(ref[key]).max()
            np.testing.assert_allclose(
                res[key], ref[key], rtol=1e-7, atol=1e-9 * scale, err_msg=f"{name}: {key}"
            )
    # the forced strategies were really used (a scalar later term allows the fused map)
    if len(design.terms) > 1:
        assert results["sparse"]["mode"] == "sparse"
        assert results["pairs"]["mode"] == "pairs"
        fused_ok = all(t.k == 1 for t in design.terms[1:])
        assert results["fused"]["mode"] == ("fused" if fused_ok else "pairs")


def test_blas_limit_is_a_context_manager(monkeypatch):
    design = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    dev = D.ProfiledDeviance(design.design)
    theta = design.design.theta0
    before = dev(theta)
    monkeypatch.setattr(D, "_BLAS_LIMIT_MIN", 0)
    with dev.blas_limit(1):
        assert dev(theta) == before
    with dev.blas_limit(None):
        assert dev(theta) == before
