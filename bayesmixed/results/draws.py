"""Helpers shared by the primer's quantities: getting :class:`Components` out of any fit, and
summarising a quantity's posterior draws.

Every derived quantity (ICC, R², λ_j, design effect, f², PCV, ...) is computed once, on arrays
with a leading draws axis: a REML fit is a posterior with one draw. At the end the result is
either unwrapped to a float (point estimate) or wrapped in a :class:`Posterior`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from .components import Components

__all__ = ["Posterior", "as_components", "finish", "summary_frame", "check_ci"]


def as_components(fit: object, what: str = "fit") -> Components:
    """The :class:`Components` of a fit (REML, OLS or Bayesian) or of a Components object."""
    if isinstance(fit, Components):
        return fit
    method = getattr(fit, "components", None)
    if not callable(method):
        raise ArgumentError(
            f"{what} must be a fitted model (the result of MixedModel.fit_reml() or "
            f"MixedModel.sample()) or a Components object, got {type(fit).__name__}"
        )
    return method()


def check_ci(ci: float) -> float:
    """Validate an interval probability."""
    try:
        ci = float(ci)
    except (TypeError, ValueError):
        raise ArgumentError(f"ci must be a probability such as 0.95, got {ci!r}") from None
    if not 0.0 < ci < 1.0:
        raise ArgumentError(f"ci must be strictly between 0 and 1 (e.g. 0.95), got {ci}")
    return ci


@dataclass(frozen=True)
class Posterior:
    """Posterior draws of one scalar quantity, with the usual summaries.

    ``float(p)`` is the posterior mean, so code written for point estimates keeps working.
    Intervals are equal-tailed (quantiles ``(1 - ci)/2`` and ``(1 + ci)/2``).

    Attributes
    ----------
    draws : ndarray, shape (S,)
        One value per posterior draw (chains stacked).
    ci : float
        Probability of the interval ``(conf_low, conf_high)``.
    name : str
        What the draws are of (used when printing).

    Examples
    --------
    >>> import numpy as np
    >>> p = Posterior(np.array([0.1, 0.2, 0.3, 0.4]), ci=0.5, name="ICC")
    >>> round(p.mean, 3), round(p.conf_low, 3), round(p.conf_high, 3)
    (0.25, 0.175, 0.325)
    """

    draws: np.ndarray = field(repr=False)
    ci: float = 0.95
    name: str = ""

    @property
    def mean(self) -> float:
        """Posterior mean."""
        return float(np.mean(self.draws))

    @property
    def sd(self) -> float:
        """Posterior standard deviation."""
        return float(np.std(self.draws, ddof=1)) if self.draws.size > 1 else 0.0

    @property
    def median(self) -> float:
        """Posterior median."""
        return float(np.median(self.draws))

    @property
    def conf_low(self) -> float:
        """Lower end of the equal-tailed interval."""
        return float(np.quantile(self.draws, (1.0 - self.ci) / 2.0))

    @property
    def conf_high(self) -> float:
        """Upper end of the equal-tailed interval."""
        return float(np.quantile(self.draws, (1.0 + self.ci) / 2.0))

    @property
    def interval(self) -> tuple[float, float]:
        """``(conf_low, conf_high)``."""
        return self.conf_low, self.conf_high

    def to_dict(self) -> dict[str, float]:
        """Summary as a dict: mean, sd, median, conf_low, conf_high."""
        return {
            "mean": self.mean,
            "sd": self.sd,
            "median": self.median,
            "conf_low": self.conf_low,
            "conf_high": self.conf_high,
        }

    def __float__(self) -> float:
        return self.mean

    def __repr__(self) -> str:
        lo, hi = self.interval
        label = f"{self.name}: " if self.name else ""
        return (
            f"{label}{self.mean:.4g} (sd {self.sd:.3g}, {100 * self.ci:g}% interval "
            f"[{lo:.4g}, {hi:.4g}], {self.draws.size} draws)"
        )


def finish(values: np.ndarray, draws: bool, ci: float, name: str = "") -> float | Posterior:
    """A float for point estimates (one draw), a :class:`Posterior` for draws."""
    values = np.asarray(values, dtype=float)
    if not draws:
        return float(values.reshape(-1)[0])
    return Posterior(values.reshape(-1), ci=ci, name=name)


def summary_frame(draws: np.ndarray, index: list[str], ci: float) -> pd.DataFrame:
    """Per-column summaries (mean, sd, median, conf_low, conf_high) of an (S, K) draws array."""
    draws = np.asarray(draws, dtype=float)
    lo, hi = np.quantile(draws, [(1.0 - ci) / 2.0, (1.0 + ci) / 2.0], axis=0)
    return pd.DataFrame(
        {
            "mean": draws.mean(axis=0),
            "sd": draws.std(axis=0, ddof=1) if draws.shape[0] > 1 else 0.0,
            "median": np.median(draws, axis=0),
            "conf_low": lo,
            "conf_high": hi,
        },
        index=pd.Index(index),
    )
