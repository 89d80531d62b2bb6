"""Which terms to integrate out, which to sample, and how to sample each.

The marginal form integrates every term out; its cost per gradient is set by the dense
Schur block of crossed terms (the later terms' total width, at most ``DENSE_LIMIT``). When
that block would be too large, the partly marginal form samples the effects of some terms
and integrates the rest out given them (:mod:`.partial`): the sampled set is the smallest
(fewest effects) that leaves the rest cheap to integrate — a nested chain, or crossed
terms whose later ones are narrow. On InstEval (students × lecturers × departments) that
samples the 1,128 lecturers and, since lecturers are nested in departments, the 14
departments with them (:func:`_close_upwards`), and integrates the 2,972 students out.

A sampled term is centred when its groups' data are informative about their effects and
non-centred when they are not (Papaspiliopoulos, Roberts & Sköld 2007): with the REML
estimates, the median over levels of tr(Σ Z_j'Z_j)/(k σ²) — for a random intercept
n_j τ²/σ², the ratio of the data's precision about b_j to the prior's — at least 1 means
centred.
"""

from __future__ import annotations

import dataclasses
from itertools import combinations

import numpy as np

from ...design.build import Design
from .statistics import DENSE_LIMIT, _parent_map, structure_of

__all__ = ["integrable", "partial_split", "prefers_partial", "centring"]


def _order(design: Design, idx: list[int]) -> list[int] | None:
    """An order of the terms ``idx`` that the marginal algebra factors cheaply, or None."""
    if len(idx) == 1:
        return list(idx)
    sub = dataclasses.replace(design, terms=[design.terms[i] for i in idx])
    if structure_of(sub)[0] == "nested":
        return list(idx)
    # crossed: eliminate the widest term level by level, the rest form the dense block
    first = max(idx, key=lambda i: design.terms[i].q)
    rest = [i for i in idx if i != first]
    if sum(design.terms[i].q for i in rest) > DENSE_LIMIT:
        return None
    return [first, *rest]


def integrable(design: Design) -> bool:
    """Whether every term can be integrated out (the marginal form applies).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("diameter ~ 1 + (1 | plate) + (1 | sample)",
    ...                   bm.datasets.load("Penicillin"))
    >>> integrable(m.design)
    True
    """
    if not design.terms:
        return False
    if structure_of(design)[0] == "nested":
        return True
    return sum(t.q for t in design.terms[1:]) <= DENSE_LIMIT


def _cost(design: Design, sampled: list[int], order: list[int]) -> float:
    """Rough flops per NUTS iteration of a split: per gradient, the dense Schur block's
    factorization and inversion (q_r³), the per-level blocks, and the O(n) passes over the
    rows when effects are sampled; times a number of leapfrog steps that grows as the
    fourth root of the dimension (Beskos et al. 2013)."""
    terms = design.terms
    sub = [terms[i] for i in order]
    nested = len(sub) == 1 or structure_of(dataclasses.replace(design, terms=sub))[0] == "nested"
    qr = 0 if nested else sum(t.q for t in sub[1:])
    per = float(qr) ** 3 + sum(t.m * t.k**3 for t in sub)
    if sampled:
        per += 8.0 * design.n * (design.p + sum(t.k for t in terms))
    dim = design.p + 1 + sum(t.k * (t.k + 1) // 2 for t in terms)
    dim += sum(terms[i].q for i in sampled)
    return per * dim**0.25


# The marginal form mixes best (a handful of dimensions, b exact): it is kept unless a split
# is estimated this many times cheaper. On lme4's InstEval, the first 5,000 rows integrate to
# a dense block 400 wide (166 s of sampling); sampling the lecturers instead takes seconds.
MARGINAL_ADVANTAGE = 4.0


def partial_split(design: Design) -> tuple[list[int], list[int]] | None:
    """(sampled terms, integrated terms in factorization order) of the cheapest split
    (:func:`_cost`), or None when no term can be integrated out given the others.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import bayesmixed as bm
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"s": rng.integers(0, 900, 5000), "d": rng.integers(0, 500, 5000),
    ...                    "y": rng.normal(size=5000)})
    >>> m = bm.MixedModel("y ~ 1 + (1 | s) + (1 | d)", df)
    >>> partial_split(m.design)  # sample the 500 d effects, integrate s out
    ([1], [0])
    """
    nt = len(design.terms)
    best = None
    for r in range(1, nt):
        for sampled in combinations(range(nt), r):
            rest = [i for i in range(nt) if i not in sampled]
            order = _order(design, rest)
            if order is None:
                continue
            split = _close_upwards(design, list(sampled), order)
            cost = _cost(design, *split)
            if best is None or cost < best[0]:
                best = (cost, *split)
    return None if best is None else (best[1], best[2])


def prefers_partial(design: Design) -> bool:
    """Whether "auto" should take the partly marginal form over the marginal one: only when
    the marginal form is not available, or a split is :data:`MARGINAL_ADVANTAGE` times
    cheaper."""
    split = partial_split(design)
    if split is None:
        return False
    if not integrable(design):
        return True
    marginal = _cost(design, [], list(range(len(design.terms))))
    return MARGINAL_ADVANTAGE * _cost(design, *split) < marginal


def _close_upwards(design: Design, sampled: list[int], order: list[int]):
    """Sample the terms a sampled term is nested in, while the rest stays integrable: the
    mean effect of a lecturer's department and of its lecturers are otherwise one ridge
    that the sampler crosses slowly; sampled together they are centred hierarchically
    (:class:`~.partial.PartialPosterior`)."""
    terms = design.terms
    changed = True
    while changed:
        changed = False
        for u in list(order):
            rest = [i for i in order if i != u]
            if not rest or not any(
                terms[u].m < terms[t].m
                and _parent_map(terms[t].codes, terms[u].codes, terms[t].m) is not None
                for t in sampled
            ):
                continue
            new_order = _order(design, rest)
            if new_order is not None:
                sampled, order, changed = sorted([*sampled, u]), new_order, True
                break
    return sampled, order


def centring(design: Design, sampled: list[int], sigma: float, covs: list) -> dict[int, str]:
    """``"centered"`` or ``"noncentered"`` for each sampled term, from the REML σ and Σ_t.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    >>> centring(m.design, [0], 25.6, [np.diag([24.7**2, 5.9**2])])
    {0: 'centered'}
    """
    out = {}
    for i in sampled:
        t = design.terms[i]
        C = t.level_sums(t.X)  # (m, k, k) Z_j'Z_j
        S = np.asarray(covs[i], dtype=float)
        info = np.einsum("ab,jba->j", S, C) / (t.k * max(sigma, 1e-12) ** 2)
        out[i] = "centered" if float(np.median(info)) >= 1.0 else "noncentered"
    return out
