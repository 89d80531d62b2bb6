"""The sampled parameters of a residual structure, per by-level: names, bounds, meaning.

Each by-level (``Residual`` or ``Residual:<by>=<level>``) of a structure over T visits has

* SDs on the data scale: one (``sd__Observation|<group>``) or one per visit
  (``sd__<visit>|<group>``), each with its own half-Student-t prior;
* scalar correlation parameters, each in a bounded interval, sampled as a rescaled Beta:
  ``rho|<group>`` (CS, CSH on (−1/(T−1), 1); AR1, ARH1 on (−1, 1); CAR1 on (0, 1)),
  ``rho__<t>.<t+1>|<group>`` (AD, consecutive correlations) or ``pacf__lag<k>|<group>``
  (TOEP, TOEPH: partial autocorrelations, which Durbin–Levinson turns into ``cor__lag<k>``);
* or, for UN, one correlation matrix ``cor|<group>`` with an LKJ prior, sampled through its
  canonical partial correlations (as the random-effect terms are).

:meth:`LevelLayout.unconstrained` maps sampled values back to the unconstrained parameters of
:mod:`bayesmixed.covariance.residual`, whose NumPy code then reports ``cor__lag<k>`` and
builds the matrices for the random-effect draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...covariance.residual import ResidualStructure
from ...covariance.residual.base import logit
from ...design.residual import ResidualDesign

__all__ = ["LevelLayout", "level_layouts", "rho_bounds"]

_TANH = ("AR1", "ARH1", "AD", "TOEP", "TOEPH")


def rho_bounds(cov: ResidualStructure) -> tuple[float, float]:
    """Interval of the structure's scalar correlation parameters.

    Examples
    --------
    >>> from bayesmixed.covariance.residual import CompoundSymmetry
    >>> rho_bounds(CompoundSymmetry(["T0", "T1", "T2", "T3"]))
    (-0.3333333333333333, 1.0)
    """
    if cov.name in ("CS", "CSH"):
        return -1.0 / max(cov.dim - 1, 1), 1.0
    if cov.name == "CAR1":
        return 0.0, 1.0
    return -1.0, 1.0


@dataclass
class LevelLayout:
    """The parameters of one by-level (see the module notes)."""

    cov: ResidualStructure
    group: str

    @property
    def sd_keys(self) -> list[str]:
        """Prior / variable names of the SDs."""
        return [f"{lab}|{self.group}" for lab in self.cov.sd_labels]

    @property
    def rho_keys(self) -> list[str]:
        """Names of the bounded scalar correlation parameters (none for UN)."""
        name, g = self.cov.name, self.group
        if name == "UN":
            return []
        if name == "AD":
            return [f"{lab}|{g}" for lab in self.cov.cor_labels]
        if name in ("TOEP", "TOEPH"):
            return [f"pacf__lag{k}|{g}" for k in range(1, self.cov.dim)]
        return [f"rho|{g}"]

    @property
    def cor_key(self) -> str | None:
        """Name of the LKJ correlation matrix (UN only)."""
        return f"cor|{self.group}" if self.cov.name == "UN" else None

    @property
    def bounds(self) -> tuple[float, float]:
        return rho_bounds(self.cov)

    def unconstrained(self, sds: np.ndarray, rhos: np.ndarray, cpcs: np.ndarray) -> np.ndarray:
        """The structure's parameter vector ``[log SD ratios, u]`` from sampled values.

        ``sds`` (..., n_sd), ``rhos`` (..., n_rho) in their interval, ``cpcs`` (..., n_cpc)
        in (−1, 1); returns (..., n_params).

        Examples
        --------
        >>> from bayesmixed.covariance.residual import AutoRegressive1
        >>> lay = LevelLayout(AutoRegressive1(["T0", "T1"]), "Residual")
        >>> u = lay.unconstrained(np.array([2.0]), np.array([0.5]), np.zeros(0))
        >>> float(lay.cov.cor_report(u)[0])
        0.5
        """
        cov = self.cov
        parts = []
        if cov.heterogeneous:
            parts.append(np.log(sds[..., 1:] / sds[..., :1]))
        with np.errstate(divide="ignore"):
            if cov.name == "UN":
                parts.append(np.arctanh(np.clip(cpcs, -1 + 1e-15, 1 - 1e-15)))
            elif cov.name in _TANH:
                parts.append(np.arctanh(np.clip(rhos, -1 + 1e-15, 1 - 1e-15)))
            else:  # CS, CSH, CAR1: logistic on (lo, 1)
                lo, hi = self.bounds
                p = np.clip((rhos - lo) / (hi - lo), 1e-15, 1 - 1e-15)
                parts.append(logit(p))
        return np.concatenate(parts, axis=-1)


def level_layouts(rd: ResidualDesign) -> list[LevelLayout]:
    """One :class:`LevelLayout` per by-level, in the design's order."""
    return [LevelLayout(cov, g) for cov, g in zip(rd.structures, rd.group_names, strict=True)]
