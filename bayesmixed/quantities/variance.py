"""``bm.variance``: the primer's variance quantities in one namespace.

ICC, R² and the variance decomposition are functions of a fit's variance components
(:mod:`bayesmixed.results.variance`), the shrinkage table of its BLUPs
(:mod:`bayesmixed.results.pooling`); the design effect, the between/within split and
centering (:mod:`bayesmixed.quantities.clustering`) and the OLS assumption checks
(:mod:`bayesmixed.quantities.assumptions`) are gathered here so that a reader finds them all
under one name.
"""

from __future__ import annotations

from ..results.draws import Posterior
from ..results.pooling import shrinkage
from ..results.variance import Decomposition, decompose, icc, r2, variance_components
from .assumptions import assumption_checks
from .clustering import between_within_variance, center, design_effect

__all__ = [
    "Posterior",
    "Decomposition",
    "decompose",
    "variance_components",
    "icc",
    "r2",
    "shrinkage",
    "design_effect",
    "between_within_variance",
    "center",
    "assumption_checks",
]
