"""Finite-difference gradients and Hessians (Richardson-extrapolated central differences).

The convergence check and the Satterthwaite degrees of freedom differentiate the criterion
numerically, as lmerTest does with numDeriv: central differences at steps h and h/2 combined
so that the O(h²) error cancels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["gradient", "hessian", "jacobian"]


def jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """∂f/∂x_j of an array-valued f, shape (len(x),) + f(x).shape.

    Examples
    --------
    >>> jacobian(lambda v: np.array([v[0] ** 3, v[0] * v[1]]), np.array([1.0, 2.0])).round(8)
    array([[3., 2.],
           [0., 1.]])
    """
    x = np.asarray(x, float)
    out = []
    for j in range(len(x)):
        e = np.zeros_like(x)
        e[j] = 1.0

        def d(step, e=e):
            return (np.asarray(f(x + step * e)) - np.asarray(f(x - step * e))) / (2 * step)

        out.append((4 * d(h / 2) - d(h)) / 3)
    return np.array(out)


def gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """Gradient of a scalar function.

    Examples
    --------
    >>> gradient(lambda v: v[0] ** 2 + 3 * v[1], np.array([1.0, 0.0])).round(8).tolist()
    [2.0, 3.0]
    """
    return jacobian(lambda v: np.asarray(f(v), float), x, h)


def hessian(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-3, richardson: bool = True
) -> np.ndarray:
    """Hessian of a scalar function (symmetric); ``richardson=False``: one central
    difference at step h (half the evaluations, error O(h²)).

    Examples
    --------
    >>> hessian(lambda v: v[0] ** 2 * v[1], np.array([1.0, 2.0])).round(6).tolist()
    [[4.0, 2.0], [2.0, 0.0]]
    """
    x = np.asarray(x, float)
    k = len(x)
    f0 = float(f(x))

    def second(step):
        H = np.empty((k, k))
        fp = np.empty(k)
        fm = np.empty(k)
        for i in range(k):
            e = np.zeros(k)
            e[i] = step
            fp[i], fm[i] = f(x + e), f(x - e)
            H[i, i] = (fp[i] - 2 * f0 + fm[i]) / step**2
        for i in range(k):
            for j in range(i + 1, k):
                ei = np.zeros(k)
                ej = np.zeros(k)
                ei[i] = step
                ej[j] = step
                v = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                    4 * step**2
                )
                H[i, j] = H[j, i] = v
        return H

    if not richardson:
        return second(h)
    return (4 * second(h / 2) - second(h)) / 3
