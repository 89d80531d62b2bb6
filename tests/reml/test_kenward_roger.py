"""Kenward–Roger through Woodbury against the dense n × n computation it replaced.

``_dense_kr`` is the former implementation (V formed and inverted densely, every product and
trace taken in observation space), kept here as the reference: on nested, crossed, slope,
(x || g), singular and multi-term designs the two agree to 1e-9.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import bayesmixed as bm
from bayesmixed.errors import ArgumentError
from bayesmixed.reml.inference import kr_traces
from bayesmixed.reml.inference.kenward_roger import KenwardRoger
from bayesmixed.reml.inference.kr_traces import WoodburyTraces
from bayesmixed.reml.optimize import fit_lmm_at


def _dense_kr(fit) -> dict:
    """P, K, W and Φ_A by dense n × n algebra (the former KenwardRoger.__init__)."""
    d = fit.design
    X = d.X
    V = fit.sigma**2 * np.eye(d.n)
    Zs, Es = [], []
    for t, S in zip(d.terms, fit.covs, strict=True):
        V += (t.Z @ sp.kron(sp.identity(t.m), sp.csr_matrix(S)) @ t.Z.T).toarray()
        Zs.append(t.Z)
        for a in range(t.k):
            for b in range(a + 1):
                E = np.zeros((t.k, t.k))
                E[a, b] = E[b, a] = 1.0
                Es.append((len(Zs) - 1, sp.kron(sp.identity(t.m), sp.csr_matrix(E)).tocsr()))
    Vi = np.linalg.inv(V)
    Vi = 0.5 * (Vi + Vi.T)
    SiX = Vi @ X
    ViSiX = Vi @ SiX
    WZ = [np.asarray(Z.T @ Vi).T for Z in Zs]
    Ct = [Z.T @ SiX for Z in Zs]
    M = {(i, j): Zs[i].T @ WZ[j] for i in range(len(Zs)) for j in range(len(Zs))}
    Dt = [WZ[i].T @ SiX for i in range(len(Zs))]
    N = [WZ[i].T @ WZ[i] for i in range(len(Zs))]
    nre = len(Es)
    ng = nre + 1
    P = [-(Ct[ti].T @ (E @ Ct[ti])) for ti, E in Es] + [-(SiX.T @ SiX)]
    Q = {}
    K = np.empty((ng, ng))
    for r in range(ng):
        for s in range(r, ng):
            if s < nre:
                (ti, Er), (uj, Es_) = Es[r], Es[s]
                Q[(r, s)] = Ct[ti].T @ (Er @ (M[(ti, uj)] @ (Es_ @ Ct[uj])))
                A = np.asarray(Er @ M[(ti, uj)])
                B = np.asarray(Es_ @ M[(uj, ti)])
                K[r, s] = float(np.sum(A * B.T))
            elif r < nre:
                ti, Er = Es[r]
                Q[(r, s)] = Ct[ti].T @ (Er @ Dt[ti])
                K[r, s] = float(Er.multiply(N[ti]).sum())
            else:
                Q[(r, s)] = SiX.T @ ViSiX
                K[r, s] = float(np.sum(Vi * Vi))
            K[s, r] = K[r, s]
    Phi = fit.vcov().to_numpy()
    IE2 = np.empty((ng, ng))
    for r in range(ng):
        for s in range(r, ng):
            IE2[r, s] = IE2[s, r] = (
                K[r, s] - 2.0 * np.sum(Phi * Q[(r, s)]) + np.sum((Phi @ P[r]) * (P[s] @ Phi))
            )
    eig = np.linalg.eigvalsh(0.5 * (IE2 + IE2.T))
    W = 2.0 * (np.linalg.inv(IE2) if np.min(np.abs(eig)) > 1e-10 else np.linalg.pinv(IE2))
    W = 0.5 * (W + W.T)
    U = np.zeros_like(Phi)
    for r in range(ng - 1):
        for s in range(r + 1, ng):
            U += W[r, s] * (Q[(r, s)] - P[r] @ Phi @ P[s])
    U = U + U.T
    for r in range(ng):
        U += W[r, r] * (Q[(r, r)] - P[r] @ Phi @ P[r])
    return {"P": np.array(P), "K": K, "W": W, "PhiA": Phi + 2.0 * Phi @ U @ Phi}


def _dense_ddf(ref: dict, Phi: np.ndarray, L: np.ndarray) -> tuple[float, float]:
    """The former general-rank A₁, A₂ (loops over parameter pairs)."""
    P, W = ref["P"], ref["W"]
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    u = [Theta @ Phi @ Pr @ Phi for Pr in P]
    tr = [float(np.trace(x)) for x in u]
    A1 = A2 = 0.0
    for r in range(len(P)):
        for s in range(r, len(P)):
            e = 1.0 if r == s else 2.0
            A1 += e * W[r, s] * tr[r] * tr[s]
            A2 += e * W[r, s] * float(np.sum(u[r] * u[s].T))
    return A1, A2


def _df_from(A1: float, A2: float, q: int) -> float:
    """pbkrtest's denominator df from A₁ and A₂ (as the former implementation)."""
    B = (A1 + 6.0 * A2) / (2.0 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    den = 3.0 * q + 2.0 * (1.0 - g)
    c1, c2, c3 = g / den, (q - g) / den, (q + 2 - g) / den
    V0 = 1.0 + c1 * B
    V0 = 0.0 if abs(V0) < 1e-10 else V0
    V1, V2 = 1.0 - c2 * B, 1.0 - c3 * B
    x = 1.0 - A2 / q
    rho = (1.0 / q) * (1.0 if abs(x) < 1e-14 and abs(V1) < 1e-14 else x / V1) ** 2 * V0 / V2
    return 4.0 + (q + 2.0) / (q * rho - 1.0)


def _crossed_slopes(seed: int = 3) -> pd.DataFrame:
    """Unbalanced crossed data with slopes on both factors and a third nested factor."""
    rng = np.random.default_rng(seed)
    n = 240
    g = rng.integers(0, 30, n)
    h = rng.integers(0, 8, n)
    x = rng.normal(size=n)
    w = rng.normal(size=n)
    ug = rng.normal(size=(30, 2)) * [1.0, 0.5]
    uh = rng.normal(size=(8, 2)) * [0.7, 0.3]
    y = 1 + x + 0.5 * w + ug[g, 0] + ug[g, 1] * x + uh[h, 0] + uh[h, 1] * x + rng.normal(size=n)
    return pd.DataFrame(
        {
            "y": y,
            "x": x,
            "w": w,
            "g": [f"g{i}" for i in g],
            "h": [f"h{i}" for i in h],
            "f": np.where(rng.random(n) < 0.5, "a", "b"),
        }
    )


CASES = [
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)", None),
    ("sleepstudy", "Reaction ~ Days + (Days || Subject)", None),
    ("sleepstudy", "Reaction ~ Days + (1 | Subject)", None),
    ("Pastes", "strength ~ 1 + (1 | batch/cask)", None),
    ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", None),
    ("Orthodont", "distance ~ age * Sex + (age | Subject)", None),
    ("crossed", "y ~ x + w + (x | g) + (x | h)", None),
    ("crossed", "y ~ x * f + (x | g) + (1 | h) + (1 | f:h)", None),
    ("crossed", "y ~ x + (1 | h) + (x || g)", None),
    # singular: the second term's variance on the boundary (θ = 0), Λ not invertible
    ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", [1.5, 0.0]),
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)", [0.9, 0.0, 0.0]),
]
_FITS: dict = {}


def _fit(data: str, formula: str, theta):
    key = (data, formula, None if theta is None else tuple(theta))
    if key not in _FITS:
        df = _crossed_slopes() if data == "crossed" else bm.datasets.load(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = bm.MixedModel(formula, df)
            _FITS[key] = model.fit_reml() if theta is None else fit_lmm_at(model.design, theta)
    return _FITS[key]


def _close(a, b, rtol=1e-9):
    """Relative agreement, with entries near zero judged on the array's scale."""
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.max(np.abs(b)))


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}:{c[1]}|{c[2]}" for c in CASES])
def test_matches_dense_reference(case):
    fit = _fit(*case)
    ref = _dense_kr(fit)
    kr = KenwardRoger(fit)
    w = WoodburyTraces(fit.design, fit.theta, fit.sigma)
    _close(w.trace_matrix()[1], ref["K"])
    _close(kr.P, ref["P"])
    _close(kr.W, ref["W"])
    _close(kr.PhiA, ref["PhiA"])
    Phi = fit.vcov().to_numpy()
    p = fit.design.p
    rng = np.random.default_rng(0)
    for L in [*np.eye(p), rng.normal(size=p)]:
        L = L[None, :]
        # the rank-one shortcut (A₂ = A₁, no p × p products) against the general loops
        np.testing.assert_allclose(kr._ddf(L, 1), _df_from(*_dense_ddf(ref, Phi, L), 1), rtol=1e-9)
    if p >= 2:
        L = rng.normal(size=(2, p))
        np.testing.assert_allclose(kr._ddf(L, 2), _df_from(*_dense_ddf(ref, Phi, L), 2), rtol=1e-9)


def test_vinv_matches_dense():
    fit = _fit("crossed", "y ~ x + w + (x | g) + (x | h)", None)
    d = fit.design
    w = WoodburyTraces(d, fit.theta, fit.sigma)
    V = fit.sigma**2 * np.eye(d.n)
    for t, S in zip(d.terms, fit.covs, strict=True):
        V += (t.Z @ sp.kron(sp.identity(t.m), sp.csr_matrix(S)) @ t.Z.T).toarray()
    R = np.random.default_rng(1).normal(size=(d.n, 3))
    _close(w.vinv(R), np.linalg.solve(V, R), rtol=1e-10)


def test_large_n_is_accepted():
    """More than the former 10,000-row limit: one term with 3,000 levels, in well under a second."""
    rng = np.random.default_rng(2)
    ids = np.repeat(np.arange(3000), 4)
    tt = np.tile(np.arange(4), 3000)
    y = tt + rng.normal(0, 2, 3000)[ids] + rng.normal(size=ids.size)
    df = pd.DataFrame({"id": ids.astype(str), "time": [f"T{i}" for i in tt], "y": y})
    fit = bm.MixedModel("y ~ time + (1 | id)", df).fit_reml()
    tab = fit.tidy(effects="fixed", ddf="Kenward-Roger")
    # balanced: the within-subject contrasts have (n_id - 1)(4 - 1) df
    np.testing.assert_allclose(tab["df"].iloc[1:], 2999 * 3, rtol=1e-6)


def test_dense_limit_is_explained(monkeypatch):
    fit = _fit("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", None)
    monkeypatch.setattr(kr_traces, "MAX_DENSE", 10)
    with pytest.raises(ArgumentError, match="Satterthwaite"):
        KenwardRoger(fit)
