"""Residual structures: positive definiteness, known values, labels, specification errors."""

from __future__ import annotations

import numpy as np
import pytest

import bayesmixed as bm
from bayesmixed.covariance.residual import STRUCTURES, cpc_cholesky, durbin_levinson
from bayesmixed.errors import ArgumentError

LEVELS = ["T0", "T3", "T6", "T9", "T12"]


def _make(name):
    cls = STRUCTURES[name]
    if name == "CAR1":
        return cls(LEVELS, times=np.array([0.0, 2.5, 7.0, 12.0, 13.1]))
    return cls(LEVELS)


@pytest.mark.parametrize("name", list(STRUCTURES))
def test_positive_definite_for_any_parameters(name):
    s = _make(name)
    rng = np.random.default_rng(0)
    for _ in range(200):
        # |u| <= 3: tanh(3) = 0.995; beyond, products of such correlations are singular
        # in floating point although positive definite in exact arithmetic
        u = np.clip(rng.normal(scale=1.5, size=s.n_params), -3, 3)
        M = s.matrix(u)
        assert np.allclose(M, M.T)
        assert np.linalg.eigvalsh(M).min() > 0
        s.factor(u)  # Cholesky succeeds


@pytest.mark.parametrize("name", list(STRUCTURES))
def test_labels_and_counts(name):
    s = _make(name)
    assert len(s.param_names) == s.n_params == len(s.start)
    assert len(s.labels) == len(s.report(s.start, 1.0))
    T = len(LEVELS)
    n_cov = {"CS": 2, "CSH": T + 1, "AR1": 2, "ARH1": T + 1, "TOEP": T, "TOEPH": 2 * T - 1}
    n_cov |= {"UN": T * (T + 1) // 2, "AD": 2 * T - 1, "CAR1": 2}
    assert s.n_params + 1 == n_cov[name]  # + σ²
    assert s.default_prior and s.bayes_transform


def test_label_names():
    assert _make("UN").cor_labels[:3] == ["cor__T0.T3", "cor__T0.T6", "cor__T0.T9"]
    assert _make("TOEP").cor_labels == ["cor__lag1", "cor__lag2", "cor__lag3", "cor__lag4"]
    assert _make("AD").cor_labels[0] == "rho__T0.T3"
    assert _make("CSH").sd_labels == [f"sd__{v}" for v in LEVELS]
    assert _make("AR1").labels == ["sd__Observation", "rho"]


def test_known_values():
    ar = STRUCTURES["AR1"](LEVELS)
    u = [np.arctanh(0.6)]
    np.testing.assert_allclose(ar.matrix_at(u, [0, 1, 3])[0], [1, 0.6, 0.216])
    neg = ar.matrix_at([np.arctanh(-0.5)], [0, 1, 2])
    np.testing.assert_allclose(neg[0], [1, -0.5, 0.25])
    cs = STRUCTURES["CS"](LEVELS)
    par = cs.start.copy()
    assert cs.cor_report(par)[0] == pytest.approx(0.0, abs=1e-12)
    # Toeplitz from partial autocorrelations: AR(1) when only the first is nonzero
    np.testing.assert_allclose(durbin_levinson(np.array([0.5, 0, 0])), [0.5, 0.25, 0.125])
    # a Toeplitz matrix's partial autocorrelations come back through Durbin–Levinson
    r = durbin_levinson(np.array([0.3, -0.2, 0.4]))
    tp = STRUCTURES["TOEP"](LEVELS[:4])
    C = tp.cor_full(np.arctanh([0.3, -0.2, 0.4]))
    np.testing.assert_allclose(C[0, 1:], r)
    # UN: CPCs of a known correlation matrix
    L = cpc_cholesky(np.array([0.5, 0.0, 0.0]), 3)
    np.testing.assert_allclose((L @ L.T)[0], [1, 0.5, 0.0], atol=1e-12)
    un = STRUCTURES["UN"](LEVELS[:3])
    par = np.r_[np.log([2.0, 3.0]), np.arctanh([0.5, 0.0, 0.0])]
    np.testing.assert_allclose(np.diag(un.matrix(par)), [1, 4, 9])
    np.testing.assert_allclose(un.report(par, 2.0)[:3], [2, 4, 6])
    car = STRUCTURES["CAR1"](["0", "1.5"], times=np.array([0.0, 1.5]))
    assert car.matrix_at([0.0], np.array([0.0, 1.5]))[0, 1] == pytest.approx(0.5**1.5)
    ad = STRUCTURES["AD"](LEVELS[:4])
    C = ad.cor_full(np.arctanh([0.5, 0.4, 0.3]))
    assert C[0, 3] == pytest.approx(0.5 * 0.4 * 0.3)


def test_spec_objects():
    s = bm.residual.UN(time="visit", group="id", by="arm")
    assert s.columns == ["id", "visit", "arm"] and s.name == "UN"
    with pytest.raises(ArgumentError, match="time"):
        bm.residual.AR1(time=3, group="id")
    with pytest.raises(ArgumentError, match="group"):
        bm.residual.CS(time="visit", group="")
    with pytest.raises(ArgumentError, match="by"):
        bm.residual.CS(time="visit", group="id", by=["arm"])
    with pytest.raises(ArgumentError, match="different"):
        bm.residual.CS(time="id", group="id")
    with pytest.raises(dataclasses_frozen_error()):
        s.time = "t"


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_string_structure_lists_classes():
    import pandas as pd

    d = pd.DataFrame({"y": [1.0, 2, 3], "id": [1, 1, 2], "visit": ["a", "b", "a"]})
    with pytest.raises(ArgumentError, match="CS, CSH, AR1, ARH1, TOEP, TOEPH, UN, AD, CAR1"):
        bm.MixedModel("y ~ 1", d, residual="AR1")
    with pytest.raises(ArgumentError, match="class"):
        bm.MixedModel("y ~ 1", d, residual=bm.residual.UN)
