"""First-order ante-dependence with one SD per visit (SAS ANTE(1), mmrm's ``adh``).

corr(visit i, visit j) = Π_{k=i}^{j−1} ρ_k for i < j, with ρ_k = tanh(u_k) the correlation
of consecutive visits k and k+1: a Markov chain over the visits, positive definite for any
ρ in (−1, 1)^(T−1).
"""

from __future__ import annotations

import numpy as np

from .base import ResidualStructure

__all__ = ["AnteDependence"]


class AnteDependence(ResidualStructure):
    """AD: T SDs (ratios to the first) and T − 1 consecutive correlations.

    Examples
    --------
    >>> ad = AnteDependence(["T0", "T1", "T2"])
    >>> ad.labels
    ['sd__T0', 'sd__T1', 'sd__T2', 'rho__T0.T1', 'rho__T1.T2']
    >>> u = np.concatenate([[0.0, 0.0], np.arctanh([0.5, 0.4])])
    >>> ad.matrix_at(u, [0, 1, 2]).round(6).tolist()
    [[1.0, 0.5, 0.2], [0.5, 1.0, 0.4], [0.2, 0.4, 1.0]]
    """

    name = "AD"
    heterogeneous = True
    bayes_transform = "sd_tanh"

    @property
    def n_cor(self) -> int:
        return self.dim - 1

    def cor_full(self, u: np.ndarray) -> np.ndarray:
        rho = np.tanh(np.asarray(u, float))
        T = self.dim
        C = np.eye(T)
        for i in range(T):
            acc = 1.0
            for j in range(i + 1, T):
                acc *= rho[j - 1]
                C[i, j] = C[j, i] = acc
        return C

    @property
    def cor_labels(self) -> list[str]:
        lv = self.levels
        return [f"rho__{lv[k]}.{lv[k + 1]}" for k in range(self.dim - 1)]

    def cor_report(self, u: np.ndarray) -> np.ndarray:
        return np.tanh(np.asarray(u, float))
