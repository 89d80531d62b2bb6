"""Run NUTS with one of three samplers and return draws in one common layout.

* ``"nutpie"`` (default): Rust NUTS. The marginal and partly marginal parameterizations hand
  it their compiled kernels as C callbacks (:mod:`~.marginal.native`): no PyMC graph, no
  interpreter lock, the chains run in parallel (:mod:`.nutpie_runs`); the other
  parameterizations use the PyMC model's C-compiled log density (cached by PyTensor across
  processes).
* ``"pymc"``: PyMC's own NUTS on the PyMC model.
* ``"numpyro"``: NumPyro's NUTS through PyMC's JAX conversion.

Whatever ran, the result is a :class:`~.raw_draws.RawDraws`: arrays with leading (chain, draw)
axes for the centred-X fixed effects, σ, the SDs, the canonical partial correlations and, when
sampled, the random effects; plus the sampler statistics under ArviZ's names.
"""

from __future__ import annotations

import importlib.util
import logging
import time
import warnings

import numpy as np

from .._threads import limit_blas
from ..design.build import Design
from ..errors import SamplerError
from .chain_starts import _init_from_reml, _reml_values
from .graph import GraphInfo
from .marginal.logdensity import MarginalPosterior
from .nutpie_runs import _nutpie_marginal, _nutpie_partial, _nutpie_pymc
from .priors import PriorSet
from .raw_draws import RawDraws, _from_arrays, _stats_from_idata

__all__ = ["RawDraws", "SAMPLERS", "run_sampler"]

SAMPLERS = ("nutpie", "pymc", "numpyro")


def _check_sampler(sampler: str) -> None:
    if sampler not in SAMPLERS:
        raise SamplerError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    module = {"nutpie": "nutpie", "pymc": "pymc", "numpyro": "numpyro"}[sampler]
    if importlib.util.find_spec(module) is None:
        raise SamplerError(
            f"sampler {sampler!r} needs the package {module!r}: pip install {module} "
            "(or pip install 'bayesmixed[samplers]'), or choose sampler='pymc'"
        )


def _seed_and_cores(sampler: str, random_seed, chains: int, cores) -> tuple[int, int]:
    """Check ``sampler``; the integer seed (a fresh one when ``random_seed`` is None) and the
    number of cores (default min(chains, 2)); PyMC's log quieted to errors."""
    _check_sampler(sampler)
    seed = (
        int(np.random.SeedSequence(random_seed).generate_state(1)[0])
        if random_seed is None
        else int(random_seed)
    )
    cores = cores or min(chains, 2)
    logging.getLogger("pymc").setLevel(logging.ERROR)
    return seed, cores


def _nuts_kwargs(
    *, draws, tune, chains, cores, seed, progressbar, target_accept, kwargs: dict
) -> dict:
    """nutpie.sample's keyword arguments, the same for every nutpie path; dict() (not a
    literal) keeps a clash with the user's kwargs an error, as in a direct call."""
    return dict(
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        seed=seed,
        progress_bar=progressbar,
        target_accept=target_accept,
        **kwargs,
    )


def _pymc_sample(
    model, *, draws, tune, chains, cores, seed, sampler, target_accept, progressbar, kwargs
):
    """``pm.sample`` on ``model`` (PyMC's NUTS or NumPyro through it), warnings silenced,
    no convergence checks or log likelihood; returns the InferenceData."""
    import pymc as pm

    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            random_seed=seed,
            progressbar=progressbar,
            nuts_sampler=sampler,
            target_accept=target_accept,
            compute_convergence_checks=False,
            idata_kwargs={"log_likelihood": False},
            **kwargs,
        )


def run_sampler(
    model,
    info: GraphInfo,
    design: Design,
    priors: PriorSet,
    *,
    draws: int,
    tune: int,
    chains: int,
    cores: int | None,
    sampler: str,
    target_accept: float,
    random_seed: int | None,
    progressbar: bool,
    start=None,
    **kwargs,
) -> RawDraws:
    """Sample and return :class:`RawDraws` (see the module docstring)."""
    seed, cores = _seed_and_cores(sampler, random_seed, chains, cores)
    t0 = time.perf_counter()
    if sampler == "nutpie":
        nuts = _nuts_kwargs(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            seed=seed,
            progressbar=progressbar,
            target_accept=target_accept,
            kwargs=kwargs,
        )
    if sampler == "nutpie" and info.parameterization in ("marginal", "partial"):
        values = _reml_values(design, start)
        # nutpie already runs one chain per core in threads; OpenBLAS threads on top of them
        # (the dense Schur complement of crossed designs) only contend for the same cores
        with limit_blas(1 if cores > 1 else None):
            if info.parameterization == "partial":
                raw = _nutpie_partial(design, priors, info, info.xmeans, values, seed, nuts)
            else:
                mp = MarginalPosterior(design, priors, info.xmeans)
                x0s = _init_from_reml(design, mp, info.xmeans, values)
                raw = _nutpie_marginal(mp, x0s, nuts)
    else:
        if sampler == "nutpie":
            post, stats = _nutpie_pymc(model, info, design, nuts)
        else:
            idata = _pymc_sample(
                model,
                draws=draws,
                tune=tune,
                chains=chains,
                cores=cores,
                seed=seed,
                sampler=sampler,
                target_accept=target_accept,
                progressbar=progressbar,
                kwargs=kwargs,
            )
            stats = _stats_from_idata(idata)
            post = {k: np.asarray(v.values) for k, v in idata.posterior.data_vars.items()}
        parts = _from_arrays(post, design, info)
        raw = RawDraws(
            beta_c=parts["beta_c"],
            sigma=parts["sigma"],
            sds=parts["sds"],
            cpcs=parts["cpcs"],
            b=parts["b"] or None,
            z=parts["z"] or None,
            stats=stats,
            sampler=sampler,
        )
    raw.seconds = time.perf_counter() - t0
    return raw
