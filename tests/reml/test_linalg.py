"""The profiled deviance's block kernels against plain dense linear algebra."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

from bayesmixed.reml.linalg.level_blocks import (
    entrywise,
    level_cholesky,
    stack_levels,
    times_level_blocks,
    times_levels_dense,
    vflat,
)
from bayesmixed.reml.linalg.rank_update import fused_map, pair_entries, pair_map


def _levels(k: int, m: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Per-level Z'Z blocks (m, k, k) and a lower-triangular relative factor T."""
    G = rng.normal(size=(m, k + 2, k))
    C = np.einsum("jia,jib->jab", G, G)
    T = np.tril(rng.normal(size=(k, k)))
    T[np.diag_indices(k)] = rng.uniform(0.3, 2.0, k)
    return C, T


@pytest.mark.parametrize("k", [1, 2, 3])
def test_level_cholesky_matches_dense(k):
    rng = np.random.default_rng(k)
    m = 7
    C, T = _levels(k, m, rng)
    ld, V, blocks = level_cholesky(T, entrywise(C), C[:, 0, 0].copy())
    A = np.einsum("ba,jbc,cd->jad", T, C, T) + np.eye(k)
    L = np.linalg.cholesky(A)
    assert ld == pytest.approx(np.sum(np.linalg.slogdet(A)[1]), rel=1e-12)
    Vd = np.einsum("ab,jbc,dc->jad", T, np.linalg.inv(A), T)
    if k == 1:
        np.testing.assert_allclose(V, Vd[:, 0, 0], rtol=1e-12)
        np.testing.assert_allclose(blocks, A[:, 0, 0], rtol=1e-12)
        return
    np.testing.assert_allclose(stack_levels(V), Vd, rtol=1e-10, atol=1e-12)
    L11, L11inv, B = (stack_levels(b) for b in blocks)
    np.testing.assert_allclose(L11, L, rtol=1e-12)
    np.testing.assert_allclose(L11inv, np.linalg.inv(L), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(B, T @ np.linalg.inv(L).transpose(0, 2, 1), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2])
def test_level_products_match_dense(k):
    rng = np.random.default_rng(10 + k)
    m, P, rows = 5, 3, 9
    C, T = _levels(k, m, rng)
    _, V, _ = level_cholesky(T, entrywise(C), C[:, 0, 0].copy())
    Vs = V[:, None, None] if k == 1 else stack_levels(V)
    Vbig = sla.block_diag(*Vs)  # (level, effect) order
    # times_levels_dense works in (effect, level) order
    perm = (np.arange(k)[:, None] + k * np.arange(m)[None, :]).ravel()
    D = rng.normal(size=(m, k, P))
    Ds = np.ascontiguousarray(D.transpose(1, 0, 2))
    got = times_levels_dense(V, Ds[0] if k == 1 else Ds, k)
    np.testing.assert_allclose(got, (Vbig @ D.reshape(m * k, P))[perm], rtol=1e-12)
    A = sp.random(rows, m * k, density=0.4, random_state=3, format="csr")
    got = times_level_blocks(A, V if k == 1 else Vs, k, m).toarray()
    np.testing.assert_allclose(got, A.toarray() @ Vbig, rtol=1e-12, atol=1e-14)
    flat = vflat(V, k)
    assert flat.shape == (m * k * k,)


@pytest.mark.parametrize("k", [1, 2])
def test_rank_update_maps_match_dense(k):
    rng = np.random.default_rng(20 + k)
    m, qr, P = 6, 8, 2
    N = qr + P
    A21Z = sp.random(qr, m * k, density=0.35, random_state=4, format="csr")
    C, T = _levels(k, m, rng)
    _, V, _ = level_cholesky(T, entrywise(C), C[:, 0, 0].copy())
    Vs = V[:, None, None] if k == 1 else stack_levels(V)
    M = A21Z.toarray() @ sla.block_diag(*Vs) @ A21Z.toarray().T
    nv = m * k * k
    entries = pair_entries(A21Z, k, m, qr, budget=1e6)
    assert pair_entries(A21Z, k, m, qr, budget=0) is None
    keys, Mmap = pair_map(entries, N, nv)
    flat = np.zeros(N * N)
    flat[keys] = Mmap @ vflat(V, k)
    np.testing.assert_allclose(flat.reshape(N, N, order="F")[:qr, :qr], M, atol=1e-12)
    if k == 1:
        # one scalar later term with λ = 0.7: S_rs = λ²(Ω_rs − M_rs) + δ_rs, lower triangle
        Zr = sp.random(30, qr, density=0.3, random_state=5, format="csc")
        ZrtZr = (Zr.T @ Zr).tocsr()
        lam = 0.7
        fused = fused_map(entries, ZrtZr, [qr], qr, N, nv)
        flat = np.zeros(N * N)
        flat[fused.keys] = fused.values(V, np.array([lam * lam]))
        S = flat.reshape(N, N, order="F")
        want = np.tril(lam * lam * (ZrtZr.toarray() - M)) + np.eye(qr)
        np.testing.assert_allclose(S[:qr, :qr], want, atol=1e-12)
        assert not S[qr:].any()
