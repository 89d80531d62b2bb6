"""What the fit reads off a blocked PLS factor: β̂, modes, vcov(β̂), conditional variances.

Given the factor L of the penalized least-squares system at θ (a
:class:`~bayesmixed.reml.linalg.pls_factor.PLSFactor`), the estimates follow by triangular
solves (Bates et al. 2015, JSS 67(1), sec. 3.5): β̂ and the later terms' spherical modes
from the dense block L22, then the first term's modes level by level. The first block
column of L below the diagonal, L21 = Λ̃'A blockdiag(B_j), is never stored: it is formed
here on demand from the data's A = [Z_r W]'Z₁.

These are :class:`~bayesmixed.reml.deviance.ProfiledDeviance`'s ``solve``,
``unscaled_vcov`` and ``conditional_vcov``.

Examples
--------
>>> import numpy as np
>>> import bayesmixed as bm
>>> from bayesmixed.reml.deviance import ProfiledDeviance
>>> m = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
>>> dev = ProfiledDeviance(m.design)
>>> beta, u, b = solve(dev, dev.factor(np.array([0.9667, 0.0152, 0.2309])))
>>> print(np.round(beta, 2))  # lme4: fixef 251.41, 10.47
[251.41  10.47]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.linalg.lapack import dtrtri

from .linalg.level_blocks import times_level_blocks
from .linalg.pls_factor import PLSFactor

if TYPE_CHECKING:
    from .deviance import ProfiledDeviance

__all__ = ["conditional_vcov", "solve", "unscaled_vcov"]


def _tri_inv(L: np.ndarray) -> np.ndarray:
    """Inverse of a lower-triangular matrix by LAPACK's trtri.

    Not ``solve_triangular(L, I)``: its multithreaded trsm took milliseconds even for a 2×2
    system when the cores were busy, and Satterthwaite's derivatives call this dozens of
    times per fit.
    """
    inv, info = dtrtri(np.asfortranarray(L), lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("singular triangular factor")
    return np.tril(inv)


def _lambda_rest(dev: ProfiledDeviance, theta: np.ndarray) -> sp.csr_matrix:
    """Λ_r, the later terms' block of the relative covariance factor, sparse."""
    blocks = []
    for t, s in zip(dev.rest, dev.slices[1:], strict=True):
        T = t.cov.factor(theta[s])
        if t.k == 1:
            blocks.append(sp.identity(t.m, format="csr") * T[0, 0])
        else:
            blocks.append(sp.kron(sp.identity(t.m, format="csr"), sp.csr_matrix(T)))
    return sp.block_diag(blocks, format="csr")


def _L21Z(dev: ProfiledDeviance, f: PLSFactor) -> sp.csr_matrix:
    """Rows of the later terms in the first block column: Λ_r' A21Z blockdiag(B_j)."""
    Lr = _lambda_rest(dev, f.theta)
    return (Lr.T @ times_level_blocks(dev.A21Z, f.B, dev.k1, dev.m1)).tocsr()


def _L21D(dev: ProfiledDeviance, f: PLSFactor) -> np.ndarray:
    """Rows of X and y in the first block column, (P × q1)."""
    # (A21 B)[r, (j,b)] = Σ_a D[j,a,r] B_j[a,b]
    return np.einsum("jar,jab->rjb", dev.D1, f.B).reshape(dev.P, dev.t1.q)


def solve(
    dev: ProfiledDeviance, f: PLSFactor
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """β̂, spherical modes u and conditional modes b = Λu (per term, shape (m, k))."""
    qr = f.qr
    L22 = f.L22
    l2 = L22[-1, :-1]
    sol = sla.solve_triangular(L22[:-1, :-1], l2, lower=True, trans="T", check_finite=False)
    beta = sol[qr:]
    ur = sol[:qr]
    t1 = dev.t1
    L21D = _L21D(dev, f)
    rhs = L21D[-1, :].copy()
    rhs -= L21D[:-1, :].T @ beta
    if qr:
        rhs -= _L21Z(dev, f).T @ ur
    rhs = rhs.reshape(t1.m, t1.k)
    u1 = np.einsum("jba,jb->ja", f.L11inv, rhs)  # L11_j^{-T} rhs_j
    us = [u1]
    bs = [u1 @ f.T1.T]
    off = 0
    for t, s in zip(dev.rest, dev.slices[1:], strict=True):
        u = ur[off : off + t.q].reshape(t.m, t.k)
        off += t.q
        us.append(u)
        bs.append(u @ t.cov.factor(f.theta[s]).T)
    return beta, us, bs


def unscaled_vcov(f: PLSFactor) -> np.ndarray:
    """(R_X' R_X)^{-1}: vcov(β̂) = σ² times this."""
    qr, p = f.qr, f.p
    RX = f.L22[qr : qr + p, qr : qr + p]
    Rinv = _tri_inv(RX)
    return Rinv.T @ Rinv


def conditional_vcov(dev: ProfiledDeviance, f: PLSFactor) -> list[np.ndarray]:
    """Per-term diagonal blocks of Λ (L_Z L_Z')^{-1} Λ', shape (m, k, k) each.

    Multiplied by σ² these are the conditional variances of the random effects given the
    data, θ and β̂ (lme4's ``condVar``); the full inverse of the Z part is used, so crossed
    terms are correct, not just their first block.
    """
    qr = f.qr
    t1 = dev.t1
    # block 1: L11^{-T} L11^{-1} + M'M with M = L22rr^{-1} L21r L11^{-1}
    V1 = np.einsum("jba,jbc->jac", f.L11inv, f.L11inv)
    out_u = [V1]
    if qr:
        Lrr = f.L22[:qr, :qr]
        G = times_level_blocks(_L21Z(dev, f), f.L11inv, dev.k1, dev.m1).toarray()
        Linv = _tri_inv(Lrr)
        M = Linv @ G
        Mb = M.reshape(qr, t1.m, t1.k)
        V1 = V1 + np.einsum("rja,rjb->jab", Mb, Mb)
        out_u[0] = V1
        Vr = Linv.T @ Linv
        off = 0
        for t in dev.rest:
            blk = Vr[off : off + t.q, off : off + t.q]
            idx = np.arange(t.m)[:, None] * t.k + np.arange(t.k)[None, :]
            out_u.append(blk[idx[:, :, None], idx[:, None, :]])
            off += t.q
    res = []
    for i, (t, s) in enumerate(zip(dev.design.terms, dev.slices, strict=True)):
        T = t.cov.factor(f.theta[s])
        res.append(np.einsum("ab,jbc,dc->jad", T, out_u[i], T))
    return res
