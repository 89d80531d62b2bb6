"""Compound symmetry: one correlation ρ between any two visits, one variance.

ρ must exceed −1/(T−1) for the T×T matrix to be positive definite, so it is
``ρ = −1/(T−1) + (1 + 1/(T−1)) · logistic(u)``: any u gives a positive definite matrix.
"""

from __future__ import annotations

import numpy as np

from .base import ResidualStructure, logistic, logit

__all__ = ["CompoundSymmetry"]


class CompoundSymmetry(ResidualStructure):
    """CS: corr ρ off the diagonal, homogeneous variance.

    Examples
    --------
    >>> cs = CompoundSymmetry(["T0", "T1", "T2"])
    >>> cs.labels, cs.n_params
    (['sd__Observation', 'rho'], 1)
    >>> cs.cor_report(cs.start).tolist()
    [0.0]
    >>> cs.matrix_at(cs.start, [0, 2]).round(12).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    name = "CS"
    default_prior = {"sd": "halfstudentt", "rho": "uniform"}
    bayes_transform = "sd_logistic"

    @property
    def _low(self) -> float:
        return -1.0 / max(self.dim - 1, 1)

    @property
    def n_cor(self) -> int:
        return 1

    def rho(self, u) -> float:
        """ρ from its unconstrained parameter."""
        lo = self._low
        return float(lo + (1.0 - lo) * logistic(np.asarray(u, float)[0]))

    @property
    def cor_start(self) -> np.ndarray:
        lo = self._low
        return np.array([float(logit((0.0 - lo) / (1.0 - lo)))])

    def cor_full(self, u: np.ndarray) -> np.ndarray:
        r = self.rho(u)
        return np.full((self.dim, self.dim), r) + (1.0 - r) * np.eye(self.dim)

    @property
    def cor_labels(self) -> list[str]:
        return ["rho"]

    def cor_report(self, u: np.ndarray) -> np.ndarray:
        return np.array([self.rho(u)])
