"""Orchestration: priors → graph → sampler → mapped posterior → BayesFit."""

from __future__ import annotations

import time
import warnings

import numpy as np

from .._version import __version__
from ..design.build import Design
from ..errors import ArgumentError
from .graph import build_model, graph_info
from .posterior import assemble, prior_groups
from .priors import resolve_priors
from .result import BayesFit
from .sampler_options import check_sampler_kwargs
from .samplers import SAMPLERS, run_sampler

__all__ = ["sample_design", "prior_predictive"]

# the named arguments of MixedModel.sample (a misspelling of one is the usual mistake)
_PUBLIC = (
    "draws",
    "tune",
    "chains",
    "cores",
    "sampler",
    "priors",
    "parameterization",
    "target_accept",
    "random_seed",
    "progressbar",
)


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ArgumentError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_sample_args(draws, tune, chains, cores, target_accept, random_seed, sampler, kwargs):
    """The checks of ``sample()``'s arguments shared by every Bayesian path: returns the
    validated (draws, tune, chains, cores); raises ArgumentError naming the argument."""
    draws = _check_int("draws", draws, 1)
    tune = _check_int("tune", tune, 0)
    chains = _check_int("chains", chains, 1)
    if cores is not None:
        cores = _check_int("cores", cores, 1)
    if not (isinstance(target_accept, float | int) and 0 < float(target_accept) < 1):
        raise ArgumentError(f"target_accept must be between 0 and 1, got {target_accept!r}")
    if random_seed is not None and not isinstance(random_seed, (int, np.integer)):
        raise ArgumentError(f"random_seed must be an integer or None, got {random_seed!r}")
    if sampler in SAMPLERS:  # an unknown sampler is named by the sampler runner
        check_sampler_kwargs(sampler, kwargs, _PUBLIC)
    return draws, tune, chains, cores


def record_provenance(idata, seed, sampler: str, parameterization: str, **extra) -> None:
    """What reproduces these draws, kept with them (and in a saved netCDF file)."""
    attrs = {
        "random_seed": -1 if seed is None else seed,
        "sampler": sampler,
        "parameterization": parameterization,
        **extra,
        "bayesmixed_version": __version__,
    }
    for group in ("posterior", "sample_stats"):
        if group in idata.groups():
            idata[group].attrs.update(attrs)


def sample_design(
    design: Design,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    sampler: str = "nutpie",
    priors: dict | None = None,
    parameterization: str = "auto",
    target_accept: float = 0.8,
    random_seed: int | None = None,
    progressbar: bool = True,
    prior_draws: int = 500,
    check: bool = True,
    start=None,
    **kwargs,
) -> BayesFit:
    """Build, sample and map a posterior (the body of :meth:`MixedModel.sample`).

    ``start``: optional callable returning REML estimates (β, σ, covariances) to centre the
    chains' starting points on."""
    t0 = time.perf_counter()
    draws, tune, chains, cores = check_sample_args(
        draws, tune, chains, cores, target_accept, random_seed, sampler, kwargs
    )
    ps = resolve_priors(design, priors)
    info = graph_info(design, parameterization)
    if info.parameterization == "partial" and sampler != "nutpie":
        if parameterization == "partial":
            raise ArgumentError(
                f"parameterization='partial' runs on sampler='nutpie' only, not {sampler!r}: "
                "choose sampler='nutpie' or parameterization='noncentered'"
            )
        parameterization = "noncentered"
        info = graph_info(design, parameterization)
    model = None
    if not (sampler == "nutpie" and info.parameterization in ("marginal", "partial")):
        # the compiled marginal samplers need no PyMC graph (nor PyMC's import time)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            model, info = build_model(design, ps, parameterization)
    raw = run_sampler(
        model,
        info,
        design,
        ps,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        sampler=sampler,
        target_accept=float(target_accept),
        random_seed=random_seed,
        progressbar=progressbar,
        start=start,
        **kwargs,
    )
    seed = None if random_seed is None else int(random_seed)
    out = assemble(raw, design, info, ps, seed, prior_draws_n=prior_draws)
    modes = info.described(design).terms
    record_provenance(
        out.idata,
        seed,
        sampler,
        str(info.parameterization),
        parameterization_terms="; ".join(f"{k}: {v}" for k, v in modes.items()),
    )
    fit = BayesFit(
        idata=out.idata,
        design=design,
        priors=ps,
        info=info,
        components_=out.components,
        sampler=sampler,
        seconds=time.perf_counter() - t0,
        sampling_seconds=raw.seconds,
        target_accept=float(target_accept),
    )
    if check:
        fit.check(warn=True)
    return fit


def prior_predictive(
    design: Design, draws: int = 500, priors: dict | None = None, random_seed=None
):
    """Draws from the prior and the prior predictive distribution (the body of
    :meth:`MixedModel.sample_prior_predictive`)."""
    import arviz as az
    import xarray as xr

    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ArgumentError(f"draws must be a positive integer, got {draws!r}")
    ps = resolve_priors(design, priors)
    info = graph_info(design, "noncentered")
    prior, pp = prior_groups(design, info, ps, np.random.default_rng(random_seed), int(draws))
    obs = xr.Dataset(
        {"y": xr.DataArray(design.y, dims=("obs",))},
        coords={"obs": np.arange(design.n)},
    )
    return az.InferenceData(prior=prior, prior_predictive=pp, observed_data=obs)
