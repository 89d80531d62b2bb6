"""Consequences of clustering (§3.3, §3.5): design effect, effective sample size, the
precision of between- vs within-cluster effects, and within/between centering.

The public functions are re-exported by :mod:`bayesmixed.variance` (``bm.variance.design_effect``,
``bm.center``); see there for the variance decomposition they use.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import ArgumentError, ColumnError
from ..results.components import Components
from ..results.draws import Posterior, as_components, check_ci, finish

__all__ = ["design_effect", "between_within_variance", "center"]


# --------------------------------------------------------------------------- design effect
def _pick_term(comp: Components, group: str | None, what: str) -> int:
    terms = comp.design.terms
    if not terms:
        raise ArgumentError(f"{what} needs a model with a random-effect term")
    if group is None:
        groups = {t.group for t in terms}
        if len(groups) > 1:
            raise ArgumentError(
                f"{what}: the model has several grouping factors ({', '.join(sorted(groups))}); "
                "say which one with group=..."
            )
        group = terms[0].group
    for i, t in enumerate(terms):
        if (t.group == group or t.name == group) and t.cnames[0] == "(Intercept)":
            return i
    names = sorted({t.group for t in terms})
    raise ArgumentError(
        f"{what}: group={group!r} is not a grouping factor with a random intercept in this "
        f"model; choose one of {', '.join(names)}"
    )


def _as_icc_draws(value: object) -> tuple[np.ndarray, bool]:
    if isinstance(value, Posterior):
        return np.asarray(value.draws, float), True
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return arr.reshape(1), False
    return arr.reshape(-1), True


def design_effect(
    fit_or_sizes: object,
    icc: float | np.ndarray | Posterior | None = None,
    *,
    group: str | None = None,
    method: str = "weighted",
    ci: float = 0.95,
) -> dict:
    """Design effect and effective sample size of clustered data (Kish 1965).

    deff = 1 + (m̄ − 1)·ICC and n_eff = n / deff, where m̄ is

    * ``method="weighted"`` (default): the size-weighted mean cluster size Σn_j² / Σn_j. With
      unequal clusters this is the exact variance inflation of the sample mean under a
      random-intercept model, Var(ȳ) = (τ00 + σ²)/n · [1 + (Σn_j²/n − 1)·ICC];
    * ``method="mean"``: the plain mean cluster size n / J, the textbook formula.

    Both agree for balanced clusters.

    Parameters
    ----------
    fit_or_sizes : fit or array-like of int
        A fitted model (cluster sizes from its grouping factor, ICC from the fit) or the
        cluster sizes n_j.
    icc : float, array of draws or Posterior, optional
        Required with cluster sizes; with a fit it defaults to the fit's ICC for ``group``:
        τ00 / (var_random + σ²) (for a random-intercept model, the adjusted ICC).
    group : str, optional
        Grouping factor, when the model has several.
    method : {"weighted", "mean"}
    ci : float
        Interval probability when the ICC has posterior draws.

    Returns
    -------
    dict
        ``group, method, n, clusters, m_bar, icc, deff, n_eff`` (icc, deff and n_eff are
        Posterior objects when the ICC has draws).

    Examples
    --------
    >>> out = design_effect([10, 10, 10, 10], icc=0.2)
    >>> out["deff"], out["n_eff"]
    (2.8, 14.285714285714286)
    """
    ci = check_ci(ci)
    if method not in ("weighted", "mean"):
        raise ArgumentError(f"method must be 'weighted' or 'mean', got {method!r}")
    if hasattr(fit_or_sizes, "components") or isinstance(fit_or_sizes, Components):
        comp = as_components(fit_or_sizes)
        ti = _pick_term(comp, group, "design_effect()")
        term = comp.design.terms[ti]
        sizes = term.counts.astype(float)
        group = term.group
        if icc is None:
            from ..results.variance import decompose

            d = decompose(comp, tolerance=0)
            icc_draws = d.var_intercept[:, ti] / (d.var_random + d.var_residual)
            draws = d.draws
        else:
            icc_draws, draws = _as_icc_draws(icc)
    else:
        if icc is None:
            raise ArgumentError(
                "design_effect() with cluster sizes needs icc=...; or pass a fitted model"
            )
        sizes = np.asarray(fit_or_sizes, dtype=float).reshape(-1)
        if sizes.size == 0 or np.any(sizes < 1) or np.any(sizes != np.round(sizes)):
            raise ArgumentError(
                "cluster sizes must be a non-empty list of positive integers (observations "
                "per cluster)"
            )
        icc_draws, draws = _as_icc_draws(icc)
    if np.any((icc_draws < -1) | (icc_draws > 1)):
        raise ArgumentError("icc must lie between -1 and 1")
    n = float(sizes.sum())
    m_bar = float((sizes**2).sum() / n) if method == "weighted" else n / sizes.size
    deff = 1.0 + (m_bar - 1.0) * icc_draws
    return {
        "group": group,
        "method": method,
        "n": int(n),
        "clusters": int(sizes.size),
        "m_bar": m_bar,
        "icc": finish(icc_draws, draws, ci, "ICC"),
        "deff": finish(deff, draws, ci, "design effect"),
        "n_eff": finish(n / deff, draws, ci, "effective n"),
    }


def between_within_variance(
    fit: object,
    x: str,
    *,
    group: str | None = None,
    data: pd.DataFrame | None = None,
    ci: float = 0.95,
) -> dict:
    """Approximate sampling variances of the within- and between-cluster effects of ``x``.

    For y_ij = γ00 + γ_W (x_ij − x̄_j) + γ_B x̄_j + u_j + e_ij with u_j ~ N(0, τ00),
    e_ij ~ N(0, σ²) (Raudenbush & Bryk 2002, §5; Snijders & Bosker 2012, §4.6):

    * Var(γ̂_W) ≈ σ² / Σ_ij (x_ij − x̄_j)²: only the within-cluster spread of x informs it;
    * Var(γ̂_B) ≈ 1 / Σ_j w_j (x̄_j − x̄_w)², w_j = 1 / (τ00 + σ²/n_j), x̄_w = Σ w_j x̄_j / Σ w_j:
      the cluster means are the observations, each with variance τ00 + σ²/n_j, so there are
      effectively J of them, not n.

    Parameters
    ----------
    fit : fit or Components
        Supplies σ², τ00 (random intercept of ``group``) and the cluster codes.
    x : str
        Predictor column (in ``data``, or in the model's data when ``data`` is None).
    group : str, optional
        Grouping factor, when the model has several.
    data : DataFrame, optional
        Data rows in the order used for the fit (defaults to the model frame).
    ci : float
        Interval probability for Bayesian fits.

    Returns
    -------
    dict
        ``var_within``, ``var_between``, ``se_within``, ``se_between`` and ``ratio`` =
        var_between / var_within (floats or Posterior).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days + (1 | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> out = between_within_variance(fit, "Days")
    >>> bool(out["var_between"] > out["var_within"])
    True
    """
    ci = check_ci(ci)
    comp = as_components(fit)
    ti = _pick_term(comp, group, "between_within_variance()")
    term = comp.design.terms[ti]
    frame = comp.design.frame if data is None else data
    if x not in frame.columns:
        raise ColumnError(
            f"x={x!r} is not a column of the {'data' if data is not None else 'model data'}; "
            f"available: {', '.join(map(str, frame.columns))}",
            x,
        )
    xv = pd.to_numeric(pd.Series(frame[x]).reset_index(drop=True), errors="coerce").to_numpy()
    if len(xv) != comp.design.n or not np.all(np.isfinite(xv)):
        raise ColumnError(
            f"x={x!r} must be numeric with one finite value per observation used in the fit", x
        )
    codes, counts = term.codes, term.counts.astype(float)
    xbar = np.bincount(codes, weights=xv, minlength=term.m) / counts
    ss_within = float(((xv - xbar[codes]) ** 2).sum())
    c = comp.as_draws()
    s2 = np.asarray(c.sigma, float).reshape(-1) ** 2
    tau = np.asarray(c.cov[ti], float)[:, 0, 0]
    w = 1.0 / (tau[:, None] + s2[:, None] / counts[None, :])
    xw = (w * xbar).sum(axis=1) / w.sum(axis=1)
    with np.errstate(divide="ignore"):
        var_b = 1.0 / (w * (xbar[None, :] - xw[:, None]) ** 2).sum(axis=1)
        var_w = s2 / ss_within
    draws = comp.draws
    return {
        "var_within": finish(var_w, draws, ci, "Var(within effect)"),
        "var_between": finish(var_b, draws, ci, "Var(between effect)"),
        "se_within": finish(np.sqrt(var_w), draws, ci, "SE(within effect)"),
        "se_between": finish(np.sqrt(var_b), draws, ci, "SE(between effect)"),
        "ratio": finish(var_b / var_w, draws, ci, "Var ratio between/within"),
    }


# --------------------------------------------------------------------------- centering
def _missing_column(data: pd.DataFrame, col: str, arg: str) -> ColumnError:
    close = difflib.get_close_matches(str(col), [str(c) for c in data.columns], n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return ColumnError(
        f"{arg}={col!r} is not a column of the data.{hint} "
        f"Available columns: {', '.join(map(str, data.columns[:20]))}",
        str(col),
    )


def _out_name(template: str | None, col: str, default: str, arg: str, several: bool) -> str:
    if template is None:
        return default
    if not isinstance(template, str) or not template:
        raise ArgumentError(f"{arg} must be a non-empty string, got {template!r}")
    if "{}" in template:
        return template.format(col)
    if several:
        raise ArgumentError(
            f"{arg}={template!r} would give every centred column the same name; use a "
            "template with '{}' such as '{}_between'"
        )
    return template


def center(
    data: pd.DataFrame,
    columns: str | Sequence[str],
    by: str | Sequence[str],
    *,
    mean_name: str | None = None,
    dev_name: str | None = None,
) -> pd.DataFrame:
    """Within/between decomposition of predictors (centering within clusters, §3.3).

    Adds, for each column x, the cluster mean x̄_j (``{x}m``) and the within-cluster deviation
    x_ij − x̄_j (``{x}c``). Using both in a model separates the within-cluster effect (of
    ``{x}c``) from the between-cluster effect (of ``{x}m``); with x alone the slope is a blend
    of the two. Missing values of x are ignored in the means and stay missing.

    Parameters
    ----------
    data : DataFrame
    columns : str or list of str
        Numeric predictor(s) to decompose.
    by : str or list of str
        Cluster column(s); several columns define clusters by their combination.
    mean_name, dev_name : str, optional
        Names of the new columns. For several columns use a template with ``{}``
        (e.g. ``"{}_between"``).

    Returns
    -------
    DataFrame
        A copy of ``data`` with the new columns appended; ``data`` is not modified.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"g": ["a", "a", "b", "b"], "age": [1.0, 3.0, 10.0, 14.0]})
    >>> center(d, "age", by="g")[["agem", "agec"]].values.tolist()
    [[2.0, -1.0], [2.0, 1.0], [12.0, -2.0], [12.0, 2.0]]
    """
    if not isinstance(data, pd.DataFrame):
        raise ArgumentError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    cols = [columns] if isinstance(columns, str) else list(columns)
    bys = [by] if isinstance(by, str) else list(by)
    if not cols:
        raise ArgumentError("columns is empty: name at least one predictor to centre")
    if not bys:
        raise ArgumentError("by is empty: name the cluster column(s)")
    for b in bys:
        if b not in data.columns:
            raise _missing_column(data, b, "by")
    out = data.copy()
    several = len(cols) > 1
    for col in cols:
        if col not in data.columns:
            raise _missing_column(data, col, "columns")
        if col in bys:
            raise ArgumentError(f"column {col!r} is also a cluster column in by=; centre another")
        values = data[col]
        if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(
            values.dtype
        ):
            raise ColumnError(
                f"columns={col!r} must be numeric to be centred, but it has dtype "
                f"{values.dtype}; convert it with pandas.to_numeric",
                col,
            )
        mname = _out_name(mean_name, col, f"{col}m", "mean_name", several)
        dname = _out_name(dev_name, col, f"{col}c", "dev_name", several)
        if mname == dname:
            raise ArgumentError(f"mean_name and dev_name are both {mname!r}; choose two names")
        for name, arg in ((mname, "mean_name"), (dname, "dev_name")):
            if name in data.columns:
                raise ArgumentError(
                    f"the data already has a column {name!r}; choose another name with {arg}="
                )
        means = values.astype(float).groupby([data[b] for b in bys], dropna=False).transform("mean")
        out[mname] = means.to_numpy()
        out[dname] = values.astype(float).to_numpy() - means.to_numpy()
    return out
