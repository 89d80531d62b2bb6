"""Parametric bootstrap of a likelihood-ratio test, as pbkrtest's ``PBmodcomp``.

Responses are simulated from the smaller model's fit (the fit the test uses: ML by default,
REML for ``anova(refit=False)``), both models are refitted to each with that criterion, and
the statistic 2·max(0, ℓ₁* − ℓ₀*) is computed for every replicate. As PBmodcomp,

    p_bootstrap = (1 + #{LRT* ≥ LRT}) / (N + 1),

over the N replicates that succeeded, with Monte Carlo standard error
√(p (1 − p) / N). The replicates run on :func:`bayesmixed.batch.run_tasks`, so the same
``random_seed`` gives the same p-value locally and on Dask.

The bootstrap needs nested models: the same observations (identical responses) and a larger
model whose fixed-effect columns and random-effect (group, column) pairs contain the
smaller's — a simple check on term sets, refusing what is clearly not nested.
"""

from __future__ import annotations

import functools

import numpy as np

from ..batch import run_tasks
from ..errors import ArgumentError
from ..reml.simulate import refit_to, simulate_response

__all__ = ["check_nested", "lrt_bootstrap"]


def _random_pairs(fit) -> set[tuple[str, str]]:
    return {(t.group, c) for t in fit.design.terms for c in t.cnames}


def check_nested(small, big) -> None:
    """Refuse (ArgumentError) a pair of fits that is not nested: other data, or a larger
    model that lacks one of the smaller's fixed-effect columns or random-effect terms.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> d = bm.datasets.load("sleepstudy")
    >>> m0 = bm.MixedModel("Reaction ~ 1 + (1 | Subject)", d).fit_reml()
    >>> m1 = bm.MixedModel("Reaction ~ Days + (Days | Subject)", d).fit_reml()
    >>> check_nested(m0, m1)  # nested: no error
    >>> check_nested(m1, m0)
    Traceback (most recent call last):
    ...
    bayesmixed.errors.ArgumentError: ...
    """
    ys, yb = small.design.y, big.design.y
    if ys.shape != yb.shape or not np.array_equal(ys, yb):
        raise ArgumentError(
            f"bootstrap needs nested models fitted to the same data: {small.design.spec.formula!r} "
            f"and {big.design.spec.formula!r} have different responses; fit both to one data set"
        )
    missing = [x for x in small.design.xnames if x not in set(big.design.xnames)]
    missing += [f"({c} | {g})" for g, c in sorted(_random_pairs(small) - _random_pairs(big))]
    if missing:
        raise ArgumentError(
            f"bootstrap needs nested models: {big.design.spec.formula!r} lacks "
            f"{', '.join(missing)} of {small.design.spec.formula!r}; a parametric bootstrap "
            "of the LRT compares a model with one that contains it"
        )


def _loglik(fit) -> float:
    return float(fit.loglik)


def _replicate(payload, _task, rng) -> float:
    """One bootstrap LRT: simulate from the smaller fit, refit both models, 2·Δℓ."""
    d0, d1, beta, covs, sigma, refit0, refit1, reml = payload
    y = simulate_response(d0, beta, covs, sigma, rng)
    f0 = refit_to(d0, y, refit0, reml)
    f1 = refit_to(d1, y, refit1, reml)
    return 2.0 * max(0.0, _loglik(f1) - _loglik(f0))


def lrt_bootstrap(
    small,
    big,
    stat: float,
    nsim: int,
    random_seed=None,
    client=None,
    progressbar: bool = False,
) -> tuple[float, float, int]:
    """Parametric-bootstrap p-value of the LRT of ``small`` within ``big``.

    Parameters
    ----------
    small, big : fits
        The two fits the test compares (both ML, or both REML for ``refit=False``).
    stat : float
        The observed statistic 2·max(0, ℓ_big − ℓ_small).
    nsim : int
        Bootstrap replicates.
    random_seed : int or SeedSequence, optional
    client : distributed.Client or str, optional

    Returns
    -------
    (p_bootstrap, p_bootstrap_se, n_ok)

    Examples
    --------
    >>> import bayesmixed as bm
    >>> d = bm.datasets.load("Dyestuff")
    >>> m0 = bm.MixedModel("Yield ~ 1", d).fit_reml()
    >>> m1 = bm.MixedModel("Yield ~ 1 + (1 | Batch)", d).fit_reml(reml=False)
    >>> stat = 2 * (m1.loglik - m0.loglik)
    >>> p, se, n = lrt_bootstrap(m0, m1, stat, 99, random_seed=1)
    >>> n, 0 < p < 0.1
    (99, True)
    """
    check_nested(small, big)
    for f in (small, big):
        if getattr(f, "refitter", None) is None:
            raise ArgumentError(
                f"the fit of {f.design.spec.formula!r} cannot be refitted: bootstrap needs fits "
                "made by MixedModel.fit_reml()"
            )
    comp = small.components()
    payload = (
        small.design,
        big.design,
        np.asarray(comp.beta, float),
        [np.asarray(c, float) for c in comp.cov],
        float(np.asarray(comp.sigma)),
        small.refitter,
        big.refitter,
        bool(getattr(big, "reml", False)),
    )
    res = run_tasks(
        functools.partial(_replicate, payload),
        range(nsim),
        random_seed=random_seed,
        client=client,
        progressbar=progressbar,
    )
    ref = np.array([r.value for r in res if r.ok], float)
    n = len(ref)
    if n == 0:
        return float("nan"), float("nan"), 0
    p = (1.0 + float(np.sum(ref >= stat))) / (n + 1.0)
    return p, float(np.sqrt(p * (1.0 - p) / n)), n
