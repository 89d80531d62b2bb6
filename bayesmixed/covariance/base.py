"""The interface every covariance structure implements.

A structure describes a k×k covariance matrix through a vector of parameters. The same
object serves both engines and every report:

* the REML/ML fitter optimizes the parameters from :attr:`~CovStructure.start` within
  (:attr:`~CovStructure.lower`, :attr:`~CovStructure.upper`) and builds the blocked
  Cholesky algebra from :meth:`~CovStructure.factor` (lme4's relative factor Λ: the
  covariance is σ² ΛΛ'); the optimizer's messages name the parameters by
  :attr:`~CovStructure.param_names`;
* the reports (``tidy()``, ``VarCorr``) name what the covariance implies — standard
  deviations, correlations, ρ — by :attr:`~CovStructure.labels`, as broom.mixed does;
* the Bayesian engine samples the structure in the parameterization named by
  :attr:`~CovStructure.bayes_transform`, with the default priors named by
  :attr:`~CovStructure.default_prior`.

Random-effect (G-side) blocks are :class:`~bayesmixed.covariance.unstructured.Unstructured`
(a scalar variance when k = 1); residual (R-side) structures (compound symmetry, AR(1),
Toeplitz, unstructured over time...) implement the same interface with k the number of
time points.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

__all__ = ["CovStructure"]


class CovStructure(ABC):
    """A k×k covariance structure with :attr:`n_params` parameters.

    Subclasses set :attr:`dim`, :attr:`bayes_transform` and :attr:`default_prior` and
    implement :attr:`n_params`, :attr:`param_names`, :attr:`labels`, :attr:`start`,
    :meth:`factor`; :attr:`lower`/:attr:`upper` default to unbounded and :meth:`matrix` to
    ΛΛ'.
    """

    #: Dimension k of the covariance matrix (columns of a random-effect term, time points).
    dim: int
    #: How the Bayesian engine parameterizes the structure, e.g. ``"sd_cpc"``: standard
    #: deviations times the Cholesky factor of a correlation matrix built from canonical
    #: partial correlations.
    bayes_transform: ClassVar[str]
    #: Default prior family per kind of parameter, e.g. ``{"sd": "halfstudentt",
    #: "cor": "lkj"}`` (the scales are set from the data by ``bayes.priors``).
    default_prior: ClassVar[dict[str, str]]

    @property
    @abstractmethod
    def n_params(self) -> int:
        """Number of parameters the optimizer sees."""

    @property
    @abstractmethod
    def param_names(self) -> list[str]:
        """Names of the optimizer's parameters (lme4's θ names for a random-effect block)."""

    @property
    @abstractmethod
    def labels(self) -> list[str]:
        """broom.mixed labels of the reported parameters (``sd__x``, ``cor__x.z``, ``rho``)."""

    @property
    @abstractmethod
    def start(self) -> np.ndarray:
        """REML/ML starting value of the parameters."""

    @property
    def lower(self) -> np.ndarray:
        """Lower bounds of the parameters (default: unbounded)."""
        return np.full(self.n_params, -np.inf)

    @property
    def upper(self) -> np.ndarray:
        """Upper bounds of the parameters (default: unbounded)."""
        return np.full(self.n_params, np.inf)

    @abstractmethod
    def factor(self, params: np.ndarray) -> np.ndarray:
        """k×k lower-triangular relative factor Λ: the covariance is σ² ΛΛ'."""

    def matrix(self, params: np.ndarray) -> np.ndarray:
        """k×k relative covariance ΛΛ' (multiply by σ² for the covariance itself)."""
        L = self.factor(np.asarray(params, dtype=float))
        return L @ L.T
