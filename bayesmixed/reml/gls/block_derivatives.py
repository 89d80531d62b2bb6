"""First and second derivatives of the per-subject covariance blocks of a :class:`GLSFit`.

Kenward–Roger needs, for every subject block ``V_i = Z_i G Z_i' + σ² R_i``, the derivatives
∂V_i/∂ψ_r and ∂²V_i/∂ψ_r∂ψ_s with respect to the covariance parameters ψ. Here ψ is

* the random effects: the elements (a ≥ b) of each term's covariance G_t = σ² ΛΛ' (as
  pbkrtest for lmer fits), in which V is linear — first derivatives ``Z (E_ab + E_ba) Z'``
  restricted to the subject, second derivatives zero;
* the residual structure: by default on its *natural scale* (``transform="natural"``): per
  by-level the variance σ² (homogeneous) or every visit's variance (heterogeneous), then the
  correlations the structure reports (ρ, ``cor__a.b``, ``cor__lag<k>``); ``"working"`` keeps
  the optimizer's scale ω = (log σ², φ) (log SD ratios, transformed correlations, close to
  mmrm's θ); or any callable ω ↦ ψ (a one-to-one map, e.g. CS as lmer's (τ², σ²_e)).

The residual derivatives are taken on the working scale ω by Richardson-extrapolated
central differences of the structure's matrix (relative error ~1e-10 on the
second derivatives), then carried to ψ by
the chain rule through the forward map ψ(ω), differentiated the same way::

    ∂V/∂ψ_a = Σ_k ∂V/∂ω_k M_ka,   M = (∂ψ/∂ω)⁻¹,
    ∂²V/∂ψ_a∂ψ_b = Σ_kl ∂²V/∂ω_k∂ω_l M_ka M_lb + Σ_k ∂V/∂ω_k ∂²ω_k/∂ψ_a∂ψ_b,
    ∂²ω_k/∂ψ_a∂ψ_b = −Σ_m M_km Σ_lq ∂²ψ_m/∂ω_l∂ω_q M_la M_qb.

Residual parameters on a bound (a correlation at ±1) are held fixed, and the residual part
then stays on the working scale (the natural map is not invertible there).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...errors import ArgumentError

__all__ = ["array_derivatives", "BlockDerivatives"]


def array_derivatives(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = 5e-3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """f(x), ∂f/∂x_j (k, ...) and ∂²f/∂x_j∂x_l (k, k, ...) of an array-valued f.

    Central differences at steps h and h/2, Richardson-combined (error O(h⁴)). The default
    step suits the working scale (log variances, transformed correlations): against the
    analytic second derivatives of CAR1 it leaves ~2e-10 relative error, where h = 1e-3
    left ~3e-8 (rounding, ε/h²).

    Examples
    --------
    >>> f0, J, H = array_derivatives(lambda v: np.array([v[0] ** 2 * v[1]]), np.array([1.0, 2.0]))
    >>> J.ravel().round(8).tolist(), H[..., 0].round(6).tolist()
    ([4.0, 1.0], [[4.0, 2.0], [2.0, 0.0]])
    """
    x = np.asarray(x, float)
    k = len(x)
    f0 = np.asarray(f(x), float)

    def at(step):
        J = np.empty((k,) + f0.shape)
        H = np.empty((k, k) + f0.shape)
        E = np.eye(k) * step
        for i in range(k):
            fp, fm = np.asarray(f(x + E[i])), np.asarray(f(x - E[i]))
            J[i] = (fp - fm) / (2 * step)
            H[i, i] = (fp - 2 * f0 + fm) / step**2
            for j in range(i):
                H[i, j] = H[j, i] = (
                    f(x + E[i] + E[j])
                    - f(x + E[i] - E[j])
                    - f(x - E[i] + E[j])
                    + f(x - E[i] - E[j])
                ) / (4 * step**2)
        return J, H

    J1, H1 = at(h)
    J2, H2 = at(h / 2)
    return f0, (4 * J2 - J1) / 3, (4 * H2 - H1) / 3


def _natural(crit, omega: np.ndarray) -> np.ndarray:
    """The residual parameters on their natural scale, from ω = (log σ², φ_residual)."""
    phi = np.zeros(crit.n_params)
    phi[crit.ntheta :] = omega[1:]
    out = []
    for lv in range(crit.rd.n_levels):
        s, par = crit.level_params(phi, lv)
        var = np.exp(omega[0]) * s
        if crit.cov.heterogeneous:
            out.append(var * crit.cov.sd_ratios(par) ** 2)
        else:
            out.append([var])
        out.append(crit.cov.cor_report(par[crit.cov.n_sd :]))
    return np.concatenate(out)


class BlockDerivatives:
    """Parameters ψ and the per-batch derivatives of the subject blocks (module notes).

    Parameters
    ----------
    fit : GLSFit
    transform : {"natural", "working"} or callable
        Scale of the residual-structure parameters; a callable maps ω = (log σ², φ after θ)
        to ψ, one-to-one near the estimate.

    Attributes
    ----------
    names : list of str
        Names of ψ's components (``G:<term>[a,b]``, then the residual ones).
    """

    def __init__(self, fit, transform="natural"):
        crit = self.crit = fit.criterion_fn
        self.fit = fit
        self.s2 = fit.sigma**2
        nt = crit.ntheta
        self.omega = np.concatenate([[np.log(self.s2)], fit.phi[nt:]])
        lo, hi = crit.lower[nt:], crit.upper[nt:]
        on_bound = (fit.phi[nt:] - lo < 1e-6) | (hi - fit.phi[nt:] < 1e-6)
        self.free = np.concatenate([[0], 1 + np.flatnonzero(~on_bound)])
        if callable(transform):
            fwd = transform
        elif transform == "natural":
            fwd = None if on_bound.any() else (lambda w: _natural(crit, w))
        elif transform == "working":
            fwd = None
        else:
            raise ArgumentError(
                f"transform must be 'natural', 'working' or a callable, got {transform!r}"
            )
        self._chain = None if fwd is None else self._chain_rule(fwd, transform == "natural")
        self._g_elements = self._random_effect_elements()
        rnames = ["log_sigma2"] + [crit.names[nt + i - 1] for i in self.free[1:]]
        if fwd is not None:
            rnames = [f"psi{i}" for i in range(len(self.free))]
            if transform == "natural":
                rnames = _natural_names(fit)
        self.names = [f"G:{t.name}[{a},{b}]" for t, a, b in self._g_elements] + rnames
        self.n_g = len(self._g_elements)
        self.n_params = len(self.names)
        self._level_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------ parameters
    def _random_effect_elements(self) -> list:
        out = []
        for t in self.crit.design.terms:
            full = t.cov.ntheta == t.k * (t.k + 1) // 2
            out += [(t, a, b) for a in range(t.k) for b in range(a + 1) if full or a == b]
        return out

    def _own(self, by: int) -> np.ndarray:
        """Positions within the free ω of log σ² and of one by-level's parameters."""
        crit = self.crit
        scale, sl = crit.level_slices[by]
        own = np.zeros(len(self.omega), bool)
        own[0] = True
        own[1 + np.arange(sl.start, sl.stop) - crit.ntheta] = True
        if scale is not None:
            own[1 + scale - crit.ntheta] = True
        return np.flatnonzero(own[self.free])

    def _forward(self, fwd, groups) -> tuple[np.ndarray, np.ndarray]:
        """∂ψ/∂ω (K, K) and ∂²ψ/∂ω∂ω (K, K, K) over the free ω; ``groups``: (positions of
        ω, positions of ψ) such that those ψ depend on those ω only."""
        free, w0 = self.free, self.omega
        K = len(free)
        J, H = np.zeros((K, K)), np.zeros((K, K, K))
        for wi, pi in groups:

            def f(wsub, wi=wi, pi=pi):
                w = w0.copy()
                w[free[wi]] = wsub
                out = np.asarray(fwd(w), float)
                return out if pi is None else out[pi]

            psi, Js, Hs = array_derivatives(f, w0[free[wi]])
            if pi is None:
                if psi.shape != (K,):
                    raise ArgumentError(
                        f"the residual transform must map the {K} free working parameters to "
                        f"as many parameters, got shape {psi.shape}"
                    )
                pi = np.arange(K)
            J[np.ix_(wi, pi)] = Js
            H[np.ix_(wi, wi, pi)] = Hs
        return J, H

    def _chain_rule(self, fwd, natural: bool) -> tuple[np.ndarray, np.ndarray]:
        """(M = ∂ω/∂ψ, ∂²ω/∂ψ∂ψ) over the free ω, from the forward map ψ(ω)."""
        K = len(self.free)
        groups = [(np.arange(K), None)]
        if natural:
            # each by-level's ψ (n_params + 1 of them) depend on log σ² and that level's
            # parameters only
            groups, k = [], self.crit.cov.n_params + 1
            for lv in range(self.crit.rd.n_levels):
                groups.append((self._own(lv), np.arange(lv * k, (lv + 1) * k)))
        J, H = self._forward(fwd, groups)
        M = np.linalg.inv(J.T)  # M[k, a] = ∂ω_k/∂ψ_a
        D2 = -np.einsum("km,lqm,la,qb->kab", M, H, M, M, optimize=True)
        return M, D2

    # ------------------------------------------------------------------ per batch
    def _residual_block(self, omega, by: int, pos: np.ndarray) -> np.ndarray:
        phi = self.fit.phi.copy()
        phi[self.crit.ntheta :] = omega[1:]
        return np.exp(omega[0]) * self.crit.residual_block(phi, by, pos)

    def residual(self, b) -> tuple[np.ndarray, np.ndarray]:
        """(∂σ²R/∂ψ (K_r, ..., m, m), ∂²σ²R/∂ψ∂ψ (K_r, K_r, ..., m, m)) of a batch, over
        the residual parameters."""
        if not (b.shared and not self.crit.cov.numeric):
            return self._residual(b.by, b.pos)
        # discrete visits: differentiate the by-level's T × T matrix once, then subset it
        if b.by not in self._level_cache:
            self._level_cache[b.by] = self._residual(b.by, np.arange(self.crit.cov.dim))
        J, H = self._level_cache[b.by]
        ix = np.ix_(b.pos, b.pos)
        return J[(slice(None),) + ix], H[(slice(None), slice(None)) + ix]

    def _residual(self, by: int, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        free, w0 = self.free, self.omega
        idx = self._own(by)

        def f(wsub):
            w = w0.copy()
            w[free[idx]] = wsub
            return self._residual_block(w, by, pos)

        _, Js, Hs = array_derivatives(f, w0[free[idx]])
        K = len(free)
        J = np.zeros((K,) + Js.shape[1:])
        H = np.zeros((K, K) + Js.shape[1:])
        J[idx] = Js
        H[np.ix_(idx, idx)] = Hs
        if self._chain is None:
            return J, H
        M, D2 = self._chain
        Jp = np.tensordot(M.T, J, axes=1)
        Hp = np.einsum("kl...,ka,lb->ab...", H, M, M, optimize=True) + np.tensordot(
            D2.transpose(1, 2, 0), J, axes=1
        )
        return Jp, Hp

    def random_effects(self, bi: int, b) -> np.ndarray:
        """∂V/∂G_ab (K_g, B, m, m) of a batch: each subject's rows of Z (E_ab + E_ba) Z'."""
        out = []
        for t, a, c in self._g_elements:
            Xt = t.X[b.rows]
            mask = t.codes[b.rows][:, :, None] == t.codes[b.rows][:, None, :]
            xa, xc = Xt[..., a], Xt[..., c]
            M = xa[:, :, None] * xc[:, None, :]
            if a != c:
                M = M + np.swapaxes(M, 1, 2)
            out.append(mask * M)
        B, m = b.rows.shape
        return np.array(out) if out else np.zeros((0, B, m, m))

    def block(self, bi: int, b) -> np.ndarray:
        """V of a batch (m, m) shared or (B, m, m)."""
        crit = self.crit
        G = crit.relative_g(self.fit.phi) if crit.design.terms else None
        return self.s2 * crit._block(self.fit.phi, bi, b, G)


def _natural_names(fit) -> list[str]:
    crit = fit.criterion_fn
    out = []
    for group in fit.rd.group_names:
        var = (
            [f"var__{v}" for v in crit.cov.levels]
            if crit.cov.heterogeneous
            else ["var__Observation"]
        )
        out += [f"{group}.{nm}" for nm in var + crit.cov.cor_labels]
    return out
