"""The residual-structure engine: REML/ML with per-subject covariance blocks (GLS/MMRM and
lme-style models with random effects nested in the subject)."""

from .optimize import GLSControl, fit_gls
from .result import GLSFit

__all__ = ["GLSControl", "GLSFit", "fit_gls"]
