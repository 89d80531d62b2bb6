"""The linear predictor η = Xβ + Σ_t Z_t b_t, for point estimates and for posterior draws.

Every engine and every derived quantity computes fitted values and predictions here:

* on the training design (:func:`training_matrices`) or on new data
  (:func:`prediction_matrices`, which codes levels unseen in training as ``-1``);
* with point estimates (``beta`` of shape (p,), ``b[t]`` of shape (m, k)) or with draws along
  leading axes (``beta`` (..., p), ``b[t]`` (..., m, k): one axis of S draws, or chain and
  draw), the result then carrying the same leading axes.

A random-effect term contributes ``Z_t b_t``, row by row ``x_ti · b_t[level_i]``; a level
unseen in training contributes 0, so its rows get the population-level prediction (lme4's
``allow.new.levels = TRUE``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..design.build import Design
from .components import Components

__all__ = [
    "Blocks",
    "training_matrices",
    "prediction_matrices",
    "term_contribution",
    "linear_predictor",
    "predict_components",
    "point_components",
]

# per random-effect term: (level code of every row, -1 if unseen; the term's model-matrix rows)
Blocks = list[tuple[np.ndarray, np.ndarray]]


def training_matrices(design: Design, re: bool = True) -> tuple[np.ndarray, Blocks]:
    """X and the random-effect blocks of the fitting data."""
    return design.X, ([(t.codes, t.X) for t in design.terms] if re else [])


def prediction_matrices(
    design: Design, newdata: pd.DataFrame | None = None, re: bool = True
) -> tuple[np.ndarray, Blocks]:
    """X and random-effect blocks for ``newdata`` (the fitting data when None).

    Raises the design's :class:`~bayesmixed.errors.DataError` /
    :class:`~bayesmixed.errors.ColumnError` when ``newdata`` is not a frame or lacks a column.
    """
    if newdata is None:
        return training_matrices(design, re=re)
    X, blocks = design.new_matrices(newdata, re=re)
    return X, (blocks if re else [])


def term_contribution(codes: np.ndarray, Xt: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Z_t b_t: one term's contribution to η, shape (..., n) for ``b`` of shape (..., m, k).

    Rows whose level code is negative (unseen in training) contribute 0.

    Examples
    --------
    >>> import numpy as np
    >>> b = np.array([[1.0, 0.5], [-1.0, 0.0]])          # two levels, intercept and slope
    >>> Xt = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
    >>> term_contribution(np.array([0, 1, -1]), Xt, b).tolist()
    [2.0, -1.0, 0.0]
    """
    b = np.asarray(b, float)
    seen = codes >= 0
    if seen.all():
        if b.ndim == 2:
            return np.einsum("ij,ij->i", Xt, b[codes])
        return np.einsum("na,...na->...n", Xt, b[..., codes, :])
    out = np.zeros(b.shape[:-2] + (len(codes),))
    if seen.any():
        out[..., seen] = term_contribution(codes[seen], Xt[seen], b)
    return out


def linear_predictor(
    X: np.ndarray,
    beta: np.ndarray,
    blocks: Blocks = (),
    b: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """η = Xβ + Σ_t Z_t b_t, for point estimates or along leading draws axes.

    Parameters
    ----------
    X : ndarray (n, p)
    beta : ndarray (p,) or (..., p)
    blocks : list of (codes, Xt)
        Random-effect terms to include (empty: the population-level prediction Xβ).
    b : list of ndarray, optional
        Random effects per term, (m, k) or (..., m, k); needed when ``blocks`` is not empty.

    Returns
    -------
    ndarray (n,) or (..., n)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> linear_predictor(X, np.array([2.0, 3.0])).tolist()
    [2.0, 5.0]
    >>> linear_predictor(X, np.array([[2.0, 3.0], [0.0, 1.0]])).tolist()   # two draws
    [[2.0, 5.0], [0.0, 1.0]]
    """
    beta = np.asarray(beta, float)
    eta = X @ beta if beta.ndim == 1 else beta @ X.T
    if blocks:
        if b is None:
            raise ValueError("linear_predictor: random-effect blocks given without b")
        for (codes, Xt), bt in zip(blocks, b, strict=True):
            eta = eta + term_contribution(codes, Xt, bt)
    return eta


def point_components(comp: Components) -> Components:
    """Point estimates, or posterior means of draws (η is linear in β and b, so the mean of η
    over draws is η at the posterior means)."""
    if not comp.draws:
        return comp
    return Components(
        design=comp.design,
        beta=np.asarray(comp.beta, float).mean(axis=0),
        sigma=np.asarray(np.asarray(comp.sigma, float).mean(axis=0)),
        cov=[np.asarray(c, float).mean(axis=0) for c in comp.cov],
        b=None if comp.b is None else [np.asarray(x, float).mean(axis=0) for x in comp.b],
        draws=False,
    )


def predict_components(
    comp: Components, newdata: pd.DataFrame | None = None, re: bool = True
) -> np.ndarray:
    """η of a fit's components on the fitting data or on ``newdata``.

    Draws give (S, n), point estimates (n,). ``re=False`` (or components without ``b``) gives
    the population-level prediction Xβ.

    Examples
    --------
    >>> import bayesmixed as bm, pandas as pd
    >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> new = pd.DataFrame({"Days": [0, 5], "Subject": [308, 999]})   # 999: unseen
    >>> predict_components(fit.components(), new).round(1).tolist()
    [253.7, 303.7]
    """
    re = re and bool(comp.b)
    X, blocks = prediction_matrices(comp.design, newdata, re=re)
    return linear_predictor(X, comp.beta, blocks, comp.b if re else None)
