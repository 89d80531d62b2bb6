"""Are ranks uniform? The two tests of simulation-based calibration.

A rank takes the values 0..L (the number of L posterior draws below the truth). Per
parameter:

* :func:`chi2_uniform` — χ² on binned ranks: the L + 1 values grouped into B bins, B the
  largest divisor of L + 1 (at most 20) leaving at least 10 simulations expected per bin
  (NaN when even 2 bins would hold fewer);
* :func:`ecdf_uniform` — the ECDF-difference test of Säilynoja, Bürkner & Vehtari (2022):
  the smallest two-sided pointwise binomial tail probability of the rank ECDF over the L
  interior points, with its null distribution from 5,000 simulations of uniform ranks
  (seeded, so a p-value never changes between runs); :func:`ecdf_band` is the simultaneous
  band of ECDF(z) − z drawn in the ECDF plots.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["n_bins", "chi2_uniform", "ecdf_uniform", "ecdf_band", "rank_of", "flagged"]

_NULL_CACHE: dict[tuple[int, int], np.ndarray] = {}


def rank_of(draws: np.ndarray, truth: float, L: int) -> int:
    """Rank of the truth among L evenly spaced draws of the chain-concatenated sample.

    Thinning to L spread-out draws is Talts et al.'s remedy for autocorrelation.

    Examples
    --------
    >>> rank_of(np.arange(1000.0), 500.0, 99)
    50
    """
    flat = np.asarray(draws).reshape(-1)
    idx = (np.arange(L) * flat.size) // L + (flat.size // L) // 2
    return int(np.sum(flat[idx] < truth))


def n_bins(n_sims: int, L: int, max_bins: int = 20) -> int:
    """Largest divisor of L + 1 (≤ max_bins) leaving ≥ 10 simulations expected per bin.

    Examples
    --------
    >>> n_bins(200, 99), n_bins(15, 99)
    (20, 1)
    """
    divs = [d for d in range(1, max_bins + 1) if (L + 1) % d == 0 and n_sims / d >= 10]
    return max(divs) if divs else 1


def chi2_uniform(ranks: np.ndarray, L: int, bins: int | None = None) -> float:
    """χ² p-value of binned ranks against the discrete uniform on 0..L."""
    ranks = np.asarray(ranks, dtype=np.int64)
    bins = bins or n_bins(ranks.size, L)
    if bins < 2:
        return float("nan")
    counts = np.bincount(ranks * bins // (L + 1), minlength=bins)
    return float(stats.chisquare(counts).pvalue)


def _gamma_stat(counts_below: np.ndarray, n: int, z: np.ndarray) -> np.ndarray:
    """Säilynoja et al.'s statistic: min over z of the two-sided binomial tail probability."""
    lo = stats.binom.cdf(counts_below, n, z)
    hi = stats.binom.sf(counts_below - 1, n, z)
    return np.min(2.0 * np.minimum(lo, hi), axis=-1)


def _gamma_null(n: int, L: int, reps: int = 5000) -> np.ndarray:
    key = (n, L)
    if key not in _NULL_CACHE:
        rng = np.random.default_rng([n, L, 7])
        r = rng.integers(0, L + 1, size=(reps, n))
        z = np.arange(1, L + 1) / (L + 1)
        hist = np.zeros((reps, L + 1), dtype=np.int64)
        np.add.at(hist, (np.repeat(np.arange(reps), n), r.ravel()), 1)
        below = np.cumsum(hist, axis=1)[:, :L]  # #{r < k} for k = 1..L
        _NULL_CACHE[key] = np.sort(_gamma_stat(below, n, z))
    return _NULL_CACHE[key]


def ecdf_uniform(ranks: np.ndarray, L: int) -> float:
    """ECDF-difference test p-value (Monte Carlo null, see the module docstring)."""
    ranks = np.asarray(ranks)
    n = ranks.size
    z = np.arange(1, L + 1) / (L + 1)
    below = (ranks[:, None] < np.arange(1, L + 1)).sum(axis=0)
    g = _gamma_stat(below, n, z)
    null = _gamma_null(n, L)
    return float((np.searchsorted(null, g, side="right") + 1) / (null.size + 1))


def ecdf_band(n: int, L: int, level: float = 0.99) -> tuple[np.ndarray, ...]:
    """z and the simultaneous ``level`` band (lower, upper) of ECDF(z) − z under uniform ranks."""
    null = _gamma_null(n, L)
    gam = null[int((1 - level) * null.size)]
    z = np.arange(1, L + 1) / (L + 1)
    lo = stats.binom.ppf(gam / 2, n, z) / n - z
    hi = stats.binom.ppf(1 - gam / 2, n, z) / n - z
    return z, lo, hi


def flagged(chi2_p: float, ecdf_p: float) -> bool:
    """p < 0.01 on both tests (the ECDF test alone when χ² is NaN), or < 0.001 on either."""
    return bool((ecdf_p < 0.01 and not chi2_p >= 0.01) or np.nanmin([chi2_p, ecdf_p]) < 0.001)
