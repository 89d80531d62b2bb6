"""The Bayesian side: how to trust a posterior (rank and energy plots, posterior predictive
check, the sampler's numbers for every spec) and how much the priors matter."""

from __future__ import annotations

import pandas as pd

from .chapters_pooling import _fig, _plots
from .context import ReportContext
from .figures import energy_plot, ppc_plot, rank_plot
from .page import Section

__all__ = ["chapter_bayes", "chapter_priors"]


def _lead(ctx: ReportContext):
    r = ctx.get("random_intercept")
    if r is not None and r.post is not None:
        return r
    return next((r for r in ctx.results if r.post is not None), None)


def chapter_bayes(ctx: ReportContext) -> list[Section]:
    """Diagnostics of the posterior: every spec's R-hat and ESS, then one model's plots."""
    rows = []
    for r in ctx.results:
        if r.post is None:
            continue
        g = r.post.glance().iloc[0]
        rows.append({"spec": r.name, "chains": r.post.nchains, "draws": r.post.ndraws,
                     "divergences": g["divergences"], "max_rhat": g["max_rhat"],
                     "min_ess_bulk": g["min_ess_bulk"], "parameterization": str(r.post.parameterization),
                     "seconds": r.post.seconds})  # fmt: skip
    s = Section("Did the sampler work? Every posterior of the report")
    if not rows:
        return [s.para("No spec was sampled.")]
    s.para(
        "R-hat compares the chains (want ≤ 1.01); bulk ESS is how many independent draws the "
        "correlated chain is worth (want ≥ 400); a divergence means NUTS could not follow the "
        "posterior's curvature. Quick runs (few draws) fall short of these on purpose."
    )
    s.table(pd.DataFrame(rows), "sampler diagnostics by spec",
            legend="seconds: wall time of building and sampling the model.")  # fmt: skip
    out = [s]
    lead = _lead(ctx)
    d = Section(f"One posterior up close: {lead.name}")
    d.para(
        "Rank plots replace trace plots: with well-mixed chains every chain's ranks are "
        "uniform (flat bars). The energy plot compares the marginal energy with its "
        "transitions; a narrow transition distribution means NUTS explores the tails slowly. "
        "The posterior predictive check draws new data sets from the posterior and sets them "
        "against the observed outcome."
    )
    _fig(d, lambda: rank_plot(lead.post), "rank plots by chain (ArviZ)")
    _fig(d, lambda: energy_plot(lead.post), "energy plot (ArviZ)")
    if getattr(lead.model, "residual_design", None) is None:
        _fig(d, lambda: ppc_plot(lead.post), "posterior predictive check")
    plots = _plots()
    _fig(d, lambda: plots.diagnostics(lead.post), "residuals at the posterior means")
    out.append(d)
    return out


def chapter_priors(ctx: ReportContext) -> list[Section]:
    """The priors: what they say before the data, and how sensitive the posterior is."""
    plots = _plots()
    lead = _lead(ctx)
    if lead is None:
        return [Section("No posterior").para("No spec was sampled.")]
    s = Section(f"The priors of {lead.name}")
    s.table(lead.post.prior_summary(), "post.prior_summary()",
            legend="source: 'user' from the spec's [priors], 'default' scaled to the data.")  # fmt: skip
    priors = lead.settings.priors or None
    _fig(s, lambda: plots.prior_implied(lead.model, priors, random_seed=1, fit=lead.fit),
         "what the priors imply for τ, the ICC and R² before any data (REML values marked)")  # fmt: skip
    p = Section("Prior sensitivity by power scaling")
    p.para(
        "The prior (top) and the likelihood (bottom) are raised to a power α near 1 by "
        "importance weighting the existing draws; a posterior that moves with the prior but "
        "not with the likelihood is prior-dominated (priorsense's diagnosis)."
    )
    p.table(lead.post.prior_sensitivity(), "post.prior_sensitivity()",
            legend="prior, likelihood: cumulative Jensen–Shannon distance of the posterior when the "
        "prior or the likelihood is scaled by α = 0.99–1.01 (above 0.05: sensitive); diagnosis: "
        "'-' no concern, else 'prior-data conflict' or 'weak likelihood'.")  # fmt: skip
    _fig(p, lambda: plots.prior_sensitivity(lead.post), "power-scaled posterior densities")
    return [s, p]
