"""The primer's chapters: each fits a few models and returns the sections that show them.

1. Ordinary least squares on sleepstudy: ``tidy``, ``glance``, ``anova``.
2. Random intercept: Dyestuff (and the singular Dyestuff2).
3. Random slopes: sleepstudy with ``(Days | Subject)`` and ``(Days || Subject)``.
4. ML vs REML, and likelihood-ratio tests of the slope variance (``bm.anova``: χ² and the
   50:50 mixture p-value).
5. Three-level nesting: Pastes, ``(1 | batch/cask)``.
6. Crossed random effects: Penicillin, ``(1 | plate) + (1 | sample)``.
7. Partial pooling, ICC and R²: shrinkage table and plots for sleepstudy.
8. The Bayesian side: the same model sampled with NUTS, side by side with REML.

Every number comes from the library (fit methods, ``bm.anova``, ``bm.compare``); a chapter
only chooses what to show. :data:`CHAPTERS` lists them in order; a new chapter is a function
of a :class:`~bayesmixed.views.report.context.DemoContext` appended to that list.
"""

from __future__ import annotations

import warnings

import pandas as pd

from ... import datasets
from ...model import MixedModel
from ...quantities.comparison import compare
from ...quantities.lrt import anova
from .context import DemoContext, tidy_table, variance_shares
from .page import Chapter, Section, figure_html

__all__ = ["CHAPTERS"]


def _plots():
    """The plotting functions, on matplotlib's file-only backend (the report embeds PNGs)."""
    import matplotlib

    matplotlib.use("Agg")
    from .. import plots

    return plots


def _variance_section(ctx: DemoContext, key: str, formula: str, data: str, about: str) -> Section:
    """One model's section: ``about``, then tidy(), its variance decomposition and summary."""
    fit = ctx.fit(key, formula, data)
    s = Section(f"{formula} — {data}")
    s.para(about)
    s.table(tidy_table(fit), "tidy()")
    s.table(variance_shares(fit), "variance decomposition")
    s.pre(str(fit.summary()))
    return s


def chapter_ols(ctx: DemoContext) -> list[Section]:
    """Chapter 1: ordinary least squares on sleepstudy (no random effects)."""
    fit = ctx.fit("ols", "Reaction ~ Days", "sleepstudy")
    s = Section("Reaction ~ Days (ordinary least squares)")
    s.para(
        "Pooling all 180 observations ignores that they come from 18 subjects: the standard "
        "errors below treat every reaction time as independent."
    )
    s.table(tidy_table(fit, conf_int=True), "tidy(): coefficients")
    s.table(fit.glance(), "glance(): model fit")
    s.table(fit.anova(), "anova(): sequential sums of squares")
    s.pre(str(fit.summary()))
    return [s]


def chapter_random_intercept(ctx: DemoContext) -> list[Section]:
    """Chapter 2: random intercept (Dyestuff; Dyestuff2 is singular)."""
    fit = ctx.fit("dyestuff", "Yield ~ 1 + (1 | Batch)", "Dyestuff")
    s = Section("Yield ~ 1 + (1 | Batch) — Dyestuff")
    s.para(
        "Six batches, five yields each. The batch-to-batch standard deviation (tau) and the "
        "within-batch residual SD (sigma) are estimated by REML; the intraclass correlation "
        "tau^2 / (tau^2 + sigma^2) is the share of variance between batches."
    )
    s.table(tidy_table(fit), "tidy()")
    icc = fit.icc()["adjusted"]
    s.table(variance_shares(fit), f"variance components (ICC = {icc:.4f})")
    s.table(fit.ranef(), "ranef(): conditional modes (BLUPs) of the batch effects")
    s.pre(str(fit.summary()))
    fit2 = ctx.fit("dyestuff2", "Yield ~ 1 + (1 | Batch)", "Dyestuff2")
    s2 = Section("Yield ~ 1 + (1 | Batch) — Dyestuff2 (a singular fit)")
    s2.para(
        "Dyestuff2 was simulated without any batch effect: the REML estimate of tau is zero, "
        "on the boundary of the parameter space, and the fit is reported as singular."
    )
    s2.table(tidy_table(fit2), "tidy()")
    for note in ctx.notes("dyestuff2"):
        s2.para(f"Warning: {note}")
    return [s, s2]


def chapter_random_slopes(ctx: DemoContext) -> list[Section]:
    """Chapter 3: random slopes on sleepstudy, correlated and uncorrelated."""
    corr = ctx.fit("slopes", "Reaction ~ Days + (Days | Subject)", "sleepstudy")
    uncorr = ctx.fit("slopes_uncorr", "Reaction ~ Days + (Days || Subject)", "sleepstudy")
    s = Section("Reaction ~ Days + (Days | Subject)")
    s.para(
        "Each subject gets an intercept and a slope; their SDs and correlation are estimated. "
        "Fixed-effect tests use Satterthwaite degrees of freedom (lmerTest)."
    )
    s.table(tidy_table(corr, conf_int=True), "tidy()")
    s.table(corr.glance(), "glance()")
    s.pre(str(corr.summary()))
    s2 = Section("Reaction ~ Days + (Days || Subject)")
    s2.para(
        "The double bar drops the intercept-slope correlation: lme4 expands it to "
        "(1 | Subject) + (0 + Days | Subject), so the slope SD is reported in group "
        "'Subject.1'."
    )
    s2.table(tidy_table(uncorr), "tidy()")
    s2.pre(str(uncorr.summary()))
    coefs = corr.coef()["Subject"].reset_index().rename(columns={"level": "Subject"})
    s3 = Section("Per-subject lines: coef()")
    s3.table(coefs, "fixed effects + conditional modes, (Days | Subject)")
    return [s, s2, s3]


def chapter_ml_reml(ctx: DemoContext) -> list[Section]:
    """Chapter 4: ML vs REML estimates and a likelihood-ratio test of the slope variance."""
    reml = ctx.fit("slopes", "Reaction ~ Days + (Days | Subject)", "sleepstudy")
    ml = ctx.fit("slopes_ml", "Reaction ~ Days + (Days | Subject)", "sleepstudy", reml=False)
    s = Section("ML vs REML")
    s.para(
        "Maximum likelihood does not account for the degrees of freedom spent on the fixed "
        "effects, so its variance estimates are biased downwards; REML corrects this. Fixed "
        "effects are the same here (a balanced design), their standard errors are not."
    )
    a = reml.tidy().set_index(["group", "term"])
    b = ml.tidy().set_index(["group", "term"])
    both = pd.DataFrame(
        {
            "REML": a["estimate"],
            "ML": b["estimate"],
            "REML std_error": a["std_error"],
            "ML std_error": b["std_error"],
        }
    ).reset_index()
    both["group"] = both["group"].fillna("")
    s.table(both, "estimates by REML and by ML")
    crit = pd.DataFrame(
        [
            {"fit": "REML", "logLik": reml.loglik, "AIC": reml.aic, "BIC": reml.bic},
            {"fit": "ML", "logLik": ml.loglik, "AIC": ml.aic, "BIC": ml.bic},
        ]
    )
    s.table(crit, "criteria (REML logLik is the restricted likelihood: not comparable with ML)")

    m0 = ctx.fit("intercept_ml", "Reaction ~ Days + (1 | Subject)", "sleepstudy", reml=False)
    m1 = ctx.fit("uncorr_ml", "Reaction ~ Days + (Days || Subject)", "sleepstudy", reml=False)
    rows = []
    for label, small, big in [
        ("(1 | Subject) vs (Days || Subject): slope variance", m0, m1),
        ("(1 | Subject) vs (Days | Subject): slope variance and correlation", m0, ml),
    ]:
        null, alt = anova(small, big).itertuples(index=False)
        rows.append(
            {
                "comparison": label,
                "logLik null": null.logLik,
                "logLik alt": alt.logLik,
                "chisq": alt.statistic,
                "df": int(alt.df),
                "p (chi-square)": alt.p_value,
                "p (50:50 mixture)": alt.p_boundary,
            }
        )
    s2 = Section("Likelihood-ratio test of the slope variance")
    s2.para(
        "Both models are fitted by ML. The statistic is 2 (logLik_alt - logLik_null). Testing "
        "that a variance is zero puts the null on the boundary, so the reference distribution "
        "is a 50:50 mixture of chi-square(df - 1) and chi-square(df): the naive chi-square "
        "p-value is conservative (for one variance it is exactly twice the mixture p)."
    )
    s2.table(pd.DataFrame(rows), "likelihood-ratio tests")
    return [s, s2]


def chapter_nested(ctx: DemoContext) -> list[Section]:
    """Chapter 5: three-level nesting (Pastes: samples within casks within batches)."""
    about = (
        "Two assays per cask, three casks per batch, ten batches. batch/cask expands to "
        "(1 | cask:batch) + (1 | batch): the cask term is named 'cask:batch' because cask "
        "labels a, b, c repeat across batches."
    )
    return [_variance_section(ctx, "pastes", "strength ~ 1 + (1 | batch/cask)", "Pastes", about)]


def chapter_crossed(ctx: DemoContext) -> list[Section]:
    """Chapter 6: crossed random effects (Penicillin: 24 plates × 6 samples)."""
    about = (
        "Every sample is tested on every plate: plate and sample are crossed, not nested, and "
        "each gets its own variance component."
    )
    formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"
    return [_variance_section(ctx, "penicillin", formula, "Penicillin", about)]


def chapter_pooling(ctx: DemoContext) -> list[Section]:
    """Chapter 7: partial pooling, ICC and R² (sleepstudy)."""
    plots = _plots()
    fit = ctx.fit("slopes", "Reaction ~ Days + (Days | Subject)", "sleepstudy")
    ri = ctx.fit("intercept_reml", "Reaction ~ Days + (1 | Subject)", "sleepstudy")
    s = Section("Partial pooling: Reaction ~ Days + (1 | Subject)")
    s.para(
        "Each subject's intercept is a weighted average of its own mean (no pooling) and the "
        "population line (complete pooling), with weight lambda_j = (n_j/sigma^2) / "
        "(n_j/sigma^2 + 1/tau00^2)."
    )
    s.table(ri.shrinkage().head(8), "shrinkage(): first subjects")
    s.raw(figure_html(plots.pooling(ri).figure), "[figure: no / partial / complete pooling]")
    s2 = Section("ICC and R² (Nakagawa & Schielzeth; Johnson's extension for slopes)")
    icc = fit.icc()
    r2 = fit.r2()
    s2.table(
        pd.DataFrame(
            [
                {
                    "ICC adjusted": icc["adjusted"],
                    "ICC conditional": icc["conditional"],
                    "R2 marginal": r2["marginal"],
                    "R2 conditional": r2["conditional"],
                }
            ]
        ),
        "Reaction ~ Days + (Days | Subject)",
    )
    s2.raw(figure_html(plots.caterpillar(fit)[0].figure), "[figure: caterpillar of BLUPs]")
    return [s, s2]


def chapter_bayes(ctx: DemoContext) -> list[Section]:
    """Chapter 8: the same model sampled with NUTS, side by side with REML."""
    plots = _plots()
    fit = ctx.fit("slopes", "Reaction ~ Days + (Days | Subject)", "sleepstudy")
    model = MixedModel("Reaction ~ Days + (Days | Subject)", datasets.load("sleepstudy"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post = model.sample(draws=1000, tune=1000, chains=4, random_seed=1, progressbar=False)
    g = post.glance().iloc[0]
    s = Section("Reaction ~ Days + (Days | Subject), sampled with NUTS")
    s.para(
        f"Parameterization '{post.parameterization}' (random effects integrated out, then drawn "
        f"exactly from their conditional posterior), sampler {post.sampler}: "
        f"{post.nchains} chains x {post.ndraws} draws in {post.seconds:.1f} s, "
        f"{int(g['divergences'])} divergences, max R-hat {g['max_rhat']:.3f}, "
        f"min bulk ESS {g['min_ess_bulk']:.0f}."
    )
    for w in caught:
        s.para(f"Warning: {w.message}")
    table = compare(post, fit)
    s.table(table, "bm.compare(post, fit): REML beside the posterior")
    s.raw(figure_html(plots.compare(table).figure), "[figure: forest plot, REML vs posterior]")
    s.table(post.prior_summary(), "priors (defaults scaled to the data)")
    s2 = Section("Posteriors of the primer's quantities")
    icc, r2 = post.icc(), post.r2()
    shown = [
        ("ICC adjusted", fit.icc()["adjusted"], icc["adjusted"]),
        ("R2 marginal", fit.r2()["marginal"], r2["marginal"]),
        ("R2 conditional", fit.r2()["conditional"], r2["conditional"]),
    ]
    rows = [
        {
            "quantity": name,
            "REML": reml,
            "posterior mean": float(p),
            "2.5%": p.conf_low,
            "97.5%": p.conf_high,
        }
        for name, reml, p in shown
    ]
    s2.table(pd.DataFrame(rows), "ICC and R²: REML point estimate and posterior")
    s2.raw(figure_html(plots.icc_r2_posteriors(post, fit).figure), "[figure: ICC / R² posteriors]")
    return [s, s2]


CHAPTERS: list[Chapter] = [
    Chapter("ols", "1. Ordinary least squares", chapter_ols),
    Chapter("intercept", "2. Random intercepts", chapter_random_intercept),
    Chapter("slopes", "3. Random slopes", chapter_random_slopes),
    Chapter("ml_reml", "4. ML, REML and likelihood-ratio tests", chapter_ml_reml),
    Chapter("nested", "5. Three-level nesting", chapter_nested),
    Chapter("crossed", "6. Crossed random effects", chapter_crossed),
    Chapter("pooling", "7. Partial pooling, ICC and R²", chapter_pooling),
    Chapter("bayes", "8. The Bayesian side: NUTS next to REML", chapter_bayes),
]
