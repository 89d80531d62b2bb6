"""Chapters 1–4 of the primer: regression, dependent data, the random intercept with partial
pooling, random slopes. Each draws the data as the primer does, then shows its specs."""

from __future__ import annotations

import pandas as pd

from .context import ReportContext
from .figures import caterpillars, figure
from .page import Section
from .sections import anova_table, spec_sections

__all__ = ["chapter_regression", "chapter_dependent", "chapter_intercept", "chapter_slopes"]


def _plots():
    import matplotlib

    matplotlib.use("Agg")
    from .. import plots

    return plots


def _fig(s: Section, draw, caption: str) -> None:
    img = figure(draw, caption)
    if img:
        s.raw(img, f"[figure: {caption}]")


def _missing(number: str) -> list[Section]:
    return [Section("No model").para(f"No spec of models/ names chapter {number}.")]


def _lead(results, name: str):
    """The spec called ``name`` when present, else the chapter's first sampled spec."""
    for r in results:
        if r.name == name:
            return r
    return next((r for r in results if r.post is not None), results[0])


def _rest(ctx: ReportContext, results, lead) -> list[Section]:
    out = []
    for r in results:
        if r is not lead:
            out += spec_sections(ctx, r, folded=True)
    return out


def chapter_regression(ctx: ReportContext) -> list[Section]:
    """§1: one patient per row, ordinary least squares (the mean, age, arm, interaction)."""
    plots = _plots()
    results = ctx.chapter("1")
    if not results:
        return _missing("1")
    lead = _lead(results, "ols_interaction")
    s = Section("The data: score against age")
    s.para(
        "Sixty-four patients, one score each: nothing links two rows, so ordinary regression "
        "applies. The band is ±1 residual SD around the least-squares line — where about two "
        "thirds of the patients lie."
    )
    full = lead.model.design.frame
    _fig(s, lambda: plots.data_lines(full, "age", "score"), "score against age, ±1 SD band")
    _fig(
        s,
        lambda: plots.data_lines(full, "age", "score", group="arm", bands="group"),
        "one line and ±1 SD band per arm: different intercepts and slopes = the interaction",
    )
    rows = []
    for r in results:
        g = r.fit.glance().iloc[0]
        rows.append(
            {
                "spec": r.name,
                "formula": r.model.design.spec.formula,
                "r_squared": g.get("r_squared"),
                "sigma": g.get("sigma"),
                "AIC": g.get("AIC"),
            }
        )
    s.table(
        pd.DataFrame(rows),
        "the §1 models side by side",
        legend="Dichotomizing age (age_group) explains less than age itself: information lost.",
    )
    out = [s] + spec_sections(ctx, lead)
    d = Section(f"Residual checks: {lead.name}")
    d.para("Residuals against fitted values, scale-location and normal QQ (R's plot(lm)).")
    _fig(d, lambda: plots.diagnostics(lead.fit), "residual diagnostics of the OLS fit")
    return out + [d] + _rest(ctx, results, lead)


def chapter_dependent(ctx: ReportContext) -> list[Section]:
    """§2: patients in groups; groups as fixed effects (no pooling)."""
    results = ctx.chapter("2")
    if not results:
        return _missing("2")
    lead = results[0]
    raw = _group_frame(lead)
    s = Section("The data: nine groups")
    s.para(
        "Patients come in nine groups whose levels differ: two patients of one group are more "
        "alike than two of different groups, so the rows are no longer independent. One panel "
        "per group: its least-squares line and ±1 SD band; the dashed line pools everyone."
    )
    _fig(
        s,
        lambda: _group_panels(raw, "age", "score", "group"),
        "score against age by group: own line and ±1 SD band (grey), pooled line dashed",
    )
    means = raw.groupby("group", observed=True)["score"].agg(["size", "mean", "std"])
    means = means.reset_index().rename(columns={"size": "n", "mean": "mean score", "std": "SD"})
    s.table(means, "group sizes and means (the no-pooling estimates)")
    return [s] + spec_sections(ctx, lead) + _rest(ctx, results, lead)


def _group_panels(frame: pd.DataFrame, x: str, y: str, group: str):
    """Small multiples: one panel per cluster with its line and ±1 SD band, and the line
    fitted to all clusters (dashed) in each, on shared axes."""
    import matplotlib.pyplot as plt
    import numpy as np

    plots = _plots()
    levels = list(pd.unique(frame[group]))
    ncol = 3
    nrow = int(np.ceil(len(levels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(9.0, 2.4 * nrow), sharex=True, sharey=True)
    b, a = np.polyfit(frame[x].to_numpy(float), frame[y].to_numpy(float), 1)
    grid = np.linspace(frame[x].min(), frame[x].max(), 20)
    for ax, lev in zip(np.ravel(axes), levels, strict=False):
        plots.data_lines(frame[frame[group] == lev], x, y, ax=ax)
        ax.plot(grid, a + b * grid, color="0.2", ls="--", lw=1.2)
        ax.set_title(f"{group} {lev} (n = {(frame[group] == lev).sum()})", fontsize=9)
        ax.get_legend().remove()
        ax.set_xlabel(x if ax in np.ravel(axes)[-ncol:] else "")
    for ax in np.ravel(axes)[len(levels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def _group_frame(r) -> pd.DataFrame:
    """The groups data with age, which a model of score ~ group leaves out of its frame."""
    from ... import datasets

    src = r.settings.file.data if r.settings.file is not None else None
    seed = getattr(src, "seed", 1) or 1
    return datasets.primer("groups", seed=int(seed))


def chapter_intercept(ctx: ReportContext) -> list[Section]:
    """§3: the random intercept, partial pooling, λ_j against n_j, level-2 predictors."""
    plots = _plots()
    results = ctx.chapter("3")
    if not results:
        return _missing("3")
    lead = _lead(results, "random_intercept")
    out = spec_sections(ctx, lead)
    p = Section("Partial pooling in pictures")
    p.para(
        "Each group's estimate γ̂₀ + û₀ⱼ is a weighted average of its own mean (no pooling) and "
        "the population mean γ̂₀ (complete pooling), with weight λ_j = τ₀² / (τ₀² + σ²/n_j): "
        "small groups borrow more from the others. With 8–16 patients per group and τ̂₀ "
        "small next to σ̂, the pull is plain to see."
    )
    _fig(p, lambda: plots.pooling(lead.fit), "no pooling (open) → partial pooling (filled)")
    _fig(p, lambda: plots.pooling_weights(lead.fit), "REML pooling weight λ_j against n_j")
    if lead.post is not None:
        _fig(
            p,
            lambda: plots.pooling_weights(lead.post),
            "posterior λ_j with intervals: τ is uncertain, so is every λ_j",
        )
        _fig(
            p,
            lambda: caterpillars(lead.fit, lead.post),
            "group deviations û₀ⱼ: REML BLUPs ± 1.96 conditional SD (left), posterior (right)",
        )
        _fig(
            p,
            lambda: plots.icc_r2_posteriors(lead.post, lead.fit),
            "posterior of ICC and R² with the REML values dashed",
        )
    sh = lead.fit.shrinkage()
    p.table(sh.drop(columns=["group"]), "shrinkage(): per group")
    return out + [p] + _rest(ctx, results, lead)


def chapter_slopes(ctx: ReportContext) -> list[Section]:
    """§4: random slopes, correlated and uncorrelated, and the test between them."""
    from ...quantities.lrt import anova

    plots = _plots()
    results = ctx.chapter("4")
    if not results:
        return _missing("4")
    lead = _lead(results, "random_slope")
    frame = lead.model.design.frame
    s = Section("The data: one age line per hospital")
    s.para(
        "Within each hospital, score against the hospital-centred age agec: the lines differ "
        "in level and in steepness. A random slope lets each hospital have its own, pooled "
        "towards the average slope γ₁."
    )
    x = next((c for c in ("agec", "Days") if c in frame.columns), None)
    grp = lead.model.design.terms[0].group if lead.model.design.terms else None
    if x and grp:
        _fig(
            s,
            lambda: plots.data_lines(frame, x, lead.model.design.response_name, group=grp),
            f"one least-squares line per {grp}, pooled ±1 SD band",
        )
    out = [s] + spec_sections(ctx, lead)
    p = Section("Intercepts and slopes, pooled")
    if lead.model.design.terms and lead.model.design.terms[0].k == 2:
        cn = tuple(lead.model.design.terms[0].cnames)
        _fig(p, lambda: plots.pooling(lead.fit, cn), "shrinkage in the (intercept, slope) plane")
        _fig(p, lambda: plots.caterpillar(lead.fit), "REML caterpillar: intercepts and slopes")
    if lead.post is not None:
        _fig(p, lambda: plots.caterpillar(lead.post), "posterior caterpillar")
    unc = ctx.get("uncorrelated_slope")
    if (
        unc is not None
        and unc.model.design.spec.formula.split("~")[0]
        == (lead.model.design.spec.formula.split("~")[0])
    ):
        try:
            tab = ctx.once("lrt4", lambda: anova(unc.fit, lead.fit))
            p.table(
                anova_table(tab),
                "bm.anova: is the intercept–slope correlation needed?",
                legend="Both refitted by ML; statistic = 2 Δ logLik on df extra parameters.",
            )
        except Exception as e:  # noqa: BLE001 - a test that does not apply is reported
            p.para(f"bm.anova does not apply here: {e}")
    out.append(p)
    return out + _rest(ctx, results, lead)
