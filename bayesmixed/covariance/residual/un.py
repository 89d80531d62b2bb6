"""Unstructured residual covariance: every variance and correlation free, T(T+1)/2 in all.

The correlations come from canonical partial correlations z = tanh(u) (one per pair of
visits, the pairs in row-major order): the Cholesky factor of the correlation matrix is
built row by row, ``L[i, j] = z_ji · √(1 − Σ_{k<j} L[i, k]²)``, the diagonal completing each
row to unit length (Lewandowski, Kurowicka & Joe 2009). Any z in (−1, 1) gives a positive
definite correlation matrix, so the optimizer and the Bayesian engine (an LKJ prior on the
same parameterization) move freely.
"""

from __future__ import annotations

import numpy as np

from .base import ResidualStructure

__all__ = ["UnstructuredResidual", "cpc_cholesky"]


def cpc_cholesky(z: np.ndarray, dim: int) -> np.ndarray:
    """Cholesky factor of a correlation matrix from its canonical partial correlations.

    ``z`` holds one value per pair (a, b), a < b, in row-major order.

    Examples
    --------
    >>> L = cpc_cholesky(np.array([0.5]), 2)
    >>> (L @ L.T).round(6).tolist()
    [[1.0, 0.5], [0.5, 1.0]]
    """
    Zc = np.zeros((dim, dim))
    a, b = np.triu_indices(dim, 1)
    Zc[b, a] = np.asarray(z, float)
    # 1 − Σ_{k<j} L[i, k]² = Π_{k<j} (1 − z_ik²): the row's remaining length, as a product
    W = 1.0 - Zc**2
    left = np.ones((dim, dim))
    left[:, 1:] = np.cumprod(W[:, :-1], axis=1)
    L = Zc * np.sqrt(left)
    idx = np.arange(dim)
    L[idx, idx] = np.sqrt(left[idx, idx])
    return L


class UnstructuredResidual(ResidualStructure):
    """UN: free SD per visit (ratios to the first) and free correlations.

    Examples
    --------
    >>> un = UnstructuredResidual(["T0", "T1", "T2"])
    >>> un.n_params, un.labels
    (5, ['sd__T0', 'sd__T1', 'sd__T2', 'cor__T0.T1', 'cor__T0.T2', 'cor__T1.T2'])
    >>> un.matrix_at(un.start, [0, 2]).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    name = "UN"
    heterogeneous = True
    bayes_transform = "sd_cpc"
    default_prior = {"sd": "halfstudentt", "cor": "lkj"}

    @property
    def n_cor(self) -> int:
        return self.dim * (self.dim - 1) // 2

    def cor_full(self, u: np.ndarray) -> np.ndarray:
        L = cpc_cholesky(np.tanh(np.asarray(u, float)), self.dim)
        C = L @ L.T
        np.fill_diagonal(C, 1.0)
        return C

    @property
    def cor_labels(self) -> list[str]:
        a, b = np.triu_indices(self.dim, 1)
        return [f"cor__{self.levels[i]}.{self.levels[j]}" for i, j in zip(a, b, strict=True)]

    def cor_report(self, u: np.ndarray) -> np.ndarray:
        a, b = np.triu_indices(self.dim, 1)
        return self.cor_full(u)[a, b]
