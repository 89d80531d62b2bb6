"""What ``ResidualBayesFit.save`` writes, and the fit's parts rebuilt (and checked) from it.

A saved posterior of a residual-structure model holds

* in the manifest's state: the structure's name and columns (``AR1(time="visit",
  group="id")``), every prior (the structure's too, with the intervals of the correlation
  parameters), the sampler settings and the labels of the structure's reported parameters;
* in ``arrays.npz``: the draws in the primer's terms that the tables use — ``beta``,
  ``sigma``, ``cov_<i>`` and ``b_<i>`` per random term, ``residual_values`` (chain, draw, K)
  — and, per by-level, the structure's unconstrained parameters ``residual_params_<l>``
  (S, n_params) and the first visit's SD ``residual_scale_<l>`` (S,);
* the InferenceData (``posterior.nc``); the data are the model frame plus the structure's
  columns (subject, visit, by).

Loading (:func:`bayesmixed.load`) trusts none of the numbers: from the structure's
parameters and first-visit SDs it recomputes the reported residual parameters, σ and the
per-subject marginal log-likelihood (with β and the random terms' covariances) and compares
them with the saved draws and the saved ``log_likelihood`` group; β, the random terms'
covariances and the random effects are compared with the InferenceData's posterior.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...design.build import Design
from ...design.residual import ResidualDesign
from ...results.components import Components
from ..priors import Prior, PriorSet
from .draws import _residual_matrices
from .graph import residual_graph_info
from .priors import ResidualPriorSet
from .subjects import subject_draws

if TYPE_CHECKING:  # pragma: no cover
    from .fit import ResidualBayesFit

__all__ = ["KIND", "saved_state", "saved_frame", "priors_from_dict", "restored_fields"]

#: The manifest's ``kind`` of a saved residual-structure posterior.
KIND = "bayes_residual"


def saved_state(fit: ResidualBayesFit) -> tuple[str, dict, dict, object]:
    """(kind, JSON-able state, arrays, InferenceData); see the module notes."""
    c = fit.components_
    arrays = {"beta": c.beta, "sigma": c.sigma, "residual_values": fit.residual_values}
    for i, cv in enumerate(c.cov):
        arrays[f"cov_{i}"] = cv
    for i, b in enumerate(c.b or []):
        arrays[f"b_{i}"] = b
    for lv, (u, sd0) in enumerate(zip(fit.residual_params, fit.residual_scale, strict=True)):
        arrays[f"residual_params_{lv}"] = u
        arrays[f"residual_scale_{lv}"] = sd0
    spec = fit.rd.spec
    state = {
        "structure": {"name": spec.name, "time": spec.time, "group": spec.group, "by": spec.by},
        "residual_labels": [[g, t] for g, t in fit.residual_labels],
        "priors": fit.priors.to_dict(),
        "sampler": fit.sampler,
        "seconds": float(fit.seconds),
        "sampling_seconds": float(fit.sampling_seconds),
        "target_accept": float(fit.target_accept),
    }
    return KIND, state, arrays, fit.idata


def saved_frame(fit: ResidualBayesFit) -> pd.DataFrame:
    """The model frame plus the structure's columns the formula does not use (same rows)."""
    frame = fit.design.frame
    extra = [c for c in fit.rd.spec.columns if c not in frame.columns]
    if not extra:
        return frame
    out = frame.copy()
    for c in extra:
        out[c] = fit.rd.data[c].to_numpy()
    return out


def priors_from_dict(d: dict) -> ResidualPriorSet:
    """The :class:`ResidualPriorSet` of its ``to_dict()``.

    Examples
    --------
    >>> import pandas as pd, bayesmixed as bm
    >>> from bayesmixed.spec import parse_formula
    >>> from bayesmixed.design.residual import build_residual_design
    >>> from bayesmixed.bayes.residual import resolve_residual_priors
    >>> d = pd.DataFrame({"id": list("aabbcc"), "visit": ["T0", "T1"] * 3,
    ...                   "y": [1.0, 2.0, 3.0, 5.0, 4.0, 4.0]})
    >>> design, rd = build_residual_design(parse_formula("y ~ 1"), d,
    ...                                    bm.residual.AR1(time="visit", group="id"))
    >>> ps = resolve_residual_priors(design, rd, None)
    >>> priors_from_dict(ps.to_dict()).table().equals(ps.table())
    True
    """
    base = PriorSet.from_dict(d)
    return ResidualPriorSet(
        fixed=base.fixed,
        sd=base.sd,
        cor=base.cor,
        sigma=base.sigma,
        source=base.source,
        residual={k: Prior(e["dist"], **e["params"]) for k, e in d["residual"].items()},
        bounds={k: (float(v[0]), float(v[1])) for k, v in d["bounds"].items()},
    )


def _factor(cov: np.ndarray) -> np.ndarray:
    """F with F F' = cov for every draw (S, k, k); eigenvalues clipped at 0, so that a
    covariance that is singular to rounding still factors."""
    lam, Q = np.linalg.eigh(cov)
    return Q * np.sqrt(np.clip(lam, 0.0, None))[:, None, :]


def _posterior_cov(post, t) -> np.ndarray:
    sd = np.asarray(post[f"sd_{t.name}"].values, float)
    S = sd.shape[0] * sd.shape[1]
    sd = sd.reshape(S, t.k)
    if t.k == 1:
        return (sd**2)[:, :, None]
    cor = np.asarray(post[f"cor_{t.name}"].values, float).reshape(S, t.k, t.k)
    return sd[:, :, None] * cor * sd[:, None, :]


def restored_fields(
    design: Design, rd: ResidualDesign, state: dict, arrays: dict, idata
) -> tuple[dict, list[tuple[str, np.ndarray, np.ndarray]]]:
    """The fields of the saved :class:`ResidualBayesFit`, and what loading must reproduce.

    Returns
    -------
    fields : dict
        Keyword arguments of ``ResidualBayesFit``, from the saved state and draws.
    checks : list of (what, saved, recomputed)
        Each saved quantity beside the same quantity recomputed from the structure's
        parameters or read from the InferenceData (see the module notes).
    """
    g = residual_graph_info(design, rd)
    info = g.info
    post = idata.posterior
    C, D = int(post.sizes["chain"]), int(post.sizes["draw"])
    S = C * D
    beta = np.asarray(arrays["beta"], float)
    k = len(design.terms)
    covs = [np.asarray(arrays[f"cov_{i}"], float) for i in range(k)]
    bs = [np.asarray(arrays[f"b_{i}"], float) for i in range(k)]
    params = [np.asarray(arrays[f"residual_params_{lv}"], float) for lv in range(rd.n_levels)]
    scale = [np.asarray(arrays[f"residual_scale_{lv}"], float) for lv in range(rd.n_levels)]
    values = np.asarray(arrays["residual_values"], float)

    # the structure's reported parameters and σ, from its parameters and first-visit SDs
    sds, rhos, reported = [], [], []
    avg_var = np.zeros(S)
    for lv, lay in enumerate(g.layouts):
        cov, u, sd0 = lay.cov, params[lv], scale[lv]
        ratios = np.exp(u[:, : cov.n_sd]) if cov.heterogeneous else np.zeros((S, 0))
        sd = sd0[:, None] * np.concatenate([np.ones((S, 1)), ratios], axis=1)
        cors = np.stack([cov.cor_report(u[i, cov.n_sd :]) for i in range(S)]).reshape(S, -1)
        sds.append(sd)
        rhos.append(cors)
        reported.append(np.concatenate([sd, cors], axis=1))
        rows = rd.by_codes == lv
        if cov.heterogeneous:
            avg_var += (sd[:, rd.time_pos[rows]] ** 2).sum(axis=1)
        else:
            avg_var += rows.sum() * sd[:, 0] ** 2
    reported = np.concatenate(reported, axis=1).reshape(C, D, -1)

    # the per-subject marginal log-likelihood (β of the centred X, as it was sampled)
    beta_c = beta.copy()
    if info.intercept is not None:
        beta_c[:, info.intercept] = beta[:, info.intercept] + beta @ info.xmeans
    R = _residual_matrices(g, params, sds, rhos, S)
    # the random effects this draws are discarded: the seed is irrelevant
    ll, _ = subject_draws(
        design, g.pad, beta_c, R, [_factor(c) for c in covs], np.random.default_rng(0)
    )

    saved_ll = np.asarray(idata.log_likelihood["y"].values, float)
    checks = [
        ("posterior of the fixed effects", np.asarray(post["beta"].values).reshape(S, -1), beta),
        ("residual parameters", values, reported),
        ("residual parameters", np.asarray(post["residual"].values), values),
        ("residual SD", np.asarray(arrays["sigma"], float), np.sqrt(avg_var / design.n)),
        ("first visit's SD", np.asarray(post["sigma"].values).reshape(S), sds[0][:, 0]),
        ("pointwise log-likelihood", saved_ll.reshape(ll.shape), ll),
    ]
    for i, t in enumerate(design.terms):
        checks.append((f"covariance of the {t.name} effects", covs[i], _posterior_cov(post, t)))
        saved_b = np.asarray(post[f"b_{t.name}"].values).reshape(bs[i].shape)
        checks.append((f"{t.name} random effects", bs[i], saved_b))

    fields = {
        "idata": idata,
        "design": design,
        "priors": priors_from_dict(state["priors"]),
        "info": info,
        "components_": Components(
            design=design, beta=beta, sigma=np.asarray(arrays["sigma"]), cov=covs, b=bs, draws=True
        ),
        "sampler": state["sampler"],
        "seconds": state["seconds"],
        "sampling_seconds": state["sampling_seconds"],
        "target_accept": state["target_accept"],
        "rd": rd,
        "residual_labels": [tuple(x) for x in state["residual_labels"]],
        "residual_values": values,
        "residual_params": params,
        "residual_scale": scale,
    }
    return fields, checks
