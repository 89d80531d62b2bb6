"""Bayesian engine: PyMC graphs with partial-pooling priors, sampled with NUTS.

See :meth:`bayesmixed.MixedModel.sample` and :meth:`bayesmixed.MixedModel.pymc_model`.
"""

from .priors import Prior, PriorSet, default_priors, resolve_priors

__all__ = ["Prior", "PriorSet", "default_priors", "resolve_priors", "sample_model"]


def sample_model(design, **kwargs):
    """Sample a design (see :meth:`bayesmixed.MixedModel.sample`)."""
    from .pipeline import sample_design

    return sample_design(design, **kwargs)
