"""Bayesian engine: PyMC graphs with partial-pooling priors, sampled with NUTS.

See :meth:`bayesmixed.MixedModel.sample` and :meth:`bayesmixed.MixedModel.pymc_model`.
"""

import warnings

from .priors import Prior, PriorSet, default_priors, resolve_priors

# PyTensor (under the PyMC graphs; the default nutpie + marginal path never imports it) warns
# at import, to every pip user, that it found no BLAS to link its C code against. It then uses
# NumPy's BLAS through the C API, which is what these graphs need (their products are
# matrix-vector products and gathers, not large dense matrix products), so the warning only
# alarms. Configure blas__ldflags yourself (PYTENSOR_FLAGS) to link a system BLAS instead.
warnings.filterwarnings(
    "ignore", message="PyTensor could not link to a BLAS installation", category=UserWarning
)

__all__ = ["Prior", "PriorSet", "default_priors", "resolve_priors", "sample_model"]


def sample_model(design, **kwargs):
    """Sample a design (see :meth:`bayesmixed.MixedModel.sample`)."""
    from .pipeline import sample_design

    return sample_design(design, **kwargs)
