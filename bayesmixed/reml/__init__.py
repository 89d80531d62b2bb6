"""REML/ML reference fitter (lme4's penalized least-squares formulation)."""

from .deviance import ProfiledDeviance
from .optimize import OptControl, fit_lmm
from .result import REMLFit

__all__ = ["ProfiledDeviance", "OptControl", "REMLFit", "fit_lmm"]
