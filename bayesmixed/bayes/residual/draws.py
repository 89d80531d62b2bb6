"""Draws of a residual-structure model → reported parameters, Components and InferenceData.

Posterior variables: ``beta`` [fixed] (intercept uncentred), ``sigma`` (the first visit's
SD of the first by-level, as nlme's σ), ``sd_<term>``, ``cor_<term>``, ``b_<term>`` for the
random terms (b drawn exactly given each draw, see :mod:`.subjects`), and ``residual``
[residual_par]: the structure's reported parameters, labelled ``<term>|<group>`` with the
REML fit's names (``sd__T0|Residual``, ``rho|Residual``, ``cor__lag1|Residual``...).
``log_likelihood`` holds the marginal log density of each subject's visits (dim
``subject``); ``log_prior`` the priors' log densities of β, the SDs and the correlation
parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from ...design.build import Design
from ...results.components import Components
from ..posterior import _prior_lp, cpc_to_corr_chol
from .graph import ResidualGraph
from .priors import ResidualPriorSet, rho_logp
from .subjects import subject_draws

__all__ = ["ResidualDraws", "map_residual_draws"]


@dataclass
class ResidualDraws:
    """Everything :class:`~bayesmixed.bayes.residual.fit.ResidualBayesFit` needs."""

    idata: object
    components: Components
    labels: list[tuple[str, str]]  # (group, term) of each residual parameter
    values: np.ndarray  # (C, D, K) reported residual parameters
    params: list  # per level (S, n_params): the structure's unconstrained parameters
    scale: list  # per level (S,): the SD of the first visit


def _level_values(lay, post, C, D):
    sds = np.stack([post[k] for k in lay.sd_keys], axis=-1)
    rhos = (
        np.stack([post[k] for k in lay.rho_keys], axis=-1) if lay.rho_keys else np.zeros((C, D, 0))
    )
    cpcs = 2.0 * np.asarray(post[lay.cor_key]) - 1.0 if lay.cor_key else np.zeros((C, D, 0))
    return sds, rhos, cpcs


def _residual_matrices(g: ResidualGraph, par: list, sds: list, rhos: list, S: int):
    """A callable sl → residual covariance (s, N, m, m) of every subject (data scale)."""
    pad, layouts = g.pad, g.layouts
    lvl = pad.level
    if layouts[0].cov.numeric:
        # ρ^|Δt| from the subjects' own times (the grid of distinct times may be long)
        rho = np.stack([r[:, 0] for r in rhos])  # (L, S)
        s2 = np.stack([sd[:, 0] ** 2 for sd in sds])
        dt = np.abs(pad.times[:, :, None] - pad.times[:, None, :])

        def numeric(sl):
            r, v = rho[lvl, sl].T, s2[lvl, sl].T  # (s, N)
            return v[:, :, None, None] * r[:, :, None, None] ** dt

        return numeric
    # discrete visits: the T×T matrix of every draw and level, gathered per subject
    full = []
    for lay, p, sd in zip(layouts, par, sds, strict=True):
        cor = np.stack([lay.cov.cor_full(p[i, lay.cov.n_sd :]) for i in range(S)])
        s = sd if lay.cov.heterogeneous else np.repeat(sd, lay.cov.dim, axis=1)
        full.append(s[:, :, None] * cor * s[:, None, :])
    full = np.stack(full, axis=1)  # (S, L, T, T)
    pos = pad.pos

    def discrete(sl):
        return full[sl][:, lvl[:, None, None], pos[:, :, None], pos[:, None, :]]

    return discrete


def map_residual_draws(
    post: dict,
    stats: dict,
    design: Design,
    g: ResidualGraph,
    priors: ResidualPriorSet,
    seed: int | None,
) -> ResidualDraws:
    """Map the sampled variables (dict of (chain, draw, ...) arrays) to the reported ones."""
    info = g.info
    rng = np.random.default_rng(None if seed is None else seed + 7919)
    beta_c = np.stack([np.asarray(post[n]) for n in info.fixed_rv], axis=-1)
    C, D = beta_c.shape[:2]
    S = C * D
    beta = beta_c.copy()
    if info.intercept is not None:
        beta[..., info.intercept] = beta_c[..., info.intercept] - beta_c @ info.xmeans
    # random terms
    sds_t, Lcs, chols = [], [], []
    for ti, t in enumerate(design.terms):
        sd = np.stack([np.asarray(post[n]) for n in info.sd_rv[ti]], axis=-1)
        if t.k > 1:
            Lc = cpc_to_corr_chol(2.0 * np.asarray(post[info.cor_rv[ti]]) - 1.0, t.k)
        else:
            Lc = np.ones((C, D, 1, 1))
        sds_t.append(sd)
        Lcs.append(Lc)
        chols.append((sd[..., :, None] * Lc).reshape(S, t.k, t.k))
    # residual structure: reported values per level, on the REML fit's labels
    labels, values, par, sds_l, rhos_l = [], [], [], [], []
    avg_var = np.zeros(S)
    for lv, lay in enumerate(g.layouts):
        sds, rhos, cpcs = _level_values(lay, post, C, D)
        u = lay.unconstrained(sds, rhos, cpcs).reshape(S, -1)
        sd_flat = sds.reshape(S, -1)
        cors = np.stack([lay.cov.cor_report(u[i, lay.cov.n_sd :]) for i in range(S)])
        values.append(np.concatenate([sd_flat, cors.reshape(S, -1)], axis=1))
        labels += [(lay.group, lab) for lab in lay.cov.labels]
        par.append(u)
        sds_l.append(sd_flat)
        rhos_l.append(rhos.reshape(S, -1))
        rows = g.rd.by_codes == lv
        if lay.cov.heterogeneous:
            avg_var += (sd_flat[:, g.rd.time_pos[rows]] ** 2).sum(axis=1)
        else:
            avg_var += rows.sum() * sd_flat[:, 0] ** 2
    values = np.concatenate(values, axis=1).reshape(C, D, -1)
    sigma = sds_l[0][:, 0].reshape(C, D)
    R = _residual_matrices(g, par, sds_l, rhos_l, S)
    ll, bs = subject_draws(design, g.pad, beta_c.reshape(S, -1), R, chols, rng)

    coords = {"chain": np.arange(C), "draw": np.arange(D), "fixed": list(design.xnames)}
    keys = [f"{term}|{group}" for group, term in labels]
    coords["residual_par"] = keys
    pv = {
        "beta": (("chain", "draw", "fixed"), beta),
        "sigma": (("chain", "draw"), sigma),
        "residual": (("chain", "draw", "residual_par"), values),
    }
    for ti, t in enumerate(design.terms):
        cdim, ldim = f"{t.name}__coef", f"{t.name}__level"
        coords[cdim], coords[ldim] = list(t.cnames), list(t.levels)
        pv[f"sd_{t.name}"] = (("chain", "draw", cdim), sds_t[ti])
        if t.k > 1:
            coords[f"{cdim}_bis"] = list(t.cnames)
            pv[f"cor_{t.name}"] = (
                ("chain", "draw", cdim, f"{cdim}_bis"),
                Lcs[ti] @ np.swapaxes(Lcs[ti], -1, -2),
            )
        pv[f"b_{t.name}"] = (
            ("chain", "draw", ldim, cdim),
            bs[ti].reshape((C, D) + bs[ti].shape[1:]),
        )
    posterior = xr.Dataset({k: xr.DataArray(v[1], dims=v[0]) for k, v in pv.items()}, coords=coords)
    chain_draw = {"chain": np.arange(C), "draw": np.arange(D)}
    groups = {
        "posterior": posterior,
        "observed_data": xr.Dataset({"y": xr.DataArray(design.y, dims=("obs",))}),
        "log_likelihood": xr.Dataset(
            {"y": xr.DataArray(ll.reshape(C, D, -1), dims=("chain", "draw", "subject"))},
            coords={**chain_draw, "subject": list(g.rd.subjects)},
        ),
        "log_prior": _log_prior(beta_c, post, design, g, priors, chain_draw),
    }
    st = {
        k: xr.DataArray(np.asarray(v).reshape(C, D), dims=("chain", "draw"))
        for k, v in stats.items()
        if np.asarray(v).size == S
    }
    if "diverging" in st:
        st["diverging"] = st["diverging"].astype(bool)
    groups["sample_stats"] = xr.Dataset(st, coords=chain_draw)

    import arviz as az

    comps = Components(
        design=design,
        beta=beta.reshape(S, -1),
        # the average residual variance over the rows, as the REML fit reports it
        sigma=np.sqrt(avg_var / design.n),
        cov=[L @ np.swapaxes(L, -1, -2) for L in chols],
        b=bs,
        draws=True,
    )
    scale = [sd[:, 0] for sd in sds_l]
    return ResidualDraws(az.InferenceData(**groups), comps, labels, values, par, scale)


def _log_prior(beta_c, post, design, g, priors, chain_draw) -> xr.Dataset:
    info = g.info
    lp = np.stack(
        [_prior_lp(priors.fixed[n], beta_c[..., j]) for j, n in enumerate(design.xnames)], -1
    )
    out = {"beta": xr.DataArray(lp, dims=("chain", "draw", "fixed"))}
    for ti, t in enumerate(design.terms):
        v = np.stack([_prior_lp(priors.sd[n], np.asarray(post[n])) for n in info.sd_rv[ti]], -1)
        out[f"sd_{t.name}"] = xr.DataArray(v, dims=("chain", "draw", f"{t.name}__coef"))
    for lay in g.layouts:
        for k in lay.sd_keys:
            out[k] = xr.DataArray(
                _prior_lp(priors.residual[k], np.asarray(post[k])), dims=("chain", "draw")
            )
        for k in lay.rho_keys:
            lo, hi = priors.bounds[k]
            v = rho_logp(priors.residual[k], np.asarray(post[k]), lo, hi)
            out[k] = xr.DataArray(v, dims=("chain", "draw"))
    return xr.Dataset(out, coords=chain_draw)
