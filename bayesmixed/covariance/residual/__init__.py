"""Residual (R-side) covariance structures over a subject's visits, one module each.

:data:`STRUCTURES` maps the names of :mod:`bayesmixed.spec.residual` to their classes.
"""

from .ad import AnteDependence
from .ar1 import AutoRegressive1
from .arh1 import HeterogeneousAutoRegressive1
from .base import BOUND, ResidualStructure
from .car1 import ContinuousAutoRegressive1
from .cs import CompoundSymmetry
from .csh import HeterogeneousCompoundSymmetry
from .toep import Toeplitz, durbin_levinson
from .toeph import HeterogeneousToeplitz
from .un import UnstructuredResidual, cpc_cholesky

__all__ = [
    "BOUND",
    "ResidualStructure",
    "CompoundSymmetry",
    "HeterogeneousCompoundSymmetry",
    "AutoRegressive1",
    "HeterogeneousAutoRegressive1",
    "Toeplitz",
    "HeterogeneousToeplitz",
    "UnstructuredResidual",
    "AnteDependence",
    "ContinuousAutoRegressive1",
    "STRUCTURES",
    "durbin_levinson",
    "cpc_cholesky",
]

STRUCTURES: dict[str, type[ResidualStructure]] = {
    "CS": CompoundSymmetry,
    "CSH": HeterogeneousCompoundSymmetry,
    "AR1": AutoRegressive1,
    "ARH1": HeterogeneousAutoRegressive1,
    "TOEP": Toeplitz,
    "TOEPH": HeterogeneousToeplitz,
    "UN": UnstructuredResidual,
    "AD": AnteDependence,
    "CAR1": ContinuousAutoRegressive1,
}
