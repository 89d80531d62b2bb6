"""The blocked Cholesky factor of the penalized least-squares system at one θ."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PLSFactor"]


@dataclass
class PLSFactor:
    """The blocked Cholesky factor at one θ and what the fit needs from it.

    Made by :meth:`~bayesmixed.reml.deviance.ProfiledDeviance.factor`; the first term's
    diagonal block is a stack of per-level k1×k1 factors, everything after it one dense
    lower factor ``L22`` of the [Z_r, X, y] block (later terms, then X, then y).

    Examples
    --------
    >>> import numpy as np
    >>> import bayesmixed as bm
    >>> from bayesmixed.reml.deviance import ProfiledDeviance
    >>> m = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    >>> f = ProfiledDeviance(m.design).factor(np.array([0.9667, 0.0152, 0.2309]))
    >>> f.L11.shape, f.L22.shape, f.ok  # 18 subjects × 2×2 blocks; [X y] is 3 wide
    ((18, 2, 2), (3, 3), True)
    """

    theta: np.ndarray
    T1: np.ndarray  # k1×k1 relative factor of the first term
    L11: np.ndarray  # (m1, k1, k1) lower-triangular diagonal blocks
    L11inv: np.ndarray  # their inverses
    B: np.ndarray  # (m1, k1, k1): T1 L11_j^{-T}, so that L21 = A'Λ̃ blockdiag(B_j)
    L22: np.ndarray  # dense lower factor of the [Zr, X, y] block (upper triangle undefined)
    qr: int
    p: int
    ldL2: float
    ldRX2: float
    r2: float
    ok: bool = True
