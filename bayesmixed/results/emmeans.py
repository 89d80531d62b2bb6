"""Estimated marginal means: emmeans' reference grid and the linear functions L β of its means.

The reference grid (Lenth's emmeans, ``ref_grid``) holds every combination of the levels of
the factors of the fixed part, with each numeric covariate at its mean over the model frame
(``at=`` fixes covariates or restricts levels). A marginal mean of the ``specs`` factors is the
equally weighted average of the grid's predictions X_grid β over the other factors, so it is
one row of ``L = A X_grid`` with A an averaging matrix. Everything else — standard errors,
degrees of freedom, contrasts, posterior draws — follows from L: the fit supplies the
covariance and df of L β̂ (:meth:`bayesmixed.results.fit.Fit._lincomb_cov`) or the draws of β.

Rows are ordered as emmeans orders them: ``by`` groups outermost, the first ``specs`` factor
varying fastest.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..design.frame import FORMULAIC_CONTEXT, is_numeric_column, required_columns
from ..design.naming import level_name
from ..errors import ArgumentError

__all__ = [
    "DDF_CHOICES",
    "MarginalMeans",
    "PosteriorTable",
    "check_ddf",
    "marginal_means",
    "emmeans_table",
    "posterior_table",
    "posterior_emmeans_table",
]

#: denominator-df methods of emmeans' ``lmer.df`` (the first is the default)
DDF_CHOICES = ("kenward-roger", "satterthwaite", "asymptotic")
_DDF_ALIASES = {"kr": "kenward-roger", "kenward-roger's": "kenward-roger", "s": "satterthwaite"}
# numeric variables a formula turns into factors: factor(x), as_factor(x), C(x)
_AS_FACTOR = re.compile(r"\b(?:factor|as_factor|C)\(\s*`?([A-Za-z_.][\w.]*)`?\s*[,)]")


def check_ddf(ddf) -> str:
    """The canonical name of a df method, or an ArgumentError listing the choices.

    Examples
    --------
    >>> check_ddf("Kenward-Roger"), check_ddf("satterthwaite")
    ('kenward-roger', 'satterthwaite')
    """
    key = str(ddf).lower().replace("_", "-")
    key = _DDF_ALIASES.get(key, key)
    if key not in DDF_CHOICES:
        raise ArgumentError(f"ddf={ddf!r} is not available: use one of {', '.join(DDF_CHOICES)}")
    return key


def check_level(level, name: str = "level") -> float:
    """A coverage between 0 and 1, or an ArgumentError."""
    if isinstance(level, bool) or not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ArgumentError(f"{name} must be between 0 and 1 (e.g. 0.95), got {level!r}")
    return float(level)


def _as_list(x, what: str) -> list[str]:
    if x is None:
        return []
    out = [x] if isinstance(x, str) else list(x) if isinstance(x, (list, tuple)) else [x]
    if not all(isinstance(v, str) for v in out):
        raise ArgumentError(f"{what} must be a factor name or a list of factor names, got {x!r}")
    return out


@dataclass
class MarginalMeans:
    """The marginal means of a reference grid as linear functions of β.

    Attributes
    ----------
    L : ndarray (rows, p)
        One row per marginal mean, over ``design.xnames``.
    keys : DataFrame
        The ``specs`` and ``by`` level of every row (text, as emmeans prints them).
    specs, by : list of str
    levels : list of str
        The spec level labels within a by group (levels joined by a space for several specs).
    groups : list of ndarray
        Row indices of each by group (one group without ``by``).
    estimable : ndarray of bool
        False for means that are not estimable in a rank-deficient model (reported as NaN).
    """

    L: np.ndarray
    keys: pd.DataFrame
    specs: list[str]
    by: list[str]
    levels: list[str]
    groups: list[np.ndarray]
    estimable: np.ndarray


def _grid_variables(design, at: dict) -> tuple[dict[str, list], list[str]]:
    """Values of every variable of the fixed part on the reference grid, and the factors."""
    frame = design.frame
    variables = [
        c for c in frame.columns if c in required_columns(design.spec.fixed, "the fixed part")
    ]
    as_factor = set(_AS_FACTOR.findall(design.spec.fixed))
    values: dict[str, list] = {}
    factors: list[str] = []
    for v in variables:
        col = frame[v]
        if is_numeric_column(frame, v) and v not in as_factor:
            values[v] = [float(col.mean())]
            continue
        factors.append(v)
        if isinstance(col.dtype, pd.CategoricalDtype):
            used = set(col.dropna().unique())
            values[v] = [c for c in col.cat.categories if c in used]
        else:
            values[v] = sorted(col.dropna().unique().tolist())
    for name, val in at.items():
        if name not in values:
            raise ArgumentError(
                f"at= names {name!r}, which is not a variable of the fixed part: use one of "
                f"{', '.join(values)}"
            )
        vals = list(np.atleast_1d(val))
        if name in factors:
            labels = {level_name(x): x for x in values[name]}
            bad = [level_name(x) for x in vals if level_name(x) not in labels]
            if bad:
                raise ArgumentError(
                    f"at={{{name!r}: ...}} has levels {bad} that {name!r} does not have: "
                    f"use some of {', '.join(labels)}"
                )
            values[name] = [labels[level_name(x)] for x in vals]
        else:
            try:
                values[name] = [float(x) for x in vals]
            except (TypeError, ValueError):
                raise ArgumentError(
                    f"at={{{name!r}: ...}} must give numbers for the numeric variable {name!r}"
                ) from None
    return values, factors


def _full_matrix(design, grid: pd.DataFrame) -> np.ndarray:
    """The fixed-effects matrix of the grid rows, with every column (aliased ones too)."""
    from ..design.frame import prepare_columns

    frame = prepare_columns(grid, design.frame)
    mm = design.fixed_model_spec().get_model_matrix(
        frame, na_action="raise", context=FORMULAIC_CONTEXT
    )
    return np.asarray(mm, float)


def _estimable(design, Lfull: np.ndarray) -> np.ndarray:
    """Rows of ``Lfull`` in the row space of the full X (emmeans' ``estimability`` check)."""
    if not design.dropped:
        return np.ones(Lfull.shape[0], dtype=bool)
    Xfull = _full_matrix(design, design.frame)
    _, s, vt = np.linalg.svd(Xfull, full_matrices=True)
    rank = int(np.sum(s > s[0] * 1e-7))
    null = vt[rank:].T
    scale = np.maximum(np.abs(Lfull).sum(axis=1), 1.0)
    return np.abs(Lfull @ null).max(axis=1, initial=0.0) <= 1e-6 * scale


def marginal_means(design, specs, by=None, at: dict | None = None) -> MarginalMeans:
    """The marginal means of ``specs`` (within ``by``) as linear functions of β.

    Parameters
    ----------
    design : Design
    specs : str or list of str
        Factor(s) whose marginal means are wanted; the other factors are averaged over with
        equal weights, numeric covariates are held at their means.
    by : str or list of str, optional
        Factor(s) within whose levels the means are taken (and contrasts made).
    at : dict, optional
        ``{covariate: value}`` fixes a covariate, ``{factor: [levels]}`` restricts a factor.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> from bayesmixed.design import build_design
    >>> from bayesmixed.spec import parse_formula
    >>> import pandas as pd
    >>> data = pd.DataFrame({"y": [1.0, 2, 4, 3, 5, 7], "g": list("aabbcc"), "x": [1.0, 2] * 3})
    >>> mm = marginal_means(build_design(parse_formula("y ~ g + x"), data), "g")
    >>> mm.levels, mm.L.round(2).tolist()
    (['a', 'b', 'c'], [[1.0, 0.0, 0.0, 1.5], [1.0, 1.0, 0.0, 1.5], [1.0, 0.0, 1.0, 1.5]])
    """
    specs, by = _as_list(specs, "specs"), _as_list(by, "by")
    if not specs:
        raise ArgumentError("specs must name at least one factor")
    if at is not None and not isinstance(at, dict):
        raise ArgumentError(f"at must be a dict {{variable: value(s)}}, got {type(at).__name__}")
    values, factors = _grid_variables(design, dict(at or {}))
    gridvars = factors + [v for v in values if v not in factors and len(values[v]) > 1]
    for name in specs + by:
        if name in values and name not in gridvars:
            raise ArgumentError(
                f"{name!r} is a numeric variable, not a factor: emmeans of a covariate need its "
                f"values, e.g. at={{{name!r}: [...]}}; the factors are {', '.join(factors)}"
            )
        if name not in values:
            raise ArgumentError(
                f"{name!r} is not a factor of the fixed part: use one of "
                f"{', '.join(factors) or '(none: the model has no factor)'}"
            )
    if len(set(specs + by)) < len(specs + by):
        raise ArgumentError("a factor cannot appear twice in specs and by")
    names = list(values)
    combos = list(itertools.product(*(values[v] for v in names)))
    grid = pd.DataFrame(combos, columns=names)
    for v in names:
        if isinstance(design.frame[v].dtype, pd.CategoricalDtype):
            grid[v] = pd.Categorical(grid[v], categories=design.frame[v].cat.categories)
    Xgrid = _full_matrix(design, grid)
    # the means: first spec fastest, by groups outermost (emmeans' order)
    order = specs + by
    cells = list(itertools.product(*(values[v] for v in reversed(order))))
    cells = [tuple(reversed(c)) for c in cells]
    index = {c: i for i, c in enumerate(cells)}
    cols = [grid[v].astype(object).tolist() for v in order]
    which = np.array([index[c] for c in zip(*cols, strict=True)], dtype=np.int64)
    A = np.zeros((len(cells), len(grid)))
    A[which, np.arange(len(grid))] = 1.0
    A /= A.sum(axis=1, keepdims=True)
    Lfull = A @ Xgrid
    keys = pd.DataFrame(
        {v: [level_name(c[j]) for c in cells] for j, v in enumerate(order)}, columns=order
    )
    nspec = int(np.prod([len(values[v]) for v in specs]))
    levels = [" ".join(level_name(x) for x in c[: len(specs)]) for c in cells[:nspec]]
    groups = [np.arange(g, g + nspec) for g in range(0, len(cells), nspec)]
    return MarginalMeans(
        L=Lfull[:, design.fixed_keep] if design.fixed_keep is not None else Lfull,
        keys=keys,
        specs=specs,
        by=by,
        levels=levels,
        groups=groups,
        estimable=_estimable(design, Lfull),
    )


def emmeans_table(fit, specs, by=None, at=None, ddf="kenward-roger", level=0.95) -> pd.DataFrame:
    """``fit.emmeans``: marginal means with SE, df and t intervals (see :meth:`Fit.emmeans`)."""
    ddf = check_ddf(ddf)
    level = check_level(level)
    mm = marginal_means(fit.design, specs, by, at)
    beta = np.asarray(fit.fixef(), float)
    cov, df = fit._lincomb_cov(mm.L, ddf)
    se = np.sqrt(np.diag(cov))
    est = mm.L @ beta
    est[~mm.estimable] = se[~mm.estimable] = np.nan
    crit = stats.t.ppf(0.5 + level / 2.0, df)
    out = mm.keys.copy()
    out["estimate"] = est
    out["std_error"] = se
    out["df"] = np.asarray(df, float)
    out["conf_low"] = est - crit * se
    out["conf_high"] = est + crit * se
    return out


class PosteriorTable(pd.DataFrame):
    """A table of posterior summaries with the draws behind it in ``.draws``.

    ``.draws`` is an xarray DataArray with dims (chain, draw, <row dim>), one coordinate per
    row of the table, ready for ArviZ (``az.plot_posterior(table.draws)``). Operations that
    make a new frame (slicing, sorting) return a plain DataFrame, so the draws never belong
    to a different set of rows.
    """

    _metadata = ["draws"]

    @property
    def _constructor(self):
        return pd.DataFrame


def posterior_table(keys, L, beta_draws, nchains, interval, dim, labels) -> PosteriorTable:
    """Posterior mean, SD, equal-tailed interval and probability of direction of L β.

    ``beta_draws`` has shape (chains × draws, p), chains stacked; ``labels`` name the rows in
    the DataArray's ``dim`` coordinate.
    """
    import xarray as xr

    interval = check_level(interval, "interval")
    draws = np.asarray(beta_draws, float) @ L.T  # (S, rows)
    a = (1.0 - interval) / 2.0
    out = PosteriorTable(keys.reset_index(drop=True).copy())
    out["estimate"] = draws.mean(axis=0)
    out["std_error"] = draws.std(axis=0, ddof=1)
    out["conf_low"] = np.quantile(draws, a, axis=0)
    out["conf_high"] = np.quantile(draws, 1.0 - a, axis=0)
    out["pd"] = np.maximum((draws > 0).mean(axis=0), (draws < 0).mean(axis=0))
    out.draws = xr.DataArray(
        draws.reshape(nchains, -1, draws.shape[-1]),
        dims=("chain", "draw", dim),
        coords={dim: list(labels)},
        name=dim,
    )
    return out


def row_labels(keys: pd.DataFrame, first: list[str], by: list[str]) -> list[str]:
    """Unique row names ``"T0"`` or ``"T0 | arm=control"`` for a DataArray coordinate."""
    out = []
    for i in range(len(keys)):
        head = " ".join(str(keys[c].iloc[i]) for c in first)
        tail = ", ".join(f"{c}={keys[c].iloc[i]}" for c in by)
        out.append(f"{head} | {tail}" if by else head)
    return out


def posterior_emmeans_table(fit, specs, by=None, at=None, interval=0.95) -> PosteriorTable:
    """``post.emmeans``: posterior summaries of the marginal means (see ``BayesFit.emmeans``)."""
    mm = marginal_means(fit.design, specs, by, at)
    labels = row_labels(mm.keys, mm.specs, mm.by)
    return posterior_table(
        mm.keys, mm.L, fit.components().beta, fit.nchains, interval, "emmean", labels
    )
