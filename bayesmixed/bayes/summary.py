"""What a :class:`~bayesmixed.bayes.result.BayesFit` shows: its sampling run and posterior table.

Described once as display blocks (:mod:`bayesmixed.results.display`): the formula; chains ×
draws, sampler, parameterization and wall time; divergences, the largest R-hat and the
smallest bulk ESS; then ``tidy()`` without the frequentist columns (statistic, df,
p_value), which are always empty for a posterior. ``repr()`` and the Jupyter HTML are the
two renderings of those blocks (:class:`~bayesmixed.results.display.Described`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..results.display import Block, Described, Heading, Text, table_from_frame

if TYPE_CHECKING:  # pragma: no cover
    from .result import BayesFit

__all__ = ["BayesSummary"]


def _g4(x: float) -> str:
    return f"{x:.4g}"


class BayesSummary(Described):
    """The printed summary of a posterior.

    Parameters
    ----------
    post : BayesFit

    Examples
    --------
    >>> import bayesmixed as bm
    >>> post = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).sample(
    ...     draws=500, tune=500, chains=2, random_seed=1, progressbar=False)
    >>> print(BayesSummary(post))  # doctest: +ELLIPSIS
    BayesFit: Yield ~ 1 + (1 | Batch)
      2 chains × 500 draws, sampler=nutpie, parameterization=...
    """

    def __init__(self, post: BayesFit):
        self.post = post

    def blocks(self) -> list[Block]:
        """Header lines, then the posterior table."""
        p = self.post
        g = p.glance().iloc[0]
        tab = p.tidy().drop(columns=["statistic", "df", "p_value"])
        return [
            Heading(f"BayesFit: {p.design.spec.formula}", level=1),
            Text(
                f"  {p.nchains} chains × {p.ndraws} draws, sampler={p.sampler}, "
                f"parameterization={p.parameterization}, {p.seconds:.1f} s"
            ),
            Text(
                f"  divergences={g['divergences']}, max R-hat={g['max_rhat']:.3f}, "
                f"min bulk ESS={g['min_ess_bulk']:.0f}"
            ),
            table_from_frame(tab, number=_g4),
        ]
