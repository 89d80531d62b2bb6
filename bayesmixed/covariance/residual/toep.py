"""Toeplitz correlation: corr(visit i, visit j) = r_|i−j|, T − 1 parameters.

The parameters are partial autocorrelations π_k = tanh(u_k) in (−1, 1); the
Durbin–Levinson recursion turns them into autocorrelations r_1..r_{T−1}. Every sequence of
partial autocorrelations in (−1, 1) gives a positive definite Toeplitz matrix (and every
positive definite one arises so), so the optimizer can move freely.
"""

from __future__ import annotations

import numpy as np

from .base import ResidualStructure

__all__ = ["Toeplitz", "durbin_levinson"]


def durbin_levinson(pacf: np.ndarray) -> np.ndarray:
    """Autocorrelations r_1..r_K from partial autocorrelations π_1..π_K.

    Examples
    --------
    >>> durbin_levinson(np.array([0.5, 0.0])).tolist()   # AR(1) with ρ = 0.5
    [0.5, 0.25]
    """
    pacf = np.asarray(pacf, float)
    K = len(pacf)
    r = np.zeros(K)
    phi = np.zeros(0)
    for k in range(K):
        pk = pacf[k]
        if k == 0:
            r[0] = pk
            phi = np.array([pk])
            continue
        # r_{k+1} = Σ φ_j r_{k+1−j} + π (1 − Σ φ_j r_j), j = 1..k
        back = r[:k][::-1]
        r[k] = phi @ back + pk * (1.0 - phi @ r[:k])
        phi = np.concatenate([phi - pk * phi[::-1], [pk]])
    return r


class Toeplitz(ResidualStructure):
    """TOEP: banded correlation by lag, homogeneous variance.

    Examples
    --------
    >>> tp = Toeplitz(["T0", "T1", "T2"])
    >>> tp.labels
    ['sd__Observation', 'cor__lag1', 'cor__lag2']
    >>> u = np.arctanh([0.5, 0.0])
    >>> tp.matrix_at(u, [0, 1, 2]).round(6).tolist()
    [[1.0, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 1.0]]
    """

    name = "TOEP"
    bayes_transform = "sd_pacf"
    default_prior = {"sd": "halfstudentt", "pacf": "uniform"}

    @property
    def n_cor(self) -> int:
        return self.dim - 1

    def autocorrelations(self, u: np.ndarray) -> np.ndarray:
        """r_0 = 1, r_1, ..., r_{T−1}."""
        return np.concatenate([[1.0], durbin_levinson(np.tanh(np.asarray(u, float)))])

    def cor_full(self, u: np.ndarray) -> np.ndarray:
        r = self.autocorrelations(u)
        idx = np.arange(self.dim)
        return r[np.abs(idx[:, None] - idx[None, :])]

    @property
    def cor_labels(self) -> list[str]:
        return [f"cor__lag{k}" for k in range(1, self.dim)]

    def cor_report(self, u: np.ndarray) -> np.ndarray:
        return self.autocorrelations(u)[1:]
