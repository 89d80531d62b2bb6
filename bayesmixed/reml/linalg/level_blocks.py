"""Kernels on the first random-effects term's per-level k×k blocks.

Every observation belongs to exactly one level of the first term, so its block
Λ₁'Z₁'Z₁Λ₁ + I of the penalized least-squares system is block diagonal: one k×k block per
level. These kernels keep such a stack either as a vector over levels (k = 1) or as a k×k
nested list of vectors over levels ("entry by entry"): for the 2×2 and 3×3 blocks of
random slopes, a few dozen vector operations cost far less than the fixed overhead of
batched ``numpy.linalg`` calls on tiny matrices, which would dominate small models.

Examples
--------
>>> import numpy as np
>>> C = np.array([[[2.0, 1.0], [1.0, 3.0]], [[1.0, 0.0], [0.0, 1.0]]])  # 2 levels, k = 2
>>> ld, V, (L, Li, B) = level_cholesky(np.eye(2), entrywise(C), C[:, 0, 0])
>>> L11 = stack_levels(L)
>>> bool(np.allclose(L11 @ L11.transpose(0, 2, 1), C + np.eye(2)))
True
>>> print(f"{ld:.4f}")  # log|C_j + I|² summed over levels: log(11) + log(4)
3.7842
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "entrywise",
    "level_cholesky",
    "stack_levels",
    "times_level_blocks",
    "times_levels_dense",
    "vflat",
]


def entrywise(blocks: np.ndarray) -> list[list[np.ndarray]]:
    """(m, k, k) stack → k×k nested list of contiguous vectors over the m levels."""
    k = blocks.shape[1]
    return [[blocks[:, a, b].copy() for b in range(k)] for a in range(k)]


def level_cholesky(T1: np.ndarray, C1s: list[list[np.ndarray]], c1: np.ndarray):
    """log|L11|², V and the per-level factors of T1'C_j T1 + I for every level j.

    Parameters
    ----------
    T1 : ndarray
        The first term's k×k lower-triangular relative factor.
    C1s : list of list of ndarray
        Z₁'Z₁ per level, entry by entry (:func:`entrywise`); used when k > 1.
    c1 : ndarray
        Its (0, 0) entries, used when k = 1.

    Returns
    -------
    tuple
        ``(ld1, V, blocks)``: ``ld1`` = Σ_j log|T1'C_j T1 + I|² and V_j = T1 (T1'C_j T1 + I)⁻¹ T1'.
        For k = 1, V is a vector over levels and ``blocks`` the vector A_j = L11_j²; for
        k > 1, V and ``blocks`` = (L11, L11⁻¹, B = T1 L11⁻ᵀ) are k×k nested lists of
        vectors over levels (None above the diagonal of the triangular ones).
    """
    k = T1.shape[0]
    if k == 1:
        th2 = T1[0, 0] * T1[0, 0]
        a = th2 * c1 + 1.0
        return float(np.sum(np.log(a))), th2 / a, a
    C = C1s
    T = T1.tolist()
    # CT = C T, then A = T'CT + I (lower triangle; T is lower triangular)
    CT = [[sum(C[b][c] * T[c][d] for c in range(d, k)) for d in range(k)] for b in range(k)]
    A = [[None] * k for _ in range(k)]
    for a in range(k):
        for d in range(a + 1):
            A[a][d] = sum(T[b][a] * CT[b][d] for b in range(a, k))
        A[a][a] = A[a][a] + 1.0
    L = [[None] * k for _ in range(k)]
    for j in range(k):
        s = A[j][j]
        for m in range(j):
            s = s - L[j][m] * L[j][m]
        L[j][j] = np.sqrt(s)
        for i in range(j + 1, k):
            s = A[i][j]
            for m in range(j):
                s = s - L[i][m] * L[j][m]
            L[i][j] = s / L[j][j]
    prod = L[0][0]
    for j in range(1, k):
        prod = prod * L[j][j]
    ld1 = 2.0 * float(np.sum(np.log(prod)))
    Li = [[None] * k for _ in range(k)]  # L⁻¹, lower triangular
    for i in range(k):
        Li[i][i] = 1.0 / L[i][i]
        for j in range(i):
            s = L[i][j] * Li[j][j]
            for m in range(j + 1, i):
                s = s + L[i][m] * Li[m][j]
            Li[i][j] = -s * Li[i][i]
    # B = T L⁻ᵀ, V = B B'
    B = [
        [sum(T[a][c] * Li[b][c] for c in range(min(a, b) + 1)) for b in range(k)] for a in range(k)
    ]
    V = [[None] * k for _ in range(k)]
    for a in range(k):
        for b in range(a + 1):
            V[a][b] = sum(B[a][c] * B[b][c] for c in range(k))
            V[b][a] = V[a][b]
    return ld1, V, (L, Li, B)


def stack_levels(blocks: list[list[np.ndarray]]) -> np.ndarray:
    """Nested k×k list of per-level vectors (None above a triangle) → array (m, k, k)."""
    k = len(blocks)
    m = next(v for row in blocks for v in row if v is not None).shape[0]
    out = np.zeros((m, k, k))
    for a in range(k):
        for b in range(k):
            if blocks[a][b] is not None:
                out[:, a, b] = blocks[a][b]
    return out


def vflat(V, k1: int) -> np.ndarray:
    """V's entries as one vector: levels (k1 = 1) or (a, b, level) order."""
    if k1 == 1:
        return V
    return np.concatenate([V[a][b] for a in range(k1) for b in range(k1)])


def times_levels_dense(V, D: np.ndarray, k1: int) -> np.ndarray:
    """blockdiag(V_j) Z1'W, rows in (effect, level) order, shape (q1, P).

    ``D`` is Z1'W in effect-major layout: (m1, P) when k1 = 1, else (k1, m1, P).
    """
    if k1 == 1:
        return V[:, None] * D
    return np.concatenate([sum(V[a][b][:, None] * D[b] for b in range(k1)) for a in range(k1)])


def times_level_blocks(A: sp.csr_matrix, B: np.ndarray, k1: int, m1: int) -> sp.csr_matrix:
    """A · blockdiag_j(B_j) for per-level blocks B (a vector over levels when k1 = 1)."""
    if k1 == 1:
        return (A @ sp.diags(np.ravel(B))).tocsr()
    Bsp = sp.bsr_matrix((B, np.arange(m1), np.arange(m1 + 1)), shape=(k1 * m1,) * 2)
    return (A @ Bsp.tocsr()).tocsr()
