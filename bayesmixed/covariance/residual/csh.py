"""Heterogeneous compound symmetry: the CS correlation with one SD per visit."""

from __future__ import annotations

from .cs import CompoundSymmetry

__all__ = ["HeterogeneousCompoundSymmetry"]


class HeterogeneousCompoundSymmetry(CompoundSymmetry):
    """CSH: corr ρ off the diagonal, SD ratios to the first visit.

    Examples
    --------
    >>> csh = HeterogeneousCompoundSymmetry(["T0", "T1", "T2"])
    >>> csh.labels
    ['sd__T0', 'sd__T1', 'sd__T2', 'rho']
    >>> csh.matrix_at([0.0, 0.6931471805599453, *csh.cor_start], [0, 2]).round(6).tolist()
    [[1.0, 0.0], [0.0, 4.0]]
    """

    name = "CSH"
    heterogeneous = True
