"""Run NUTS with one of three samplers and return draws in one common layout.

* ``"nutpie"`` (default): Rust NUTS. With the marginal parameterization it calls the NumPy
  log density (:mod:`~bayesmixed.bayes.logdensity`) directly — no compilation at all; other
  parameterizations use the PyMC model's C-compiled log density (cached by PyTensor across
  processes).
* ``"pymc"``: PyMC's own NUTS on the PyMC model.
* ``"numpyro"``: NumPyro's NUTS through PyMC's JAX conversion.

Whatever ran, the result is a :class:`RawDraws`: arrays with leading (chain, draw) axes for the
centred-X fixed effects, σ, the SDs, the canonical partial correlations and, when sampled, the
random effects; plus the sampler statistics under ArviZ's names.
"""

from __future__ import annotations

import importlib.util
import logging
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._threads import limit_blas
from ..design.build import Design
from ..errors import SamplerError
from .graph import GraphInfo
from .marginal.logdensity import MarginalPosterior
from .priors import PriorSet

__all__ = ["RawDraws", "SAMPLERS", "run_sampler"]

SAMPLERS = ("nutpie", "pymc", "numpyro")


@dataclass
class RawDraws:
    """Draws with leading (chain, draw) axes, before mapping to the primer's quantities."""

    beta_c: np.ndarray  # (C, D, p) fixed effects for the centred X
    sigma: np.ndarray  # (C, D)
    sds: list  # per term (C, D, k)
    cpcs: list  # per term (C, D, k(k-1)/2) in (-1, 1)
    b: list | None  # per term (C, D, m, k), or None when b was integrated out
    z: list | None = None  # per term standard-normal effects (non-centred)
    stats: dict = field(default_factory=dict)  # sample_stats arrays (C, D)
    seconds: float = 0.0
    sampler: str = ""


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


def _init_from_reml(design: Design, mp: MarginalPosterior, xmeans, start=None) -> np.ndarray:
    """Centre of the starting points: the REML estimates on the unconstrained scale (each
    chain then jitters it by U(−1, 1)).

    ``start`` is a callable returning (β, σ, [covariance per term]) — the model passes its
    REML fit, so this engine never imports the other one; without it, or if it fails, the
    start is least squares on the data scale."""
    sy = float(np.std(design.y)) or 1.0
    try:
        if start is None:
            raise LookupError("no start given")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            beta, sigma, covs = start()
        beta = np.array(beta, dtype=float)
        sigma = max(float(sigma), 1e-3 * sy)
    except Exception:  # a start is only a start: fall back to the data scale
        beta = np.linalg.lstsq(design.X, design.y, rcond=None)[0]
        sigma = sy
        covs = [np.eye(t.k) * sy**2 for t in design.terms]
    if design.has_intercept:
        j = design.xnames.index("(Intercept)")
        beta[j] = beta[j] + float(xmeans @ beta)
    sds, cors = [], []
    for t, C in zip(design.terms, covs, strict=True):
        sd = np.sqrt(np.clip(np.diag(C), 0.0, None))
        # a singular REML fit has zero SDs and ±1 correlations: start strictly inside
        sd = np.maximum(sd, 0.05 * sigma)
        scale = np.sqrt(np.clip(np.diag(C), 1e-300, None))
        R = 0.8 * (C / np.outer(scale, scale)) + 0.2 * np.eye(t.k)
        np.fill_diagonal(R, 1.0)
        sds.append(sd)
        cors.append(R)
    return mp.to_unconstrained(beta, sigma, sds, cors)


def _stats_from_idata(idata) -> dict:
    ss = idata.sample_stats
    out = {}
    rename = {
        "diverging": "diverging",
        "logp": "lp",
        "lp": "lp",
        "energy": "energy",
        "tree_depth": "tree_depth",
        "depth": "tree_depth",
        "n_steps": "n_steps",
        "step_size": "step_size",
        "acceptance_rate": "acceptance_rate",
        "mean_tree_accept": "acceptance_rate",
    }
    for src, dst in rename.items():
        if src in ss and dst not in out:
            out[dst] = np.asarray(ss[src].values)
    return out


def _sample_pyfunc(ndim, make_logp_fn, center, nuts: dict):
    """nutpie on a Python log density over one flat vector ``x``, chains started at ``center``
    jittered by U(−1, 1) on every coordinate; ``nuts`` are nutpie.sample's keyword arguments
    (draws, tune, chains, cores, seed, progress_bar, target_accept and the user's)."""
    import nutpie
    from nutpie.compiled_pyfunc import from_pyfunc

    def make_expand_fn(seed1, seed2, chain):
        def expand(x, **_):
            return {"x": np.asarray(x, dtype="float64").copy()}

        return expand

    def make_init(chain_seed):
        # nutpie passes each chain a seed derived from the main one: jitter from it, so the
        # start of a chain does not depend on which thread asks first
        rng = np.random.default_rng(chain_seed)
        return center + rng.uniform(-1.0, 1.0, size=center.shape)

    cm = from_pyfunc(
        ndim,
        make_logp_fn,
        make_expand_fn,
        [np.dtype("float64")],
        [(ndim,)],
        ["x"],
        make_initial_point_fn=make_init,
    )
    return nutpie.sample(cm, save_warmup=False, **nuts)


def _nutpie_marginal(mp, x0s, nuts: dict) -> RawDraws:

    ndim = mp.ndim

    def make_logp_fn():
        def logp(x, **_):
            try:
                lp, g = mp.logp_grad(x)
            except (np.linalg.LinAlgError, FloatingPointError, ValueError):
                return -np.inf, np.zeros(ndim)
            if not np.isfinite(lp):
                return -np.inf, np.zeros(ndim)
            return lp, g

        return logp

    with np.errstate(all="ignore"):
        idata = _sample_pyfunc(ndim, make_logp_fn, x0s, nuts)
    X = np.asarray(idata.posterior["x"].values)  # (C, D, ndim)
    C, D = X.shape[:2]
    pts = [[mp.point(X[c, d]) for d in range(D)] for c in range(C)]
    return RawDraws(
        beta_c=np.array([[p.beta for p in row] for row in pts]),
        sigma=np.array([[p.sigma for p in row] for row in pts]),
        sds=[
            np.array([[p.sds[i] for p in row] for row in pts]) for i in range(len(mp.design.terms))
        ],
        cpcs=[
            np.array([[p.cpcs[i] for p in row] for row in pts]) for i in range(len(mp.design.terms))
        ],
        b=None,
        stats=_stats_from_idata(idata),
        sampler="nutpie",
    )


def _from_arrays(post: dict, design: Design, info: GraphInfo) -> dict:
    """Split PyMC-named posterior arrays (chain, draw, ...) into the common layout."""
    beta_c = np.stack([np.asarray(post[n]) for n in info.fixed_rv], axis=-1)
    sigma = np.asarray(post["sigma"])
    sds, cpcs, z, b = [], [], [], []
    for ti, t in enumerate(design.terms):
        sds.append(np.stack([np.asarray(post[n]) for n in info.sd_rv[ti]], axis=-1))
        if t.k > 1:
            cpcs.append(2.0 * np.asarray(post[info.cor_rv[ti]]) - 1.0)
        else:
            cpcs.append(np.zeros(sigma.shape + (0,)))
        if info.parameterization == "noncentered":
            z.append(np.asarray(post[info.re_rv[ti]]))
        elif info.parameterization == "centered":
            b.append(np.asarray(post[info.re_rv[ti]]))
    return {"beta_c": beta_c, "sigma": sigma, "sds": sds, "cpcs": cpcs, "z": z, "b": b}


class _CompiledModel:
    """A PyMC model's C-compiled log density on a flat vector, for nutpie's Python interface."""

    def __init__(self, model, info: GraphInfo, design: Design):
        import pymc as pm
        from pymc.blocking import DictToArrayBijection

        self.model = model
        self.f = model.logp_dlogp_function(ravel_inputs=True)
        self.f.set_extra_values({})
        ip = model.initial_point()
        self.point_map = DictToArrayBijection.map(ip)
        self.x0 = self.point_map.data
        names = [*info.fixed_rv, "sigma", *[n for s in info.sd_rv for n in s]]
        names += [c for c in info.cor_rv if c] + [r for r in info.re_rv if r in model.named_vars]
        self.names = names
        outs = model.replace_rvs_by_values([model[n] for n in names])
        self.values_fn = pm.pytensorf.compile(model.value_vars, outs, on_unused_input="ignore")
        self.dims = ip

    def unravel(self, x: np.ndarray) -> dict:
        from pymc.blocking import DictToArrayBijection, RaveledVars

        return DictToArrayBijection.rmap(RaveledVars(x, self.point_map.point_map_info))

    def values(self, x: np.ndarray) -> dict:
        pt_ = self.unravel(x)
        vals = self.values_fn(*[pt_[v.name] for v in self.model.value_vars])
        return dict(zip(self.names, vals, strict=True))


def _nutpie_pymc(model, info, design, nuts: dict):

    cmod = _CompiledModel(model, info, design)
    ndim = cmod.x0.size

    import threading

    lock = threading.Lock()

    def make_logp_fn():
        # nutpie runs chains in threads, and a compiled PyTensor function keeps intermediate
        # results in shared storage: serialize calls (they hold the GIL anyway)
        f = cmod.f._pytensor_function
        f.trust_input = True

        def logp(x, **_):
            with lock:
                lp, g = f(np.asarray(x, dtype="float64"))
            if not np.isfinite(lp):
                return -np.inf, np.zeros(ndim)
            return float(lp), np.array(g, dtype="float64")

        return logp

    idata = _sample_pyfunc(ndim, make_logp_fn, cmod.x0, nuts)
    X = np.asarray(idata.posterior["x"].values)
    C, D = X.shape[:2]
    vals = [[cmod.values(X[c, d]) for d in range(D)] for c in range(C)]
    post = {n: np.array([[v[n] for v in row] for row in vals]) for n in cmod.names}
    return post, _stats_from_idata(idata)


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
    if sampler == "nutpie" and info.parameterization == "marginal":
        mp = MarginalPosterior(design, priors, info.xmeans)
        x0s = _init_from_reml(design, mp, info.xmeans, start)
        # nutpie already runs one chain per core in threads; OpenBLAS threads on top of them
        # (the dense Schur complement of crossed designs) only contend for the same cores
        with limit_blas(1 if cores > 1 else None):
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
