"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari & Gelman 2018).

If the sampler, the priors, the likelihood and the mapping of draws back to γ, τ, σ and b
are all right, the rank of a parameter's true value among L posterior draws is uniform on
{0, …, L} when the truth is drawn from the prior and y from the model. :func:`sbc` repeats,
on the model's own design (its X, Z and grouping; only θ and y vary): draw θ from the prior
and y | θ, sample the posterior with the same prior, record the rank of every ranked
quantity among L evenly spaced draws (see :mod:`bayesmixed.quantities.rank_uniformity` for
the two uniformity tests).

Priors must stay fixed across simulations: the package defaults are scaled by y, so
``priors=None`` resolves them once, from the model's observed y, and passes exactly those to
every fit. Improper priors (flat) cannot be drawn from and are refused.

Ranked quantities: every fixed effect (the reported, uncentred γ — the intercept prior is
on the centred intercept, so this checks the back-transform), every τ and correlation, σ,
and the random effects of the first ``ranef_levels`` levels of each term (for the marginal
parameterization b is drawn afterwards from p(b | y, θ), so it needs checking apart).

Fitting: ``"marginal"`` goes through the package's sampling path (nutpie on a NumPy log
density, no compilation, about a second per fit). ``"noncentered"`` and ``"centered"``
would rebuild and recompile the PyMC model for every simulated y (5–50 s a fit); instead each
worker process compiles it once with y in a ``pm.Data`` container and swaps y in for every
simulation. Every simulation is a task of :func:`bayesmixed.batch.run_tasks`: the same seed
gives the same data sets and ranks locally, on Dask, and for every parameterization (the
truth and y use a task's generator before the sampler's seed is taken from it).
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
import warnings
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from ..batch import run_tasks
from ..bayes.power_scaling import parameter_draws
from ..errors import ArgumentError, PriorError
from .rank_uniformity import chi2_uniform, ecdf_uniform, flagged, rank_of

__all__ = ["sbc", "SBCResult"]

_COMPILED: dict[str, tuple] = {}  # per process: token → (compiled model, graph info)
# set by bayesmixed.views.plots.calibration when it loads (views sit above quantities)
_RENDERER = None


@dataclass
class SBCResult:
    """Ranks of a simulation-based calibration.

    Attributes
    ----------
    ranks : pandas.DataFrame
        One row per simulation × ranked quantity: sim, parameter, truth, rank (0..L),
        min_ess (smallest bulk ESS of the fit over the ranked quantities), divergences,
        seconds.
    L : int
        Thinned draws per fit (ranks run 0..L).
    parameterization : str
    errors : list of str
        Messages of the simulations whose fit failed.

    ``result.plot()`` (or ``bayesmixed.plots.sbc_ranks`` / ``sbc_ecdf``) draws the rank
    histograms and the ECDF-difference plots.
    """

    ranks: pd.DataFrame
    L: int
    parameterization: str
    errors: list

    def summary(self) -> pd.DataFrame:
        """Per parameter: parameter, n, mean_rank (mean rank / L; 0.5 if calibrated), chi2_p,
        ecdf_p, flagged (p < 0.01 on both tests, the ECDF test alone when χ² is NaN, or
        < 0.001 on either)."""
        out = []
        for k, grp in self.ranks.groupby("parameter", sort=False):
            r = grp["rank"].to_numpy()
            chi, ecd = chi2_uniform(r, self.L), ecdf_uniform(r, self.L)
            out.append(
                {
                    "parameter": k,
                    "n": r.size,
                    "mean_rank": float(np.mean(r) / self.L),
                    "chi2_p": chi,
                    "ecdf_p": ecd,
                    "flagged": flagged(chi, ecd),
                }
            )
        return pd.DataFrame(out)

    def diagnostics(self) -> pd.DataFrame:
        """One row: n_sims, failed, median_s_per_fit, total_s, fits_with_divergences,
        divergent_draws (per fit), median_min_ess, fits_min_ess_below_L (where the thinned
        draws are still autocorrelated, which by itself makes histograms ∪-shaped)."""
        g = self.ranks.drop_duplicates("sim")
        n = max(len(g), 1)
        return pd.DataFrame(
            [
                {
                    "n_sims": len(g),
                    "failed": len(self.errors),
                    "median_s_per_fit": float(g["seconds"].median()),
                    "total_s": float(g["seconds"].sum()),
                    "fits_with_divergences": float((g["divergences"] > 0).mean()),
                    "divergent_draws": float(g["divergences"].sum() / n),
                    "median_min_ess": float(g["min_ess"].median()),
                    "fits_min_ess_below_L": float((g["min_ess"] < self.L).mean()),
                }
            ]
        )

    def plot(self, kind: str = "hist", **kwargs):
        """Rank histograms (``kind="hist"``, :func:`bayesmixed.plots.sbc_ranks`) or ECDF
        differences with their simultaneous band (``kind="ecdf"``,
        :func:`bayesmixed.plots.sbc_ecdf`)."""
        if _RENDERER is None:
            raise ArgumentError(
                "the plots live in bayesmixed.plots: call bm.plots.sbc_ranks(result) "
                "(or import bayesmixed.plots once, after which result.plot() works)"
            )
        return _RENDERER(self, kind, **kwargs)

    def __repr__(self) -> str:
        return (
            f"SBCResult: {self.ranks['sim'].nunique()} simulations, L = {self.L}, "
            f"{self.parameterization}\n{self.summary().to_string(index=False)}"
        )


def ranked_quantities(ds, ranef_levels: int) -> dict[str, np.ndarray]:
    """Draws of every ranked quantity in a posterior or prior Dataset, by label."""
    out = parameter_draws(_AsIdata(ds))
    for var in ds.data_vars:
        if var.startswith("b_"):
            term = var[2:]
            lev, cdim = f"{term}__level", f"{term}__coef"
            for level in ds[var].coords[lev].values[:ranef_levels]:
                for c in ds[var].coords[cdim].values:
                    sel = ds[var].sel({lev: level, cdim: c}).values.reshape(-1)
                    out[f"b|{term}[{level},{c}]"] = sel
    return out


class _AsIdata:
    """A Dataset seen as an InferenceData with that posterior (for parameter_draws)."""

    def __init__(self, ds):
        self.posterior = ds


def _min_ess(draws: dict, chains: int) -> float:
    import arviz as az

    # ArviZ would compile a numba kernel afresh in every worker; NumPy is as fast here
    flag = az.Numba.numba_flag
    az.Numba.numba_flag = False
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return float(min(az.ess(d.reshape(chains, -1)) for d in draws.values()))
    finally:
        az.Numba.numba_flag = flag


def _fit_compiled(token, design, ps, parameterization, settings, seed):
    """Sample a non-marginal model compiled once per process, with the simulated y swapped in."""
    import nutpie

    from ..bayes.graph import build_model
    from ..bayes.posterior import assemble
    from ..bayes.raw_draws import RawDraws, _from_arrays, _stats_from_idata

    if token not in _COMPILED:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, info = build_model(design, ps, parameterization, mutable_y=True)
            _COMPILED[token] = (nutpie.compile_pymc_model(model, backend="numba"), info)
    compiled, info = _COMPILED[token]
    cm = compiled.with_data(**{info.y_data: design.y})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = nutpie.sample(cm, seed=seed, progress_bar=False, **settings)
    post = {k: np.asarray(v.values) for k, v in idata.posterior.data_vars.items()}
    parts = _from_arrays(post, design, info)
    raw = RawDraws(
        beta_c=parts["beta_c"],
        sigma=parts["sigma"],
        sds=parts["sds"],
        cpcs=parts["cpcs"],
        b=parts["b"] or None,
        z=parts["z"] or None,
        stats=_stats_from_idata(idata),
        sampler="nutpie",
    )
    return assemble(raw, design, info, ps, seed, prior_draws_n=0).idata


def _reml_start(design):
    from ..reml.optimize import OptControl, fit_lmm

    fit = fit_lmm(design, reml=True, control=OptControl(check_conv=False))
    return fit.beta.copy(), fit.sigma, fit.covs


def _one_sbc(_, rng, design, ps, prior_dict, parameterization, settings, L, ranef_levels, token):
    """Draw θ and y from the prior, sample the posterior, rank every quantity."""
    from ..bayes.graph import graph_info
    from ..bayes.pipeline import sample_design
    from ..bayes.posterior import prior_groups

    info = graph_info(design, parameterization)
    prior, pp = prior_groups(design, info, ps, rng, 1)
    truth = {k: float(v[0]) for k, v in ranked_quantities(prior, ranef_levels).items()}
    sim = dataclasses.replace(design, y=np.asarray(pp["y"].values[0, 0], float))
    seed = int(rng.integers(2**31))
    t0 = time.perf_counter()
    if parameterization == "marginal":
        fit = sample_design(
            sim,
            sampler="nutpie",
            priors=prior_dict,
            parameterization="marginal",
            random_seed=seed,
            progressbar=False,
            prior_draws=0,
            check=False,
            start=partial(_reml_start, sim) if sim.terms else None,
            **settings,
        )
        idata = fit.idata
    else:
        nut = {k: v for k, v in settings.items() if k != "cores" or v is not None}
        idata = _fit_compiled(token, sim, ps, parameterization, nut, seed)
    secs = time.perf_counter() - t0
    div = idata.sample_stats.get("diverging")
    draws = ranked_quantities(idata.posterior, ranef_levels)
    return {
        "truth": truth,
        "rank": {k: rank_of(draws[k], v, L) for k, v in truth.items()},
        "min_ess": _min_ess(draws, int(idata.posterior.sizes["chain"])),
        "divergences": int(np.asarray(div.values).sum()) if div is not None else 0,
        "seconds": secs,
    }


def sbc(
    model,
    n_sims: int = 200,
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    priors: dict | None = None,
    parameterization: str = "auto",
    L: int = 99,
    ranef_levels: int = 2,
    target_accept: float = 0.8,
    random_seed=None,
    client=None,
    n_workers: int | None = None,
    progressbar: bool = False,
) -> SBCResult:
    """Simulation-based calibration of the Bayesian engine on a model's design.

    Parameters
    ----------
    model : MixedModel
        Its design (X, Z, grouping) is kept; θ and y are drawn afresh per simulation.
    n_sims : int
        Simulations.
    draws, tune, chains : int
        Per fit. The draws are thinned to ``L``: keep ``chains × draws`` well above L
        and the ESS above L, or autocorrelation alone makes the histograms ∪-shaped.
    priors : dict, optional
        Overrides as for :meth:`MixedModel.sample`; the resolved priors (defaults from the
        observed y) are fixed for every simulation. They must be proper.
    parameterization : {"auto", "marginal", "noncentered", "centered"}
    L : int
        Thinned draws per fit; ranks run 0..L.
    ranef_levels : int
        Random effects of this many levels per term are ranked too.
    target_accept : float
    random_seed : int, optional
        Same seed → same ranks, locally and on Dask.
    client : distributed.Client or str, optional
        Run the simulations on a Dask cluster.
    n_workers : int, optional
        Local processes (default every core; 1 runs here).
    progressbar : bool

    Returns
    -------
    SBCResult
        ``.ranks``, ``.summary()``, ``.diagnostics()``.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    >>> res = bm.sbc(m, n_sims=2, draws=100, tune=100, random_seed=1, n_workers=1)
    >>> res.summary()["parameter"].tolist()[:3]
    ['(Intercept)', 'sd__(Intercept)|Batch', 'sigma']
    """
    from ..bayes.graph import graph_info
    from ..bayes.posterior import prior_groups
    from ..bayes.priors import resolve_priors

    if getattr(model, "residual", None) is not None:
        raise ArgumentError("sbc() does not support residual= structures yet")
    design = model.design
    for name, v, lo in (("n_sims", n_sims, 1), ("L", L, 1), ("ranef_levels", ranef_levels, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ArgumentError(f"{name} must be an integer >= {lo}, got {v!r}")
    if chains * draws < L:
        raise ArgumentError(f"chains × draws ({chains * draws}) must be at least L ({L})")
    ps = resolve_priors(design, priors)
    info = graph_info(design, parameterization)
    try:  # the truth is drawn from the prior: refuse improper priors before any work
        prior_groups(design, info, ps, np.random.default_rng(0), 1)
    except PriorError as exc:
        raise ArgumentError(f"sbc() draws the truth from the priors: {exc}") from exc
    prior_dict = {**ps.fixed, **ps.sd, **ps.cor, "sigma": ps.sigma}
    local_pool = client is None and (n_workers or os.cpu_count() or 1) > 1
    settings = {
        "draws": draws,
        "tune": tune,
        "chains": chains,
        # parallel simulations already fill the cores; chains in threads would oversubscribe
        "cores": 1 if (client is not None or local_pool) else None,
        "target_accept": float(target_accept),
    }
    func = partial(
        _one_sbc,
        design=design,
        ps=ps,
        prior_dict=prior_dict,
        parameterization=info.parameterization,
        settings=settings,
        L=int(L),
        ranef_levels=int(ranef_levels),
        token=uuid.uuid4().hex,
    )
    results = run_tasks(
        func,
        range(int(n_sims)),
        random_seed=random_seed,
        client=client,
        n_workers=n_workers,
        progressbar=progressbar,
    )
    rows, errors = [], []
    for r in results:
        if not r.ok:
            errors.append(r.error)
            continue
        v = r.value
        for k, t in v["truth"].items():
            rows.append(
                {"sim": r.index, "parameter": k, "truth": t, "rank": v["rank"][k],
                 "min_ess": v["min_ess"], "divergences": v["divergences"],
                 "seconds": v["seconds"]}
            )  # fmt: skip
    cols = ["sim", "parameter", "truth", "rank", "min_ess", "divergences", "seconds"]
    return SBCResult(pd.DataFrame(rows, columns=cols), int(L), info.parameterization, errors)
