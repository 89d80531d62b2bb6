"""Per-subject quantities over the draws: marginal log-likelihoods and random-effect draws.

For every draw, subject i's marginal covariance is ``V_i = Z_i G Z_i' + R_i`` (padded as in
:mod:`~bayesmixed.bayes.residual.likelihood`). From its Cholesky factor come

* log N(r_i | 0, V_i): the pointwise log-likelihood of the subject (LOO then leaves out a
  whole subject, the unit that is exchangeable when residuals are correlated);
* an exact draw of the random effects from p(b | y, β, θ) by Matheron's rule: with
  b* ~ N(0, G) and ε* ~ N(0, R), ``b = b* + G Z' V⁻¹ (r − Z b* − ε*)``, which needs only
  solves with the same V_i.

Draws are processed in chunks so that the (draws, subjects, m, m) arrays stay small.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ...design.build import Design
from .likelihood import Padded

__all__ = ["subject_draws"]

_LOG2PI = float(np.log(2 * np.pi))
_CHUNK_BYTES = 2e7


def _pad_identity(V: np.ndarray, obs: np.ndarray) -> np.ndarray:
    w = obs[:, :, None] * obs[:, None, :]
    eye = np.eye(obs.shape[1])
    return V * w + (1.0 - w) * eye


def subject_draws(
    design: Design,
    pad: Padded,
    beta_c: np.ndarray,
    R: np.ndarray | callable,
    chols: list[np.ndarray],
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """(log-likelihood (S, N), random effects per term (S, levels, k)).

    ``beta_c`` (S, p) for the centred X; ``R(sl)`` returns the residual covariance
    (s, N, m, m) of the draws in slice ``sl``; ``chols`` (S, k, k) per term.
    """
    S = beta_c.shape[0]
    N, m = pad.rows.shape
    terms = design.terms
    chunk = max(1, int(_CHUNK_BYTES // (8 * N * m * m * max(1, len(terms) + 1))))
    ll = np.empty((S, N))
    bs = [np.empty((S, t.m, t.k)) for t in terms]
    # slot → level one-hot per term (rows of padded slots are zero: their X is zero)
    onehot = []
    for t in terms:
        codes = np.where(pad.rows >= 0, t.codes[np.where(pad.rows >= 0, pad.rows, 0)], 0)
        onehot.append(
            sp.csr_matrix((pad.obs.ravel(), (codes.ravel(), np.arange(N * m))), shape=(t.m, N * m))
        )
    n_obs = pad.obs.sum(axis=1)
    for s0 in range(0, S, chunk):
        sl = slice(s0, min(S, s0 + chunk))
        s = sl.stop - sl.start
        Rs = R(sl)
        r = pad.y - np.einsum("nap,sp->sna", pad.X, beta_c[sl])
        V = Rs.copy()
        for ti in range(len(terms)):
            A = np.einsum("nak,skl->snal", pad.term_X[ti], chols[ti][sl])
            V += pad.term_same[ti] * np.einsum("snal,snbl->snab", A, A)
        L = np.linalg.cholesky(_pad_identity(V, pad.obs))
        z = np.linalg.solve(L, r[..., None])[..., 0]
        logdet = np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(-1)
        ll[sl] = -0.5 * (z**2).sum(-1) - logdet - 0.5 * n_obs * _LOG2PI
        if not terms:
            continue
        target = r.copy()
        bstar = []
        for ti, t in enumerate(terms):
            Lt = chols[ti][sl]
            b0 = np.einsum("skl,sjl->sjk", Lt, rng.standard_normal((s, t.m, t.k)))
            bstar.append(b0)
            codes = np.where(pad.rows >= 0, t.codes[np.where(pad.rows >= 0, pad.rows, 0)], 0)
            target -= np.einsum("nak,snak->sna", pad.term_X[ti], b0[:, codes, :])
        LR = np.linalg.cholesky(_pad_identity(Rs, pad.obs))
        eps = np.einsum("snab,snb->sna", LR, rng.standard_normal((s, N, m))) * pad.obs
        target -= eps
        w = np.linalg.solve(L, target[..., None])
        w = np.linalg.solve(np.swapaxes(L, -1, -2), w)[..., 0] * pad.obs
        for ti, t in enumerate(terms):
            contrib = pad.term_X[ti][None] * w[..., None]  # (s, N, m, k)
            flat = contrib.reshape(s, N * m, t.k).transpose(1, 0, 2).reshape(N * m, s * t.k)
            sums = (onehot[ti] @ flat).reshape(t.m, s, t.k).transpose(1, 0, 2)
            G = np.einsum("skl,sjl->skj", chols[ti][sl], chols[ti][sl])
            bs[ti][sl] = bstar[ti] + np.einsum("skj,slj->slk", G, sums)
    return ll, bs
