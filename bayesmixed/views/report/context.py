"""What the report's chapters share: the spec results by chapter, and the extra fits and
intervals several chapters need, computed once."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from ...errors import BayesMixedError
from .runs import SpecResult, by_chapter

__all__ = ["ReportContext", "variance_shares"]


@dataclass
class ReportContext:
    """The spec results and a cache of derived fits.

    Examples
    --------
    >>> ctx = ReportContext([])
    >>> ctx.chapter("3"), ctx.get("random_intercept") is None
    ([], True)
    """

    results: Sequence[SpecResult]
    quick: bool = False
    cache: dict[object, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.chapters = by_chapter(self.results)
        self.named = {r.name: r for r in self.results}

    def chapter(self, number: str) -> list[SpecResult]:
        """The results of chapter ``number`` (``"3"`` holds ``3`` and ``3.3``)."""
        return self.chapters.get(number, [])

    def get(self, name: str) -> SpecResult | None:
        """The result of spec ``name`` (its file stem), or None when it was not run."""
        return self.named.get(name)

    def once(self, key: object, make):
        """``make()`` computed the first time ``key`` is asked for (warnings silenced)."""
        if key not in self.cache:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.cache[key] = make()
        return self.cache[key]

    def confint(self, fit) -> pd.DataFrame | None:
        """``fit.confint(method="profile")`` once per fit; None for fits without it."""

        def make():
            if not callable(getattr(fit, "confint", None)):
                return None
            try:
                return fit.confint(method="profile")
            except (BayesMixedError, ValueError, ArithmeticError):
                return None

        return self.once(("confint", id(fit)), make)


def variance_shares(fit) -> pd.DataFrame:
    """The variance components of a mixed-model fit and each one's share of their sum.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> variance_shares(fit)["component"].tolist()
    ['Batch (Intercept)', 'Residual']
    """
    vc = fit.varcorr_table()
    vc = vc[vc["var2"].isna()]
    comp = vc["grp"] + vc["var1"].map(lambda v: "" if pd.isna(v) else f" {v}")
    return pd.DataFrame(
        {
            "component": comp.to_numpy(),
            "variance": vc["vcov"].to_numpy(float),
            "std_dev": vc["sdcor"].to_numpy(float),
            "share": (vc["vcov"] / vc["vcov"].sum()).to_numpy(float),
        }
    )
