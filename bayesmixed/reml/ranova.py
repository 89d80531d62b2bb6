"""lmerTest's ``ranova``: likelihood-ratio tests of the random-effect terms of one fit.

Each random term is reduced in turn and the model refitted with the fit's own engine
(``fit.refitter``, so this module never imports the optimizer); a reduction that leaves no
random term is the linear model, whose (REML or ML) likelihood is computed here directly.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..spec.split import split_top

__all__ = ["ranova"]


def _reductions(term) -> list[tuple[str, object | None]]:
    """lmerTest's single-term reductions of one random term: (row label, reduced term or None
    to drop it). An intercept-only term is dropped; otherwise each non-intercept piece is
    removed in turn, keeping the rest (an empty left side becomes ``1``, as lmerTest does)."""
    from dataclasses import replace

    parts = split_top(term.expr)
    label = f"({' + '.join(parts)} | {term.group})"
    effects = [c for c in parts if c not in ("1", "0", "-1")]
    if not effects:
        return [(label, None)]
    out = []
    for v in effects:
        rest = [c for c in parts if c != v]
        if not [c for c in rest if c not in ("1", "0", "-1")] and "1" not in rest:
            rest = ["1"]
        out.append((f"{v} in {label}", replace(term, expr=" + ".join(rest))))
    return out


def _same_term(a, b) -> bool:
    def key(t):
        parts = set(split_top(t.expr))
        if not parts & {"0", "-1"}:
            parts.add("1")
        return frozenset(parts - {"0", "-1"}), t.group

    return key(a) == key(b)


def _loglik_ols(design, reml: bool) -> float:
    """Log-likelihood of the linear model: R's ``logLik(lm, REML = reml)``."""
    n, p = design.n, design.p
    q, r = np.linalg.qr(design.X)
    rss = float(np.sum((design.y - q @ (q.T @ design.y)) ** 2))
    if not reml:
        return float(-0.5 * n * (np.log(2.0 * np.pi) + 1.0 - np.log(n) + np.log(rss)))
    return float(
        -0.5 * (n - p) * (np.log(2.0 * np.pi) + 1.0 - np.log(n - p) + np.log(rss))
        - np.sum(np.log(np.abs(np.diag(r))))
    )


def ranova(fit) -> pd.DataFrame:
    """Likelihood-ratio tests of the random-effect terms, as lmerTest's ``ranova(fit)``.

    Each random term is reduced in turn and the model refitted (REML or ML as ``fit``): a
    random intercept ``(1 | g)`` is removed; in a term with slopes each slope is removed
    (``(1 + x | g)`` → ``(1 | g)``, row "x in (1 + x | g)"). The statistic is 2·(logLik of
    the full model − logLik of the reduced one) on the difference in parameters; without any
    random term left the reduced model is the linear model (its REML likelihood for REML fits).
    The p-values are the plain χ² ones, as lmerTest's (conservative for variances on the
    boundary; halve them for a single variance, see :func:`anova`).

    Parameters
    ----------
    fit : REMLFit

    Returns
    -------
    pandas.DataFrame
        ``term`` (``"<none>"`` for the full model first), ``npar``, ``logLik``, ``AIC``,
        ``statistic`` (LRT), ``df``, ``p_value``.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> tab = fit.ranova()
    >>> tab["term"].tolist()
    ['<none>', 'Days in (Days | Subject)']
    >>> print(f"{tab['statistic'].iloc[1]:.3f} on {tab['df'].iloc[1]:.0f} df")
    42.837 on 2 df
    """
    from dataclasses import replace

    from ..design.build import build_design

    design = fit.design
    spec = design.spec
    rows = [{"term": "<none>", "npar": fit.nparams, "logLik": float(fit.loglik)}]
    for i, term in enumerate(spec.random):
        for label, new in _reductions(term):
            terms = list(spec.random)
            if new is None or any(_same_term(new, t) for j, t in enumerate(terms) if j != i):
                # a reduction that duplicates another term collapses into it, as R's formula
                # terms do: (1 | g) + (0 + x | g) without x is (1 | g)
                del terms[i]
            else:
                terms[i] = new
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                d = build_design(replace(spec, random=tuple(terms)), design.frame)
                if terms:
                    red = fit.refitter(d, reml=fit.reml)
                    ll, npar = float(red.loglik), red.nparams
                else:  # nothing random left: the linear model, on the fit's likelihood
                    npar = d.p + 1
                    ll = _loglik_ols(d, reml=fit.reml)
            rows.append({"term": label, "npar": npar, "logLik": ll})
    tab = pd.DataFrame(rows)
    tab["AIC"] = -2.0 * tab["logLik"] + 2.0 * tab["npar"]
    full = rows[0]
    stat = 2.0 * (full["logLik"] - tab["logLik"])
    df = full["npar"] - tab["npar"]
    tab["statistic"] = stat.where(tab.index > 0)
    tab["df"] = df.where(tab.index > 0).astype(float)
    p = stats.chi2.sf(tab["statistic"], tab["df"])
    tab["p_value"] = np.where(tab["df"] > 0, p, np.nan)
    return tab
