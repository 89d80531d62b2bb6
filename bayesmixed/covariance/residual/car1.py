"""Continuous-time AR(1) (nlme's corCAR1): corr φ^|t−t'|, φ = logistic(u) in (0, 1)."""

from __future__ import annotations

import numpy as np

from .base import ResidualStructure, logistic, logit

__all__ = ["ContinuousAutoRegressive1"]


class ContinuousAutoRegressive1(ResidualStructure):
    """CAR1 over numeric times; homogeneous variance.

    Examples
    --------
    >>> car = ContinuousAutoRegressive1(["0", "2.5"], times=np.array([0.0, 2.5]))
    >>> car.matrix_at([logit(0.8)], np.array([0.0, 2.5])).round(6).tolist()
    [[1.0, 0.572433], [0.572433, 1.0]]
    >>> car.labels
    ['sd__Observation', 'rho']
    """

    name = "CAR1"
    bayes_transform = "sd_logistic"

    @property
    def n_cor(self) -> int:
        return 1

    @property
    def cor_start(self) -> np.ndarray:
        return np.array([float(logit(0.2))])

    def cor_at(self, u: np.ndarray, pos: np.ndarray) -> np.ndarray:
        phi = float(logistic(np.asarray(u, float)[0]))
        pos = np.asarray(pos, float)
        return phi ** np.abs(pos[..., :, None] - pos[..., None, :])

    def cor_full(self, u: np.ndarray) -> np.ndarray:
        return self.cor_at(u, self.times)

    @property
    def cor_labels(self) -> list[str]:
        return ["rho"]

    def cor_report(self, u: np.ndarray) -> np.ndarray:
        return np.array([float(logistic(np.asarray(u, float)[0]))])
