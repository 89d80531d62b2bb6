"""Heterogeneous Toeplitz: the Toeplitz correlation with one SD per visit."""

from __future__ import annotations

from .toep import Toeplitz

__all__ = ["HeterogeneousToeplitz"]


class HeterogeneousToeplitz(Toeplitz):
    """TOEPH: corr r_|i−j|, SD ratios to the first visit.

    Examples
    --------
    >>> HeterogeneousToeplitz(["T0", "T1", "T2"]).labels
    ['sd__T0', 'sd__T1', 'sd__T2', 'cor__lag1', 'cor__lag2']
    """

    name = "TOEPH"
    heterogeneous = True
