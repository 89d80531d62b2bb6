"""The residual (R-side) structures' common part: standard deviations times a correlation.

A structure over T visits describes the relative covariance of one subject's residuals,
``R = S C S`` (the covariance is σ² R), with

* ``S`` the diagonal of relative standard deviations: all 1 for a homogeneous structure; for
  a heterogeneous one ``exp(u_j)`` for the visits after the first and 1 for the first (nlme's
  varIdent ratios, so that σ is the SD of the first visit and can be profiled out);
* ``C`` the correlation matrix, from the structure's correlation parameters, each on an
  unconstrained scale through a transform that keeps ``C`` positive definite for every value.

The parameter vector is ``[log SD ratios (heterogeneous only), correlation parameters]``.
Subclasses implement :meth:`ResidualStructure.cor_full` (discrete visits) or
:meth:`ResidualStructure.cor_at` (numeric times), :attr:`~ResidualStructure.n_cor`,
:attr:`~ResidualStructure.cor_labels` and :meth:`~ResidualStructure.cor_report`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..base import CovStructure

__all__ = ["ResidualStructure", "logistic", "logit", "BOUND"]

#: Bound of every unconstrained parameter in the optimizer: tanh(±12) = ±(1 − 8e-11), a
#: ratio exp(±12) spans 10 orders of magnitude — beyond that the fit is on its boundary.
BOUND = 12.0


def logistic(u):
    """1 / (1 + e^−u), the inverse of :func:`logit`."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(u, float)))


def logit(p):
    """log(p / (1 − p))."""
    p = np.asarray(p, float)
    return np.log(p) - np.log1p(-p)


class ResidualStructure(CovStructure):
    """T×T residual covariance ``S C S`` (relative to σ²) over the visit levels.

    Parameters
    ----------
    levels : list of str
        Visit labels in visit order (numeric times: the distinct times, as text).
    times : array of float, optional
        The distinct numeric times (numeric-time structures only), in increasing order.
    """

    #: Short name (``"UN"``).
    name: ClassVar[str] = ""
    #: One SD per visit (True) or one SD for all (False).
    heterogeneous: ClassVar[bool] = False
    #: Correlation read from numeric times (AR1 with a numeric time, CAR1).
    numeric: bool = False
    bayes_transform: ClassVar[str] = "sd_tanh"
    default_prior: ClassVar[dict[str, str]] = {"sd": "halfstudentt", "rho": "uniform"}

    def __init__(self, levels: list[str], times: np.ndarray | None = None):
        self.levels = [str(v) for v in levels]
        self.dim = len(self.levels)
        self.times = None if times is None else np.asarray(times, float)
        self.numeric = times is not None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(T={self.dim})"

    # ------------------------------------------------------------------ correlation part
    @property
    def n_cor(self) -> int:
        """Number of correlation parameters."""
        raise NotImplementedError

    @property
    def cor_start(self) -> np.ndarray:
        """Start of the correlation parameters (independence unless a subclass says)."""
        return np.zeros(self.n_cor)

    def cor_full(self, u: np.ndarray) -> np.ndarray:
        """T×T correlation matrix over every visit level."""
        raise NotImplementedError

    def cor_at(self, u: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Correlation of observations at visit positions ``pos`` (m,) → (m, m); numeric
        structures take times of shape (..., m) → (..., m, m)."""
        pos = np.asarray(pos)
        return self.cor_full(u)[np.ix_(pos, pos)]

    @property
    def cor_labels(self) -> list[str]:
        """broom-style names of the reported correlation parameters."""
        raise NotImplementedError

    def cor_report(self, u: np.ndarray) -> np.ndarray:
        """The reported correlation values (aligned with :attr:`cor_labels`)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ SD part
    @property
    def n_sd(self) -> int:
        """Number of log SD ratios (T − 1 for heterogeneous structures, else 0)."""
        return self.dim - 1 if self.heterogeneous else 0

    def sd_ratios(self, params: np.ndarray) -> np.ndarray:
        """Relative SD of every visit (first visit 1), shape (T,)."""
        params = np.asarray(params, float)
        if not self.heterogeneous:
            return np.ones(self.dim)
        return np.concatenate([[1.0], np.exp(params[: self.n_sd])])

    @property
    def sd_labels(self) -> list[str]:
        """``sd__<level>`` per visit (heterogeneous) or ``sd__Observation``."""
        if self.heterogeneous:
            return [f"sd__{v}" for v in self.levels]
        return ["sd__Observation"]

    # ------------------------------------------------------------------ CovStructure
    @property
    def n_params(self) -> int:
        """Number of parameters (σ² excluded: it is profiled)."""
        return self.n_sd + self.n_cor

    @property
    def param_names(self) -> list[str]:
        """Names of the unconstrained parameters."""
        sd = [f"log_ratio__{v}" for v in self.levels[1:]] if self.heterogeneous else []
        return sd + [f"u__{c}" for c in self.cor_labels]

    @property
    def labels(self) -> list[str]:
        """Reported parameters: SDs then correlations."""
        return self.sd_labels + self.cor_labels

    @property
    def start(self) -> np.ndarray:
        """Equal SDs and the structure's starting correlation."""
        return np.concatenate([np.zeros(self.n_sd), self.cor_start])

    @property
    def lower(self) -> np.ndarray:
        """Every parameter is bounded by ±:data:`BOUND` (numerical safety only)."""
        return np.full(self.n_params, -BOUND)

    @property
    def upper(self) -> np.ndarray:
        return np.full(self.n_params, BOUND)

    def matrix_at(self, params: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Relative covariance ``S C S`` of observations at visit positions ``pos`` (m,), or
        numeric times of shape (..., m) for numeric structures."""
        params = np.asarray(params, float)
        u = params[self.n_sd :]
        C = self.cor_at(u, pos)
        if not self.heterogeneous:
            return C
        s = self.sd_ratios(params)[np.asarray(pos)]
        return s[..., :, None] * C * s[..., None, :]

    def matrix(self, params: np.ndarray) -> np.ndarray:
        """T×T relative covariance over every visit level (every distinct time)."""
        grid = self.times if self.numeric else np.arange(self.dim)
        return self.matrix_at(params, grid)

    def factor(self, params: np.ndarray) -> np.ndarray:
        """Lower Cholesky factor of :meth:`matrix` (the covariance is σ² ΛΛ')."""
        return np.linalg.cholesky(self.matrix(params))

    def report(self, params: np.ndarray, sigma: float) -> np.ndarray:
        """Values of :attr:`labels` for residual SD ``sigma`` (the first visit's)."""
        params = np.asarray(params, float)
        sd = sigma * (self.sd_ratios(params) if self.heterogeneous else np.ones(1))
        return np.concatenate([sd, self.cor_report(params[self.n_sd :])])

    def sd_start(self, sds: np.ndarray) -> np.ndarray:
        """Start of the parameters from the per-visit residual SDs of a first fit."""
        start = self.start.copy()
        if self.heterogeneous and np.all(np.asarray(sds) > 0):
            start[: self.n_sd] = np.clip(np.log(sds[1:] / sds[0]), -BOUND / 2, BOUND / 2)
        return start
