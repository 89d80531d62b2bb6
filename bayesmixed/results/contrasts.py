"""Contrasts of marginal means: emmeans' contrast methods, labels and multiplicity adjustments.

A contrast method turns the k marginal means of a ``by`` group into a coefficient matrix C
(contrasts × k) with emmeans' labels; the contrasts are then the linear functions C L β.

Methods and their default ``adjust`` (emmeans 1.8's ``*.emmc`` functions):

===============  ==========================  ==========
method           labels                      adjust
===============  ==========================  ==========
pairwise         ``T0 - T3``                 tukey
revpairwise      ``T3 - T0``                 tukey
trt.vs.ctrl      ``T3 - T0`` (ref first)     dunnettx
consec           ``T3 - T0``, ``T6 - T3``    mvt
poly             linear, quadratic, ...      none
eff              ``T0 effect``               fdr
dict             its keys                    none
===============  ==========================  ==========

Adjustments act within each ``by`` group (the family), as emmeans does, on p-values and
intervals alike: ``tukey`` (studentized range; only for pairwise comparisons, otherwise
changed to sidak with a warning), ``sidak``, ``bonferroni``, ``holm`` and ``fdr`` (intervals:
Bonferroni's), ``dunnettx`` (emmeans' approximation of Dunnett's distribution for
correlations 0.5), ``mvt`` (the multivariate t of the estimates' correlations with the
integer df emmeans passes to mvtnorm, by Genz's randomized quasi-Monte Carlo with 2¹⁴ points and a fixed seed:
probabilities accurate to about 1e-5 — their spread over seeds is 4e-6 —, where mvtnorm's
default in emmeans is 1e-3) and ``none``.
A family of one contrast is never adjusted.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize, stats
from scipy.stats import qmc

from ..errors import ArgumentError, BayesMixedWarning
from .emmeans import (
    check_ddf,
    check_level,
    marginal_means,
    posterior_table,
    row_labels,
)

__all__ = [
    "ADJUST_CHOICES",
    "METHOD_CHOICES",
    "contrast_coefficients",
    "adjust_p",
    "critical_value",
    "contrast_table",
    "posterior_contrast_table",
]

METHOD_CHOICES = ("pairwise", "revpairwise", "trt.vs.ctrl", "consec", "poly", "eff")
_DEFAULT_ADJUST = {
    "pairwise": "tukey",
    "revpairwise": "tukey",
    "trt.vs.ctrl": "dunnettx",
    "consec": "mvt",
    "poly": "none",
    "eff": "fdr",
    "custom": "none",
}
ADJUST_CHOICES = ("tukey", "holm", "bonferroni", "sidak", "fdr", "dunnettx", "mvt", "none")
_POLY_NAMES = ["linear", "quadratic", "cubic", "quartic"] + [f"degree {d}" for d in range(5, 21)]
# quasi-Monte Carlo budget and seed of the multivariate t (reproducible p-values)
_MVT_POINTS = 2**14
_MVT_SEED = 20240612


def _poly(k: int) -> tuple[np.ndarray, list[str]]:
    """emmeans' ``poly.emmc``: orthogonal polynomials scaled to integer coefficients."""
    x = np.arange(1, k + 1, dtype=float)
    degree = min(6, k - 1)
    V = np.vander(x - x.mean(), degree + 1, increasing=True)
    Q, R = np.linalg.qr(V)
    Q = Q * np.sign(np.diag(R))  # R's poly(): positive leading coefficients
    rows = []
    for j in range(1, degree + 1):
        con = Q[:, j]
        con = con / con[con > 0.01].min()
        z = np.max(np.abs(con - np.round(con)))
        while z > 0.05:
            con = con / z
            z = np.max(np.abs(con - np.round(con)))
        rows.append(np.round(con) + 0.0)  # + 0.0: no negative zeros
    return np.array(rows), _POLY_NAMES[:degree]


def contrast_coefficients(levels: list[str], method, ref=None) -> tuple[np.ndarray, list[str], str]:
    """Coefficients (contrasts × levels), labels and kind of a contrast method (the kind,
    ``"custom"`` for a dict, keys the method's default adjustment).

    Examples
    --------
    >>> C, labels, kind = contrast_coefficients(["T0", "T3", "T6"], "trt.vs.ctrl")
    >>> C.tolist(), labels
    ([[-1.0, 1.0, 0.0], [-1.0, 0.0, 1.0]], ['T3 - T0', 'T6 - T0'])
    >>> contrast_coefficients(["a", "b", "c"], "poly")[0].tolist()
    [[-1.0, 0.0, 1.0], [1.0, -2.0, 1.0]]
    """
    k = len(levels)
    if isinstance(method, dict):
        C, labels = [], []
        for name, w in method.items():
            w = np.asarray(w, float).ravel()
            if w.size != k:
                raise ArgumentError(
                    f"contrast {name!r} has {w.size} coefficients but there are {k} means "
                    f"({', '.join(levels)}): give one coefficient per mean"
                )
            if abs(w.sum()) > 1e-8 * max(1.0, np.abs(w).sum()):
                warnings.warn(
                    f"the coefficients of contrast {name!r} sum to {w.sum():g}, not 0: it is "
                    "not a contrast but a weighted sum of the means",
                    BayesMixedWarning,
                    stacklevel=5,
                )
            C.append(w)
            labels.append(str(name))
        return np.array(C).reshape(len(C), k), labels, "custom"
    if method not in METHOD_CHOICES:
        raise ArgumentError(
            f"method={method!r} is not available: use one of {', '.join(METHOD_CHOICES)} "
            "or a dict of named coefficient vectors"
        )
    if ref is not None and method != "trt.vs.ctrl":
        raise ArgumentError("ref= is only used by method='trt.vs.ctrl'")
    eye = np.eye(k)
    if method == "pairwise":
        pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
        C = [eye[i] - eye[j] for i, j in pairs]
        labels = [f"{levels[i]} - {levels[j]}" for i, j in pairs]
    elif method == "revpairwise":
        pairs = [(i, j) for i in range(1, k) for j in range(i)]
        C = [eye[i] - eye[j] for i, j in pairs]
        labels = [f"{levels[i]} - {levels[j]}" for i, j in pairs]
    elif method == "trt.vs.ctrl":
        r = 0 if ref is None else _ref_index(levels, ref)
        C = [eye[i] - eye[r] for i in range(k) if i != r]
        labels = [f"{levels[i]} - {levels[r]}" for i in range(k) if i != r]
    elif method == "consec":
        C = [eye[i + 1] - eye[i] for i in range(k - 1)]
        labels = [f"{levels[i + 1]} - {levels[i]}" for i in range(k - 1)]
    elif method == "poly":
        if k < 2:
            return np.zeros((0, k)), [], "none"
        P, labels = _poly(k)
        C = list(P)
    else:  # eff
        C = [eye[i] - 1.0 / k for i in range(k)]
        labels = [f"{lv} effect" for lv in levels]
    return np.array(C).reshape(len(C), k), labels, method


def _ref_index(levels: list[str], ref) -> int:
    if str(ref) in levels:
        return levels.index(str(ref))
    raise ArgumentError(f"ref={ref!r} is not one of the levels {', '.join(levels)}")


def _check_adjust(adjust, kind: str) -> str:
    if adjust is None:
        return _DEFAULT_ADJUST[kind]
    key = str(adjust).lower()
    if key not in ADJUST_CHOICES:
        raise ArgumentError(
            f"adjust={adjust!r} is not available: use one of {', '.join(ADJUST_CHOICES)}"
        )
    if key == "tukey" and kind not in ("pairwise", "revpairwise"):
        warnings.warn(
            "adjust='tukey' was changed to 'sidak': Tukey's method is only for one set of "
            "pairwise comparisons",
            BayesMixedWarning,
            stacklevel=4,
        )
        key = "sidak"
    return key


# ---------------------------------------------------------------- distributions
def _pdunnx(x, k, df):
    """emmeans' ``.pdunnx``: Dunnett's CDF approximated as a Tukey–Šidák mixture."""
    twt = (k - 1.0) / k
    tukey = stats.studentized_range.cdf(np.sqrt(2.0) * x, (1.0 + np.sqrt(1.0 + 8.0 * k)) / 2.0, df)
    sidak = stats.f.cdf(x**2, 1, df) ** k
    return twt * tukey + (1.0 - twt) * sidak


def _mvt_df(df: float) -> float:
    """emmeans' ``.fix.df``: the integer df it hands to mvtnorm (∞ above 9999)."""
    if df > 0:
        df = max(1.0, df)
    if not np.isfinite(df) or df > 9999:
        return np.inf
    return float(np.floor(df + 0.25))


def _pivoted_cholesky(S: np.ndarray) -> np.ndarray:
    """L (n × rank) with L Lᵀ = S for a positive semi-definite S, pivoting on the largest
    remaining variance, so that a singular S (pairwise contrasts) is handled exactly."""
    n = S.shape[0]
    perm = np.arange(n)
    L = np.zeros((n, n))
    d = np.diag(S).astype(float).copy()
    tol = 1e-10 * max(1.0, float(d.max()))
    for k in range(n):
        j = k + int(np.argmax(d[perm[k:]]))
        if d[perm[j]] <= tol:
            return L[:, :k]
        perm[[k, j]] = perm[[j, k]]
        p, rest = perm[k], perm[k + 1 :]
        L[p, k] = np.sqrt(d[p])
        L[rest, k] = (S[rest, p] - L[rest, :k] @ L[p, :k]) / L[p, k]
        d[rest] -= L[rest, k] ** 2
    return L


def _mvt_cdf(c: float, corr: np.ndarray, df: float) -> float:
    """P(max_j |T_j| ≤ c) for T multivariate t with correlation ``corr`` (normal for df = ∞).

    Genz's separation of variables (Genz & Bretz 2009, the method of mvtnorm) over a
    scrambled Sobol' sequence with a fixed seed: T = L Y / s with Y standard normal and
    s² ~ χ²_df / df, each Y_k drawn within the bounds the constraints ending at it leave.
    SciPy's ``multivariate_t.cdf`` is not used: it is wrong for singular correlations, as
    those of pairwise contrasts are.
    """
    L = _pivoted_cholesky(np.asarray(corr, float))
    r = L.shape[1]
    last = np.array([np.flatnonzero(np.abs(row) > 1e-12).max() for row in L])
    u = qmc.Sobol(r + 1, scramble=True, seed=_MVT_SEED).random(_MVT_POINTS)
    s = np.ones(len(u)) if np.isinf(df) else np.sqrt(stats.chi2.ppf(u[:, 0], df) / df)
    y = np.zeros((len(u), r))
    prob = np.ones(len(u))
    for k in range(r):
        rows = np.flatnonzero(last == k)
        rest = y[:, :k] @ L[rows, :k].T
        a = L[rows, k]
        b1, b2 = (-c * s[:, None] - rest) / a, (c * s[:, None] - rest) / a
        lo = stats.norm.cdf(np.minimum(b1, b2).max(axis=1))
        width = np.clip(stats.norm.cdf(np.maximum(b1, b2).min(axis=1)) - lo, 0.0, None)
        prob *= width
        y[:, k] = stats.norm.ppf(np.clip(lo + u[:, k + 1] * width, 1e-300, 1.0 - 1e-16))
    return float(prob.mean())


def adjust_p(t, df, adjust: str, corr=None, nmeans: int | None = None) -> np.ndarray:
    """Two-sided p-values of one family of t statistics, adjusted as emmeans adjusts them.

    Examples
    --------
    >>> adjust_p([2.0, 1.0], [10, 10], "bonferroni").round(4).tolist()
    [0.1468, 0.6818]
    """
    t = np.abs(np.asarray(t, float))
    df = np.broadcast_to(np.asarray(df, float), t.shape)
    m = t.size
    p = 2.0 * stats.t.sf(t, df)
    if m <= 1 or adjust == "none":
        return p
    if adjust == "bonferroni":
        return np.minimum(1.0, m * p)
    if adjust == "sidak":
        return 1.0 - (1.0 - p) ** m
    if adjust == "holm":
        o = np.argsort(p)
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[o]))
        out = np.empty(m)
        out[o] = adj
        return out
    if adjust == "fdr":
        o = np.argsort(p)[::-1]
        adj = np.minimum(1.0, np.minimum.accumulate(m / np.arange(m, 0, -1) * p[o]))
        out = np.empty(m)
        out[o] = adj
        return out
    if adjust == "tukey":
        return stats.studentized_range.sf(np.sqrt(2.0) * t, nmeans, df)
    if adjust == "dunnettx":
        return 1.0 - _pdunnx(t, m, df)
    if adjust == "mvt":
        return np.array([1.0 - _mvt_cdf(ti, corr, _mvt_df(d)) for ti, d in zip(t, df, strict=True)])
    raise ArgumentError(f"adjust={adjust!r} is not available")  # pragma: no cover


def critical_value(level: float, df, adjust: str, corr=None, nmeans: int | None = None):
    """Half-width multipliers of the intervals of one family (emmeans' ``.adj.critval``)."""
    df = np.asarray(df, float)
    m = df.size
    if m <= 1 or adjust == "none":
        return stats.t.ppf(0.5 + level / 2.0, df)
    if adjust == "sidak":
        return stats.t.ppf(1.0 - (1.0 - level ** (1.0 / m)) / 2.0, df)
    if adjust in ("bonferroni", "holm", "fdr"):
        return stats.t.ppf(1.0 - (1.0 - level) / (2.0 * m), df)
    if adjust == "tukey":  # one quantile per distinct df: each costs a numerical inversion
        uniq, inv = np.unique(df, return_inverse=True)
        return stats.studentized_range.ppf(level, nmeans, uniq)[inv] / np.sqrt(2.0)
    if adjust == "dunnettx":
        return np.array([_qdunnx(level, m, d) for d in df])
    if adjust == "mvt":
        out = {}
        for d in np.unique([_mvt_df(x) for x in df]):
            hi = stats.t.ppf(1.0 - (1.0 - level) / (2.0 * m), d)  # Bonferroni bounds it
            lo = stats.t.ppf(0.5 + level / 2.0, d)
            out[d] = optimize.brentq(
                lambda c, d=d: _mvt_cdf(c, corr, d) - level, lo, hi + 1e-9, xtol=1e-7
            )
        return np.array([out[_mvt_df(x)] for x in df])
    raise ArgumentError(f"adjust={adjust!r} is not available")  # pragma: no cover


def _qdunnx(level: float, k: int, df: float) -> float:
    xtuk = stats.studentized_range.ppf(level, (1.0 + np.sqrt(1.0 + 8.0 * k)) / 2.0, df)
    xtuk /= np.sqrt(2.0)
    xsid = np.sqrt(stats.f.ppf(level ** (1.0 / k), 1, df))
    if abs(xtuk - xsid) < 1e-10:
        return float(xtuk)
    lo, hi = min(xtuk, xsid), max(xtuk, xsid)
    return float(optimize.brentq(lambda x: _pdunnx(x, k, df) - level, lo, hi, xtol=1e-12))


# ---------------------------------------------------------------- tables
def _contrast_rows(design, specs, method, by, ref, at):
    """The contrasts as linear functions of β: (L, keys, labels, kind, families)."""
    mm = marginal_means(design, specs, by, at)
    C, labels, kind = contrast_coefficients(mm.levels, method, ref)
    Ls, keys, families = [], [], []
    for rows in mm.groups:
        start = len(keys)
        Ls.append(C @ mm.L[rows])
        est = mm.estimable[rows]
        for i, lab in enumerate(labels):
            ok = bool(np.all(est[C[i] != 0]))
            keys.append({"contrast": lab, **mm.keys.iloc[rows[0]][mm.by].to_dict(), "_ok": ok})
        families.append(np.arange(start, len(keys)))
    L = np.vstack(Ls) if Ls else np.zeros((0, design.p))
    keys = pd.DataFrame(keys, columns=["contrast", *mm.by, "_ok"])
    return L, keys, kind, families, mm


def contrast_table(
    fit, specs, method="pairwise", by=None, ref=None, adjust=None, ddf="kenward-roger",
    level=0.95, at=None,
) -> pd.DataFrame:  # fmt: skip
    """``fit.contrast``: contrasts with t tests and adjusted intervals (see :meth:`Fit.contrast`)."""
    ddf = check_ddf(ddf)
    level = check_level(level)
    L, keys, kind, families, mm = _contrast_rows(fit.design, specs, method, by, ref, at)
    adjust = _check_adjust(adjust, kind)
    beta = np.asarray(fit.fixef(), float)
    cov, df = fit._lincomb_cov(L, ddf)
    df = np.asarray(df, float)
    se = np.sqrt(np.diag(cov))
    est = L @ beta
    bad = ~keys.pop("_ok").to_numpy(bool)
    est[bad] = se[bad] = np.nan
    tstat = est / se
    p = np.full(len(est), np.nan)
    crit = np.full(len(est), np.nan)
    nmeans = len(mm.levels)
    for rows in families:
        rows = rows[~bad[rows]]
        if rows.size == 0:
            continue
        sub = cov[np.ix_(rows, rows)]
        d = np.sqrt(np.diag(sub))
        corr = sub / np.outer(d, d)
        p[rows] = adjust_p(tstat[rows], df[rows], adjust, corr, nmeans)
        crit[rows] = critical_value(level, df[rows], adjust, corr, nmeans)
    out = keys
    out["estimate"] = est
    out["std_error"] = se
    out["df"] = df
    out["statistic"] = tstat
    out["p_value"] = p
    out["conf_low"] = est - crit * se
    out["conf_high"] = est + crit * se
    # a family of one contrast is not adjusted (emmeans says so too)
    out.attrs["adjust"] = adjust if max(map(len, families), default=0) > 1 else "none"
    return out


def posterior_contrast_table(fit, specs, method="pairwise", by=None, ref=None, at=None,
                             interval=0.95):  # fmt: skip
    """``post.contrast``: posterior summaries of the contrasts (see ``BayesFit.contrast``)."""
    L, keys, _, _, mm = _contrast_rows(fit.design, specs, method, by, ref, at)
    keys = keys.drop(columns="_ok")
    beta = fit.components().beta
    labels = row_labels(keys, ["contrast"], mm.by)
    return posterior_table(keys, L, beta, fit.nchains, interval, "contrast", labels)
