"""Orchestration for residual-structure models: priors → graph → NUTS → mapped posterior."""

from __future__ import annotations

import time

from ...design.build import Design
from ...design.residual import ResidualDesign
from ...errors import ArgumentError
from ..pipeline import check_sample_args, record_provenance
from .draws import map_residual_draws
from .fit import ResidualBayesFit
from .graph import build_residual_model
from .priors import resolve_residual_priors
from .sample import run_residual_sampler

__all__ = ["sample_residual_design"]


def sample_residual_design(
    design: Design,
    rd: ResidualDesign,
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
    check: bool = True,
    start=None,
    **kwargs,
) -> ResidualBayesFit:
    """Sample a model with a residual structure (the body of :meth:`MixedModel.sample`).

    The random effects are always integrated out (``parameterization`` must be ``"auto"`` or
    ``"marginal"``). ``start``: optional callable returning REML fixed effects, which
    initialize β.
    """
    t0 = time.perf_counter()
    if parameterization not in ("auto", "marginal"):
        raise ArgumentError(
            f"parameterization={parameterization!r}: a model with a residual structure is "
            "sampled in the marginal form (random effects integrated out); use 'auto' or "
            "'marginal'"
        )
    if sampler == "numpyro":
        raise ArgumentError(
            "sampler='numpyro' is not available for residual structures; use 'nutpie' or 'pymc'"
        )
    draws, tune, chains, cores = check_sample_args(
        draws, tune, chains, cores, target_accept, random_seed, sampler, kwargs
    )
    ps = resolve_residual_priors(design, rd, priors)
    beta0 = None
    if start is not None:
        try:
            beta0 = start()
        except Exception:  # a start is only a start: least squares then
            beta0 = None
    if beta0 is not None:
        from ..graph import graph_info

        xm = graph_info(design, "noncentered").xmeans
        beta0 = beta0.copy()
        if design.has_intercept:
            j = design.xnames.index("(Intercept)")
            beta0[j] += float(xm @ beta0)
    model, g = build_residual_model(design, rd, ps, start=beta0)
    post, stats, seconds = run_residual_sampler(
        model,
        g.names,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        sampler=sampler,
        target_accept=float(target_accept),
        random_seed=random_seed,
        progressbar=progressbar,
        **kwargs,
    )
    seed = None if random_seed is None else int(random_seed)
    out = map_residual_draws(post, stats, design, g, ps, seed)
    record_provenance(out.idata, seed, sampler, "marginal", residual=repr(rd.spec))
    fit = ResidualBayesFit(
        idata=out.idata,
        design=design,
        priors=ps,
        info=g.info,
        components_=out.components,
        sampler=sampler,
        seconds=time.perf_counter() - t0,
        sampling_seconds=seconds,
        target_accept=float(target_accept),
        rd=rd,
        residual_labels=out.labels,
        residual_values=out.values,
        residual_params=out.params,
        residual_scale=out.scale,
    )
    if check:
        fit.check(warn=True)
    return fit
