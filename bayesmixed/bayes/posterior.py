"""Draws → the primer's quantities and an ArviZ InferenceData.

Posterior variables (dims in brackets):

* ``beta`` [fixed] — γ, with the intercept back on the uncentred scale;
* ``sigma`` — residual SD;
* ``sd_<term>`` [<term>__coef] — random-effect SDs τ;
* ``cor_<term>`` [<term>__coef, <term>__coef_bis] — correlation matrix (terms with k > 1);
* ``b_<term>`` [<term>__level, <term>__coef] — random effects (BLUPs), also for the marginal
  parameterization, where they are drawn exactly from p(b | y, β, σ, Σ) for every draw.

``<term>`` is the term's unique name (``Subject``, ``Subject.1``, ``cask:batch``). The
``log_likelihood`` group holds the pointwise conditional log-likelihood log N(y_i | μ_i, σ)
(what brms and bambi use for LOO), ``log_prior`` the prior log densities of γ, σ, τ and the
correlations (what ``az.psens`` power-scales), ``prior``/``prior_predictive`` draws from the
prior.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..design.build import Design
from ..results.components import Components
from ..results.predictor import linear_predictor, training_matrices
from .densities import prior_draws, prior_logp
from .graph import GraphInfo, _cpc_betas
from .marginal.likelihood import MarginalModel
from .priors import PriorSet
from .samplers import RawDraws

__all__ = ["cpc_to_corr_chol", "assemble", "Assembled"]

# Above this many (draw × observation) cells the pointwise log-likelihood is not stored.
LOGLIK_CELLS = 20_000_000


def cpc_to_corr_chol(w: np.ndarray, k: int) -> np.ndarray:
    """Correlation Cholesky factors from CPCs, vectorized over leading axes of ``w``."""
    lead = w.shape[:-1]
    L = np.zeros(lead + (k, k))
    L[..., 0, 0] = 1.0
    pos = {}
    c = 0
    for i in range(k - 1):
        for j in range(i + 1, k):
            pos[(i, j)] = c
            c += 1
    for j in range(1, k):
        rem = np.ones(lead)
        for i in range(j):
            L[..., j, i] = w[..., pos[(i, j)]] * np.sqrt(rem)
            rem = rem - L[..., j, i] ** 2
        L[..., j, j] = np.sqrt(np.clip(rem, 0.0, None))
    return L


class Assembled:
    """Mapped draws: everything BayesFit needs."""

    def __init__(self, idata, components: Components, chains: int, draws: int):
        self.idata = idata
        self.components = components
        self.chains = chains
        self.draws = draws


def _lkj_logp(R: np.ndarray, eta: float, k: int) -> np.ndarray:
    from scipy.special import betaln

    # log of LKJ(η)'s normalizing integral (Lewandowski et al. 2009, eq. 16); k=2, η=1 gives
    # log 2 (uniform on (−1, 1)) and k=3, η=1 gives log(π²/2), the volume of 3×3 correlations
    const = 0.0
    for i in range(k - 1):
        b = eta + (k - 2 - i) / 2.0
        const += (k - 1 - i) * ((2 * b - 1) * np.log(2.0) + betaln(b, b))
    _, logdet = np.linalg.slogdet(R)
    return (eta - 1.0) * logdet - const


def assemble(
    raw: RawDraws,
    design: Design,
    info: GraphInfo,
    priors: PriorSet,
    seed: int | None,
    prior_draws_n: int = 500,
) -> Assembled:
    """Map raw draws to named posterior variables, random effects and the ArviZ groups."""
    rng = np.random.default_rng(None if seed is None else seed + 7919)
    C, D = raw.sigma.shape
    terms = design.terms
    beta_c = raw.beta_c
    beta = beta_c.copy()
    if info.intercept is not None:
        beta[..., info.intercept] = beta_c[..., info.intercept] - beta_c @ info.xmeans
    sigma = raw.sigma
    Lcs, Ls, covs = [], [], []
    for ti, t in enumerate(terms):
        Lc = cpc_to_corr_chol(raw.cpcs[ti], t.k) if t.k > 1 else np.ones((C, D, 1, 1))
        L = raw.sds[ti][..., :, None] * Lc
        Lcs.append(Lc)
        Ls.append(L)
        covs.append(L @ np.swapaxes(L, -1, -2))
    # random effects
    if raw.b is not None:
        bs = raw.b
    elif raw.z is not None:
        bs = [np.einsum("cdal,cdjl->cdja", L, z) for L, z in zip(Ls, raw.z, strict=True)]
    elif terms:
        mm = MarginalModel(design, design.X - info.xmeans)
        # one call for all draws, in (chain, draw) order: it consumes the generator as the
        # per-draw calls would (same draws), without a compiled call's dispatch cost per draw
        S = C * D
        many = mm.draw_b_many(
            beta_c.reshape(S, -1),
            sigma.reshape(S),
            [L.reshape((S,) + L.shape[2:]) for L in Ls],
            rng,
        )
        bs = [b.reshape((C, D) + b.shape[1:]) for b in many]
    else:
        bs = []

    coords = {"chain": np.arange(C), "draw": np.arange(D), "fixed": list(design.xnames)}
    post: dict = {"beta": (("chain", "draw", "fixed"), beta), "sigma": (("chain", "draw"), sigma)}
    for ti, t in enumerate(terms):
        cdim, ldim = f"{t.name}__coef", f"{t.name}__level"
        coords[cdim] = list(t.cnames)
        coords[ldim] = list(t.levels)
        post[f"sd_{t.name}"] = (("chain", "draw", cdim), raw.sds[ti])
        if t.k > 1:
            coords[f"{cdim}_bis"] = list(t.cnames)
            R = Lcs[ti] @ np.swapaxes(Lcs[ti], -1, -2)
            post[f"cor_{t.name}"] = (("chain", "draw", cdim, f"{cdim}_bis"), R)
        post[f"b_{t.name}"] = (("chain", "draw", ldim, cdim), bs[ti])
    posterior = xr.Dataset(
        {k: xr.DataArray(v[1], dims=v[0]) for k, v in post.items()},
        coords={k: v for k, v in coords.items()},
    )

    # pointwise conditional log-likelihood
    groups = {"posterior": posterior}
    y = design.y
    n = design.n
    obs_coords = {"obs": np.arange(n)}
    groups["observed_data"] = xr.Dataset({"y": xr.DataArray(y, dims=("obs",), coords=obs_coords)})
    if C * D * n <= LOGLIK_CELLS:
        X, blocks = training_matrices(design)
        mu = linear_predictor(X, beta, blocks, bs)
        s = sigma[..., None]
        ll = -0.5 * ((y - mu) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)
        groups["log_likelihood"] = xr.Dataset(
            {"y": xr.DataArray(ll, dims=("chain", "draw", "obs"))},
            coords={"chain": np.arange(C), "draw": np.arange(D), **obs_coords},
        )
    groups["log_prior"] = _log_prior(beta_c, sigma, raw, design, priors, coords, Lcs)
    stats = {
        k: xr.DataArray(np.asarray(v).reshape(C, D), dims=("chain", "draw"))
        for k, v in raw.stats.items()
        if np.asarray(v).size == C * D
    }
    if "diverging" in stats:
        stats["diverging"] = stats["diverging"].astype(bool)
    groups["sample_stats"] = xr.Dataset(stats, coords={"chain": np.arange(C), "draw": np.arange(D)})
    if prior_draws_n:
        prior, prior_pred = prior_groups(design, info, priors, rng, prior_draws_n)
        groups["prior"] = prior
        groups["prior_predictive"] = prior_pred

    import arviz as az

    idata = az.InferenceData(**groups)
    comps = Components(
        design=design,
        beta=beta.reshape(C * D, -1),
        sigma=sigma.reshape(C * D),
        cov=[cv.reshape((C * D,) + cv.shape[2:]) for cv in covs],
        b=[b.reshape((C * D,) + b.shape[2:]) for b in bs],
        draws=True,
    )
    return Assembled(idata, comps, C, D)


def _prior_lp(prior, v: np.ndarray) -> np.ndarray:
    """log p(v) elementwise over an array of draws."""
    # prior_logp is written with NumPy ufuncs, so one call covers all draws (np.vectorize's
    # per-element Python calls cost more than the rest of the log-prior group); constant
    # densities (flat, uniform) come back as a scalar
    return np.broadcast_to(np.asarray(prior_logp(prior, v)[0], dtype=float), v.shape).copy()


def _log_prior(beta_c, sigma, raw, design, priors, coords, Lcs) -> xr.Dataset:
    C, D = sigma.shape
    lp_beta = np.zeros(beta_c.shape)
    for j, name in enumerate(design.xnames):
        pr = priors.fixed[name]
        lp_beta[..., j] = _prior_lp(pr, beta_c[..., j])
    out = {
        "beta": xr.DataArray(lp_beta, dims=("chain", "draw", "fixed")),
        "sigma": xr.DataArray(_prior_lp(priors.sigma, sigma), dims=("chain", "draw")),
    }
    for ti, t in enumerate(design.terms):
        cdim = f"{t.name}__coef"
        lp = np.zeros(raw.sds[ti].shape)
        for a, c in enumerate(t.cnames):
            pr = priors.sd[f"sd__{c}|{t.name}"]
            lp[..., a] = _prior_lp(pr, raw.sds[ti][..., a])
        out[f"sd_{t.name}"] = xr.DataArray(lp, dims=("chain", "draw", cdim))
        if t.k > 1:
            eta = float(priors.cor[f"cor|{t.name}"].params.get("eta", 1.0))
            R = Lcs[ti] @ np.swapaxes(Lcs[ti], -1, -2)
            out[f"cor_{t.name}"] = xr.DataArray(_lkj_logp(R, eta, t.k), dims=("chain", "draw"))
    return xr.Dataset(out, coords={k: v for k, v in coords.items() if k != "draw" or True})


def prior_groups(design, info, priors, rng, S) -> tuple[xr.Dataset, xr.Dataset]:
    """Forward draws from the prior and the prior predictive distribution (NumPy only)."""
    p = design.p
    beta_c = (
        np.column_stack([prior_draws(priors.fixed[n], rng, S) for n in design.xnames])
        if p
        else np.zeros((S, 0))
    )
    beta = beta_c.copy()
    if info.intercept is not None:
        beta[:, info.intercept] = beta_c[:, info.intercept] - beta_c @ info.xmeans
    sigma = prior_draws(priors.sigma, rng, S)
    bs = []
    data = {
        "beta": xr.DataArray(beta[None], dims=("chain", "draw", "fixed")),
        "sigma": xr.DataArray(sigma[None], dims=("chain", "draw")),
    }
    coords = {"chain": [0], "draw": np.arange(S), "fixed": list(design.xnames)}
    for t in design.terms:
        cdim, ldim = f"{t.name}__coef", f"{t.name}__level"
        coords[cdim] = list(t.cnames)
        coords[ldim] = list(t.levels)
        sd = np.column_stack(
            [prior_draws(priors.sd[f"sd__{c}|{t.name}"], rng, S) for c in t.cnames]
        )
        if t.k > 1:
            eta = float(priors.cor[f"cor|{t.name}"].params.get("eta", 1.0))
            a = _cpc_betas(t.k, eta)
            w = 2.0 * rng.beta(a, a, size=(S, len(a))) - 1.0
            Lc = cpc_to_corr_chol(w, t.k)
            coords[f"{cdim}_bis"] = list(t.cnames)
            data[f"cor_{t.name}"] = xr.DataArray(
                (Lc @ np.swapaxes(Lc, -1, -2))[None], dims=("chain", "draw", cdim, f"{cdim}_bis")
            )
        else:
            Lc = np.ones((S, 1, 1))
        L = sd[:, :, None] * Lc
        b = np.einsum("sal,sjl->sja", L, rng.standard_normal((S, t.m, t.k)))
        data[f"sd_{t.name}"] = xr.DataArray(sd[None], dims=("chain", "draw", cdim))
        data[f"b_{t.name}"] = xr.DataArray(b[None], dims=("chain", "draw", ldim, cdim))
        bs.append(b)
    X, blocks = training_matrices(design)
    mu = linear_predictor(X, beta, blocks, bs)
    yrep = mu + sigma[:, None] * rng.standard_normal(mu.shape)
    prior = xr.Dataset(data, coords=coords)
    pp = xr.Dataset(
        {"y": xr.DataArray(yrep[None], dims=("chain", "draw", "obs"))},
        coords={"chain": [0], "draw": np.arange(S), "obs": np.arange(design.n)},
    )
    return prior, pp
