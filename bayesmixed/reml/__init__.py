"""REML/ML reference fitter (lme4's penalized least-squares formulation)."""

from .deviance import ProfiledDeviance
from .fit import OptControl, REMLFit, fit_lmm

__all__ = ["ProfiledDeviance", "OptControl", "REMLFit", "fit_lmm"]
