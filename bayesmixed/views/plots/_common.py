"""Shared plumbing of the plotting functions: axes handling, fit values, colours."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ...errors import ArgumentError
from ...results.draws import as_components
from ...results.predictor import point_components, predict_components

REML_COLOR = "#1f77b4"
BAYES_COLOR = "#d62728"
POP_COLOR = "black"


def get_ax(ax, figsize: tuple[float, float] = (7.0, 4.5)):
    """The given Axes, or a new figure's single Axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def get_axes(ax, n: int, figsize_each: tuple[float, float] = (4.5, 4.5), what: str = "plot"):
    """``n`` Axes: new side-by-side panels, or the given Axes (one per panel)."""
    if ax is None:
        w, h = figsize_each
        _, axes = plt.subplots(1, n, figsize=(w * n, h), layout="constrained", squeeze=False)
        return list(axes[0])
    axes = [ax] if not isinstance(ax, (Sequence, np.ndarray)) else list(np.ravel(ax))
    if len(axes) != n:
        raise ArgumentError(
            f"{what} draws {n} panel{'s' if n > 1 else ''}; pass ax= with {n} Axes "
            f"(e.g. plt.subplots(1, {n})[1]) or leave ax=None"
        )
    return axes


def level_colors(n: int) -> list:
    """Distinct colours for ``n`` clusters (tab10, tab20, then a continuous map)."""
    if n <= 10:
        cmap = plt.get_cmap("tab10")
        return [cmap(i) for i in range(n)]
    if n <= 20:
        cmap = plt.get_cmap("tab20")
        return [cmap(i) for i in range(n)]
    cmap = plt.get_cmap("viridis")
    return [cmap(v) for v in np.linspace(0.0, 0.95, n)]


def is_bayes(fit: object) -> bool:
    """Whether the fit carries posterior draws."""
    return bool(as_components(fit).draws)


def fitted_and_residuals(fit: object) -> tuple[np.ndarray, np.ndarray]:
    """Fitted values and residuals: the fit's own, or from (posterior-mean) components."""
    if callable(getattr(fit, "fitted", None)) and callable(getattr(fit, "residuals", None)):
        try:
            return np.asarray(fit.fitted(), float), np.asarray(fit.residuals(), float)
        except (NotImplementedError, TypeError):
            pass
    comp = point_components(as_components(fit))
    eta = predict_components(comp)
    return eta, comp.design.y - eta


def pick_term(fit: object, group: str | None, what: str) -> str:
    """The random-effect term for ``group`` (the only one when the model has one factor)."""
    terms = as_components(fit).design.terms
    if not terms:
        raise ArgumentError(f"{what} needs a model with random effects")
    groups = list(dict.fromkeys(t.group for t in terms))
    if group is None:
        if len(groups) > 1:
            raise ArgumentError(
                f"{what}: the model has several grouping factors; choose one with group= "
                f"({', '.join(groups)})"
            )
        group = groups[0]
    if group not in groups:
        raise ArgumentError(
            f"{what}: group={group!r} is not a grouping factor of the model; choose one of "
            f"{', '.join(groups)}"
        )
    return group
