"""Small example data sets bundled with bayesmixed.

``load(name)`` returns a fresh :class:`pandas.DataFrame`. Grouping columns that R stores as
factors come back as text, as integers where they only serve as grouping factors
(sleepstudy's ``Subject``, BodyWeight's ``Rat``), or as a Categorical with R's level order
where R's examples use them as predictors (BodyWeight's ``Diet``, Orthodont's ``Sex`` with
reference level Male), so that bayesmixed treats them as R would.

``primer(kind, seed=...)`` simulates the primer's working example (the SQUARE test scores of
patients, in groups, hospitals, wards, schools and over visits); see
:mod:`bayesmixed.datasets.primer`.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from ..errors import ArgumentError
from .primer import primer

__all__ = ["load", "available", "primer"]

# Columns R stores as factors even though their values look numeric.
_FACTOR_COLUMNS = {
    "sleepstudy": ["Subject"],
    "BodyWeight": ["Rat", "Diet"],
    "Orthodont": ["Subject"],
}
# Factors R's examples use as fixed-effect predictors, returned as Categorical with R's level
# order (the first is the reference level): numeric-looking ones, and ones whose R levels are
# not in sorted order.
_FACTOR_PREDICTORS = {
    "BodyWeight": {"Diet": [1, 2, 3]},
    "Orthodont": {"Sex": ["Male", "Female"]},
}

_DESCRIPTIONS = {
    "sleepstudy": "lme4: reaction times (ms) of 18 subjects over 10 days of sleep deprivation",
    "Penicillin": "lme4: diameter of growth-inhibition zones, 24 plates crossed with 6 samples",
    "Pastes": "lme4: paste strength, casks nested in 10 batches (2 assays per cask)",
    "Dyestuff": "lme4: yield of dyestuff from 6 batches of an intermediate product",
    "Dyestuff2": "lme4: simulated yields with no between-batch variance (singular fit)",
    "Orthodont": "nlme: pituitary–pterygomaxillary distance of 27 children at ages 8–14",
    "BodyWeight": "nlme: body weights of 16 rats on three diets over 64 days",
}


def available() -> dict[str, str]:
    """Names and one-line descriptions of the bundled data sets.

    Examples
    --------
    >>> "sleepstudy" in available()
    True
    """
    present = {
        p.name[:-4] for p in resources.files(__package__).iterdir() if p.name.endswith(".csv")
    }
    return {k: v for k, v in _DESCRIPTIONS.items() if k in present}


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set.

    Parameters
    ----------
    name : str
        One of :func:`available` (``"sleepstudy"``, ``"Penicillin"``, ``"Pastes"``,
        ``"Dyestuff"``, ``"Dyestuff2"``, ``"Orthodont"``, ``"BodyWeight"``).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import bayesmixed as bm
    >>> bm.datasets.load("sleepstudy").shape
    (180, 3)
    """
    names = available()
    if name not in names:
        raise ArgumentError(f"unknown data set {name!r}; choose one of: {', '.join(sorted(names))}")
    with resources.files(__package__).joinpath(f"{name}.csv").open("r") as fh:
        df = pd.read_csv(fh)
    for col in _FACTOR_COLUMNS.get(name, []):
        if col in df.columns and df[col].dtype == float:
            df[col] = df[col].astype("int64")
    for col, levels in _FACTOR_PREDICTORS.get(name, {}).items():
        # so that ``weight ~ Time * Diet`` has R's Diet2, Diet3 contrasts rather than one slope,
        # and ``distance ~ age * Sex`` R's SexFemale
        df[col] = pd.Categorical(df[col], categories=levels)
    return df
