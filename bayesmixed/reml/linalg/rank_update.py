"""Fixed sparse maps that form the later terms' rank update A21Z V A21Z' per evaluation.

A21Z = Z_r'Z₁ couples the later terms' levels (rows) with the first term's (columns). Its
sparsity pattern and values depend on the data only, so the update Σ_j A21Z_j V_j A21Z_j'
is a fixed linear map of the entries of the per-level blocks V_j: computed once here, it
turns each evaluation into one sparse matrix–vector product (the vectorised form of
MixedModels.jl's sparse rank update), whose result is scattered into the Schur complement.

* :func:`pair_entries` lists the update entry by entry, (r, s, entry of V, weight);
* :func:`pair_map` — later terms with slopes: a map subtracting the update from S, both
  triangles, before Λ_r is applied by blocks;
* :func:`fused_map` — scalar later terms: one map yielding the lower triangle of the whole
  later-term block of S, already scaled by Λ_r and with the identity added.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> A = sp.csr_matrix(np.array([[1.0, 0.0], [2.0, 1.0], [0.0, 3.0]]))  # qr = 3, m1 = 2, k1 = 1
>>> r, s, col, w = pair_entries(A, k1=1, m1=2, qr=3, budget=100)
>>> keys, M = pair_map((r, s, col, w), N=3, nv=2)
>>> flat = np.zeros(9); flat[keys] = M @ np.array([0.5, 2.0])  # V = diag(0.5, 2)
>>> S = flat.reshape(3, 3, order="F")  # S in column-major order
>>> bool(np.allclose(S, A.toarray() @ np.diag([0.5, 2.0]) @ A.toarray().T))
True
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["fused_map", "pair_entries", "pair_map"]


def pair_entries(A21Z: sp.csr_matrix, k1: int, m1: int, qr: int, budget: float):
    """The rank update A21Z V A21Z' entry by entry: (r, s, column of V, weight), r >= s.

    Column j-block of A21Z touches the later-term rows R_j; V_j contributes to every
    pair (r, s) in R_j × R_j. Listing those pairs once turns each evaluation into one
    sparse matrix–vector product (V's entries in the order
    :func:`~bayesmixed.reml.linalg.level_blocks.vflat` gives them). Returns None when
    there would be more than ``budget`` of them.
    """
    coo = A21Z.tocoo()
    lev = coo.col // k1
    eff = coo.col % k1
    key = lev.astype(np.int64) * qr + coo.row
    uniq, inv = np.unique(key, return_inverse=True)
    nu = len(uniq)
    vals = np.empty((nu, k1))
    for a in range(k1):
        sel = eff == a
        vals[:, a] = np.bincount(inv[sel], weights=coo.data[sel], minlength=nu)
    glev = uniq // qr
    grow = uniq % qr
    counts = np.bincount(glev, minlength=m1)
    total = int(np.sum(counts * (counts + 1) // 2))
    if total * k1 * k1 > budget:
        return None
    starts = np.cumsum(counts) - counts
    local = np.arange(nu) - starts[glev]  # position of each entry within its level
    reps = local + 1  # entry e pairs with the entries before it and itself
    # int32 indices (the budget keeps them small) halve the memory traffic of the gathers
    idx = np.int32 if max(total, nu) < 2**31 - 1 else np.int64
    first = np.repeat(np.arange(nu, dtype=idx), reps)
    second = np.arange(total, dtype=idx)
    second -= np.repeat((np.cumsum(reps) - reps - starts[glev]).astype(idx), reps)
    # rows are sorted within a level, so r >= s: the lower triangle
    grow = grow.astype(idx)
    glev = glev.astype(idx)
    r, s = grow[first], grow[second]
    if k1 == 1:
        return r, s, glev[first], vals[first, 0] * vals[second, 0]
    # V's entries in (a, b, level) order, as vflat concatenates them
    ab = [(a, b) for a in range(k1) for b in range(k1)]
    return (
        np.tile(r, k1 * k1),
        np.tile(s, k1 * k1),
        np.concatenate([glev[first] + (a * k1 + b) * m1 for a, b in ab]),
        np.concatenate([vals[first, a] * vals[second, b] for a, b in ab]),
    )


def pair_map(entries, N: int, nv: int):
    """(positions, map): ``S.T.ravel()[positions] -= map @ vflat`` subtracts A21Z V A21Z'.

    ``N`` is the width of S and ``nv`` the number of entries of V (m1·k1²). Both
    triangles: the block scaling by a non-diagonal Λ_r that follows mixes entries across
    the diagonal of each level's k×k block.
    """
    r, s, col, data = entries
    off = r != s
    r, s = np.concatenate([r, s[off]]), np.concatenate([s, r[off]])
    col, data = np.concatenate([col, col[off]]), np.concatenate([data, data[off]])
    flat = r + s * np.int64(N)  # F-order position in S
    # distinct positions by marking an N×N table (S itself is N×N): no sort of the pairs
    seen = np.zeros(N * N, dtype=bool)
    seen[flat] = True
    keys = np.flatnonzero(seen)
    del seen
    lookup = np.empty(N * N, dtype=np.int32)
    lookup[keys] = np.arange(len(keys), dtype=np.int32)
    rows = lookup[flat]
    del lookup, flat
    return keys, sp.csr_matrix((data, (rows, col)), shape=(len(keys), nv))


def fused_map(
    entries, ZrtZr: sp.spmatrix, levels: list[int], qr: int, N: int, nv: int
) -> sp.csr_matrix:
    """Map whose product with the class-weighted V gives S (F-order, flattened).

    With scalar later terms (``levels``: their numbers of levels), Λ_r is diagonal and
    S_rs = λ_r λ_s (Ω_rs − M_rs) + δ_rs: a fixed linear function of the entries of V scaled
    by the products λ_r λ_s, which take one value per pair of terms ("class"). One
    matrix–vector product with the weights per class then yields every entry of the
    later-term block's lower triangle, in place in the flattened S (one row per position
    of S; the others stay empty, so the upper triangle and the X, y rows come out zero).
    This replaces copying Ω, subtracting, scaling and scattering N² entries per evaluation.
    """
    r, s, col, data = entries
    nt = len(levels)
    ncls = nt * nt
    om = sp.tril(ZrtZr).tocoo()
    sc = np.arange(qr, dtype=np.int64)
    rows = [r + s.astype(np.int64) * N, om.row + om.col.astype(np.int64) * N, sc * (N + 1)]
    vals = [-data, om.data, np.ones(qr)]
    if nt == 1:
        # one class; the pairs come level by level, i.e. sorted by column: build CSC
        cols = [col, np.full(om.nnz, nv), np.full(qr, nv + 1)]
        counts = np.bincount(np.concatenate(cols), minlength=nv + 2)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        M = sp.csc_matrix(
            (np.concatenate(vals), np.concatenate(rows), indptr), shape=(N * N, nv + 2)
        )
        return M.tocsr()
    term = np.repeat(np.arange(nt), levels)
    cols = [
        (term[r] * nt + term[s]) * nv + col,
        ncls * nv + term[om.row] * nt + term[om.col],
        np.full(qr, ncls * nv + ncls),
    ]
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(N * N, ncls * nv + ncls + 1),
    )
