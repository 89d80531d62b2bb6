"""Design + residual design + priors → the PyMC model with the marginal MvNormal likelihood.

Variables (PyMC names): the fixed effects as :func:`bayesmixed.bayes.graph.graph_info` names
them (centred X); the random terms' ``sd__c|g`` and ``cor|g`` (canonical partial
correlations, LKJ); per by-level the residual SDs ``sd__Observation|Residual`` or
``sd__<visit>|Residual``, the correlation parameters ``rho|Residual`` (``rho__a.b|...``,
``pacf__lag<k>|...``) as deterministic rescalings of a Beta (``<name>__unit``), and for UN
the canonical partial correlations ``cor|Residual``. The likelihood is a ``pm.Potential``
(``marginal_loglik``) of :func:`~bayesmixed.bayes.residual.likelihood.marginal_logp`.

UN samples LKJ(η) through Beta-distributed canonical partial correlations with separate
per-visit SDs, not ``pm.LKJCholeskyCov``: every CPC then has its own smooth logit transform
(no constrained Cholesky entries), each visit's SD takes its own named prior
(``sd__T3|Residual``), and the SDs keep the data scale the REML fit reports.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ...design.build import Design
from ...design.residual import ResidualDesign
from ..graph import GraphInfo, _chol_from_cpc, _cpc_betas, _probe_blas_quietly, graph_info
from .correlation import correlation_matrix, numeric_correlation
from .layout import LevelLayout, level_layouts
from .likelihood import Padded, marginal_logp, pad_subjects
from .priors import ResidualPriorSet, rho_scale

__all__ = ["ResidualGraph", "build_residual_model", "residual_graph_info"]


@dataclass
class ResidualGraph:
    """What the builder did: the package's GraphInfo plus the residual layout."""

    info: GraphInfo
    layouts: list[LevelLayout]
    pad: Padded
    rd: ResidualDesign

    @property
    def names(self) -> list[str]:
        """Every reported variable of the model, in a fixed order."""
        info = self.info
        out = [*info.fixed_rv, *(n for s in info.sd_rv for n in s)]
        out += [c for c in info.cor_rv if c]
        for lay in self.layouts:
            out += lay.sd_keys + lay.rho_keys + ([lay.cor_key] if lay.cor_key else [])
        return out


def residual_graph_info(design: Design, rd: ResidualDesign) -> ResidualGraph:
    """Names, centring and the padded subjects, without building the PyMC graph."""
    info = graph_info(design, "noncentered")
    info.parameterization = "marginal"
    info.structure = f"residual {rd.spec.name}"
    pad = pad_subjects(design, rd, design.X - info.xmeans)
    return ResidualGraph(info, level_layouts(rd), pad, rd)


def _level_params(lay: LevelLayout, priors: ResidualPriorSet):
    """Create one by-level's RVs; return (sds list, rhos list, cpcs or None)."""
    import pymc as pm

    sds = [priors.residual[k].create(k) for k in lay.sd_keys]
    rhos = []
    for k in lay.rho_keys:
        pr = priors.residual[k]
        a, w = rho_scale(pr, *priors.bounds[k])
        if pr.dist == "beta":
            u = pm.Beta(f"{k}__unit", alpha=pr.params["alpha"], beta=pr.params["beta"])
        else:
            u = pm.Uniform(f"{k}__unit", lower=0.0, upper=1.0)
        rhos.append(pm.Deterministic(k, a + w * u))
    cpcs = None
    if lay.cor_key:
        T = lay.cov.dim
        eta = float(priors.residual[lay.cor_key].params.get("eta", 1.0))
        bp = _cpc_betas(T, eta)
        cpcs = 2.0 * pm.Beta(lay.cor_key, alpha=bp, beta=bp, shape=len(bp)) - 1.0
    return sds, rhos, cpcs


def _residual_cov(g: ResidualGraph, params):
    """Residual covariance of every subject's slots: (N, m, m), or (m, m) when one by-level
    and one visit pattern make it the same for all subjects."""
    import pytensor.tensor as pt

    pad, layouts = g.pad, g.layouts
    lvl = pad.level
    one_level = len(layouts) == 1
    if layouts[0].cov.numeric:
        sd = pt.stack([p[0][0] for p in params])
        rho = pt.stack([p[1][0] for p in params])
        dt = np.abs(pad.times[:, :, None] - pad.times[:, None, :])
        s2, r = (
            (sd[0] ** 2, rho[0]) if one_level else ((sd**2)[lvl, None, None], rho[lvl, None, None])
        )
        return s2 * numeric_correlation(r, dt)
    T = layouts[0].cov.dim
    Cs, Ss = [], []
    for lay, (sds, rhos, cpcs) in zip(layouts, params, strict=True):
        Cs.append(correlation_matrix(lay.cov, rhos, cpcs))
        Ss.append(pt.stack(sds) if lay.cov.heterogeneous else pt.ones(T) * sds[0])
    if one_level and pad.complete and (pad.pos == pad.pos[0]).all():
        # every subject has the same visits: one matrix for all
        p0 = pad.pos[0]
        s = Ss[0][p0]
        return s[:, None] * Cs[0][p0][:, p0] * s[None, :]
    C, S = pt.stack(Cs), pt.stack(Ss)
    pos = pad.pos
    s = S[lvl[:, None], pos]  # (N, m)
    return s[:, :, None] * C[lvl[:, None, None], pos[:, :, None], pos[:, None, :]] * s[:, None, :]


def build_residual_model(design: Design, rd: ResidualDesign, priors: ResidualPriorSet, start=None):
    """Build the PyMC model (see the module notes).

    ``start``: optional (β of the uncentred X) to initialize the fixed effects; least squares
    otherwise.

    Returns
    -------
    (pymc.Model, ResidualGraph)
    """
    import pymc as pm
    import pytensor.tensor as pt

    _probe_blas_quietly()
    g = residual_graph_info(design, rd)
    info = g.info
    Xc = design.X - info.xmeans
    b0 = np.linalg.lstsq(Xc, design.y, rcond=None)[0] if start is None else np.asarray(start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pm.Model(coords={"fixed": list(design.xnames)}) as model:
            betas = [
                priors.fixed[name].create(rv, initval=float(b0[j]))
                for j, (name, rv) in enumerate(zip(design.xnames, info.fixed_rv, strict=True))
            ]
            beta = pt.stack(betas) if betas else pt.zeros((0,))
            chols = []
            for ti, t in enumerate(design.terms):
                sds = [priors.sd[n].create(n) for n in info.sd_rv[ti]]
                if t.k > 1:
                    eta = float(priors.cor[info.cor_rv[ti]].params.get("eta", 1.0))
                    bp = _cpc_betas(t.k, eta)
                    u = pm.Beta(info.cor_rv[ti], alpha=bp, beta=bp, shape=len(bp))
                    Lc = _chol_from_cpc(2.0 * u - 1.0, t.k)
                else:
                    Lc = [[pt.constant(1.0)]]
                zero = pt.constant(0.0)
                rows = [
                    pt.stack([sds[a] * Lc[a][b] if b <= a else zero for b in range(t.k)])
                    for a in range(t.k)
                ]
                chols.append(pt.stack(rows))
            params = [_level_params(lay, priors) for lay in g.layouts]
            R = _residual_cov(g, params)
            pm.Potential("marginal_loglik", marginal_logp(g.pad, beta, R, chols))
    return model, g
