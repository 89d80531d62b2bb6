"""First-order autoregressive correlation: ρ^|i−j|, ρ = tanh(u) in (−1, 1).

i and j are the positions of the visits in the visit order (a visit a subject missed still
counts as a step), or, for a numeric time, the times themselves, whose differences must be
whole numbers (checked by the design).
"""

from __future__ import annotations

import numpy as np

from .base import ResidualStructure

__all__ = ["AutoRegressive1"]


class AutoRegressive1(ResidualStructure):
    """AR1: corr ρ^|i−j|, homogeneous variance.

    Examples
    --------
    >>> ar = AutoRegressive1(["T0", "T1", "T2"])
    >>> u = [np.arctanh(0.5)]
    >>> ar.matrix_at(u, [0, 2]).round(6).tolist()
    [[1.0, 0.25], [0.25, 1.0]]
    >>> ar.labels
    ['sd__Observation', 'rho']
    """

    name = "AR1"
    bayes_transform = "sd_tanh"

    @property
    def n_cor(self) -> int:
        return 1

    def cor_at(self, u: np.ndarray, pos: np.ndarray) -> np.ndarray:
        rho = np.tanh(np.asarray(u, float)[0])
        pos = np.asarray(pos, float)
        lag = np.rint(np.abs(pos[..., :, None] - pos[..., None, :]))
        # a negative ρ raised to whole-number lags: sign and magnitude apart (0^0 = 1)
        mag = np.abs(rho) ** lag
        return np.where((rho < 0) & (lag % 2 == 1), -mag, mag)

    def cor_full(self, u: np.ndarray) -> np.ndarray:
        return self.cor_at(u, np.arange(self.dim))

    @property
    def cor_labels(self) -> list[str]:
        return ["rho"]

    def cor_report(self, u: np.ndarray) -> np.ndarray:
        return np.array([np.tanh(np.asarray(u, float)[0])])
