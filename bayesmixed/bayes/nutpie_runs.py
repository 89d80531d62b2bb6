"""The nutpie runs: compiled densities called natively, or Python callbacks.

* the marginal and the partly marginal forms: their compiled kernels, which nutpie calls as
  C functions from its chain threads (:mod:`.marginal.native`) — no interpreter lock, so the
  chains run in parallel; a model the kernels do not cover uses the NumPy density;
* PyMC graphs (non-centred, centred): the C-compiled PyTensor log density as a callback.
"""

from __future__ import annotations

import numpy as np

from ..design.build import Design
from .chain_starts import _init_from_reml
from .graph import GraphInfo
from .marginal import native
from .marginal.partial import PartialPosterior
from .marginal.partition import centring
from .raw_draws import RawDraws, _scalar_draws, _stats_from_idata

__all__: list[str] = []


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


def _nutpie_native(post, initial_point, nuts: dict) -> tuple[np.ndarray, dict]:
    """nutpie on ``post``'s compiled kernel, called natively from nutpie's chain threads
    (no interpreter lock: the chains run in parallel); the draws of x (C, D, ndim)."""
    import nutpie

    kernel, args = post.kernel()
    cm = native.compiled_model(kernel, args, post.ndim, initial_point)
    idata = nutpie.sample(cm, save_warmup=False, **nuts)
    return np.asarray(idata.posterior["x"].values), _stats_from_idata(idata)


def _jitter(center: np.ndarray):
    """Chain starts: ``center`` jittered by U(−1, 1) on every coordinate, from the seed
    nutpie derives for each chain (so a start does not depend on thread timing)."""

    def initial_point(chain_seed):
        rng = np.random.default_rng(chain_seed)
        return center + rng.uniform(-1.0, 1.0, size=center.shape)

    return initial_point


def _nutpie_partial(design, priors, info, xmeans, values, seed, nuts: dict) -> RawDraws:
    """The partly marginal posterior on nutpie: the sampled terms' effects centred or not
    as :func:`~.marginal.partition.centring` decides from the REML fit; ``info.term_modes``
    records the choice."""
    beta, sigma, covs = values
    modes = ["marginal"] * len(design.terms)
    for i, mode in centring(design, info.sampled, float(sigma), covs).items():
        modes[i] = mode
    info.term_modes = {t.name: m for t, m in zip(design.terms, modes, strict=True)}
    pp = PartialPosterior(design, priors, xmeans, modes, info.integrated)
    x0s = _init_from_reml(design, pp, xmeans, values)

    def initial_point(chain_seed):
        rng = np.random.default_rng(chain_seed)
        return pp.start(x0s + rng.uniform(-1.0, 1.0, size=x0s.shape), rng)

    X, stats = _nutpie_native(pp, initial_point, nuts)
    C, D = X.shape[:2]
    effects = pp.draw_effects(X.reshape(C * D, -1), np.random.default_rng(seed + 7919))
    b = [e.reshape((C, D) + e.shape[1:]) for e in effects]
    return _scalar_draws(pp, X, "nutpie", stats, b=b)


def _nutpie_marginal(mp, x0s, nuts: dict) -> RawDraws:
    if mp.kernel() is not None:
        X, stats = _nutpie_native(mp, _jitter(x0s), nuts)
        return _scalar_draws(mp, X, "nutpie", stats)
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
    return _scalar_draws(mp, X, "nutpie", _stats_from_idata(idata))


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


def serialized_logp(logp_dlogp, ndim: int):
    """nutpie's ``make_logp_fn`` around a PyMC ``logp_dlogp_function``: nutpie runs chains
    in threads, and a compiled PyTensor function keeps intermediate results in shared
    storage, so calls are serialized (they hold the GIL anyway)."""
    import threading

    lock = threading.Lock()

    def make_logp_fn():
        f = logp_dlogp._pytensor_function
        f.trust_input = True

        def logp(x, **_):
            with lock:
                lp, g = f(np.asarray(x, dtype="float64"))
            if not np.isfinite(lp):
                return -np.inf, np.zeros(ndim)
            return float(lp), np.array(g, dtype="float64")

        return logp

    return make_logp_fn


def _nutpie_pymc(model, info, design, nuts: dict):

    cmod = _CompiledModel(model, info, design)
    ndim = cmod.x0.size

    idata = _sample_pyfunc(ndim, serialized_logp(cmod.f, ndim), cmod.x0, nuts)
    X = np.asarray(idata.posterior["x"].values)
    C, D = X.shape[:2]
    vals = [[cmod.values(X[c, d]) for d in range(D)] for c in range(C)]
    post = {n: np.array([[v[n] for v in row] for row in vals]) for n in cmod.names}
    return post, _stats_from_idata(idata)
