"""What the report's chapters share: fits computed once, and the tables several chapters show."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ... import datasets
from ...model import MixedModel

__all__ = ["DemoContext", "tidy_table", "variance_shares"]


@dataclass
class DemoContext:
    """Shared state for the chapters: data sets and fits are computed once and reused."""

    fits: dict[str, object] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)

    def fit(self, key: str, formula: str, data: str | pd.DataFrame, reml: bool = True):
        """Fit ``formula`` (REML or ML) once, remembering any warnings it raised."""
        if key not in self.fits:
            frame = datasets.load(data) if isinstance(data, str) else data
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.fits[key] = MixedModel(formula, frame).fit_reml(reml=reml)
            self.warnings[key] = [str(w.message) for w in caught]
        return self.fits[key]

    def notes(self, key: str) -> list[str]:
        """The warnings raised while fitting ``key``."""
        return self.warnings.get(key, [])


def tidy_table(fit, **kwargs) -> pd.DataFrame:
    """``tidy()`` without the effect column, the fixed effects' empty group shown blank."""
    tab = fit.tidy(**kwargs).drop(columns=["effect"])
    tab["group"] = tab["group"].fillna("").astype(str)
    return tab


def variance_shares(fit) -> pd.DataFrame:
    """``varcorr_table()``'s variances (no covariances) and each one's share of their sum.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> variance_shares(fit)["component"].tolist()
    ['Batch (Intercept)', 'Residual']
    """
    vc = fit.varcorr_table()
    vc = vc[vc["var2"].isna()]
    return pd.DataFrame(
        {
            "component": vc["grp"] + np.where(vc["var1"].isna(), "", " " + vc["var1"].fillna("")),
            "variance": vc["vcov"],
            "std_dev": vc["sdcor"],
            "share": vc["vcov"] / vc["vcov"].sum(),
        }
    )
