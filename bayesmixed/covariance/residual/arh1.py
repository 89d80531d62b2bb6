"""Heterogeneous AR(1): the AR(1) correlation with one SD per visit."""

from __future__ import annotations

from .ar1 import AutoRegressive1

__all__ = ["HeterogeneousAutoRegressive1"]


class HeterogeneousAutoRegressive1(AutoRegressive1):
    """ARH1: corr ρ^|i−j|, SD ratios to the first visit.

    Examples
    --------
    >>> HeterogeneousAutoRegressive1(["T0", "T1"]).labels
    ['sd__T0', 'sd__T1', 'rho']
    """

    name = "ARH1"
    heterogeneous = True
