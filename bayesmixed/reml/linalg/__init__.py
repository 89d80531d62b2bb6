"""Specialised linear-algebra kernels of the profiled deviance (MixedModels.jl's ``linalg/``).

* :mod:`~bayesmixed.reml.linalg.level_blocks` — the first term's per-level k×k blocks:
  their Cholesky factors entry by entry, stacking, products with sparse matrices;
* :mod:`~bayesmixed.reml.linalg.rank_update` — the fixed sparse maps that turn the later
  terms' rank update A V A' into one matrix–vector product per evaluation;
* :mod:`~bayesmixed.reml.linalg.full_system` — the unblocked system of tiny models;
* :mod:`~bayesmixed.reml.linalg.pls_factor` — :class:`PLSFactor`, the factor at one θ.

:class:`~bayesmixed.reml.deviance.ProfiledDeviance` chooses between them and assembles.
"""
