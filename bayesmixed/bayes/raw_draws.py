"""Draws in one common layout, whichever sampler ran: leading (chain, draw) axes for the
centred-X fixed effects, σ, the SDs, the canonical partial correlations and, when sampled or
drawn, the random effects; plus the sampler statistics under ArviZ's names."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..design.build import Design
from .graph import GraphInfo

__all__ = ["RawDraws"]


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


def _scalar_draws(mp, X: np.ndarray, sampler: str, stats: dict, b=None) -> RawDraws:
    """RawDraws from draws X (C, D, ndim) of a layout with ``mp.point``."""
    C, D = X.shape[:2]
    pts = [[mp.point(X[c, d]) for d in range(D)] for c in range(C)]
    nt = len(mp.design.terms)
    return RawDraws(
        beta_c=np.array([[p.beta for p in row] for row in pts]),
        sigma=np.array([[p.sigma for p in row] for row in pts]),
        sds=[np.array([[p.sds[i] for p in row] for row in pts]) for i in range(nt)],
        cpcs=[np.array([[p.cpcs[i] for p in row] for row in pts]) for i in range(nt)],
        b=b,
        stats=stats,
        sampler=sampler,
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
