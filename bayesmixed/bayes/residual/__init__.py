"""Residual covariance structures in the Bayesian engine: the marginal MvNormal likelihood
per subject (random effects integrated out), the structures' priors, and their draws mapped
to the REML fit's names."""

from .fit import ResidualBayesFit
from .graph import build_residual_model
from .pipeline import sample_residual_design
from .priors import ResidualPriorSet, resolve_residual_priors

__all__ = [
    "ResidualBayesFit",
    "ResidualPriorSet",
    "build_residual_model",
    "resolve_residual_priors",
    "sample_residual_design",
]
