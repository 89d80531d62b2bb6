"""Run NUTS on a residual-structure model: nutpie (default) or PyMC's own sampler.

nutpie calls the PyMC model's C-compiled log density and gradient through its Python
interface (as :mod:`bayesmixed.bayes.samplers` does for the non-marginal graphs), chains
started at the model's initial point (least-squares β) jittered by U(−1, 1) on the
unconstrained scale. Either way the result is a dict of the model's reported variables
(:attr:`~bayesmixed.bayes.residual.graph.ResidualGraph.names`) with leading (chain, draw)
axes, and the sampler statistics under ArviZ's names.
"""

from __future__ import annotations

import time

import numpy as np

from ..nutpie_runs import _sample_pyfunc, serialized_logp
from ..raw_draws import _stats_from_idata
from ..samplers import _nuts_kwargs, _pymc_sample, _seed_and_cores

__all__ = ["run_residual_sampler"]


def _nutpie(model, names: list[str], nuts: dict):
    import pymc as pm
    from pymc.blocking import DictToArrayBijection, RaveledVars

    f = model.logp_dlogp_function(ravel_inputs=True)
    f.set_extra_values({})
    point_map = DictToArrayBijection.map(model.initial_point())
    x0 = point_map.data
    ndim = x0.size
    outs = model.replace_rvs_by_values([model[n] for n in names])
    values_fn = pm.pytensorf.compile(model.value_vars, outs, on_unused_input="ignore")
    idata = _sample_pyfunc(ndim, serialized_logp(f, ndim), x0, nuts)
    X = np.asarray(idata.posterior["x"].values)
    C, D = X.shape[:2]
    vals = []
    for c in range(C):
        row = []
        for d in range(D):
            pt_ = DictToArrayBijection.rmap(RaveledVars(X[c, d], point_map.point_map_info))
            row.append(values_fn(*[pt_[v.name] for v in model.value_vars]))
        vals.append(row)
    post = {n: np.array([[v[i] for v in row] for row in vals]) for i, n in enumerate(names)}
    return post, _stats_from_idata(idata)


def run_residual_sampler(
    model,
    names: list[str],
    *,
    draws: int,
    tune: int,
    chains: int,
    cores: int | None,
    sampler: str,
    target_accept: float,
    random_seed: int | None,
    progressbar: bool,
    **kwargs,
) -> tuple[dict, dict, float]:
    """(draws by variable name, sample statistics, seconds)."""
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
        with np.errstate(all="ignore"):
            post, stats = _nutpie(model, names, nuts)
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
        post = {n: np.asarray(idata.posterior[n].values) for n in names}
    return post, stats, time.perf_counter() - t0
