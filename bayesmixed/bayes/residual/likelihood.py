"""The marginal likelihood of a residual-structure model: one small MvNormal per subject.

With the random effects integrated out, subject i's residual vector r_i = y_i − X_i β is
N(0, V_i), ``V_i = Σ_terms Z_i G Z_i' + S C S`` over its visits. Subjects have at most
m ≤ T visits; each is padded to m slots (a missed slot gets a unit variance, no
correlation and a zero residual, which adds nothing to the density), so one unrolled
Cholesky over m×m entries — each entry a vector over all subjects — serves every visit
pattern at once: ~m³/6 vectorized multiply-adds, differentiated by PyTensor, and never an
n×n matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...design.build import Design
from ...design.residual import ResidualDesign

__all__ = ["Padded", "pad_subjects", "marginal_logp", "cholesky_entries"]

_LOG2PI = float(np.log(2 * np.pi))


@dataclass
class Padded:
    """Per-subject arrays padded to m slots (rows in visit order)."""

    rows: np.ndarray  # (N, m) row index, -1 where padded
    obs: np.ndarray  # (N, m) float 1/0
    pos: np.ndarray  # (N, m) visit position (0 where padded)
    times: np.ndarray | None  # (N, m) numeric times (numeric structures)
    level: np.ndarray  # (N,) by-level code
    subject: np.ndarray  # (N,) subject code
    y: np.ndarray  # (N, m)
    X: np.ndarray  # (N, m, p) centred X
    term_X: list  # per term (N, m, k)
    term_same: list  # per term (N, m, m) 1 where two slots share the term's level

    @property
    def m(self) -> int:
        return self.rows.shape[1]

    @property
    def complete(self) -> bool:
        return bool(self.obs.all())


def pad_subjects(design: Design, rd: ResidualDesign, Xc: np.ndarray) -> Padded:
    """Every subject's rows in visit order, padded to the largest number of visits.

    Examples
    --------
    >>> import pandas as pd, bayesmixed as bm
    >>> from bayesmixed.spec import parse_formula
    >>> from bayesmixed.design.residual import build_residual_design
    >>> d = pd.DataFrame({"id": list("aabcc"), "visit": ["T1", "T0", "T0", "T0", "T1"],
    ...                   "y": [1.0, 2.0, 3.0, 5.0, 4.0]})
    >>> design, rd = build_residual_design(parse_formula("y ~ 1"), d,
    ...                                    bm.residual.AR1(time="visit", group="id"))
    >>> pad_subjects(design, rd, design.X).rows.tolist()
    [[1, 0], [2, -1], [3, 4]]
    """
    N = len(rd.subjects)
    per = [rd.subject_rows(s) for s in rd.subjects]
    m = max(len(r) for r in per)
    rows = np.full((N, m), -1, np.int64)
    for i, r in enumerate(per):
        rows[i, : len(r)] = r
    obs = (rows >= 0).astype(float)
    safe = np.where(rows >= 0, rows, 0)
    pos = np.where(rows >= 0, rd.time_pos[safe], 0)
    times = None if rd.times is None else np.where(rows >= 0, rd.times[safe], 0.0)
    y = np.where(rows >= 0, design.y[safe], 0.0)
    X = Xc[safe] * obs[..., None]
    term_X, term_same = [], []
    for t in design.terms:
        term_X.append(t.X[safe] * obs[..., None])
        c = t.codes[safe]
        term_same.append((c[:, :, None] == c[:, None, :]).astype(float))
    level = rd.by_codes[rows[:, 0]]
    return Padded(rows, obs, pos, times, level, np.arange(N), y, X, term_X, term_same)


def cholesky_entries(V: list[list]) -> list[list]:
    """Lower Cholesky factor of a symmetric matrix given as nested lists of (vectors of)
    entries, ``V[a][b]`` for b ≤ a; the same nesting back (unrolled, for small m)."""
    import pytensor.tensor as pt

    m = len(V)
    L: list[list] = [[None] * m for _ in range(m)]
    for j in range(m):
        d = V[j][j]
        for k in range(j):
            d = d - L[j][k] ** 2
        L[j][j] = pt.sqrt(d)
        for i in range(j + 1, m):
            e = V[i][j]
            for k in range(j):
                e = e - L[i][k] * L[j][k]
            L[i][j] = e / L[j][j]
    return L


def marginal_logp(pad: Padded, beta, R, term_chols: list):
    """Σ_subjects log N(r_i | 0, V_i).

    Parameters
    ----------
    pad : Padded
    beta : tensor (p,)
        Fixed effects of the centred X.
    R : tensor (N, m, m), or (m, m) when every subject shares it
        Residual covariance of every subject's slots (data scale; padded slots arbitrary).
    term_chols : list of tensor (k, k)
        Cholesky factor of each random term's covariance.
    """
    import pytensor.tensor as pt

    m, N = pad.m, len(pad.obs)
    r = pt.constant(pad.y) - pt.tensordot(pt.constant(pad.X), beta, axes=[[2], [0]])
    V = R
    for Xt, same, L in zip(pad.term_X, pad.term_same, term_chols, strict=True):
        A = pt.tensordot(pt.constant(Xt), L, axes=[[2], [0]])  # (N, m, k)
        V = V + pt.constant(same) * pt.sum(A[:, :, None, :] * A[:, None, :, :], axis=-1)
    if not pad.complete:
        w = pad.obs[:, :, None] * pad.obs[:, None, :]
        V = pt.constant(w) * V + pt.constant((1.0 - w) * np.eye(m))
    shared = V.ndim == 2
    entries = [[(V[a, b] if shared else V[:, a, b]) for b in range(a + 1)] for a in range(m)]
    L = cholesky_entries(entries)
    quad, logdet = 0.0, 0.0
    z: list = []
    for i in range(m):
        e = r[:, i]
        for k in range(i):
            e = e - L[i][k] * z[k]
        z.append(e / L[i][i])
        quad = quad + pt.sum(z[i] ** 2)
        ld = pt.log(L[i][i])
        # an entry shared by every subject is a scalar: it counts once per subject
        logdet = logdet + (pt.sum(ld) if ld.ndim else ld * N)
    return -0.5 * quad - logdet - 0.5 * float(pad.obs.sum()) * _LOG2PI
