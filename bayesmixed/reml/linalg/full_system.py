"""The unblocked penalized least-squares system, for tiny models.

When q + p + 1 is a few dozen, two small matrix products and one Cholesky factor of the
whole system Λ̃'Ω Λ̃ + [I 0; 0 0] (Ω = [Z W]'[Z W], W = [X y], Λ̃ = blockdiag(Λ, I)) cost
less than the dozen-odd array operations of the blocked update, so the optimizer's
criterion uses this; :meth:`~bayesmixed.reml.deviance.ProfiledDeviance.factor` stays blocked.

Examples
--------
>>> import numpy as np
>>> import bayesmixed as bm
>>> from bayesmixed.design import build_design
>>> from bayesmixed.spec import parse_formula
>>> d = build_design(parse_formula("Yield ~ 1 + (1 | Batch)"), bm.datasets.load("Dyestuff"))
>>> full = full_system(d, np.column_stack([d.X, d.y]))
>>> ldL2, ldRX2, r2 = full_pieces(full, np.array([0.8483]), d.p)
>>> n1 = d.n - d.p  # REML criterion from the pieces; lme4: 319.65 at θ 0.8483
>>> print(f"{ldL2 + ldRX2 + n1 * (1 + np.log(2 * np.pi * r2 / n1)):.2f}")
319.65
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.linalg.lapack import dpotrf

if TYPE_CHECKING:
    from ...design.build import Design

__all__ = ["full_pieces", "full_system"]


def full_system(design: Design, W: np.ndarray) -> tuple:
    """Ω, the Λ̃ buffer and the positions of θ in it, for :func:`full_pieces`."""
    d = design
    q, P = d.q, W.shape[1]
    if d.n * (q + P) <= 1_000_000:
        # a small dense product beats sparse stacking and products by a millisecond
        ZW = np.column_stack([d.Z.toarray(), W])
        omega = np.asfortranarray(ZW.T @ ZW)
    else:
        ZW = sp.hstack([d.Z, sp.csc_matrix(W)], format="csc")
        omega = np.asfortranarray((ZW.T @ ZW).toarray())
    rows, cols, tidx = [], [], []
    for t, s, off in zip(d.terms, d.theta_slices, d.term_offsets, strict=False):
        r, c = t.cov.tril
        base = off + np.arange(t.m)[:, None] * t.k
        rows.append((base + r[None, :]).ravel())
        cols.append((base + c[None, :]).ravel())
        tidx.append(np.tile(np.arange(s.start, s.stop), t.m))
    lam = np.zeros((q + P, q + P), order="F")
    lam[np.arange(q, q + P), np.arange(q, q + P)] = 1.0
    idx = (np.concatenate(rows), np.concatenate(cols))
    return omega, lam, idx, np.concatenate(tidx), np.arange(q) * (q + P + 1), q


def full_pieces(full: tuple, theta: np.ndarray, p: int) -> tuple[float, float, float] | None:
    """(log|L_θ|², log|R_X|², r²) from the whole system, or None if not positive definite."""
    omega, lam, idx, tidx, diag, q = full
    lam[idx] = theta[tidx]
    S = (lam.T @ omega) @ lam  # C-ordered; its transpose is the F-ordered system
    S.reshape(-1)[diag] += 1.0
    L, info = dpotrf(S.T, lower=1, clean=0, overwrite_a=1)
    if info != 0:
        return None
    d = np.diagonal(L)
    logs = np.log(d)
    ldL2 = 2.0 * float(logs[:q].sum())
    ldRX2 = 2.0 * float(logs[q : q + p].sum())
    return ldL2, ldRX2, float(d[-1]) ** 2
