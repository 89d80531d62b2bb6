"""Compiled kernel for the commonest marginal likelihood: one random-effects term.

Random-intercept and random-slope models (one grouping factor) make up most of the primer.
For them A = Λ'Z'ZΛ + I is block diagonal, and every quantity the sampler needs — ℓ, the
conditional modes, the diagonal blocks of A⁻¹ and hence the whole gradient — comes from one
pass over the levels with k×k algebra. NumPy spends most of its time dispatching tiny arrays
there, so this pass is compiled with numba (``cache=True``: compiled once per machine, then
loaded from disk in milliseconds).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["single_term_loglik_grad"]


@njit(cache=True, error_model="numpy")
def single_term_loglik_grad(C, D, e, XtX, Xty, yty, n, beta, sigma, L):  # pragma: no cover
    """ℓ and ∂ℓ/∂β, ∂ℓ/∂σ, ∂ℓ/∂Σ for y ~ N(Xβ, σ²I + Z(I⊗LL')Z') with one term.

    C (m,k,k) per-level Z'Z, D (m,k,p) per-level Z'X, e (m,k) per-level Z'y.
    Returns (ll, dbeta, dsigma, dSigma); ll is -inf if a block is not positive definite.
    """
    m, k, p = D.shape
    s2 = sigma * sigma
    T = L / sigma
    rr = yty
    for a in range(p):
        rr -= 2.0 * beta[a] * Xty[a]
        for b in range(p):
            rr += beta[a] * XtX[a, b] * beta[b]
    logdet = 0.0
    wsq = 0.0
    trA = 0.0
    e2 = rr
    M = np.zeros((k, k))
    Xtzb = np.zeros(p)
    g = np.empty(k)
    c = np.empty(k)
    TC = np.empty((k, k))
    A = np.empty((k, k))
    Lj = np.empty((k, k))
    w = np.empty(k)
    u = np.empty(k)
    bv = np.empty(k)
    Li = np.empty((k, k))
    Z = np.empty((k, k))
    TZ = np.empty((k, k))
    for j in range(m):
        for a in range(k):
            s = e[j, a]
            for q in range(p):
                s -= D[j, a, q] * beta[q]
            g[a] = s
        # c = T' g
        for a in range(k):
            s = 0.0
            for r in range(k):
                s += T[r, a] * g[r]
            c[a] = s
        # A = T' C T + I
        for a in range(k):
            for r in range(k):
                s = 0.0
                for t in range(k):
                    s += T[t, a] * C[j, t, r]
                TC[a, r] = s
        for a in range(k):
            for b in range(k):
                s = 0.0
                for r in range(k):
                    s += TC[a, r] * T[r, b]
                A[a, b] = s + (1.0 if a == b else 0.0)
        # Cholesky
        for col in range(k):
            s = A[col, col]
            for r in range(col):
                s -= Lj[col, r] * Lj[col, r]
            if s <= 0.0:
                return -np.inf, np.zeros(p), 0.0, np.zeros((k, k))
            d = math.sqrt(s)
            Lj[col, col] = d
            for i in range(col + 1, k):
                s = A[i, col]
                for r in range(col):
                    s -= Lj[i, r] * Lj[col, r]
                Lj[i, col] = s / d
            for i in range(col):
                Lj[i, col] = 0.0
            logdet += 2.0 * math.log(d)
        # w = Lj^{-1} c ; u = Lj^{-T} w
        for a in range(k):
            s = c[a]
            for r in range(a):
                s -= Lj[a, r] * w[r]
            w[a] = s / Lj[a, a]
            wsq += w[a] * w[a]
        for a in range(k - 1, -1, -1):
            s = w[a]
            for r in range(a + 1, k):
                s -= Lj[r, a] * u[r]
            u[a] = s / Lj[a, a]
        # b = T u
        for a in range(k):
            s = 0.0
            for r in range(a + 1):
                s += T[a, r] * u[r]
            bv[a] = s
        # Li = Lj^{-1}; Z = Li' Li (diagonal block of A^{-1})
        for col in range(k):
            for a in range(k):
                s = 1.0 if a == col else 0.0
                for r in range(a):
                    s -= Lj[a, r] * Li[r, col]
                Li[a, col] = s / Lj[a, a]
        for a in range(k):
            for b in range(k):
                s = 0.0
                for r in range(k):
                    s += Li[r, a] * Li[r, b]
                Z[a, b] = s
            trA += Z[a, a]
        # M += b b' + σ² T Z T'
        for a in range(k):
            for b in range(k):
                s = 0.0
                for r in range(k):
                    s += T[a, r] * Z[r, b]
                TZ[a, b] = s
        for a in range(k):
            for b in range(k):
                s = 0.0
                for r in range(k):
                    s += TZ[a, r] * T[b, r]
                M[a, b] += bv[a] * bv[b] + s2 * s
        # ‖r − Zb̂‖² pieces and X'Z b̂
        for a in range(k):
            e2 -= 2.0 * g[a] * bv[a]
            for b in range(k):
                e2 += bv[a] * C[j, a, b] * bv[b]
            for q in range(p):
                Xtzb[q] += D[j, a, q] * bv[a]
    quad = rr - wsq
    ll = -0.5 * (n * math.log(2.0 * math.pi * s2) + logdet + quad / s2)
    dbeta = np.empty(p)
    for a in range(p):
        s = Xty[a] - Xtzb[a]
        for b in range(p):
            s -= XtX[a, b] * beta[b]
        dbeta[a] = s / s2
    q_tot = m * k
    dsig2 = 0.5 * (e2 / (s2 * s2) - (n - q_tot + trA) / s2)
    dsigma = 2.0 * sigma * dsig2
    Sig = L @ L.T
    Si = np.linalg.inv(Sig)
    G = 0.5 * Si @ (M - m * Sig) @ Si
    G = 0.5 * (G + G.T)
    return ll, dbeta, dsigma, G


@njit(cache=True, error_model="numpy")
def corr_chol(w, k):  # pragma: no cover
    """Correlation Cholesky factor from CPCs (C-vine, packed row-major over i < j) and the
    'remaining mass' table the reverse pass needs."""
    L = np.zeros((k, k))
    rem = np.ones((k, k + 1))
    L[0, 0] = 1.0
    for j in range(1, k):
        r = 1.0
        for i in range(j):
            pos = i * k - i * (i + 1) // 2 + (j - i - 1)
            rem[j, i] = r
            L[j, i] = w[pos] * math.sqrt(r)
            r -= L[j, i] * L[j, i]
        rem[j, j] = r
        L[j, j] = math.sqrt(r) if r > 0.0 else 0.0
    return L, rem


@njit(cache=True, error_model="numpy")
def cov_param_grad(sd, Lc, rem, w, G):  # pragma: no cover
    """Chain rule from ∂ℓ/∂Σ (Σ = D Lc Lc' D) to the SDs and the CPCs."""
    k = sd.shape[0]
    R = Lc @ Lc.T
    gsd = np.zeros(k)
    for a in range(k):
        s = 0.0
        for b in range(k):
            s += G[a, b] * sd[b] * R[b, a]
        gsd[a] = 2.0 * s
    gw = np.zeros(w.shape[0])
    if k == 1:
        return gsd, gw
    GR = np.empty((k, k))
    for a in range(k):
        for b in range(k):
            GR[a, b] = sd[a] * G[a, b] * sd[b]
    gL = 2.0 * (GR @ Lc)
    for j in range(1, k):
        g_rem = gL[j, j] * 0.5 / math.sqrt(rem[j, j]) if rem[j, j] > 0.0 else 0.0
        for i in range(j - 1, -1, -1):
            pos = i * k - i * (i + 1) // 2 + (j - i - 1)
            g_lji = gL[j, i] - 2.0 * Lc[j, i] * g_rem
            sr = math.sqrt(rem[j, i])
            gw[pos] = g_lji * sr
            g_rem = g_rem + g_lji * w[pos] * 0.5 / sr
    return gsd, gw


# ---------------------------------------------------------------------------- priors in numba
# Family codes and parameter layout (par[i, 0..3]) — filled by logdensity.encode_prior.
NORMAL, STUDENTT, LAPLACE, FLAT, EXPONENTIAL, GAMMA, INVGAMMA, LOGNORMAL, UNIFORM = range(9)
IDENTITY, LOG, INTERVAL = range(3)


@njit(cache=True, error_model="numpy")
def _prior_lp(fam, par, x):  # pragma: no cover
    # par[0] holds the log normalizing constant (incl. log 2 for half families)
    c = par[0]
    if fam == NORMAL:
        z = (x - par[1]) / par[2]
        return c - 0.5 * z * z, -z / par[2]
    if fam == STUDENTT:
        nu = par[3]
        z = (x - par[1]) / par[2]
        return c - 0.5 * (nu + 1.0) * math.log1p(z * z / nu), -(nu + 1.0) * z / (
            par[2] * (nu + z * z)
        )
    if fam == LAPLACE:
        d = x - par[1]
        s = 1.0 if d > 0 else (-1.0 if d < 0 else 0.0)
        return c - abs(d) / par[2], -s / par[2]
    if fam == EXPONENTIAL:
        return c - par[1] * x, -par[1]
    if fam == GAMMA:
        return c + (par[1] - 1.0) * math.log(x) - par[2] * x, (par[1] - 1.0) / x - par[2]
    if fam == INVGAMMA:
        return (
            c - (par[1] + 1.0) * math.log(x) - par[2] / x,
            -(par[1] + 1.0) / x + par[2] / (x * x),
        )
    if fam == LOGNORMAL:
        lx = math.log(x)
        z = (lx - par[1]) / par[2]
        return c - lx - 0.5 * z * z, (-1.0 - z / par[2]) / x
    return c, 0.0  # FLAT, UNIFORM (constant inside the support)


@njit(cache=True, error_model="numpy")
def scalar_params(x, fam, par, trk, lo, hi):  # pragma: no cover
    """Transform the scalar block of x; prior + log-Jacobian and their gradient."""
    n = x.shape[0]
    val = np.empty(n)
    dval = np.empty(n)
    grad = np.zeros(n)
    lp = 0.0
    for i in range(n):
        e = x[i]
        if trk[i] == IDENTITY:
            v, dv, lj, dlj = e, 1.0, 0.0, 0.0
        elif trk[i] == LOG:
            v = math.exp(e)
            dv, lj, dlj = v, e, 1.0
        else:
            s = 1.0 / (1.0 + math.exp(-e))
            w = hi[i] - lo[i]
            v = lo[i] + w * s
            dv = w * s * (1.0 - s)
            lj = math.log(w) + math.log(s) + math.log1p(-s)
            dlj = 1.0 - 2.0 * s
        plp, pd = _prior_lp(fam[i], par[i], v)
        val[i] = v
        dval[i] = dv
        lp += plp + lj
        grad[i] = pd * dv + dlj
    return val, dval, lp, grad


@njit(cache=True, error_model="numpy")
def cpc_params(eta, a, lbeta):  # pragma: no cover
    """CPCs w = 2u − 1, u = logistic(η) ~ Beta(a, a): w, dw/dη, log density (+Jacobian), grad."""
    n = eta.shape[0]
    w = np.empty(n)
    dw = np.empty(n)
    grad = np.empty(n)
    lp = 0.0
    for i in range(n):
        u = 1.0 / (1.0 + math.exp(-eta[i]))
        if u <= 0.0 or u >= 1.0:
            return w, dw, -np.inf, grad
        du = u * (1.0 - u)
        lp += (
            (a[i] - 1.0) * (math.log(u) + math.log1p(-u)) - lbeta[i] + math.log(u) + math.log1p(-u)
        )
        grad[i] = (a[i] - 1.0) * (1.0 / u - 1.0 / (1.0 - u)) * du + (1.0 - 2.0 * u)
        w[i] = 2.0 * u - 1.0
        dw[i] = 2.0 * du
    return w, dw, lp, grad


@njit(cache=True, error_model="numpy")
def single_term_logp_grad(
    x, p, k, fam, par, trk, lo, hi, a_cpc, lbeta_cpc, C, D, e, XtX, Xty, yty, n
):  # pragma: no cover
    """Whole log posterior (priors, Jacobians, marginal likelihood) and gradient for a model
    with one random-effects term; x = [β (p), log σ, sd (k), cpc (k(k−1)/2)] unconstrained."""
    ns = p + 1 + k
    val, dval, lp, gs = scalar_params(x[:ns], fam, par, trk, lo, hi)
    grad = np.zeros(x.shape[0])
    grad[:ns] = gs
    if not np.isfinite(lp):
        return -np.inf, grad
    sd = val[p + 1 : ns]
    if k > 1:
        w, dw, lpc, gc = cpc_params(x[ns:], a_cpc, lbeta_cpc)
        if not np.isfinite(lpc):
            return -np.inf, grad
        lp += lpc
        grad[ns:] = gc
        Lc, rem = corr_chol(w, k)
    else:
        w = np.zeros(0)
        dw = np.zeros(0)
        Lc = np.ones((1, 1))
        rem = np.ones((1, 2))
    L = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            L[i, j] = sd[i] * Lc[i, j]
    beta = val[:p].copy()
    sigma = val[p]
    ll, gb, gsig, G = single_term_loglik_grad(C, D, e, XtX, Xty, yty, n, beta, sigma, L)
    if not np.isfinite(ll):
        return -np.inf, grad
    lp += ll
    for i in range(p):
        grad[i] += gb[i] * dval[i]
    grad[p] += gsig * dval[p]
    gsd, gw = cov_param_grad(sd, Lc, rem, w, G)
    for i in range(k):
        grad[p + 1 + i] += gsd[i] * dval[p + 1 + i]
    for i in range(w.shape[0]):
        grad[ns + i] += gw[i] * dw[i]
    return lp, grad
