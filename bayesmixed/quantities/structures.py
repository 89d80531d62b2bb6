"""Choosing a residual covariance structure: one model, every structure, one table (§7.1.7).

The same fixed part is fitted with each candidate structure of the residuals over a subject's
visits, and the fits are ranked by AIC (BIC beside it). By default the fits are by ML: the
likelihoods of models with the same fixed effects are comparable under ML and REML alike,
and ML also stays valid if the fixed part is later changed. With ``method="REML"`` the
restricted likelihoods are compared — legitimate here because every row has the same fixed
effects (REML criteria compare covariance structures only for the same fixed effects); the
table's ``attrs["note"]`` says so.

Structures that cannot be fitted to the data (too many parameters for the visits, a time that
is not numeric for CAR1, an optimizer failure) give a row with the error message instead of
stopping the comparison; fits that converged with a warning (singular, boundary) keep their
numbers and carry the warning in the ``warning`` column.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..design.frame import is_numeric_column
from ..errors import ArgumentError, MissingDataWarning
from ..model import MixedModel
from ..spec import residual as res
from ._columns import check_columns

__all__ = ["compare_structures", "DEFAULT_STRUCTURES", "STRUCTURE_COLUMNS"]

#: The primer's six (CS, UN, CSH, AR1, ARH1, TOEP) plus TOEPH and AD; CAR1 is added for a
#: numeric time.
DEFAULT_STRUCTURES = ("CS", "UN", "CSH", "AR1", "ARH1", "TOEP", "TOEPH", "AD")

#: Columns of :func:`compare_structures` (``bayes=True`` adds elpd_loo, se, p_loo).
STRUCTURE_COLUMNS = [
    "structure",
    "description",
    "npar",
    "logLik",
    "AIC",
    "BIC",
    "delta_AIC",
    "delta_BIC",
    "warning",
    "error",
]

REML_NOTE = (
    "REML fits: restricted likelihoods compare covariance structures only for the same fixed "
    "effects, which holds here (one formula for every structure)"
)
ML_NOTE = "ML fits: every structure has the same fixed effects; lower AIC/BIC is better"


def _resolve(structures, time: str, group: str, by: str | None, numeric: bool) -> list:
    """The candidate structures as ``bm.residual`` objects over ``time``/``group``/``by``."""
    if structures is None:
        names = list(DEFAULT_STRUCTURES) + (["CAR1"] if numeric else [])
        structures = names
    if isinstance(structures, (str, res.ResidualSpec)) or not isinstance(structures, Sequence):
        structures = [structures]
    if not structures:
        raise ArgumentError("structures must name at least one structure (or be None)")
    out = []
    for s in structures:
        if isinstance(s, res.ResidualSpec):
            out.append(s)
            continue
        if isinstance(s, type) and issubclass(s, res.ResidualSpec) and s is not res.ResidualSpec:
            s = s.name
        if not isinstance(s, str) or s.upper() not in res.STRUCTURE_NAMES:
            raise ArgumentError(
                f"structures: {s!r} is not a residual structure; use names from "
                f"{', '.join(res.STRUCTURE_NAMES)} or bm.residual objects"
            )
        out.append(getattr(res, s.upper())(time=time, group=group, by=by))
    labels = [_label(s) for s in out]
    if len(set(labels)) < len(labels):
        raise ArgumentError(f"structures: each structure once, got {', '.join(labels)}")
    return out


def _label(spec) -> str:
    return spec.name if spec.by is None else f"{spec.name} by {spec.by}"


def _fit_one(formula: str, data: pd.DataFrame, spec, reml: bool):
    """(fit or None, model or None, warning text, error text); never raises a fitting error."""
    seen: list[str] = []
    missing = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = MixedModel(formula, data, residual=spec)
            fit = model.fit_reml(reml=reml)
        except Exception as exc:  # a failing structure is a row of the table, not a crash
            model = fit = None
            error = f"{type(exc).__name__}: {exc}"
        else:
            error = None
    for w in caught:
        if issubclass(w.category, MissingDataWarning):
            missing.append(w)
        elif str(w.message) not in seen:
            seen.append(str(w.message))
    return fit, model, "; ".join(seen) or None, error, missing


def _loo_row(model, draws: int, tune: int, chains: int, seed: int | None) -> dict:
    """elpd_loo, its SE and p_loo from a short posterior run (NaN with the error if it fails)."""
    import arviz as az

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            post = model.sample(
                draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=False
            )
            loo = az.loo(post.idata)
    except Exception as exc:  # report, keep the ML/REML columns of the row
        return {"elpd_loo": np.nan, "se": np.nan, "p_loo": np.nan, "bayes_error": str(exc)}
    return {
        "elpd_loo": float(loo.elpd_loo),
        "se": float(loo.se),
        "p_loo": float(loo.p_loo),
        "bayes_error": None,
    }


def compare_structures(
    formula: str,
    data: pd.DataFrame,
    time: str,
    group: str,
    structures: Sequence | None = None,
    method: str = "ML",
    bayes: bool = False,
    by: str | None = None,
    *,
    draws: int = 300,
    tune: int = 300,
    chains: int = 2,
    random_seed: int | None = 1,
    return_fits: bool = False,
):
    """Fit ``formula`` with each residual structure and rank them by AIC (§7.1.7).

    Parameters
    ----------
    formula : str
        The fixed part (and random terms nested in the subject, if any), e.g.
        ``"y ~ visit * arm"``; the same for every structure.
    data : DataFrame
    time, group : str
        Visit and subject columns of the structures.
    structures : list, optional
        Names (``"UN"``), ``bm.residual`` classes or objects. Default: CS, UN, CSH, AR1,
        ARH1, TOEP, TOEPH, AD, and CAR1 when ``time`` is numeric.
    method : {"ML", "REML"}
        Criterion of the fits (see the module notes: ML is the default; REML compares
        structures only because the fixed effects are the same).
    bayes : bool
        Also sample each structure briefly (``draws``, ``tune``, ``chains``) and add the PSIS
        leave-one-out columns elpd_loo, se, p_loo (and ``bayes_error`` if sampling fails).
    by : str, optional
        Factor whose levels get separate structure parameters (e.g. the arm).
    draws, tune, chains, random_seed :
        Settings of the short posterior runs (``bayes=True``).
    return_fits : bool
        Also return a dict structure → fit (None for failures).

    Returns
    -------
    DataFrame, or (DataFrame, dict) with ``return_fits=True``
        Columns structure, description, npar, logLik, AIC, BIC, delta_AIC, delta_BIC (to the
        best row), warning, error; the lowest AIC first, failed structures last.
        ``attrs["method"]`` and ``attrs["note"]`` say how to read it.

    Examples
    --------
    >>> import numpy as np, pandas as pd, bayesmixed as bm
    >>> rng = np.random.default_rng(3)
    >>> d = pd.DataFrame({"id": np.repeat(np.arange(60), 3), "visit": ["T0", "T3", "T6"] * 60})
    >>> d["y"] = np.repeat(rng.normal(size=60), 3) + rng.normal(size=180)
    >>> tab = bm.compare_structures("y ~ visit", d, time="visit", group="id",
    ...                             structures=["CS", "AR1", "UN"])
    >>> tab[["structure", "npar", "delta_AIC"]].round(2).values.tolist()
    [['UN', 9, 0.0], ['CS', 5, 0.44], ['AR1', 5, 10.27]]
    """
    if not isinstance(formula, str):
        raise ArgumentError(f"formula must be a str, got {type(formula).__name__}")
    if not isinstance(data, pd.DataFrame):
        raise ArgumentError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    key = str(method).upper()
    if key not in ("ML", "REML"):
        raise ArgumentError(f"method must be 'ML' or 'REML', got {method!r}")
    if not isinstance(bayes, (bool, np.bool_)):
        raise ArgumentError(f"bayes must be True or False, got {bayes!r}")
    check_columns(data, time=time, group=group, by=by)
    specs = _resolve(structures, time, group, by, is_numeric_column(data, time))
    rows, fits, missing = [], {}, []
    for spec in specs:
        fit, model, warn, error, miss = _fit_one(formula, data, spec, key == "REML")
        missing = missing or miss
        label = _label(spec)
        fits[label] = fit
        row = {"structure": label, "description": spec.description}
        if fit is not None:
            g = fit.glance().iloc[0]
            row.update(npar=int(g["npar"]), logLik=float(g["logLik"]))
            row.update(AIC=float(g["AIC"]), BIC=float(g["BIC"]))
        row.update(warning=warn, error=error)
        if bayes:
            if model is None:
                row.update(elpd_loo=np.nan, se=np.nan, p_loo=np.nan, bayes_error=error)
            else:
                row.update(_loo_row(model, draws, tune, chains, random_seed))
        rows.append(row)
    for w in missing[:1]:  # the same rows are dropped for every structure: say it once
        warnings.warn(w.message, w.category, stacklevel=2)
    table = pd.DataFrame(rows).reindex(columns=_columns(bayes))
    table["npar"] = table["npar"].astype("Int64")
    table["delta_AIC"] = table["AIC"] - table["AIC"].min()
    table["delta_BIC"] = table["BIC"] - table["BIC"].min()
    table = table.sort_values("AIC", na_position="last", kind="stable").reset_index(drop=True)
    table.attrs["method"] = key
    table.attrs["note"] = REML_NOTE if key == "REML" else ML_NOTE
    return (table, fits) if return_fits else table


def _columns(bayes: bool) -> list[str]:
    if not bayes:
        return list(STRUCTURE_COLUMNS)
    cols = list(STRUCTURE_COLUMNS)
    at = cols.index("warning")
    return cols[:at] + ["elpd_loo", "se", "p_loo"] + cols[at:] + ["bayes_error"]
