"""Errors a user can cause, and warnings bayesmixed raises.

Every error that comes from user input is a :class:`BayesMixedError` (also a ``ValueError``
so generic ``except ValueError`` code keeps working). Messages name the column, term or
argument at fault and say what to do about it.
"""

from __future__ import annotations

__all__ = [
    "BayesMixedError",
    "FormulaError",
    "DataError",
    "ColumnError",
    "IdentifiabilityError",
    "ArgumentError",
    "PriorError",
    "SamplerError",
    "StorageError",
    "SpecError",
    "BayesMixedWarning",
    "ConvergenceWarning",
    "SingularFitWarning",
    "RankDeficiencyWarning",
    "MissingDataWarning",
    "SamplingWarning",
    "RefitWarning",
    "LooWarning",
]


class BayesMixedError(ValueError):
    """Base class of every error a user of bayesmixed can cause."""


class FormulaError(BayesMixedError):
    """The model formula cannot be parsed or refers to something impossible."""

    def __init__(self, message: str, formula: str | None = None, position: int | None = None):
        self.formula = formula
        self.position = position
        if formula is not None and position is not None:
            caret = " " * (position + 4) + "^"
            message = f"{message}\n    {formula}\n{caret}"
        super().__init__(message)


class DataError(BayesMixedError):
    """The data cannot be used as given (wrong type, empty, non-finite, ...)."""


class ColumnError(DataError):
    """A column named in the formula is missing or has an unusable type."""

    def __init__(self, message: str, column: str | None = None):
        self.column = column
        super().__init__(message)


class IdentifiabilityError(BayesMixedError):
    """The model cannot be estimated from these data (too few levels or observations)."""


class ArgumentError(BayesMixedError):
    """A function argument has an invalid value."""


class PriorError(BayesMixedError):
    """A prior specification is invalid (unknown parameter name, bad distribution, ...)."""


class SamplerError(BayesMixedError):
    """The requested sampler is unavailable or was called with invalid settings."""


class StorageError(BayesMixedError):
    """A saved fit cannot be read: not a bayesmixed file, an unknown format version, altered
    data, or numbers that do not reproduce."""


class SpecError(BayesMixedError):
    """A model specification file (``models/*.toml``) is unreadable or invalid; the message
    names the file, the key at fault and its valid choices."""


class BayesMixedWarning(UserWarning):
    """Base class of bayesmixed warnings."""


class ConvergenceWarning(BayesMixedWarning):
    """The optimizer stopped without satisfying the convergence checks."""


class SingularFitWarning(BayesMixedWarning):
    """A variance component is estimated on the boundary (lme4's 'boundary (singular) fit')."""


class RankDeficiencyWarning(BayesMixedWarning):
    """The fixed-effects model matrix is rank deficient; aliased columns were dropped."""


class MissingDataWarning(BayesMixedWarning):
    """Rows with missing values in the model's columns were dropped."""


class SamplingWarning(BayesMixedWarning):
    """MCMC diagnostics (divergences, R-hat, ESS) indicate an unreliable posterior."""


class RefitWarning(BayesMixedWarning):
    """REML fits were refitted by ML for a likelihood-ratio test (lme4's message)."""


class LooWarning(BayesMixedWarning):
    """PSIS-LOO is unreliable for some observations (Pareto k above 0.7): a property of the
    model and data, not of the sampler's run."""
