"""Batched linear algebra on stacks of small blocks, shape (m, k, k): one block per level
of a grouping factor. Closed forms for k ≤ 2, the common case, avoid LAPACK's per-call cost.
"""

from __future__ import annotations

import numpy as np

__all__ = ["chol", "tri_inv", "mv", "mtv", "fwd", "bwd", "chol_inverse"]


def chol(A: np.ndarray) -> np.ndarray:
    """Batched Cholesky of (m, k, k); closed forms for k ≤ 2 (the common case)."""
    k = A.shape[-1]
    if k == 1:
        return np.sqrt(A)
    if k == 2:
        L = np.zeros_like(A)
        l00 = np.sqrt(A[:, 0, 0])
        l10 = A[:, 1, 0] / l00
        L[:, 0, 0] = l00
        L[:, 1, 0] = l10
        L[:, 1, 1] = np.sqrt(A[:, 1, 1] - l10 * l10)
        return L
    return np.linalg.cholesky(A)


def tri_inv(L: np.ndarray) -> np.ndarray:
    """Inverses of a stack of lower-triangular blocks."""
    k = L.shape[-1]
    if k == 1:
        return 1.0 / L
    if k == 2:
        Li = np.zeros_like(L)
        Li[:, 0, 0] = 1.0 / L[:, 0, 0]
        Li[:, 1, 1] = 1.0 / L[:, 1, 1]
        Li[:, 1, 0] = -L[:, 1, 0] * Li[:, 0, 0] * Li[:, 1, 1]
        return Li
    return np.linalg.inv(L)


def mv(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Batched matrix-vector product (m, a, b) @ (m, b) → (m, a)."""
    return np.einsum("jab,jb->ja", M, v)


def mtv(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Batched transposed product (m, a, b)' @ (m, a) → (m, b)."""
    return np.einsum("jab,ja->jb", M, v)


def fwd(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.linalg import solve_triangular

    return solve_triangular(L, b, lower=True, check_finite=False)


def bwd(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.linalg import solve_triangular

    return solve_triangular(L, b, lower=True, trans="T", check_finite=False)


def chol_inverse(L: np.ndarray) -> np.ndarray:
    from scipy.linalg import cho_solve

    return cho_solve((L, True), np.eye(L.shape[0]), check_finite=False)
