"""Starting values for large models with several scalar random-effects terms.

lme4 starts BOBYQA at θ = 1 for every scalar term. For a large crossed model (a dense block
of hundreds of columns, each criterion evaluation tens of milliseconds) most evaluations
are then spent walking from there towards the optimum: 96 of the 115 for lme4's InstEval.
A moment estimate costs about as much as two evaluations and starts BOBYQA close to it.

The estimate is Henderson's method I on the residuals r = (I − H) y of the fixed effects
(H the hat matrix of X): with P_i = Z_i (Z_i'Z_i)⁻¹ Z_i' the projection on term i's
columns and M_i = (I − H) P_i (I − H), the quadratic forms r'P_i r and r'r have the
expectations

    E[r'P_i r] = Σ_j σ_j² tr(Z_j' M_i Z_j) + σ² tr(M_i),
    E[r'r]     = Σ_j σ_j² tr(Z_j' (I − H) Z_j) + σ² (n − p),

linear in the variances: equating each form to its expectation gives K + 1 equations for
σ_1², …, σ_K², σ², and θ_i = σ_i / σ. Balanced designs recover REML exactly (unless a
variance is on its bound); unbalanced ones come close. The traces need only the cross
products Z_i'Z_j and p-wide products with an orthonormal basis of X.

The start changes the optimizer's path, not the criterion it minimizes; the caller keeps
lme4's start when the criterion is not lower at this one.

Examples
--------
>>> import bayesmixed as bm
>>> m = bm.MixedModel("diameter ~ 1 + (1 | plate) + (1 | sample)", bm.datasets.load("Penicillin"))
>>> [round(float(x), 4) for x in moment_start(m.design)]  # balanced: lme4's θ̂ 1.5397, 3.5124
[1.5397, 3.5124]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..design.build import Design

__all__ = ["moment_start", "moment_variances", "wants_moment_start"]

_MIN_WIDTH = 256  # dense-block width from which an evaluation costs enough to plan a start
_MIN_THETA = 0.05  # start no component on (or next to) its bound


def wants_moment_start(design: Design, width: int) -> bool:
    """Whether :func:`moment_start` pays: ≥ 2 scalar terms and a dense block ≥ 256 wide."""
    terms = design.terms
    return len(terms) >= 2 and all(t.k == 1 for t in terms) and width >= _MIN_WIDTH


def moment_variances(design: Design) -> np.ndarray:
    """Henderson's method I estimates (σ_1², …, σ_K², σ²) for scalar random terms.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("strength ~ 1 + (1 | batch/cask)", bm.datasets.load("Pastes"))
    >>> [round(float(v), 3) for v in moment_variances(m.design)]  # lme4: 8.434, 1.657, 0.678
    [8.434, 1.657, 0.678]
    """
    Q, _ = np.linalg.qr(design.X)
    y = design.y
    r = y - Q @ (Q.T @ y)
    terms = design.terms
    K = len(terms)
    Z = [t.Z.tocsr() for t in terms]
    d = [t.ZtZ_blocks[:, 0, 0] for t in terms]
    dinv = [np.divide(1.0, v, out=np.zeros_like(v), where=v > 0) for v in d]
    G = [np.asarray(z.T @ Q).T for z in Z]  # Q'Z_j, p × m_j
    GD = [g * w for g, w in zip(G, dinv, strict=True)]  # Q'Z_i (Z_i'Z_i)⁻¹
    GDG = [gd @ g.T for gd, g in zip(GD, G, strict=True)]
    GG = [g @ g.T for g in G]
    A = np.zeros((K + 1, K + 1))
    b = np.zeros(K + 1)
    for i in range(K):
        b[i] = float(np.sum((Z[i].T @ r) ** 2 * dinv[i]))
        for j in range(K):
            # tr(Z_j' M_i Z_j) = ‖D_i^{-1/2}(C − G_i'G_j)‖²_F with C = Z_i'Z_j, expanded
            if i == j:
                cc, cg = float(d[i] @ (d[i] * dinv[i])), float(np.sum(GD[i] * G[i] * d[i]))
            else:
                C = (Z[i].T @ Z[j]).tocoo()
                cc = float(np.sum(C.data**2 * dinv[i][C.row]))
                cg = float(np.sum(GD[i] * (C.tocsr() @ G[j].T).T))
            A[i, j] = cc - 2.0 * cg + float(np.sum(GDG[i] * GG[j]))
        A[i, K] = np.count_nonzero(d[i]) - np.trace(GDG[i])
    b[K] = float(r @ r)
    A[K, :K] = [float(v.sum() - np.sum(g * g)) for v, g in zip(d, G, strict=True)]
    A[K, K] = design.n - design.p
    return np.linalg.solve(A, b)


def moment_start(design: Design) -> np.ndarray:
    """θ start for a model whose random terms are all scalar, from :func:`moment_variances`.

    Components estimated at or below zero start at 0.05, off their bound; lme4's start
    (``design.theta0``) is returned when the estimate fails or its residual variance is
    not positive.
    """
    try:
        v = moment_variances(design)
    except np.linalg.LinAlgError:
        return design.theta0.copy()
    if not (np.all(np.isfinite(v)) and v[-1] > 0):
        return design.theta0.copy()
    return np.maximum(np.sqrt(np.maximum(v[:-1], 0.0) / v[-1]), _MIN_THETA)
