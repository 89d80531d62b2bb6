"""Covariance structures: one interface (:class:`CovStructure`), one file per structure."""

from .base import CovStructure
from .unstructured import Unstructured

__all__ = ["CovStructure", "Unstructured"]
