"""One spec as report sections: what it says, the model in the primer's notation, the REML
table, the posterior table, the side-by-side table, ICC and R², and its forest plot.

Every table is a reader's table: the ``effect`` column dropped, the fixed effects' empty
group blank, numbers rounded by :func:`~bayesmixed.views.report.page.format_cell`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import BayesMixedError
from ...results.display import Note
from .context import ReportContext
from .figures import figure, forest
from .notation import equations, estimates_line
from .page import Section
from .runs import SpecResult

__all__ = [
    "anova_table",
    "engine_label",
    "reml_table",
    "posterior_table",
    "compare_table",
    "share_table",
    "spec_sections",
]

ICC_LEGEND = (
    "ICC adjusted = random-effect variance / (random + residual variance): the correlation "
    "of two observations of one cluster once the fixed effects are accounted for; ICC "
    "conditional divides by the total variance including the fixed effects' part."
)


def _blank_group(tab: pd.DataFrame) -> pd.DataFrame:
    """Without ``effect``; the fixed effects' missing group blank (the column dropped when
    every row is a fixed effect)."""
    tab = tab.drop(columns=[c for c in ("effect",) if c in tab.columns])
    if "group" in tab.columns:
        tab["group"] = tab["group"].map(lambda g: "" if g is None or pd.isna(g) else str(g))
        if not (tab["group"] != "").any():
            tab = tab.drop(columns=["group"])
    return tab


def engine_label(fit) -> str:
    """What fitted the model, in words: "REML fit", "ML fit", "OLS fit", "GLS fit (REML)"."""
    kind = type(fit).__name__
    crit = "ML" if getattr(fit, "reml", True) is False else "REML"
    if kind == "OLSFit":
        return "OLS fit"
    if kind == "GLSFit":
        return f"GLS fit ({crit})"
    return f"{crit} fit"


def anova_table(tab: pd.DataFrame) -> pd.DataFrame:
    """``bm.anova``'s table with R's column names for the likelihood-ratio test."""
    return tab.rename(columns={"statistic": "Chisq", "df": "Chi Df", "p_value": "Pr(>Chisq)"})


def reml_table(ctx: ReportContext, fit) -> pd.DataFrame:
    """``fit.tidy()`` with 95% intervals: profile likelihood for REML/ML fits (the SDs too),
    Wald t intervals of the fixed effects for OLS/GLS fits."""
    from scipy import stats

    tab = fit.tidy().copy()
    ci = ctx.confint(fit)
    if ci is not None:
        tab["conf_low"] = ci["conf_low"].to_numpy(float)
        tab["conf_high"] = ci["conf_high"].to_numpy(float)
    else:
        df = tab["df"].to_numpy(float) if "df" in tab else np.full(len(tab), np.inf)
        q = stats.t.ppf(0.975, np.where(np.isfinite(df), df, 1e6))
        tab["conf_low"] = tab["estimate"] - q * tab["std_error"]
        tab["conf_high"] = tab["estimate"] + q * tab["std_error"]
    return _blank_group(tab)


def posterior_table(post) -> pd.DataFrame:
    """``post.tidy()`` as posterior mean, SD, interval, R-hat and ESS."""
    tab = post.tidy().rename(columns={"estimate": "post_mean", "std_error": "post_sd"})
    keep = ["effect", "group", "term", "post_mean", "post_sd", "conf_low", "conf_high"]
    return _blank_group(tab[keep + ["rhat", "ess_bulk", "ess_tail"]])


def compare_table(ctx: ReportContext, r: SpecResult) -> pd.DataFrame:
    """``bm.compare(post, fit)``, once per spec."""
    from ...quantities.comparison import compare

    return ctx.once(("compare", r.name), lambda: compare(r.post, r.fit))


def share_table(fit, post=None) -> pd.DataFrame:
    """ICC (adjusted, conditional) and R² (marginal, conditional): REML and posterior."""
    rows = []
    wanted = [("icc", "adjusted", "ICC adjusted"), ("icc", "conditional", "ICC conditional"),
              ("r2", "marginal", "R² marginal"), ("r2", "conditional", "R² conditional")]  # fmt: skip
    cache: dict[tuple, dict] = {}
    for what, key, label in wanted:
        row: dict[str, object] = {"quantity": label}
        for name, obj in (("reml", fit), ("post", post)):
            if obj is None:
                continue
            try:
                vals = cache.setdefault((name, what), getattr(obj, what)())
            except (BayesMixedError, AttributeError, NotImplementedError):
                continue
            v = vals.get(key)
            if v is None:
                continue
            if name == "reml":
                row["reml"] = float(v)
            else:
                row["post_mean"] = float(getattr(v, "mean", v))
                row["conf_low"] = float(getattr(v, "conf_low", np.nan))
                row["conf_high"] = float(getattr(v, "conf_high", np.nan))
        if len(row) > 1:
            rows.append(row)
    cols = ["quantity", "reml"] + (["post_mean", "conf_low", "conf_high"] if post else [])
    return pd.DataFrame(rows).reindex(columns=cols)


def spec_sections(
    ctx: ReportContext, r: SpecResult, *, folded: bool = False, forest_plot: bool = True
) -> list[Section]:
    """The sections of one spec: model, REML, posterior (when sampled) and shares."""
    s = Section(f"{r.title} — models/{r.name}.toml", folded=folded)
    s.para(" ".join(r.settings.description.split()))
    s.para(f"Formula: {r.model.design.spec.formula}  ({r.model.design.n} observations)")
    h, t = equations(r.model)
    s.math(h, t)
    s.para(estimates_line(r.fit, engine_label(r.fit).split(" fit")[0]))
    s.table(reml_table(ctx, r.fit), f"{engine_label(r.fit)}: tidy() with 95% intervals")
    if r.post is not None:
        post = r.post
        g = post.glance().iloc[0]
        s.para(
            f"Posterior: {post.sampler}, {post.nchains} chains × {post.ndraws} draws, "
            f"{int(g['divergences'])} divergences, max R-hat {g['max_rhat']:.3f}, "
            f"min bulk ESS {g['min_ess_bulk']:.0f}."
        )
        s.table(posterior_table(post), "posterior: tidy()")
        table = compare_table(ctx, r)
        s.table(_blank_group(table), "bm.compare(post, fit): REML beside the posterior")
        if forest_plot:
            img = figure(
                lambda: forest(table, r.fit),
                "REML (blue, profile-likelihood 95% CI) and posterior (red, 95% interval), "
                "one common scale per parameter class.",
            )
            if img:
                s.raw(img, "[figure: forest plot, REML vs posterior]")
    if r.model.has_random:
        shares = share_table(r.fit, r.post)
        if not shares.empty:
            s.table(shares, "ICC and R²", legend=ICC_LEGEND)
    for note in r.warnings[:2]:
        s.blocks.append(Note(f"Note: {note if len(note) < 200 else note[:197] + '...'}"))
    return [s]
