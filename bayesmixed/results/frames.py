"""The tidy and ranef tables of every engine, built in one place.

``tidy()`` has one row per fixed effect (``effect="fixed"``, ``group`` None, ``term`` as R
names the column) and one per random-effect parameter (``effect="ran_pars"``, labelled by
:func:`~bayesmixed.results.components.ran_par_labels`), with the columns ``TIDY_COLUMNS`` and
then any extra columns (intervals, diagnostics). ``ranef()`` has one row per level and
random-effect column, with the columns ``RANEF_COLUMNS`` and any extra ones. The engines
supply only the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..design.build import Design
from ..errors import ArgumentError
from .components import RANEF_COLUMNS, TIDY_COLUMNS, ran_par_labels

__all__ = ["EFFECTS", "check_effects", "tidy_frame", "ranef_frame"]

EFFECTS = ("all", "fixed", "ran_pars")
_VALUES = TIDY_COLUMNS[3:]  # estimate, std_error, statistic, df, p_value


def check_effects(effects: str) -> str:
    """Validate tidy()'s ``effects=`` argument."""
    if effects not in EFFECTS:
        raise ArgumentError(f"effects must be 'all', 'fixed' or 'ran_pars', got {effects!r}")
    return effects


def _part(head: dict, columns: Mapping[str, object]) -> pd.DataFrame:
    df = pd.DataFrame(head)
    for c in _VALUES:
        df[c] = columns.get(c, np.nan)
    for c, v in columns.items():
        if c not in _VALUES:
            df[c] = v
    return df


def tidy_frame(
    design: Design,
    fixed: Mapping[str, object] | None = None,
    ran_pars: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """A broom.mixed ``tidy()`` table from per-row column values.

    Parameters
    ----------
    design : Design
        Names the rows: ``design.xnames`` and ``ran_par_labels(design)``.
    fixed, ran_pars : mapping of column name to values, optional
        The columns of each part (arrays of one value per row, or scalars); a part that is
        None is left out. Value columns not given (``std_error``, ``statistic``, ``df``,
        ``p_value``) are NaN; columns beyond ``TIDY_COLUMNS`` follow them in order of first
        appearance (NaN in the part that lacks them).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    >>> tab = tidy_frame(m.design, {"estimate": [1527.5]}, {"estimate": [42.0, 49.5]})
    >>> tab[["effect", "group", "term", "estimate"]].values.tolist()
    [['fixed', None, '(Intercept)', 1527.5], ['ran_pars', 'Batch', 'sd__(Intercept)', 42.0], ['ran_pars', 'Residual', 'sd__Observation', 49.5]]
    """
    parts = []
    if fixed is not None:
        parts.append(_part({"effect": "fixed", "group": None, "term": design.xnames}, fixed))
    if ran_pars is not None:
        labels = ran_par_labels(design)
        head = {
            "effect": "ran_pars",
            "group": [rp.group for rp in labels],
            "term": [rp.term for rp in labels],
        }
        parts.append(_part(head, ran_pars))
    if not parts:
        return pd.DataFrame(columns=TIDY_COLUMNS)
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    cols = TIDY_COLUMNS + [c for c in out.columns if c not in TIDY_COLUMNS]
    return out[cols]


def ranef_frame(
    design: Design,
    estimate: Sequence[np.ndarray],
    std_error: Sequence[np.ndarray | None] | None = None,
    **extra: Sequence[np.ndarray],
) -> pd.DataFrame:
    """A ``ranef()`` table (broom.mixed ``ran_vals``): terms in design order, then columns,
    then levels.

    Parameters
    ----------
    design : Design
    estimate : list of ndarray (m, k)
        One array per random-effect term.
    std_error : list of ndarray (m, k) or None, optional
        Missing (or None for a term) gives NaN.
    **extra : list of ndarray (m, k)
        Further columns (``conf_low=..., conf_high=...``), after ``RANEF_COLUMNS``.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> tab = ranef_frame(fit.design, fit.components().b)
    >>> tab.columns.tolist(), len(tab)
    (['group', 'level', 'term', 'estimate', 'std_error'], 6)
    """
    terms = design.terms
    ses = [None] * len(terms) if std_error is None else list(std_error)
    parts = []
    for ti, t in enumerate(terms):
        for i, cname in enumerate(t.cnames):
            se = ses[ti]
            row = {
                "group": t.group,
                "level": t.levels,
                "term": cname,
                "estimate": estimate[ti][:, i],
                "std_error": se[:, i] if se is not None else np.nan,
            }
            for name, vals in extra.items():
                row[name] = vals[ti][:, i]
            parts.append(pd.DataFrame(row))
    cols = RANEF_COLUMNS + list(extra)
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols]
