"""lme4's random-effect block: a general k×k covariance through its relative Cholesky factor.

For a term with k columns (``(1 + Days | Subject)``: k = 2) the covariance of one level's
random effects is σ² ΛΛ' with Λ lower triangular. θ holds Λ's lower triangle in lme4's
column-major order (``Λ[0,0], Λ[1,0], …, Λ[k-1,0], Λ[1,1], …``), starts at the identity
and keeps the diagonal non-negative. k = 1 is a scalar variance; ``(x || g)`` is several
k = 1 blocks.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .base import CovStructure

__all__ = ["Unstructured"]


class Unstructured(CovStructure):
    """General covariance of a random-effect term's k columns (lme4's θ template).

    Parameters
    ----------
    cnames : list of str
        The term's column names in R's spelling (``"(Intercept)"``, ``"Days"``).
    group : str
        Grouping factor as lme4 writes it, used in θ's names.

    Examples
    --------
    >>> un = Unstructured(["(Intercept)", "Days"], "Subject")
    >>> un.ntheta, un.theta0.tolist(), un.lower.tolist()
    (3, [1.0, 0.0, 1.0], [0.0, -inf, 0.0])
    >>> un.factor([2.0, 0.5, 1.0]).tolist()
    [[2.0, 0.0], [0.5, 1.0]]
    >>> un.matrix([2.0, 0.5, 1.0]).tolist()
    [[4.0, 1.0], [1.0, 1.25]]
    >>> un.theta_names
    ['Subject.(Intercept)', 'Subject.Days.(Intercept)', 'Subject.Days']
    >>> un.labels
    ['sd__(Intercept)', 'cor__(Intercept).Days', 'sd__Days']
    """

    bayes_transform = "sd_cpc"
    default_prior = {"sd": "halfstudentt", "cor": "lkj"}

    def __init__(self, cnames: list[str], group: str):
        self.cnames = list(cnames)
        self.group = group
        self.dim = len(self.cnames)

    def __repr__(self) -> str:
        return f"Unstructured(k={self.dim}, group={self.group!r})"

    @property
    def k(self) -> int:
        """Number of random effects per level."""
        return self.dim

    @property
    def ntheta(self) -> int:
        """Number of covariance parameters (lower triangle of the k×k relative factor)."""
        return self.k * (self.k + 1) // 2

    n_params = ntheta

    @cached_property
    def tril(self) -> tuple[np.ndarray, np.ndarray]:
        """Row/column indices of θ within the k×k factor, in lme4's column-major order."""
        rows, cols = [], []
        for j in range(self.k):
            for i in range(j, self.k):
                rows.append(i)
                cols.append(j)
        return np.array(rows), np.array(cols)

    @property
    def theta0(self) -> np.ndarray:
        """lme4's starting value: identity factor."""
        r, c = self.tril
        return (r == c).astype(float)

    start = theta0

    @property
    def lower(self) -> np.ndarray:
        """Lower bounds: 0 on the diagonal, unbounded off it."""
        r, c = self.tril
        return np.where(r == c, 0.0, -np.inf)

    def factor(self, theta: np.ndarray) -> np.ndarray:
        """k×k lower-triangular relative covariance factor Λ for this term's θ."""
        T = np.zeros((self.k, self.k))
        r, c = self.tril
        T[r, c] = theta
        return T

    @cached_property
    def theta_names(self) -> list[str]:
        """lme4's names for θ, e.g. ``Subject.(Intercept)``, ``Subject.Days.(Intercept)``."""
        names = []
        for i, j in zip(*self.tril, strict=True):
            if i == j:
                names.append(f"{self.group}.{self.cnames[i]}")
            else:
                names.append(f"{self.group}.{self.cnames[i]}.{self.cnames[j]}")
        return names

    @property
    def param_names(self) -> list[str]:
        """The optimizer's parameters are θ."""
        return self.theta_names

    @property
    def labels(self) -> list[str]:
        """broom.mixed's ``ran_pars`` terms in its order: ``sd__a``, ``cor__a.b``, ``sd__b``."""
        out = []
        for i, a in enumerate(self.cnames):
            out.append(f"sd__{a}")
            out.extend(f"cor__{a}.{b}" for b in self.cnames[i + 1 :])
        return out
