"""Ordinary least squares for formulas without random terms (R's ``lm``)."""

from .fit import OLSFit, fit_ols

__all__ = ["OLSFit", "fit_ols"]
