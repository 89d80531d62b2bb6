"""Residual correlation matrices in PyTensor, from the sampled (natural-scale) parameters.

The same matrices as :mod:`bayesmixed.covariance.residual` builds in NumPy, written with
scalar PyTensor operations (T ≤ ~12, so T×T lists of scalars cost nothing and differentiate
cleanly):

* CS, CSH — ρ off the diagonal;
* AR1, ARH1 — ρ^|i−j| over visit positions, as repeated products (ρ may be negative);
* TOEP, TOEPH — autocorrelations from partial autocorrelations by Durbin–Levinson, so any
  values in (−1, 1) give a positive definite matrix;
* AD — products of consecutive correlations;
* UN — C = L L' with L from canonical partial correlations (LKJ's C-vine);
* AR1 on a numeric time and CAR1 — a scalar ρ, raised to the time differences of each pair
  of a subject's visits by :func:`numeric_correlation`.
"""

from __future__ import annotations

import numpy as np

from ...covariance.residual import ResidualStructure

__all__ = ["correlation_matrix", "numeric_correlation", "durbin_levinson_pt"]


def durbin_levinson_pt(pacf: list) -> list:
    """Autocorrelations r_1..r_K from partial autocorrelations (PyTensor scalars).

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> r = durbin_levinson_pt([pt.constant(0.5), pt.constant(0.0)])
    >>> [round(float(v.eval()), 6) for v in r]
    [0.5, 0.25]
    """
    r: list = []
    phi: list = []
    for k, pk in enumerate(pacf):
        if k == 0:
            r.append(pk)
            phi = [pk]
            continue
        # r_{k+1} = Σ φ_j r_{k+1−j} + π (1 − Σ φ_j r_j), j = 1..k
        fwd = sum(phi[j] * r[k - 1 - j] for j in range(k))
        acc = sum(phi[j] * r[j] for j in range(k))
        r.append(fwd + pk * (1.0 - acc))
        phi = [phi[j] - pk * phi[k - 1 - j] for j in range(k)] + [pk]
    return r


def _from_entries(entries) -> object:
    import pytensor.tensor as pt

    return pt.stack([pt.stack(row) for row in entries])


def correlation_matrix(cov: ResidualStructure, rhos: list, cpcs=None):
    """T×T correlation over the visit levels (discrete-visit structures).

    ``rhos``: the scalar correlation parameters on their own scale (ρ; AD's consecutive ρ's;
    TOEP's partial autocorrelations); ``cpcs``: UN's canonical partial correlations in
    (−1, 1), packed by rows of the upper triangle.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from bayesmixed.covariance.residual import AnteDependence
    >>> C = correlation_matrix(AnteDependence(["a", "b", "c"]), [pt.constant(0.5), pt.constant(0.4)])
    >>> C.eval().round(6).tolist()
    [[1.0, 0.5, 0.2], [0.5, 1.0, 0.4], [0.2, 0.4, 1.0]]
    """
    import pytensor.tensor as pt

    T = cov.dim
    one = pt.constant(1.0)
    name = cov.name
    if name in ("CS", "CSH"):
        rho = rhos[0]
        return rho + (1.0 - rho) * pt.eye(T)
    if name in ("AR1", "ARH1", "TOEP", "TOEPH"):
        if name in ("AR1", "ARH1"):
            r = [rhos[0]]
            for _ in range(2, T):
                r.append(r[-1] * rhos[0])
        else:
            r = durbin_levinson_pt(list(rhos))
        lags = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
        return pt.stack([one, *r])[lags]
    if name == "AD":
        entries = [[one] * T for _ in range(T)]
        for i in range(T):
            acc = one
            for j in range(i + 1, T):
                acc = acc * rhos[j - 1]
                entries[i][j] = entries[j][i] = acc
        return _from_entries(entries)
    if name == "UN":
        from ..graph import _chol_from_cpc

        Lc = _chol_from_cpc(cpcs, T)
        zero = pt.constant(0.0)
        L = _from_entries([[Lc[a][b] if b <= a else zero for b in range(T)] for a in range(T)])
        C = pt.dot(L, L.T)
        # unit diagonal exactly (L's rows have unit length only up to rounding)
        return C * (1.0 - pt.eye(T)) + pt.eye(T)
    raise ValueError(f"{name} has no discrete-visit correlation matrix")


def numeric_correlation(rho, dt: np.ndarray):
    """ρ^|Δt| elementwise for constant time differences ``dt`` (AR1 on whole-number times,
    CAR1); ``rho`` a scalar or one value per subject."""
    import pytensor.tensor as pt

    return pt.pow(rho, pt.constant(np.asarray(dt, float)))
