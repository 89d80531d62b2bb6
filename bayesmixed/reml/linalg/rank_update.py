"""Fixed sparse maps that form the later terms' rank update A21Z V A21Z' per evaluation.

A21Z = Z_r'Z₁ couples the later terms' levels (rows) with the first term's (columns). Its
sparsity pattern and values depend on the data only, so the update Σ_j A21Z_j V_j A21Z_j'
is a fixed linear map of the entries of the per-level blocks V_j: computed once here, it
turns each evaluation into one sparse matrix–vector product (the vectorised form of
MixedModels.jl's sparse rank update), whose result is scattered into the Schur complement.

* :func:`pair_entries` lists the update entry by entry, (r, s, entry of V, weight);
* :func:`pair_map` — later terms with slopes: a map subtracting the update from S, both
  triangles, before Λ_r is applied by blocks;
* :func:`fused_map` — scalar later terms: one map yielding the nonzero entries of the lower
  triangle of the later-term block of S, already scaled by Λ_r and with the identity added.

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

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["FusedMap", "fused_map", "pair_entries", "pair_map"]


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
    # one contiguous vector per effect: gathers from a column of an (nu, k1) array are slow
    vals = [np.bincount(inv[eff == a], weights=coo.data[eff == a], minlength=nu) for a in range(k1)]
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
        return r, s, glev[first], vals[0][first] * vals[0][second]
    # V's entries in (a, b, level) order, as vflat concatenates them
    ab = [(a, b) for a in range(k1) for b in range(k1)]
    return (
        np.tile(r, k1 * k1),
        np.tile(s, k1 * k1),
        np.concatenate([glev[first] + (a * k1 + b) * m1 for a, b in ab]),
        np.concatenate([vals[a][first] * vals[b][second] for a, b in ab]),
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


@dataclass
class FusedMap:
    """The later-term block of S for scalar later terms, entry by nonzero entry.

    ``keys`` are the F-order positions in S of the nonzero entries of the block's lower
    triangle; at them S = λ_r λ_s (Ω − A21Z V A21Z') + I, where ``pairs @ vflat(V)`` gives
    the rank update, ``omega`` holds Ω, ``classes`` the pair of terms (r's, s's) whose
    λ_r λ_s scales each entry, and ``diag`` indexes the diagonal among the keys.
    """

    keys: np.ndarray
    pairs: sp.csc_matrix
    omega: np.ndarray
    classes: np.ndarray
    diag: np.ndarray

    def values(self, v: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """S at ``keys`` for V's entries ``v`` and the λ_r λ_s per class ``scale``."""
        out = self.omega - self.pairs @ v
        out *= scale[self.classes]
        out[self.diag] += 1.0
        return out


def fused_map(entries, ZrtZr: sp.spmatrix, levels: list[int], qr: int, N: int, nv: int) -> FusedMap:
    """The :class:`FusedMap` of scalar later terms (``levels``: their numbers of levels).

    With Λ_r diagonal, S_rs = λ_r λ_s (Ω_rs − M_rs) + δ_rs: per evaluation, one
    matrix–vector product for M at the nonzero positions only, scaled by one value per pair
    of terms, replaces copying Ω, subtracting, scaling and scattering N² entries. The map
    is stored by columns (one per entry of V): :func:`pair_entries` lists the pairs level
    by level, already in column order, so building it needs no sort.
    """
    r, s, col, data = entries
    nt = len(levels)
    om = sp.tril(ZrtZr).tocoo()
    diag_flat = np.arange(qr, dtype=np.int64) * (N + 1)
    pair_flat = r + s.astype(np.int64) * N
    om_flat = om.row + om.col.astype(np.int64) * N
    # distinct positions by marking an N×N table: no sort of the pairs
    seen = np.zeros(N * N, dtype=bool)
    seen[pair_flat] = True
    seen[om_flat] = True
    seen[diag_flat] = True
    keys = np.flatnonzero(seen)
    del seen
    lookup = np.empty(N * N, dtype=np.int32)
    lookup[keys] = np.arange(len(keys), dtype=np.int32)
    rows = lookup[pair_flat]
    omega = np.zeros(len(keys))
    np.add.at(omega, lookup[om_flat], om.data)
    diag = lookup[diag_flat]
    del lookup, pair_flat
    if np.any(col[1:] < col[:-1]):  # pair_entries keeps column order; stay correct without it
        order = np.argsort(col, kind="stable")
        col, rows, data = col[order], rows[order], data[order]
    indptr = np.zeros(nv + 1, dtype=np.int64)
    np.cumsum(np.bincount(col, minlength=nv), out=indptr[1:])
    if len(rows) < 2**31 - 1:
        indptr = indptr.astype(np.int32)
    pairs = sp.csc_matrix((data, rows, indptr), shape=(len(keys), nv))
    term = np.repeat(np.arange(nt, dtype=np.int32), levels)
    kr, ks = keys % N, keys // N
    classes = (term[kr] * nt + term[ks]).astype(np.intp)
    return FusedMap(keys, pairs, omega, classes, diag)
