"""Chapters 5–8 of the primer: nesting and crossing (with ML vs REML and tests of a
variance), longitudinal data and contrasts, residual covariance structures, effect sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import BayesMixedError
from ...model import MixedModel
from .chapters_pooling import _fig, _lead, _missing, _plots, _rest
from .context import ReportContext, variance_shares
from .page import Section
from .sections import anova_table, spec_sections

__all__ = ["chapter_nesting", "chapter_longitudinal", "chapter_structures", "chapter_effects"]


def _ml_reml(ctx: ReportContext, r) -> pd.DataFrame:
    """The REML and ML estimates of one spec's model side by side."""
    ml = ctx.once(("ml", r.name), lambda: r.model.fit_reml(reml=False))
    a = r.fit.tidy().set_index(["group", "term"])
    b = ml.tidy().set_index(["group", "term"])
    both = pd.DataFrame(
        {
            "REML": a["estimate"],
            "ML": b["estimate"],
            "REML SE": a["std_error"],
            "ML SE": b["std_error"],
        }  # fmt: skip
    ).reset_index()
    both["group"] = both["group"].map(lambda g: "" if g is None or pd.isna(g) else g)
    return both


def chapter_nesting(ctx: ReportContext) -> list[Section]:
    """§5: three levels (nested), crossed classifications, ML vs REML, testing a variance."""
    from ...quantities.lrt import anova

    results = ctx.chapter("5")
    if not results:
        return _missing("5")
    lead = _lead(results, "three_level")
    out = spec_sections(ctx, lead)
    v = Section("Where the variance lies")
    v.table(variance_shares(lead.fit), "variance components and their shares")
    v.para(
        "ML does not count the degrees of freedom the fixed effects use, so its variance "
        "estimates are biased down; REML corrects that. The fixed effects barely move."
    )
    v.table(_ml_reml(ctx, lead), "REML beside ML", legend="SE: standard error.")
    terms = lead.model.design.terms
    if len(terms) > 1:
        smaller = _without_first_term(lead.model)
        if smaller is not None:
            try:
                tab = ctx.once(
                    ("lrt5", lead.name),
                    lambda: anova(smaller.fit_reml(reml=False), lead.model.fit_reml(reml=False)),
                )
                v.table(
                    anova_table(tab),
                    f"is the {terms[0].group} variance zero? Likelihood-ratio test (ML fits)",
                    legend="The null puts a variance on the boundary (τ² = 0), so the naive "
                    "χ² p-value is twice too large; p_boundary is the right one.",
                )
            except BayesMixedError as e:
                v.para(f"bm.anova does not apply: {e}")
    out.append(v)
    crossed = next((r for r in results if r.name == "crossed"), None)
    if crossed is not None:
        out += spec_sections(ctx, crossed)
        plots = _plots()
        c = Section("Crossed: schools and neighbourhoods")
        _fig(
            c,
            lambda: plots.caterpillar(crossed.fit, group="neighbourhood"),
            "REML neighbourhood deviations (crossed with schools)",
        )
        out.append(c)
    return out + _rest(ctx, [r for r in results if r is not crossed], lead)


def _without_first_term(model):
    """The model without its first random term (the inner level of a nesting)."""
    spec = model.design.spec
    bars = [b.strip() for b in spec.formula.split("+") if "|" in b]
    if len(bars) != 1 or "/" not in bars[0]:
        return None
    inner = bars[0].strip("() ")
    lhs, grp = [p.strip() for p in inner.split("|")]
    outer = grp.split("/")[0].strip()
    formula = spec.formula.replace(bars[0], f"({lhs} | {outer})")
    return MixedModel(formula, model.design.frame)


def chapter_longitudinal(ctx: ReportContext) -> list[Section]:
    """§6: growth curves (numeric time) and categorical time with marginal means."""
    plots = _plots()
    results = ctx.chapter("6")
    if not results:
        return _missing("6")
    lead = _lead(results, "longitudinal_slope")
    frame = lead.model.design.frame
    s = Section("The data: four visits per patient")
    s.para(
        "Each patient is measured at months 0, 3, 6 and 9: the visits of one patient are "
        "correlated, and the treated patients improve faster. Grey: every patient; thick: the "
        "mean of each arm."
    )
    raw = _raw(lead)
    _fig(
        s,
        lambda: plots.trajectories_by_time(
            raw, "visit", y="score", group="id", color="arm", fitted=False
        ),  # fmt: skip
        "observed trajectories and arm means",
    )
    out = [s] + spec_sections(ctx, lead)
    t = Section("Fitted trajectories")
    if "month" in frame.columns:
        _fig(t, lambda: plots.trajectories(lead.fit, "month"), "REML: each patient's fitted line")
        if lead.post is not None:
            _fig(t, lambda: plots.trajectories(lead.post, "month"),
                 "posterior: population line with its 95% band")  # fmt: skip
    out.append(t)
    # time as a factor: its spec may sit in §7, its marginal means and contrasts are §6's
    cat = ctx.get("categorical_time")
    if cat is not None:
        out += spec_sections(ctx, cat)
        out.append(_means_section(cat))
    return out + _rest(ctx, [r for r in results if r is not cat], lead)


def _raw(r) -> pd.DataFrame:
    from ... import datasets

    src = r.settings.file.data if r.settings.file is not None else None
    kind = getattr(src, "primer", None) or "longitudinal"
    return datasets.primer(kind, seed=int(getattr(src, "seed", 1) or 1))


def _means_section(cat) -> Section:
    plots = _plots()
    m = Section("Marginal means and contrasts over visits")
    m.para(
        "Estimated marginal means per visit and arm (Kenward–Roger df for REML), and each "
        "visit against baseline T0 within each arm."
    )
    em = cat.fit.emmeans("visit", by="arm")
    m.table(em, "fit.emmeans('visit', by='arm')")
    tables = [em]
    if cat.post is not None:
        tables.append(cat.post.emmeans("visit", by="arm"))
    _fig(m, lambda: plots.emmeans(tables if len(tables) > 1 else em),
         "marginal means: REML (circles) and posterior (squares)")  # fmt: skip
    con = cat.fit.contrast("visit", method="trt.vs.ctrl", by="arm")
    m.table(con, "fit.contrast('visit', method='trt.vs.ctrl', by='arm')")
    con_tables = [con]
    if cat.post is not None:
        con_tables.append(cat.post.contrast("visit", method="trt.vs.ctrl", by="arm"))
    _fig(m, lambda: plots.contrasts(con_tables if len(con_tables) > 1 else con),
         "change from T0 by arm, REML and posterior")  # fmt: skip
    return m


def chapter_structures(ctx: ReportContext) -> list[Section]:
    """§7: the residual covariance structures ranked, the chosen one in detail."""
    plots = _plots()
    results = [r for r in ctx.chapter("7") if getattr(r.model, "residual_design", None)]
    others = [r for r in ctx.chapter("7") if r not in results and r.name != "categorical_time"]
    if not results:
        return _missing("7") if not others else [s for r in others for s in spec_sections(ctx, r)]
    rows = []
    for r in results:
        g = r.fit.glance().iloc[0]
        rows.append({"structure": r.model.residual_design.spec.name, "spec": r.name,
                     "npar": g.get("npar"), "logLik": g["logLik"], "AIC": g["AIC"],
                     "BIC": g["BIC"]})  # fmt: skip
    tab = pd.DataFrame(rows).sort_values("AIC").reset_index(drop=True)
    tab["delta_AIC"] = tab["AIC"] - tab["AIC"].min()
    best = next(r for r in results if r.name == tab["spec"].iloc[0])
    s = Section("Which covariance structure?")
    s.para(
        "The same fixed part, score ~ visit * arm, with each residual structure of models/; "
        "all by REML, so their criteria compare. The smallest AIC wins; a structure within "
        "2 of it fits about as well."
    )
    s.table(tab, "residual structures ranked by AIC",
            legend="delta_AIC: AIC minus the best AIC.")  # fmt: skip
    fits = {r.model.residual_design.spec.name: r.fit for r in results}
    _fig(s, lambda: plots.correlation_by_lag(fits),
         "correlation by lag implied by each structure, empirical points grey")  # fmt: skip
    _fig(s, lambda: plots.residual_correlation(best.fit),
         f"{best.model.residual_design.spec.name}: fitted vs empirical residual correlation")  # fmt: skip
    out = [s] + spec_sections(ctx, best)
    for r in results:
        if r is not best:
            out += spec_sections(ctx, r, folded=True, forest_plot=False)
    return out + [x for r in others for x in spec_sections(ctx, r, folded=True)]


def chapter_effects(ctx: ReportContext) -> list[Section]:
    """§8: effect sizes — standardized effects, Cohen's f², PCV — REML and posterior."""
    from ...quantities import effects

    out = []
    rows = []
    for name, term in (("level2_predictor", "type"), ("random_slope", "agec"),
                       ("ols_interaction", "age:arm")):  # fmt: skip
        r = ctx.get(name)
        if r is None:
            continue
        try:
            f2 = ctx.once(("f2", name), lambda r=r, term=term: effects.cohens_f2(r.fit, term))
        except BayesMixedError:
            continue
        rows.append({"spec": name, "term": term, "r2_full": float(f2["r2_full"]),
                     "r2_reduced": float(f2["r2_reduced"]), "f2": float(f2["f2"])})  # fmt: skip
    s = Section("Cohen's f² of one predictor")
    s.para(
        "How much R² a predictor adds, relative to what is left unexplained: each model is "
        "refitted without the term, keeping its random part (marginal R²)."
    )
    if rows:
        s.table(pd.DataFrame(rows), "local f²")
    out.append(s)
    lp = ctx.get("level2_predictor")
    if lp is not None:
        p = Section("Proportional change in variance (PCV)")
        p.para(
            "Adding hospital type, a level-2 predictor, should shrink the between-hospital "
            "variance τ₀² and leave σ² alone."
        )
        reduced = ctx.once("reduced_type", lambda: effects.reduced_fit(lp.fit, "type"))
        prow = []
        for grp in [lp.model.design.terms[0].group, "Residual"]:
            vc = ctx.once(("pcv", grp), lambda g=grp: effects.variance_change(lp.fit, reduced, g))
            prow.append({"component": grp, "variance_reduced": float(vc["var_reduced"]),
                         "variance_full": float(vc["var_full"]), "pcv": float(vc["pcv"]),
                         "d_tau": float(vc["d_tau"])})  # fmt: skip
        p.table(pd.DataFrame(prow), "τ² and σ² without and with type",
                legend="d_tau: the change relative to the reduced model's total variance.")  # fmt: skip
        out.append(p)
        d = Section("Standardized effects")
        drow = []
        for src, obj in (("REML", lp.fit), ("posterior", lp.post)):
            if obj is None:
                continue
            for scale in ("total", "within"):
                v = effects.standardized_effect(obj, "typeacademic", scale=scale)
                drow.append({"fit": src, "scale": scale, "d": float(getattr(v, "mean", v)),
                             "conf_low": float(getattr(v, "conf_low", np.nan)),
                             "conf_high": float(getattr(v, "conf_high", np.nan))})  # fmt: skip
        d.para(
            "The academic-hospital effect in SD units: d = γ / √V, V the total random and "
            "residual variance or σ² alone (within hospitals)."
        )
        d.table(pd.DataFrame(drow), "d of typeacademic")
        out.append(d)
    return out
