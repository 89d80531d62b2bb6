"""Compiled kernels for the marginal likelihood and the marginalized log posterior.

Random-intercept and random-slope models (one grouping factor) make up most of the primer.
For them A = Λ'Z'ZΛ + I is block diagonal, and every quantity the sampler needs — ℓ, the
conditional modes, the diagonal blocks of A⁻¹ and hence the whole gradient — comes from one
pass over the levels with k×k algebra (:func:`single_term_loglik_grad`). Models with several
terms (nested chains, crossed factors) get the same algebra as the NumPy reference in
:mod:`~bayesmixed.bayes.marginal` — blocked elimination, Takahashi selected inversion, the
EM-identity gradient — in :func:`nested_loglik_grad` / :func:`dense_loglik_grad`, plus exact
conditional draws of b. NumPy spends most of its time dispatching tiny arrays there, so these
passes are compiled with numba (``cache=True``: compiled once per machine, then loaded from
disk in milliseconds).

Everything lives in this one file on purpose: numba's disk cache is keyed on the defining
file only, so a cached kernel that inlined a function from another module would silently keep
the old code after that module changed.

Layout. The levels of all terms are stacked on one "global level" axis (term t owns columns
``lo[t]:lo[t+1]``) and every per-level block is padded to K = max k. The level axis is the
*last* one, so each k×k block operation is a handful of passes over contiguous level
vectors: loop overhead is paid per block entry rather than per level, and the passes vectorize.

* ``C`` (K, K, M) Z_t'Z_t, ``D`` (K, p, M) Z_t'X and ``e`` (K, M) Z_t'y per level;
* nested: ``Gn`` (nt, K, K, M), for a level of term s and u > s, Z_s'Z_u with the level's
  ancestor in u; ``anc`` (nt, M) that ancestor's global column;
* dense (crossed): ``G0r`` (k₀, m₀, q_r) Z₁'Z_r of the first term against the stacked later
  terms, ``Grr`` (q_r, q_r) Z_r'Z_r, and for each column of the later terms its term, global
  level column and coefficient (``rt``, ``rl``, ``rc``).

Per-term covariance factors come in as ``Lp`` (nt, K, K). The kernels release the GIL, so
NUTS chains running in threads evaluate their densities in parallel.
"""

from __future__ import annotations

import math

import numpy as np
from numba import carray, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "single_term_loglik_grad",
    "nested_loglik_grad",
    "dense_loglik_grad",
    "nested_draw_b",
    "dense_draw_b",
    "nested_logp_grad",
    "dense_logp_grad",
]


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
    # Σ = L L' with L lower triangular: Σ⁻¹ = L⁻ᵀ L⁻¹ from the triangular inverse
    Linv = np.zeros((k, k))
    for col in range(k):
        for a in range(col, k):
            s = 1.0 if a == col else 0.0
            for r in range(col, a):
                s -= L[a, r] * Linv[r, col]
            Linv[a, col] = s / L[a, a]
    Si = np.empty((k, k))
    for a in range(k):
        for b in range(k):
            s = 0.0
            for r in range(k):
                s += Linv[r, a] * Linv[r, b]
            Si[a, b] = s
    H = np.empty((k, k))
    for a in range(k):
        for b in range(k):
            s = 0.0
            for r in range(k):
                sig = 0.0
                for t in range(k):
                    sig += L[r, t] * L[b, t]
                s += Si[a, r] * (M[r, b] - m * sig)
            H[a, b] = s
    G = np.empty((k, k))
    for a in range(k):
        for b in range(k):
            s = 0.0
            for r in range(k):
                s += H[a, r] * Si[r, b]
            G[a, b] = 0.5 * s
    for a in range(k):
        for b in range(a + 1, k):
            h = 0.5 * (G[a, b] + G[b, a])
            G[a, b] = h
            G[b, a] = h
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
    R = np.empty((k, k))
    for a in range(k):
        for b in range(k):
            s = 0.0
            for r in range(k):
                s += Lc[a, r] * Lc[b, r]
            R[a, b] = s
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
    gL = np.empty((k, k))
    for a in range(k):
        for b in range(k):
            s = 0.0
            for r in range(k):
                s += GR[a, r] * Lc[r, b]
            gL[a, b] = 2.0 * s
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
# LOGVAR: log scale, with the prior on the square of the value (a prior on a variance τ²)
IDENTITY, LOG, INTERVAL, LOGVAR = range(4)
_LOG2 = math.log(2.0)


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
        elif trk[i] == LOG or trk[i] == LOGVAR:
            v = math.exp(e)
            dv, lj, dlj = v, e, 1.0
        else:
            s = 1.0 / (1.0 + math.exp(-e))
            w = hi[i] - lo[i]
            v = lo[i] + w * s
            dv = w * s * (1.0 - s)
            lj = math.log(w) + math.log(s) + math.log1p(-s)
            dlj = 1.0 - 2.0 * s
        if trk[i] == LOGVAR:
            plp, pd = _prior_lp(fam[i], par[i], v * v)
            plp += _LOG2 + e  # the Jacobian 2τ of τ → τ²
            pd = pd * 2.0 * v + 1.0 / v
        else:
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
    for i in range(ns):  # element loops: slices pull in numba's error formatting
        grad[i] = gs[i]
    if not np.isfinite(lp):
        return -np.inf, grad
    sd = val[p + 1 : ns]
    if k > 1:
        w, dw, lpc, gc = cpc_params(x[ns:], a_cpc, lbeta_cpc)
        if not np.isfinite(lpc):
            return -np.inf, grad
        lp += lpc
        for i in range(gc.shape[0]):
            grad[ns + i] = gc[i]
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


# ============================================================================ several terms
# reassoc lets LLVM vectorize the sums over levels (dot products); no nnan/ninf, so -inf and
# nan still propagate as the samplers expect
_JIT = {
    "cache": True,
    "error_model": "numpy",
    "nogil": True,
    "fastmath": {"reassoc", "contract"},
}


# ---------------------------------------------------------------------------- level blocks
@njit(**_JIT)
def _chol_levels(A, k, l0, l1):  # pragma: no cover
    """In-place Cholesky of the k×k blocks of A over levels l0:l1 (lower triangle ← L).

    Returns Σ log|A_j|, or nan if a block is not positive definite.
    """
    logdet = 0.0
    for col in range(k):
        for r in range(col):
            for gl in range(l0, l1):
                A[col, col, gl] -= A[col, r, gl] * A[col, r, gl]
        for gl in range(l0, l1):
            d = A[col, col, gl]
            if not d > 0.0:
                return np.nan
            d = math.sqrt(d)
            A[col, col, gl] = d
            logdet += 2.0 * math.log(d)
        for i in range(col + 1, k):
            for r in range(col):
                for gl in range(l0, l1):
                    A[i, col, gl] -= A[i, r, gl] * A[col, r, gl]
            for gl in range(l0, l1):
                A[i, col, gl] /= A[col, col, gl]
    return logdet


@njit(**_JIT)
def _tri_inv_levels(L, Li, k, l0, l1):  # pragma: no cover
    """Li ← inverses of the lower-triangular k×k blocks of L over levels l0:l1."""
    for col in range(k):
        for gl in range(l0, l1):
            Li[col, col, gl] = 1.0 / L[col, col, gl]
        for a in range(col + 1, k):
            for gl in range(l0, l1):
                Li[a, col, gl] = 0.0
            for r in range(col, a):
                for gl in range(l0, l1):
                    Li[a, col, gl] -= L[a, r, gl] * Li[r, col, gl]
            for gl in range(l0, l1):
                Li[a, col, gl] /= L[a, a, gl]


@njit(**_JIT)
def _lower_mv(Li, v, out, k, l0, l1):  # pragma: no cover
    """out ← Li v per level (Li lower triangular)."""
    for a in range(k):
        for gl in range(l0, l1):
            out[a, gl] = 0.0
        for r in range(a + 1):
            for gl in range(l0, l1):
                out[a, gl] += Li[a, r, gl] * v[r, gl]


@njit(**_JIT)
def _lower_tmv(Li, v, out, k, l0, l1):  # pragma: no cover
    """out ← Li' v per level (Li lower triangular)."""
    for a in range(k):
        for gl in range(l0, l1):
            out[a, gl] = 0.0
        for r in range(a, k):
            for gl in range(l0, l1):
                out[a, gl] += Li[r, a, gl] * v[r, gl]


@njit(**_JIT)
def _setup(beta, sigma, Lp, ks, lo, C, D, e, XtX, Xty, yty):  # pragma: no cover
    """T = L/σ, r'r, g = Z'r, c = T'g and A = T'CT + I per level (before elimination)."""
    nt = ks.shape[0]
    K, M = C.shape[0], C.shape[2]
    p = beta.shape[0]
    T = np.empty((nt, K, K))
    for t in range(nt):
        for a in range(K):
            for b in range(K):
                T[t, a, b] = Lp[t, a, b] / sigma
    rr = yty
    for a in range(p):
        rr -= 2.0 * beta[a] * Xty[a]
        for b in range(p):
            rr += beta[a] * XtX[a, b] * beta[b]
    g = np.zeros((K, M))
    c = np.zeros((K, M))
    A = np.zeros((K, K, M))
    for t in range(nt):
        k = ks[t]
        l0, l1 = lo[t], lo[t + 1]
        for a in range(k):
            for gl in range(l0, l1):
                g[a, gl] = e[a, gl]
            for q in range(p):
                bq = beta[q]
                for gl in range(l0, l1):
                    g[a, gl] -= D[a, q, gl] * bq
        for a in range(k):
            for r in range(a, k):  # T lower triangular: T[r, a] = 0 for r < a
                tra = T[t, r, a]
                for gl in range(l0, l1):
                    c[a, gl] += tra * g[r, gl]
        for a in range(k):
            for b in range(a + 1):
                for r in range(a, k):
                    for d in range(b, k):
                        coef = T[t, r, a] * T[t, d, b]
                        for gl in range(l0, l1):
                            A[a, b, gl] += coef * C[r, d, gl]
                if b == a:
                    for gl in range(l0, l1):
                        A[a, a, gl] += 1.0
                else:
                    for gl in range(l0, l1):
                        A[b, a, gl] = A[a, b, gl]
    return T, rr, g, c, A


@njit(**_JIT)
def _effects(T, ks, lo, u):  # pragma: no cover
    """b = T u per level (b = Λu on the σ-relative scale)."""
    b = np.zeros(u.shape)
    for t in range(ks.shape[0]):
        k = ks[t]
        for a in range(k):
            for r in range(a + 1):
                tar = T[t, a, r]
                for gl in range(lo[t], lo[t + 1]):
                    b[a, gl] += tar * u[r, gl]
    return b


@njit(**_JIT)
def _finish(
    beta, sigma, Lp, T, ks, lo, D, g, XtX, Xty, n, b, bZZb, Zsum, rr, wsq, logdet
):  # pragma: no cover
    """ℓ and the EM-identity gradient from b̂, Σ_j Var(u_j|y)/σ² per term and b̂'Z'Zb̂."""
    nt = ks.shape[0]
    K = Lp.shape[1]
    p = beta.shape[0]
    s2 = sigma * sigma
    ll = -0.5 * (n * math.log(2.0 * math.pi * s2) + logdet + (rr - wsq) / s2)
    e2 = rr + bZZb
    Xtzb = np.zeros(p)
    Mt = np.zeros((nt, K, K))
    q_tot = 0
    trA = 0.0
    for t in range(nt):
        k = ks[t]
        l0, l1 = lo[t], lo[t + 1]
        q_tot += (l1 - l0) * k
        for a in range(k):
            acc = 0.0
            for gl in range(l0, l1):
                acc += g[a, gl] * b[a, gl]
            e2 -= 2.0 * acc
            for q in range(p):
                acc = 0.0
                for gl in range(l0, l1):
                    acc += D[a, q, gl] * b[a, gl]
                Xtzb[q] += acc
            for c in range(a + 1):
                acc = 0.0
                for gl in range(l0, l1):
                    acc += b[a, gl] * b[c, gl]
                Mt[t, a, c] = acc
                Mt[t, c, a] = acc
            trA += Zsum[t, a, a]
    dbeta = np.empty(p)
    for a in range(p):
        s = Xty[a] - Xtzb[a]
        for c in range(p):
            s -= XtX[a, c] * beta[c]
        dbeta[a] = s / s2
    dsig2 = 0.5 * (e2 / (s2 * s2) - (n - q_tot + trA) / s2)
    dsigma = 2.0 * sigma * dsig2
    # ∂ℓ/∂Σ = ½ Σ⁻¹ (M − mΣ) Σ⁻¹ with M = Σ_j b̂b̂' + σ² T (Σ_j Z_j) T' and Σ⁻¹ = L⁻ᵀL⁻¹
    dSig = np.zeros((nt, K, K))
    W = np.empty((K, K))
    X = np.empty((K, K))
    Li = np.zeros((K, K))
    for t in range(nt):
        k = ks[t]
        m = lo[t + 1] - lo[t]
        for a in range(k):
            for c in range(k):
                acc = 0.0
                for r in range(k):
                    acc += Zsum[t, a, r] * T[t, c, r]
                X[a, c] = acc  # Z T'
        for a in range(k):
            for c in range(k):
                acc = 0.0
                llt = 0.0
                for r in range(k):
                    acc += T[t, a, r] * X[r, c]
                    llt += Lp[t, a, r] * Lp[t, c, r]
                W[a, c] = Mt[t, a, c] + s2 * acc - m * llt
        for col in range(k):  # Li = L⁻¹
            for a in range(k):
                s = 1.0 if a == col else 0.0
                for r in range(a):
                    s -= Lp[t, a, r] * Li[r, col]
                Li[a, col] = s / Lp[t, a, a]
        for a in range(k):  # X = L⁻¹ W L⁻ᵀ
            for c in range(k):
                acc = 0.0
                for r in range(a + 1):
                    for d in range(c + 1):
                        acc += Li[a, r] * W[r, d] * Li[c, d]
                X[a, c] = acc
        for a in range(k):  # ½ L⁻ᵀ X L⁻¹, symmetrized
            for c in range(a + 1):
                acc = 0.0
                for r in range(a, k):
                    for d in range(c, k):
                        acc += Li[r, a] * (X[r, d] + X[d, r]) * Li[d, c]
                dSig[t, a, c] = 0.25 * acc
                dSig[t, c, a] = 0.25 * acc
    return ll, dbeta, dsigma, dSig


@njit(**_JIT)
def _add_noise(w, eps, sigma, ks, lo):  # pragma: no cover
    """w += σε, ε in term / level / coefficient order (the order NumPy draws them in)."""
    pos = 0
    for t in range(ks.shape[0]):
        k = ks[t]
        for gl in range(lo[t], lo[t + 1]):
            for a in range(k):
                w[a, gl] += sigma * eps[pos]
                pos += 1


# ---------------------------------------------------------------------------- nested chains
@njit(**_JIT)
def _nested_factor(T, A, c, ks, lo, Gn, anc):  # pragma: no cover
    """Eliminate term by term; A and c take the children's Schur updates in place.

    Returns (logdet, wsq, L⁻¹ per level, w = L⁻¹c, F[u, :, :, gl] = L⁻¹E_{s,u}); logdet is
    nan when a block is not positive definite.
    """
    nt = ks.shape[0]
    K, M = c.shape
    # E[u, :, :, gl] = T_s' Z_s'Z_u T_u for a level gl of term s < u (then Schur-updated)
    E = np.zeros((nt, K, K, M))
    for s in range(nt):
        k = ks[s]
        l0, l1 = lo[s], lo[s + 1]
        for u in range(s + 1, nt):
            ku = ks[u]
            for a in range(k):
                for bb in range(ku):
                    for r in range(a, k):
                        for d in range(bb, ku):
                            coef = T[s, r, a] * T[u, d, bb]
                            for gl in range(l0, l1):
                                E[u, a, bb, gl] += coef * Gn[u, r, d, gl]
    Li = np.zeros((K, K, M))
    w = np.zeros((K, M))
    F = np.zeros((nt, K, K, M))
    logdet = 0.0
    wsq = 0.0
    for s in range(nt):
        k = ks[s]
        l0, l1 = lo[s], lo[s + 1]
        ld = _chol_levels(A, k, l0, l1)
        if not ld == ld:
            return np.nan, 0.0, Li, w, F
        logdet += ld
        _tri_inv_levels(A, Li, k, l0, l1)
        _lower_mv(Li, c, w, k, l0, l1)
        for a in range(k):
            for gl in range(l0, l1):
                wsq += w[a, gl] * w[a, gl]
        for u in range(s + 1, nt):
            ku = ks[u]
            for a in range(k):
                for bb in range(ku):
                    for r in range(a + 1):
                        for gl in range(l0, l1):
                            F[u, a, bb, gl] += Li[a, r, gl] * E[u, r, bb, gl]
        # Schur updates of the ancestors (segment sums over the children of each level)
        for u in range(s + 1, nt):
            ku = ks[u]
            for a in range(ku):
                for r in range(k):
                    for gl in range(l0, l1):
                        c[a, anc[u, gl]] -= F[u, r, a, gl] * w[r, gl]
                for bb in range(ku):
                    for r in range(k):
                        for gl in range(l0, l1):
                            A[a, bb, anc[u, gl]] -= F[u, r, a, gl] * F[u, r, bb, gl]
            for v in range(u + 1, nt):
                for a in range(ku):
                    for bb in range(ks[v]):
                        for r in range(k):
                            for gl in range(l0, l1):
                                E[v, a, bb, anc[u, gl]] -= F[u, r, a, gl] * F[v, r, bb, gl]
    return logdet, wsq, Li, w, F


@njit(**_JIT)
def _nested_solve(ks, lo, anc, Li, F, w):  # pragma: no cover
    """u = L_A^{-T} w, ancestors first."""
    nt = ks.shape[0]
    u = np.zeros(w.shape)
    rhs = np.empty(w.shape)
    for s in range(nt - 1, -1, -1):
        k = ks[s]
        l0, l1 = lo[s], lo[s + 1]
        for a in range(k):
            for gl in range(l0, l1):
                rhs[a, gl] = w[a, gl]
            for v in range(s + 1, nt):
                for bb in range(ks[v]):
                    for gl in range(l0, l1):
                        rhs[a, gl] -= F[v, a, bb, gl] * u[bb, anc[v, gl]]
        _lower_tmv(Li, rhs, u, k, l0, l1)
    return u


@njit(**_JIT)
def _nested_invdiag(ks, lo, anc, Li, F):  # pragma: no cover
    """Σ_j of the diagonal blocks of A⁻¹ per term (Takahashi recursion, ancestors first).

    Za[u, :, :, gl] is the (k_u × k_s) block of A⁻¹ between level gl of term s and its
    ancestor in term u > s; Zd the diagonal blocks.
    """
    nt = ks.shape[0]
    K, M = Li.shape[0], Li.shape[2]
    Zd = np.zeros((K, K, M))
    Za = np.zeros((nt, K, K, M))
    H = np.zeros((nt, K, K, M))
    Zsum = np.zeros((nt, K, K))
    for s in range(nt - 1, -1, -1):
        k = ks[s]
        l0, l1 = lo[s], lo[s + 1]
        # H_v = F_{s,v}' L_s⁻¹ (k_v × k_s)
        for v in range(s + 1, nt):
            for a in range(ks[v]):
                for bb in range(k):
                    for r in range(bb, k):
                        for gl in range(l0, l1):
                            H[v, a, bb, gl] += F[v, r, a, gl] * Li[r, bb, gl]
        for u in range(s + 1, nt):
            ku = ks[u]
            for v in range(s + 1, nt):
                # Za_u −= (block of A⁻¹ between the ancestors in u and in v) H_v
                for a in range(ku):
                    for bb in range(k):
                        for r in range(ks[v]):
                            if v == u:
                                for gl in range(l0, l1):
                                    Za[u, a, bb, gl] -= Zd[a, r, anc[u, gl]] * H[v, r, bb, gl]
                            elif v > u:
                                for gl in range(l0, l1):
                                    Za[u, a, bb, gl] -= Za[v, r, a, anc[u, gl]] * H[v, r, bb, gl]
                            else:
                                for gl in range(l0, l1):
                                    Za[u, a, bb, gl] -= Za[u, a, r, anc[v, gl]] * H[v, r, bb, gl]
        for a in range(k):
            for bb in range(a + 1):
                for r in range(a, k):
                    for gl in range(l0, l1):
                        Zd[a, bb, gl] += Li[r, a, gl] * Li[r, bb, gl]
                for v in range(s + 1, nt):
                    for r in range(ks[v]):
                        # symmetrized, as the reference does
                        for gl in range(l0, l1):
                            Zd[a, bb, gl] -= 0.5 * (
                                H[v, r, a, gl] * Za[v, r, bb, gl]
                                + H[v, r, bb, gl] * Za[v, r, a, gl]
                            )
                acc = 0.0
                for gl in range(l0, l1):
                    Zd[bb, a, gl] = Zd[a, bb, gl]
                    acc += Zd[a, bb, gl]
                Zsum[s, a, bb] = acc
                Zsum[s, bb, a] = acc
    return Zsum


@njit(**_JIT)
def _nested_bzzb(ks, lo, C, Gn, anc, b):  # pragma: no cover
    """b̂'Z'Zb̂ from the per-level blocks and the ancestor cross blocks."""
    nt = ks.shape[0]
    tot = 0.0
    for s in range(nt):
        k = ks[s]
        l0, l1 = lo[s], lo[s + 1]
        for a in range(k):
            for bb in range(k):
                for gl in range(l0, l1):
                    tot += b[a, gl] * C[a, bb, gl] * b[bb, gl]
            for u in range(s + 1, nt):
                for bb in range(ks[u]):
                    for gl in range(l0, l1):
                        tot += 2.0 * b[a, gl] * Gn[u, a, bb, gl] * b[bb, anc[u, gl]]
    return tot


@njit(**_JIT)
def nested_loglik_grad(
    beta, sigma, Lp, ks, lo, C, D, e, XtX, Xty, yty, n, Gn, anc
):  # pragma: no cover
    """ℓ and (∂ℓ/∂β, ∂ℓ/∂σ, ∂ℓ/∂Σ_t) for a chain of nested terms (see the module docstring).

    ll is -inf (gradient zero) if a block is not positive definite.
    """
    ll, db, ds, dS, _ = nested_loglik_grad_b(
        beta, sigma, Lp, ks, lo, C, D, e, XtX, Xty, yty, n, Gn, anc
    )
    return ll, db, ds, dS


@njit(**_JIT)
def nested_loglik_grad_b(
    beta, sigma, Lp, ks, lo, C, D, e, XtX, Xty, yty, n, Gn, anc
):  # pragma: no cover
    """:func:`nested_loglik_grad` and the conditional means b̂ (K, M) it went through."""
    nt = ks.shape[0]
    K = C.shape[0]
    T, rr, g, c, A = _setup(beta, sigma, Lp, ks, lo, C, D, e, XtX, Xty, yty)
    logdet, wsq, Li, w, F = _nested_factor(T, A, c, ks, lo, Gn, anc)
    if not logdet == logdet:
        return -np.inf, np.zeros(beta.shape[0]), 0.0, np.zeros((nt, K, K)), np.zeros(e.shape)
    u = _nested_solve(ks, lo, anc, Li, F, w)
    b = _effects(T, ks, lo, u)
    Zsum = _nested_invdiag(ks, lo, anc, Li, F)
    bZZb = _nested_bzzb(ks, lo, C, Gn, anc, b)
    ll, db, ds, dS = _finish(
        beta, sigma, Lp, T, ks, lo, D, g, XtX, Xty, n, b, bZZb, Zsum, rr, wsq, logdet
    )
    return ll, db, ds, dS, b


@njit(**_JIT)
def nested_draw_b(
    betas, sigmas, Lps, eps, ks, lo, C, D, e, XtX, Xty, yty, n, Gn, anc
):  # pragma: no cover
    """Exact draws of b | y for a nested chain, one per row of the parameter arrays.

    eps (S, q) are standard normals in term / level / coefficient order; u = L_A^{-T}(w + σε).
    Returns b (S, K, M) in the global-level layout (nan where a factorization failed).
    """
    S = betas.shape[0]
    K, M = C.shape[0], C.shape[2]
    out = np.empty((S, K, M))
    for i in range(S):
        sigma = sigmas[i]
        T, rr, g, c, A = _setup(betas[i], sigma, Lps[i], ks, lo, C, D, e, XtX, Xty, yty)
        logdet, wsq, Li, w, F = _nested_factor(T, A, c, ks, lo, Gn, anc)
        if not logdet == logdet:
            out[i] = np.nan
            continue
        _add_noise(w, eps[i], sigma, ks, lo)
        u = _nested_solve(ks, lo, anc, Li, F, w)
        out[i] = _effects(T, ks, lo, u)
    return out


# ---------------------------------------------------------------------------- crossed (dense)
@njit(**_JIT)
def _tbd_t_times(Y, T, ks, rt, rc):  # pragma: no cover
    """blockdiag(T_u)' Y over the later terms' columns (q_r × q_r)."""
    qr = Y.shape[0]
    out = np.zeros((qr, Y.shape[1]))
    for ri in range(qr):
        t = rt[ri]
        cb = rc[ri]
        base = ri - cb
        for d in range(cb, ks[t]):
            coef = T[t, d, cb]
            for rj in range(Y.shape[1]):
                out[ri, rj] += coef * Y[base + d, rj]
    return out


@njit(**_JIT)
def _tbd_times(Y, T, ks, rt, rc):  # pragma: no cover
    """blockdiag(T_u) Y over the later terms' columns (q_r × q_r)."""
    qr = Y.shape[0]
    out = np.zeros((qr, Y.shape[1]))
    for ri in range(qr):
        t = rt[ri]
        cb = rc[ri]
        base = ri - cb
        for d in range(cb + 1):
            coef = T[t, cb, d]
            for rj in range(Y.shape[1]):
                out[ri, rj] += coef * Y[base + d, rj]
    return out


@njit(**_JIT)
def _dense_factor(T, A, c, ks, lo, G0r, Grr, rt, rl, rc):  # pragma: no cover
    """First term block-diagonal, the later terms one dense Schur complement.

    With B_j = L_j⁻¹T₁' and P_j = B_j Z₁'Z_r (so F_j = P_j blockdiag(T_u)):
    S = I + blockdiag(T)' (Z_r'Z_r − Σ_j P_j'P_j) blockdiag(T).

    Returns (logdet, wsq, L₁⁻¹ per level, w₁, P (k₀, m₀, q_r), chol(S), w₂); logdet is nan
    when a block or S is not positive definite.
    """
    K = c.shape[0]
    k0 = ks[0]
    m0 = lo[1]
    qr = Grr.shape[0]
    Li = np.zeros((K, K, m0))
    w1 = np.zeros((K, m0))
    P = np.zeros((k0, m0, qr))
    ld = _chol_levels(A, k0, 0, m0)
    if not ld == ld:
        return np.nan, 0.0, Li, w1, P, np.zeros((qr, qr)), np.zeros(qr)
    logdet = ld
    _tri_inv_levels(A, Li, k0, 0, m0)
    _lower_mv(Li, c, w1, k0, 0, m0)
    wsq = 0.0
    for a in range(k0):
        for j in range(m0):
            wsq += w1[a, j] * w1[a, j]
    B = np.zeros((k0, k0, m0))
    for a in range(k0):
        for cc in range(k0):
            for r in range(min(a, cc) + 1):
                t0 = T[0, cc, r]
                for j in range(m0):
                    B[a, cc, j] += Li[a, r, j] * t0
    for a in range(k0):
        for j in range(m0):
            for cc in range(k0):
                coef = B[a, cc, j]
                for ri in range(qr):
                    P[a, j, ri] += coef * G0r[cc, j, ri]
    Pm = P.reshape(k0 * m0, qr)
    W = Grr - np.dot(Pm.T, Pm)
    # W symmetric: (T'W)' = W T, so both products are row operations
    X = _tbd_t_times(W, T, ks, rt, rc)
    S = _tbd_t_times(np.ascontiguousarray(X.T), T, ks, rt, rc)
    for ri in range(qr):
        S[ri, ri] += 1.0
    # c_r − F'w₁ = c_r − blockdiag(T)' P'w₁
    v = np.zeros(qr)
    for a in range(k0):
        for j in range(m0):
            coef = w1[a, j]
            for ri in range(qr):
                v[ri] += coef * P[a, j, ri]
    cr = np.empty(qr)
    for ri in range(qr):
        t = rt[ri]
        cb = rc[ri]
        acc = c[cb, rl[ri]]
        for d in range(cb, ks[t]):
            acc -= T[t, d, cb] * v[ri - cb + d]
        cr[ri] = acc
    try:
        Ls = np.linalg.cholesky(S)
    except Exception:
        return np.nan, 0.0, Li, w1, P, np.zeros((qr, qr)), np.zeros(qr)
    w2 = np.empty(qr)
    for a in range(qr):
        acc = cr[a]
        for r in range(a):
            acc -= Ls[a, r] * w2[r]
        w2[a] = acc / Ls[a, a]
        wsq += w2[a] * w2[a]
        logdet += 2.0 * math.log(Ls[a, a])
    return logdet, wsq, Li, w1, P, Ls, w2


@njit(**_JIT)
def _dense_solve(T, ks, lo, rt, rl, rc, Li, P, Ls, w1, w2):  # pragma: no cover
    """u = L_A^{-T} w: the dense block first, then the first term's levels."""
    qr = w2.shape[0]
    K = w1.shape[0]
    M = lo[ks.shape[0]]
    k0 = ks[0]
    m0 = lo[1]
    ur = np.empty(qr)
    for a in range(qr - 1, -1, -1):
        acc = w2[a]
        for r in range(a + 1, qr):
            acc -= Ls[r, a] * ur[r]
        ur[a] = acc / Ls[a, a]
    # F_j u_r = P_j blockdiag(T) u_r
    z = np.zeros(qr)
    for ri in range(qr):
        t = rt[ri]
        cb = rc[ri]
        for d in range(cb + 1):
            z[ri] += T[t, cb, d] * ur[ri - cb + d]
    rhs = np.empty((K, m0))
    for a in range(k0):
        for j in range(m0):
            rhs[a, j] = w1[a, j]
            acc = 0.0
            for ri in range(qr):
                acc += P[a, j, ri] * z[ri]
            rhs[a, j] -= acc
    u = np.zeros((K, M))
    _lower_tmv(Li, rhs, u, k0, 0, m0)
    for ri in range(qr):
        u[rc[ri], rl[ri]] = ur[ri]
    return u


@njit(**_JIT)
def _dense_invdiag(T, ks, lo, rt, rc, Li, P, Ls):  # pragma: no cover
    """Σ_j of the diagonal blocks of A⁻¹ per term.

    With S = LₛLₛ': A⁻¹_rr = S⁻¹, and per level of the first term
    A⁻¹_jj = (L_jL_j')⁻¹ + H_j'S⁻¹H_j with H_j = F_j'L_j⁻¹ = blockdiag(T)'P_j'L_j⁻¹,
    so H_j'S⁻¹H_j = K_j'K_j with K_j = R P_j' L_j⁻¹, R = Lₛ⁻¹ blockdiag(T)'.
    """
    nt = ks.shape[0]
    K = Li.shape[0]
    qr = Ls.shape[0]
    k0 = ks[0]
    m0 = lo[1]
    # Lₛ⁻¹ row by row (row operations vectorize), then transposed so that the diagonal
    # blocks of S⁻¹ = Lₛ⁻ᵀLₛ⁻¹ are dot products of contiguous rows
    Lsi = np.zeros((qr, qr))
    for a in range(qr):
        for r in range(a):
            coef = Ls[a, r]
            for col in range(r + 1):
                Lsi[a, col] -= coef * Lsi[r, col]
        inv = 1.0 / Ls[a, a]
        for col in range(a):
            Lsi[a, col] *= inv
        Lsi[a, a] = inv
    LsiT = np.ascontiguousarray(Lsi.T)
    Zsum = np.zeros((nt, K, K))
    for ri in range(qr):
        t = rt[ri]
        cb = rc[ri]
        base = ri - cb
        for d in range(ks[t]):
            rj = base + d
            acc = 0.0
            for r in range(max(ri, rj), qr):
                acc += LsiT[ri, r] * LsiT[rj, r]
            Zsum[t, cb, d] += acc
    # R' = blockdiag(T) Lₛ⁻ᵀ
    Rt = _tbd_times(LsiT, T, ks, rt, rc)
    # K_j' = L_j⁻ᵀ P_j R' (k₀ × q_r), stacked over levels for one matrix product
    Qt = np.zeros((k0, m0, qr))
    for a in range(k0):
        for j in range(m0):
            for cc in range(a, k0):
                coef = Li[cc, a, j]
                for ri in range(qr):
                    Qt[a, j, ri] += coef * P[cc, j, ri]
    Kt = np.dot(Qt.reshape(k0 * m0, qr), Rt).reshape(k0, m0, qr)
    for a in range(k0):
        for bb in range(a + 1):
            acc = 0.0
            for r in range(a, k0):
                for j in range(m0):
                    acc += Li[r, a, j] * Li[r, bb, j]
            for j in range(m0):
                for r in range(qr):
                    acc += Kt[a, j, r] * Kt[bb, j, r]
            Zsum[0, a, bb] = acc
            Zsum[0, bb, a] = acc
    return Zsum


@njit(**_JIT)
def _dense_bzzb(ks, lo, rl, rc, C, G0r, Grr, b):  # pragma: no cover
    """b̂'Z'Zb̂ = Σ_j b̂₁'C b̂₁ + 2 b̂₁'Z₁'Z_r b̂_r + b̂_r'Z_r'Z_r b̂_r."""
    qr = Grr.shape[0]
    k0 = ks[0]
    m0 = lo[1]
    br = np.empty(qr)
    for ri in range(qr):
        br[ri] = b[rc[ri], rl[ri]]
    tot = 0.0
    for a in range(k0):
        for bb in range(k0):
            for j in range(m0):
                tot += b[a, j] * C[a, bb, j] * b[bb, j]
        for j in range(m0):
            acc = 0.0
            for ri in range(qr):
                acc += G0r[a, j, ri] * br[ri]
            tot += 2.0 * acc * b[a, j]
    for ri in range(qr):
        acc = 0.0
        for rj in range(qr):
            acc += Grr[ri, rj] * br[rj]
        tot += br[ri] * acc
    return tot


@njit(**_JIT)
def dense_loglik_grad(
    beta, sigma, Lp, ks, lo, C, D, e, XtX, Xty, yty, n, G0r, Grr, rt, rl, rc
):  # pragma: no cover
    """ℓ and (∂ℓ/∂β, ∂ℓ/∂σ, ∂ℓ/∂Σ_t) for crossed terms (see the module docstring).

    ll is -inf (gradient zero) if a block or the Schur complement is not positive definite.
    """
    ll, db, ds, dS, _ = dense_loglik_grad_b(
        beta, sigma, Lp, ks, lo, C, D, e, XtX, Xty, yty, n, G0r, Grr, rt, rl, rc
    )
    return ll, db, ds, dS


@njit(**_JIT)
def dense_loglik_grad_b(
    beta, sigma, Lp, ks, lo, C, D, e, XtX, Xty, yty, n, G0r, Grr, rt, rl, rc
):  # pragma: no cover
    """:func:`dense_loglik_grad` and the conditional means b̂ (K, M) it went through."""
    nt = ks.shape[0]
    K = C.shape[0]
    T, rr, g, c, A = _setup(beta, sigma, Lp, ks, lo, C, D, e, XtX, Xty, yty)
    logdet, wsq, Li, w1, P, Ls, w2 = _dense_factor(T, A, c, ks, lo, G0r, Grr, rt, rl, rc)
    if not logdet == logdet:
        return -np.inf, np.zeros(beta.shape[0]), 0.0, np.zeros((nt, K, K)), np.zeros(e.shape)
    u = _dense_solve(T, ks, lo, rt, rl, rc, Li, P, Ls, w1, w2)
    b = _effects(T, ks, lo, u)
    Zsum = _dense_invdiag(T, ks, lo, rt, rc, Li, P, Ls)
    bZZb = _dense_bzzb(ks, lo, rl, rc, C, G0r, Grr, b)
    ll, db, ds, dS = _finish(
        beta, sigma, Lp, T, ks, lo, D, g, XtX, Xty, n, b, bZZb, Zsum, rr, wsq, logdet
    )
    return ll, db, ds, dS, b


@njit(**_JIT)
def dense_draw_b(
    betas, sigmas, Lps, eps, ks, lo, C, D, e, XtX, Xty, yty, n, G0r, Grr, rt, rl, rc
):  # pragma: no cover
    """Exact draws of b | y for crossed terms (as :func:`nested_draw_b`)."""
    S = betas.shape[0]
    K, M = C.shape[0], C.shape[2]
    k0 = ks[0]
    m0 = lo[1]
    out = np.empty((S, K, M))
    for i in range(S):
        sigma = sigmas[i]
        T, rr, g, c, A = _setup(betas[i], sigma, Lps[i], ks, lo, C, D, e, XtX, Xty, yty)
        logdet, wsq, Li, w1, P, Ls, w2 = _dense_factor(T, A, c, ks, lo, G0r, Grr, rt, rl, rc)
        if not logdet == logdet:
            out[i] = np.nan
            continue
        pos = 0
        for j in range(m0):
            for a in range(k0):
                w1[a, j] += sigma * eps[i, pos]
                pos += 1
        for ri in range(w2.shape[0]):
            w2[ri] += sigma * eps[i, pos + ri]
        u = _dense_solve(T, ks, lo, rt, rl, rc, Li, P, Ls, w1, w2)
        out[i] = _effects(T, ks, lo, u)
    return out


# ---------------------------------------------------------------------------- log posterior
@njit(**_JIT)
def _params(x, ks, fam, par, trk, lob, hib, a_cpc, lbeta_cpc):  # pragma: no cover
    """Priors, Jacobians and constrained values for x = [β, σ, SDs, CPCs] over all terms.

    Returns (lp, grad, val, dval, L (nt, K, K), Lc, rem, w, dw); the CPC pieces are packed
    term after term (term t's start at Σ_{u<t} k_u(k_u−1)/2). lp is -inf outside the support.
    """
    nt = ks.shape[0]
    K = 1
    for t in range(nt):
        K = max(K, ks[t])
    ns = fam.shape[0]
    p = ns - 1
    for t in range(nt):
        p -= ks[t]
    val, dval, lp, gs = scalar_params(x[:ns], fam, par, trk, lob, hib)
    grad = np.zeros(x.shape[0])
    grad[:ns] = gs
    nc = x.shape[0] - ns
    w = np.zeros(nc)
    dw = np.zeros(nc)
    Lp = np.zeros((nt, K, K))
    Lc = np.zeros((nt, K, K))
    rem = np.ones((nt, K, K + 1))
    if not np.isfinite(lp):
        return -np.inf, grad, val, dval, Lp, Lc, rem, w, dw
    sd_pos = p + 1
    cpos = 0
    for t in range(nt):
        k = ks[t]
        if k > 1:
            ncp = k * (k - 1) // 2
            wt, dwt, lpc, gc = cpc_params(
                x[ns + cpos : ns + cpos + ncp],
                a_cpc[cpos : cpos + ncp],
                lbeta_cpc[cpos : cpos + ncp],
            )
            if not np.isfinite(lpc):
                return -np.inf, grad, val, dval, Lp, Lc, rem, w, dw
            lp += lpc
            # element loops: slice assignment drags in numba's string-formatting error paths
            for i in range(ncp):
                w[cpos + i] = wt[i]
                dw[cpos + i] = dwt[i]
                grad[ns + cpos + i] = gc[i]
            Lct, remt = corr_chol(wt, k)
            for a in range(k):
                for bb in range(k + 1):
                    rem[t, a, bb] = remt[a, bb]
                    if bb < k:
                        Lc[t, a, bb] = Lct[a, bb]
            cpos += ncp
        else:
            Lc[t, 0, 0] = 1.0
        for a in range(k):
            for bb in range(a + 1):
                Lp[t, a, bb] = val[sd_pos + a] * Lc[t, a, bb]
        sd_pos += k
    return lp, grad, val, dval, Lp, Lc, rem, w, dw


@njit(**_JIT)
def _chain(lp, grad, val, dval, ks, Lc, rem, w, dw, ll, gb, gsig, dSig):  # pragma: no cover
    """lp + ℓ, with ℓ's gradient pushed through the transforms into ``grad`` (in place)."""
    ns = dval.shape[0]
    p = gb.shape[0]
    lp += ll
    for i in range(p):
        grad[i] += gb[i] * dval[i]
    grad[p] += gsig * dval[p]
    sd_pos = p + 1
    cpos = 0
    for t in range(ks.shape[0]):
        k = ks[t]
        ncp = k * (k - 1) // 2
        gsd, gw = cov_param_grad(
            val[sd_pos : sd_pos + k],
            np.ascontiguousarray(Lc[t, :k, :k]),
            np.ascontiguousarray(rem[t, :k, : k + 1]),
            w[cpos : cpos + ncp],
            np.ascontiguousarray(dSig[t, :k, :k]),
        )
        for a in range(k):
            grad[sd_pos + a] += gsd[a] * dval[sd_pos + a]
        for i in range(ncp):
            grad[ns + cpos + i] += gw[i] * dw[cpos + i]
        sd_pos += k
        cpos += ncp
    return lp


@njit(**_JIT)
def _finite(lp, grad):  # pragma: no cover
    if not np.isfinite(lp):
        return False
    for i in range(grad.shape[0]):
        if not np.isfinite(grad[i]):
            return False
    return True


@njit(**_JIT)
def nested_logp_grad(
    x, ks, fam, par, trk, lob, hib, a_cpc, lbeta_cpc, lo, C, D, e, XtX, Xty, yty, n, Gn, anc
):  # pragma: no cover
    """Whole log posterior and gradient (priors, Jacobians, ℓ) for a nested chain of terms.

    x = [β (p), σ, SDs of every term, CPCs of every correlated term], unconstrained; returns
    (-inf, zeros) outside the support or where anything is not finite.
    """
    lp, grad, val, dval, Lp, Lc, rem, w, dw = _params(
        x, ks, fam, par, trk, lob, hib, a_cpc, lbeta_cpc
    )
    if not np.isfinite(lp):
        return -np.inf, np.zeros(x.shape[0])
    p = D.shape[1]
    ll, gb, gs, dS = nested_loglik_grad(
        val[:p].copy(), val[p], Lp, ks, lo, C, D, e, XtX, Xty, yty, n, Gn, anc
    )
    lp = _chain(lp, grad, val, dval, ks, Lc, rem, w, dw, ll, gb, gs, dS)
    if not _finite(lp, grad):
        return -np.inf, np.zeros(x.shape[0])
    return lp, grad


@njit(**_JIT)
def dense_logp_grad(
    x,
    ks,
    fam,
    par,
    trk,
    lob,
    hib,
    a_cpc,
    lbeta_cpc,
    lo,
    C,
    D,
    e,
    XtX,
    Xty,
    yty,
    n,
    G0r,
    Grr,
    rt,
    rl,
    rc,
):  # pragma: no cover
    """As :func:`nested_logp_grad`, for crossed terms."""
    lp, grad, val, dval, Lp, Lc, rem, w, dw = _params(
        x, ks, fam, par, trk, lob, hib, a_cpc, lbeta_cpc
    )
    if not np.isfinite(lp):
        return -np.inf, np.zeros(x.shape[0])
    p = D.shape[1]
    ll, gb, gs, dS = dense_loglik_grad(
        val[:p].copy(), val[p], Lp, ks, lo, C, D, e, XtX, Xty, yty, n, G0r, Grr, rt, rl, rc
    )
    lp = _chain(lp, grad, val, dval, ks, Lc, rem, w, dw, ll, gb, gs, dS)
    if not _finite(lp, grad):
        return -np.inf, np.zeros(x.shape[0])
    return lp, grad


# ---------------------------------------------------------------------------- partly marginal
# Some terms sampled (their effects are coordinates of x, after the scalars), the others
# integrated out given them: y* = y − Σ_{t sampled} Z_t b_t enters the marginal kernels only
# through Z_M'y*, X'y* and y*'y*, and ∂ℓ/∂b_t = Z_t'(y* − Xβ − Z_M b̂_M)/σ². Rows are read
# from Zr (nt, K, n) (each term's model-matrix columns) and codes (nt, n); ``samp`` is 0 for
# an integrated term, 1 for a centred and 2 for a non-centred sampled one; ``eoff`` the
# offsets of each term's effects after the nb scalars (level-major, k per level); ``lo_all``
# the global level offsets of all terms and ``msub`` each term's index among the integrated
# terms (−1 for sampled ones), whose kernel layout is (ksM, loM, ...).
_LOG2PI = math.log(2.0 * math.pi)


@njit(**_JIT)
def _partial_effects(x, nb, Lp, ks, samp, eoff, lo_all, centre):  # pragma: no cover
    """b (K, M_all) of the sampled terms from x and their log prior.

    A hierarchically centred level (``centre[gl]`` ≥ 0) holds η = b + x[centre[gl]] in its
    intercept coordinate: the intercept of its parent level, or the fixed intercept."""
    nt = ks.shape[0]
    K = Lp.shape[1]
    b = np.zeros((K, lo_all[nt]))
    v = np.empty(K)
    lp = 0.0
    for t in range(nt):
        if samp[t] == 0:
            continue
        k = ks[t]
        l0 = lo_all[t]
        m = lo_all[t + 1] - l0
        base = nb + eoff[t]
        lp -= 0.5 * m * k * _LOG2PI
        if samp[t] == 1:  # b ~ N(0, LL'): −½‖L⁻¹b‖² − m log|L|
            for a in range(k):
                lp -= m * math.log(Lp[t, a, a])
            for j in range(m):
                for a in range(k):
                    s = x[base + j * k + a]
                    if a == 0 and centre[l0 + j] >= 0:
                        s -= x[centre[l0 + j]]
                    b[a, l0 + j] = s
                    for r in range(a):
                        s -= Lp[t, a, r] * v[r]
                    v[a] = s / Lp[t, a, a]
                    lp -= 0.5 * v[a] * v[a]
        else:  # b = L z, z ~ N(0, I)
            for j in range(m):
                for a in range(k):
                    z = x[base + j * k + a]
                    lp -= 0.5 * z * z
                    acc = 0.0
                    for r in range(a + 1):
                        acc += Lp[t, a, r] * x[base + j * k + r]
                    b[a, l0 + j] = acc
    return b, lp


@njit(**_JIT)
def _partial_ystar(
    b, Xc, y, codes, Zr, ks, samp, lo_all, msub, loM, eM, Xty, yty
):  # pragma: no cover
    """f = Σ_sampled Z_t b_t per row, and Z_M'y*, X'y*, y*'y* for y* = y − f."""
    nt = ks.shape[0]
    n = y.shape[0]
    p = Xc.shape[1]
    f = np.zeros(n)
    for t in range(nt):
        if samp[t] == 0:
            continue
        l0 = lo_all[t]
        for a in range(ks[t]):
            for i in range(n):
                f[i] += Zr[t, a, i] * b[a, l0 + codes[t, i]]
    e2 = eM.copy()
    for t in range(nt):
        s = msub[t]
        if s < 0:
            continue
        l0 = loM[s]
        for a in range(ks[t]):
            for i in range(n):
                e2[a, l0 + codes[t, i]] -= Zr[t, a, i] * f[i]
    Xty2 = Xty.copy()
    yty2 = yty
    for i in range(n):
        fi = f[i]
        yty2 += fi * (fi - 2.0 * y[i])
        for q in range(p):
            Xty2[q] -= Xc[i, q] * fi
    return f, e2, Xty2, yty2


@njit(**_JIT)
def _sub_factors(Lp, msub, KM, ntM):  # pragma: no cover
    """The integrated terms' covariance factors in their own (ntM, KM, KM) layout."""
    out = np.zeros((ntM, KM, KM))
    for t in range(msub.shape[0]):
        s = msub[t]
        if s >= 0:
            for a in range(KM):
                for c in range(KM):
                    out[s, a, c] = Lp[t, a, c]
    return out


@njit(**_JIT)
def _partial_grad(
    x, nb, b, bM, f, beta, sigma, Lp, Xc, y, codes, Zr, ks, samp, eoff, lo_all, msub, loM, dSig
):  # pragma: no cover
    """Gradient over the effect coordinates; fills dSig (∂/∂Σ_t) of the sampled terms."""
    nt = ks.shape[0]
    n = y.shape[0]
    p = Xc.shape[1]
    K = Lp.shape[1]
    s2 = sigma * sigma
    rho = np.empty(n)  # (y* − Xβ − Z_M b̂_M)/σ² = −∂ℓ/∂y*
    for i in range(n):
        r = y[i] - f[i]
        for q in range(p):
            r -= Xc[i, q] * beta[q]
        rho[i] = r
    for t in range(nt):
        s = msub[t]
        if s < 0:
            continue
        l0 = loM[s]
        for a in range(ks[t]):
            for i in range(n):
                rho[i] -= Zr[t, a, i] * bM[a, l0 + codes[t, i]]
    for i in range(n):
        rho[i] /= s2
    ge = np.zeros(x.shape[0] - nb)
    Li = np.zeros((K, K))
    H = np.zeros((K, K))
    h = np.empty(K)
    v = np.empty(K)
    for t in range(nt):
        if samp[t] == 0:
            continue
        k = ks[t]
        l0 = lo_all[t]
        m = lo_all[t + 1] - l0
        off = eoff[t]
        G = np.zeros((m, k))  # ∂ℓ/∂b_t: Z_t'ρ per level
        for a in range(k):
            for i in range(n):
                G[codes[t, i], a] += Zr[t, a, i] * rho[i]
        for col in range(k):  # Li = L⁻¹
            for a in range(k):
                s = 1.0 if a == col else 0.0
                for r in range(a):
                    s -= Lp[t, a, r] * Li[r, col]
                Li[a, col] = s / Lp[t, a, a]
        for a in range(k):
            for c in range(k):
                H[a, c] = 0.0
        if samp[t] == 1:
            # prior: ∂/∂b_j = −Σ⁻¹b_j; ∂/∂Σ = ½ (Σ_j Σ⁻¹b_j b_j'Σ⁻¹ − m Σ⁻¹)
            for j in range(m):
                for a in range(k):
                    acc = 0.0
                    for r in range(a + 1):
                        acc += Li[a, r] * b[r, l0 + j]
                    v[a] = acc
                for a in range(k):
                    acc = 0.0
                    for r in range(a, k):
                        acc += Li[r, a] * v[r]
                    h[a] = acc
                    ge[off + j * k + a] = G[j, a] - acc
                for a in range(k):
                    for c in range(k):
                        H[a, c] += h[a] * h[c]
            for a in range(k):
                for c in range(k):
                    sinv = 0.0
                    for r in range(max(a, c), k):
                        sinv += Li[r, a] * Li[r, c]
                    dSig[t, a, c] = 0.5 * (H[a, c] - m * sinv)
        else:
            # z: ∂/∂z_j = −z_j + L'G_j; through L (Murray 2016, Cholesky back-propagation):
            # L̄ = Σ_j G_j z_j' (lower), Σ̄ = sym(L⁻ᵀ Φ(L'L̄) L⁻¹), Φ = lower part, half diagonal
            for j in range(m):
                for a in range(k):
                    acc = -x[nb + off + j * k + a]
                    for r in range(a, k):
                        acc += Lp[t, r, a] * G[j, r]
                    ge[off + j * k + a] = acc
                    for c in range(a + 1):
                        H[a, c] += G[j, a] * x[nb + off + j * k + c]
            P = np.zeros((k, k))
            for a in range(k):
                for c in range(a + 1):
                    acc = 0.0
                    for r in range(a, k):
                        acc += Lp[t, r, a] * H[r, c]
                    P[a, c] = 0.5 * acc if a == c else acc
            S = np.zeros((k, k))
            for a in range(k):
                for c in range(k):
                    acc = 0.0
                    for r in range(a, k):
                        for d in range(c, k):
                            acc += Li[r, a] * P[r, d] * Li[d, c]
                    S[a, c] = acc
            for a in range(k):
                for c in range(k):
                    dSig[t, a, c] = 0.5 * (S[a, c] + S[c, a])
    return ge


@njit(**_JIT)
def _partial_finish(
    x, nb, lp, grad, val, dval, ks, Lc, rem, w, dw, lpe, ll, gb, gs, dSM, msub, ge, dSig,
    samp, eoff, lo_all, centre,
):  # pragma: no cover  # fmt: skip
    """Add ℓ and the effects' prior, chain the scalar gradient, join the effect gradient."""
    KM = dSM.shape[1]
    for t in range(msub.shape[0]):
        s = msub[t]
        if s >= 0:
            for a in range(KM):
                for c in range(KM):
                    dSig[t, a, c] = dSM[s, a, c]
    lp = _chain(lp, grad, val, dval, ks, Lc, rem, w, dw, ll + lpe, gb, gs, dSig)
    out = np.empty(x.shape[0])
    for i in range(nb):
        out[i] = grad[i]
    for i in range(ge.shape[0]):
        out[nb + i] = ge[i]
    # η = b + x[centre]: ∂/∂x[centre] collects −∂/∂b of the levels centred on it (ge is
    # ∂/∂b, read before any update, so chains of centred terms chain correctly)
    for t in range(ks.shape[0]):
        if samp[t] != 1:
            continue
        k = ks[t]
        for j in range(lo_all[t + 1] - lo_all[t]):
            c = centre[lo_all[t] + j]
            if c >= 0:
                out[c] -= ge[eoff[t] + j * k]
    if not _finite(lp, out):
        return -np.inf, np.zeros(x.shape[0])
    return lp, out


@njit(**_JIT)
def _partial_given(x, pri, rows, ksM, loM, CM, DM, eM, Xty, yty):  # pragma: no cover
    """Everything before the integrated terms' kernel: the scalars' priors and values, the
    sampled effects b and their prior, and Z_M'y*, X'y*, y*'y* given b (with f = y − y*)."""
    nb, ks, fam, par, trk, lob, hib, a_cpc, lbeta_cpc = pri
    Xc, y, codes, Zr, samp, eoff, lo_all, msub, centre = rows
    lp, grad, val, dval, Lp, Lc, rem, w, dw = _params(
        x[:nb].copy(), ks, fam, par, trk, lob, hib, a_cpc, lbeta_cpc
    )
    b, lpe = _partial_effects(x, nb, Lp, ks, samp, eoff, lo_all, centre)
    f, e2, Xty2, yty2 = _partial_ystar(
        b, Xc, y, codes, Zr, ks, samp, lo_all, msub, loM, eM, Xty, yty
    )
    LpM = _sub_factors(Lp, msub, CM.shape[0], ksM.shape[0])
    return lp, grad, val, dval, Lp, Lc, rem, w, dw, b, lpe, f, e2, Xty2, yty2, LpM


@njit(**_JIT)
def _partial_rest(x, pri, rows, given, ll, gb, gs, dSM, bM, loM, p):  # pragma: no cover
    """Everything after it: the effects' gradient, the chain rule, the joined result."""
    nb, ks = pri[0], pri[1]
    Xc, y, codes, Zr, samp, eoff, lo_all, msub, centre = rows
    lp, grad, val, dval, Lp, Lc, rem, w, dw, b, lpe, f = given[:12]
    if not (np.isfinite(lp) and np.isfinite(ll)):
        return -np.inf, np.zeros(x.shape[0])
    beta = val[:p].copy()
    sigma = val[p]
    dSig = np.zeros(Lp.shape)
    ge = _partial_grad(
        x, nb, b, bM, f, beta, sigma, Lp, Xc, y, codes, Zr, ks, samp, eoff, lo_all, msub, loM, dSig
    )
    return _partial_finish(
        x, nb, lp, grad, val, dval, ks, Lc, rem, w, dw, lpe, ll, gb, gs, dSM, msub, ge, dSig,
        samp, eoff, lo_all, centre,
    )  # fmt: skip


@njit(**_JIT)
def partial_nested_logp_grad(x, pri, rows, marg):  # pragma: no cover
    """Log posterior and gradient with the sampled terms' effects in x and the others (a
    nested chain) integrated out; x = [β, σ, SDs, CPCs of all terms (nb), effects]."""
    ksM, loM, CM, DM, eM, XtX, Xty, yty, n, Gn, anc = marg
    g = _partial_given(x, pri, rows, ksM, loM, CM, DM, eM, Xty, yty)
    p = DM.shape[1]
    val = g[2]
    ll, gb, gs, dSM, bM = nested_loglik_grad_b(
        val[:p].copy(), val[p], g[15], ksM, loM, CM, DM, g[12], XtX, g[13], g[14], n, Gn, anc
    )
    return _partial_rest(x, pri, rows, g, ll, gb, gs, dSM, bM, loM, p)


@njit(**_JIT)
def partial_dense_logp_grad(x, pri, rows, marg):  # pragma: no cover
    """As :func:`partial_nested_logp_grad`, the integrated terms crossed."""
    ksM, loM, CM, DM, eM, XtX, Xty, yty, n, G0r, Grr, rt, rl, rc = marg
    g = _partial_given(x, pri, rows, ksM, loM, CM, DM, eM, Xty, yty)
    p = DM.shape[1]
    val = g[2]
    ll, gb, gs, dSM, bM = dense_loglik_grad_b(
        val[:p].copy(), val[p], g[15], ksM, loM, CM, DM, g[12], XtX, g[13], g[14], n,
        G0r, Grr, rt, rl, rc,
    )  # fmt: skip
    return _partial_rest(x, pri, rows, g, ll, gb, gs, dSM, bM, loM, p)


@njit(**_JIT)
def _partial_join(b, bM, ks, msub, lo_all, loM):  # pragma: no cover
    """All terms' effects (K, M_all): the sampled ones from b, the integrated ones from bM."""
    out = b.copy()
    for t in range(ks.shape[0]):
        s = msub[t]
        if s < 0:
            continue
        for a in range(ks[t]):
            for j in range(lo_all[t + 1] - lo_all[t]):
                out[a, lo_all[t] + j] = bM[a, loM[s] + j]
    return out


@njit(**_JIT)
def partial_nested_draw_b(xs, eps, pri, rows, marg):  # pragma: no cover
    """Effects of all terms per draw (S, K, M_all): the sampled ones read from the draws xs
    (S, ndim), the integrated ones drawn exactly given them (eps: standard normals)."""
    nb, ks, fam, par, trk, lob, hib, a_cpc, lbeta_cpc = pri
    Xc, y, codes, Zr, samp, eoff, lo_all, msub, centre = rows
    ksM, loM, CM, DM, eM, XtX, Xty, yty, n, Gn, anc = marg
    S = xs.shape[0]
    K = max(CM.shape[0], ks.max())
    out = np.full((S, K, lo_all[ks.shape[0]]), np.nan)
    p = DM.shape[1]
    for i in range(S):
        x = xs[i]
        lp, grad, val, dval, Lp, Lc, rem, w, dw = _params(
            x[:nb].copy(), ks, fam, par, trk, lob, hib, a_cpc, lbeta_cpc
        )
        b, lpe = _partial_effects(x, nb, Lp, ks, samp, eoff, lo_all, centre)
        f, e2, Xty2, yty2 = _partial_ystar(
            b, Xc, y, codes, Zr, ks, samp, lo_all, msub, loM, eM, Xty, yty
        )
        sigma = val[p]
        LpM = _sub_factors(Lp, msub, CM.shape[0], ksM.shape[0])
        T, rr, g, c, A = _setup(val[:p].copy(), sigma, LpM, ksM, loM, CM, DM, e2, XtX, Xty2, yty2)
        logdet, wsq, Li, wv, F = _nested_factor(T, A, c, ksM, loM, Gn, anc)
        if not logdet == logdet:
            continue
        _add_noise(wv, eps[i], sigma, ksM, loM)
        u = _nested_solve(ksM, loM, anc, Li, F, wv)
        bj = _partial_join(b, _effects(T, ksM, loM, u), ks, msub, lo_all, loM)
        out[i, : bj.shape[0]] = bj
    return out


@njit(**_JIT)
def partial_dense_draw_b(xs, eps, pri, rows, marg):  # pragma: no cover
    """As :func:`partial_nested_draw_b`, the integrated terms crossed."""
    nb, ks, fam, par, trk, lob, hib, a_cpc, lbeta_cpc = pri
    Xc, y, codes, Zr, samp, eoff, lo_all, msub, centre = rows
    ksM, loM, CM, DM, eM, XtX, Xty, yty, n, G0r, Grr, rt, rl, rc = marg
    S = xs.shape[0]
    K = max(CM.shape[0], ks.max())
    out = np.full((S, K, lo_all[ks.shape[0]]), np.nan)
    p = DM.shape[1]
    k0 = ksM[0]
    m0 = loM[1]
    for i in range(S):
        x = xs[i]
        lp, grad, val, dval, Lp, Lc, rem, w, dw = _params(
            x[:nb].copy(), ks, fam, par, trk, lob, hib, a_cpc, lbeta_cpc
        )
        b, lpe = _partial_effects(x, nb, Lp, ks, samp, eoff, lo_all, centre)
        f, e2, Xty2, yty2 = _partial_ystar(
            b, Xc, y, codes, Zr, ks, samp, lo_all, msub, loM, eM, Xty, yty
        )
        sigma = val[p]
        LpM = _sub_factors(Lp, msub, CM.shape[0], ksM.shape[0])
        T, rr, g, c, A = _setup(val[:p].copy(), sigma, LpM, ksM, loM, CM, DM, e2, XtX, Xty2, yty2)
        logdet, wsq, Li, w1, P, Ls, w2 = _dense_factor(T, A, c, ksM, loM, G0r, Grr, rt, rl, rc)
        if not logdet == logdet:
            continue
        pos = 0
        for j in range(m0):
            for a in range(k0):
                w1[a, j] += sigma * eps[i, pos]
                pos += 1
        for ri in range(w2.shape[0]):
            w2[ri] += sigma * eps[i, pos + ri]
        u = _dense_solve(T, ksM, loM, rt, rl, rc, Li, P, Ls, w1, w2)
        bj = _partial_join(b, _effects(T, ksM, loM, u), ks, msub, lo_all, loM)
        out[i, : bj.shape[0]] = bj
    return out


# ---------------------------------------------------------------------------- native callbacks
# The functions nutpie calls as C callbacks (made cfuncs by :mod:`.native`). They live in this
# file because numba keys a cached compilation on the defining file only: a callback defined
# elsewhere would keep inlining the old kernels from its cache after this file changed.
_SLOT = 5
_F8 = np.float64
_I8 = np.int64


@intrinsic
def _as_voidptr(typingctx, src):  # pragma: no cover - compiled
    """An integer address as a void pointer (for numba.carray)."""
    sig = types.voidptr(src)

    def codegen(cgctx, builder, sig, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return sig, codegen


_J = {"cache": True, "nogil": True, "inline": "always"}


@njit(**_J)
def _f1(tab, i):  # pragma: no cover
    s = _SLOT * i
    return carray(_as_voidptr(tab[s]), (tab[s + 1],), _F8)


@njit(**_J)
def _f2(tab, i):  # pragma: no cover
    s = _SLOT * i
    return carray(_as_voidptr(tab[s]), (tab[s + 1], tab[s + 2]), _F8)


@njit(**_J)
def _f3(tab, i):  # pragma: no cover
    s = _SLOT * i
    return carray(_as_voidptr(tab[s]), (tab[s + 1], tab[s + 2], tab[s + 3]), _F8)


@njit(**_J)
def _f4(tab, i):  # pragma: no cover
    s = _SLOT * i
    return carray(_as_voidptr(tab[s]), (tab[s + 1], tab[s + 2], tab[s + 3], tab[s + 4]), _F8)


@njit(**_J)
def _i1(tab, i):  # pragma: no cover
    s = _SLOT * i
    return carray(_as_voidptr(tab[s]), (tab[s + 1],), _I8)


@njit(**_J)
def _i2(tab, i):  # pragma: no cover
    s = _SLOT * i
    return carray(_as_voidptr(tab[s]), (tab[s + 1], tab[s + 2]), _I8)


@njit(**_J)
def _fs(tab, i):  # pragma: no cover
    return _f1(tab, i)[0]


@njit(**_J)
def _is(tab, i):  # pragma: no cover
    return _i1(tab, i)[0]


@njit(**_J)
def _store(lp, g, n, grad_, logp_):  # pragma: no cover
    """Write the result; nutpie treats a non-zero code as a failed (divergent) step."""
    if not np.isfinite(lp):
        return 4
    grad = carray(grad_, (n,))
    for i in range(n):
        if not np.isfinite(g[i]):
            return 3
        grad[i] = g[i]
    out = carray(logp_, (1,))
    out[0] = lp
    return 0


_SIG = types.int64(
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)


def _single(n, x_, grad_, logp_, ud):  # pragma: no cover
    tab = carray(ud, (1 + _SLOT * 16,), _I8)[1:]
    x = carray(x_, (n,))
    # no try/except: this kernel has no operation that raises (element loops, no linalg),
    # and exception handling doubles the compile time of the first posterior
    lp, g = single_term_logp_grad(
        x, _is(tab, 0), _is(tab, 1), _i1(tab, 2), _f2(tab, 3), _i1(tab, 4), _f1(tab, 5),
        _f1(tab, 6), _f1(tab, 7), _f1(tab, 8), _f3(tab, 9), _f3(tab, 10), _f2(tab, 11),
        _f2(tab, 12), _f1(tab, 13), _fs(tab, 14), _fs(tab, 15),
    )  # fmt: skip
    return _store(lp, g, n, grad_, logp_)


def _nested(n, x_, grad_, logp_, ud):  # pragma: no cover
    tab = carray(ud, (1 + _SLOT * 18,), _I8)[1:]
    x = carray(x_, (n,))
    try:
        lp, g = nested_logp_grad(
            x, _i1(tab, 0), _i1(tab, 1), _f2(tab, 2), _i1(tab, 3), _f1(tab, 4), _f1(tab, 5),
            _f1(tab, 6), _f1(tab, 7), _i1(tab, 8), _f3(tab, 9), _f3(tab, 10), _f2(tab, 11),
            _f2(tab, 12), _f1(tab, 13), _fs(tab, 14), _fs(tab, 15), _f4(tab, 16), _i2(tab, 17),
        )  # fmt: skip
    except Exception:
        return 1
    return _store(lp, g, n, grad_, logp_)


def _dense(n, x_, grad_, logp_, ud):  # pragma: no cover
    tab = carray(ud, (1 + _SLOT * 21,), _I8)[1:]
    x = carray(x_, (n,))
    try:
        lp, g = dense_logp_grad(
            x, _i1(tab, 0), _i1(tab, 1), _f2(tab, 2), _i1(tab, 3), _f1(tab, 4), _f1(tab, 5),
            _f1(tab, 6), _f1(tab, 7), _i1(tab, 8), _f3(tab, 9), _f3(tab, 10), _f2(tab, 11),
            _f2(tab, 12), _f1(tab, 13), _fs(tab, 14), _fs(tab, 15), _f3(tab, 16), _f2(tab, 17),
            _i1(tab, 18), _i1(tab, 19), _i1(tab, 20),
        )  # fmt: skip
    except Exception:
        return 1
    return _store(lp, g, n, grad_, logp_)


def _partial_nested(n, x_, grad_, logp_, ud):  # pragma: no cover
    tab = carray(ud, (1 + _SLOT * 29,), _I8)[1:]
    x = carray(x_, (n,))
    try:
        lp, g = partial_nested_logp_grad(
            x,
            (_is(tab, 0), _i1(tab, 1), _i1(tab, 2), _f2(tab, 3), _i1(tab, 4), _f1(tab, 5),
             _f1(tab, 6), _f1(tab, 7), _f1(tab, 8)),
            (_f2(tab, 9), _f1(tab, 10), _i2(tab, 11), _f3(tab, 12), _i1(tab, 13), _i1(tab, 14),
             _i1(tab, 15), _i1(tab, 16), _i1(tab, 17)),
            (_i1(tab, 18), _i1(tab, 19), _f3(tab, 20), _f3(tab, 21), _f2(tab, 22), _f2(tab, 23),
             _f1(tab, 24), _fs(tab, 25), _fs(tab, 26), _f4(tab, 27), _i2(tab, 28)),
        )  # fmt: skip
    except Exception:
        return 1
    return _store(lp, g, n, grad_, logp_)


def _partial_dense(n, x_, grad_, logp_, ud):  # pragma: no cover
    tab = carray(ud, (1 + _SLOT * 32,), _I8)[1:]
    x = carray(x_, (n,))
    try:
        lp, g = partial_dense_logp_grad(
            x,
            (_is(tab, 0), _i1(tab, 1), _i1(tab, 2), _f2(tab, 3), _i1(tab, 4), _f1(tab, 5),
             _f1(tab, 6), _f1(tab, 7), _f1(tab, 8)),
            (_f2(tab, 9), _f1(tab, 10), _i2(tab, 11), _f3(tab, 12), _i1(tab, 13), _i1(tab, 14),
             _i1(tab, 15), _i1(tab, 16), _i1(tab, 17)),
            (_i1(tab, 18), _i1(tab, 19), _f3(tab, 20), _f3(tab, 21), _f2(tab, 22), _f2(tab, 23),
             _f1(tab, 24), _fs(tab, 25), _fs(tab, 26), _f3(tab, 27), _f2(tab, 28), _i1(tab, 29),
             _i1(tab, 30), _i1(tab, 31)),
        )  # fmt: skip
    except Exception:
        return 1
    return _store(lp, g, n, grad_, logp_)


_EXPAND_SIG = types.int64(
    types.uint64,
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)


def _expand(n, n_out, x_, out_, ud):  # pragma: no cover
    """The draws are the coordinates themselves: nutpie stores x."""
    x = carray(x_, (n,))
    out = carray(out_, (n_out,))
    for i in range(n):
        out[i] = x[i]
    return 0
