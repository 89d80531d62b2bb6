"""Write and execute the primer notebooks on regression, pooling and effect sizes.

Usage (from the repository root)::

    .venv/bin/python notebooks/build_variance_notebooks.py [NAME.ipynb ...]

Writes ``01_regression.ipynb``, ``03_random_intercept_pooling.ipynb`` and
``09_effect_sizes.ipynb`` next to this script, executed with nbclient so that they are stored
with their outputs. Each ends with the primer's data (:func:`bayesmixed.datasets.primer`) or
the posterior beside the REML fit.
"""

from __future__ import annotations

import sys

from nbformat.v4 import new_code_cell, new_markdown_cell
from notebook_tools import QUICK, build, setup

QUIET = """\
with warnings.catch_warnings():  # a short run: its R-hat/ESS and LOO warnings are expected
    warnings.simplefilter("ignore", bm.errors.SamplingWarning)
    warnings.simplefilter("ignore", bm.errors.LooWarning)
"""


def nb_01_ols():
    cells = [
        new_markdown_cell(
            "# 1 · Regression: ordinary least squares and its assumptions (§1)\n\n"
            "A single regression line for all observations, "
            "$y_i = \\gamma_0 + \\gamma_1 x_i + e_i$, $e_i \\sim N(0, \\sigma^2)$ independent. "
            "We fit it to the `sleepstudy` data (reaction time over days of sleep deprivation, "
            "18 subjects × 10 days) and check the assumptions — which is where the need for "
            "mixed models shows up."
        ),
        new_code_cell(setup("np")),
        new_code_cell(
            'sleep = bm.datasets.load("sleepstudy")\n'
            'ols = bm.MixedModel("Reaction ~ Days", sleep).fit_reml()  # no bar → OLS\n'
            "type(ols).__name__"
        ),
        new_code_cell("ols.tidy()"),
        new_code_cell("ols.glance()"),
        new_markdown_cell(
            "## The fitted line and ±1 residual SD\n\n"
            "About two thirds of the points should fall inside the band $\\hat y \\pm \\hat\\sigma$ "
            "if the errors are normal with constant variance."
        ),
        new_code_cell(
            'ax = plots.data_lines(sleep, "Days", "Reaction")\n'
            "inside = np.abs(ols.residuals()) <= ols.sigma\n"
            'print(f"share of points within ±1 SD: {inside.mean():.2f}")'
        ),
        new_markdown_cell(
            "## Residual diagnostics (§1.7)\n\n"
            "Residuals vs fitted (missed structure), scale-location (constant variance) and a "
            "normal QQ plot."
        ),
        new_code_cell("axes = plots.diagnostics(ols)"),
        new_markdown_cell(
            "The formal tests: Durbin-Watson (independence of neighbouring residuals), "
            "Breusch-Pagan (variance depending on the predictors) and Shapiro-Wilk (normality). "
            "`bm.assumptions.assumption_checks` returns them as one table with a reading of each."
        ),
        new_code_cell(
            "checks = bm.assumptions.assumption_checks(ols)\n"
            'checks.style.format({"statistic": "{:.3f}", "p_value": "{:.2g}"})'
        ),
        new_markdown_cell(
            "Durbin-Watson is far below 2: the rows are sorted by subject, and residuals of the "
            "same subject are alike. Ordering by day instead mixes the subjects and the "
            "autocorrelation disappears — the dependence is *clustering*, not time."
        ),
        new_code_cell(
            'bm.assumptions.assumption_checks(ols, order_by="Days")[["test", "statistic", "p_value"]]'
        ),
        new_markdown_cell(
            "## The clusters behind it (§2)\n\n"
            "One line per subject: subjects differ in level and in slope, and the pooled line "
            "(dashed) describes none of them well."
        ),
        new_code_cell('ax = plots.data_lines(sleep, "Days", "Reaction", group="Subject")'),
        new_markdown_cell(
            "How much information do the 180 correlated observations carry? The design effect "
            "$1 + (\\bar m - 1)\\,\\mathrm{ICC}$ with the ICC of a random-intercept model "
            "gives the effective sample size."
        ),
        new_code_cell(
            'ri = bm.MixedModel("Reaction ~ Days + (1 | Subject)", sleep).fit_reml()\n'
            "de = bm.variance.design_effect(ri)\n"
            "{k: (round(v, 3) if isinstance(v, float) else v) for k, v in de.items()}"
        ),
        new_markdown_cell(
            "With an ICC of about 0.6 and 10 observations per subject, the 180 observations "
            "are worth about 28 independent ones for estimating the mean level: OLS standard "
            "errors that treat them as 180 are too small. Chapters 2 and 3 continue with the mixed "
            "model."
        ),
        new_markdown_cell(
            "## The primer's data: SQUARE scores of 64 patients (§1)\n\n"
            "The primer's own example: the score of each patient on the SQUARE test (0–20) "
            "by age and treatment arm, one patient per row, so ordinary regression is the "
            "right model: $\\text{score}_i = \\gamma_0 + \\gamma_1\\,\\text{age}_i + "
            "\\gamma_2\\,\\text{treatment}_i + \\gamma_3\\,\\text{age}_i\\,"
            "\\text{treatment}_i + e_i$."
        ),
        new_code_cell(
            'square = bm.datasets.primer("square", seed=1)\n'
            'model = bm.MixedModel("score ~ age * arm", square)\n'
            "ols = model.fit_reml()\n"
            "display(ols.tidy())\n"
            'ols.glance()[["r_squared", "adj_r_squared", "sigma", "statistic", "p_value"]]'
        ),
        new_markdown_cell(
            "## Bayesian version\n\nFor a regression without random effects the Bayesian fit "
            "differs from OLS only by its priors (weakly informative, scaled to the data), so "
            "with 64 patients the posterior means sit on the least-squares estimates and the "
            "posterior SDs near the standard errors. The assumption checks above are about "
            "the likelihood and apply to both. A short run (2 × 500 draws):"
        ),
        new_code_cell(
            QUIET + f"    post = model.sample({QUICK}, random_seed=1, progressbar=False)\n"
            "table = bm.compare(post, ols)\n"
            "table"
        ),
        new_code_cell("ax = plots.compare(table)"),
    ]
    return cells


def nb_03_pooling():
    cells = [
        new_markdown_cell(
            "# 3 · The random intercept: partial pooling, ICC and the design effect (§3)\n\n"
            "Random-intercept model $y_{ij} = \\gamma_{00} + u_{0j} + e_{ij}$ with "
            "$u_{0j} \\sim N(0, \\tau_{00})$ and $e_{ij} \\sim N(0, \\sigma^2)$."
        ),
        new_code_cell(setup("plt")),
        new_markdown_cell("## ICC of a random-intercept model (§3.1)"),
        new_code_cell(
            'dye = bm.datasets.load("Dyestuff")\n'
            'model = bm.MixedModel("Yield ~ 1 + (1 | Batch)", dye)\n'
            "fit = model.fit_reml()\n"
            'tau00 = fit.varcorr()["Batch"].iloc[0, 0]\n'
            "sigma2 = fit.sigma**2\n"
            'print(f"tau00 = {tau00:.1f}, sigma2 = {sigma2:.1f}, '
            'tau00/(tau00+sigma2) = {tau00 / (tau00 + sigma2):.4f}")\n'
            "icc = fit.icc()\n"
            'icc["adjusted"], icc["by_component"]'
        ),
        new_markdown_cell(
            "`by_component` splits the variance that the fixed effects leave unexplained into "
            "its sources: here the batch share (`Prop_intercept`) and the residual share "
            "(`Prop_residual`). They sum to 1."
        ),
        new_markdown_cell(
            "## Partial pooling (§3.4)\n\n"
            "Each batch's estimate is a compromise between its own mean (no pooling) and the "
            "overall mean (complete pooling), weighted by\n\n"
            "$$\\lambda_j = \\frac{n_j/\\sigma^2}{n_j/\\sigma^2 + 1/\\tau_{00}}.$$"
        ),
        new_code_cell(
            "tab = fit.shrinkage()\n"
            "lam = (5 / sigma2) / (5 / sigma2 + 1 / tau00)  # every batch has n_j = 5\n"
            'print(f"lambda by hand: {lam:.4f}")\n'
            "tab"
        ),
        new_code_cell("ax = plots.pooling(fit)"),
        new_markdown_cell(
            "### Unequal cluster sizes\n\n"
            "To see λ_j change with n_j, let the sleepstudy subjects drop out after different "
            "numbers of days (subject *j* keeps its first $n_j$ days)."
        ),
        new_code_cell(
            'sleep = bm.datasets.load("sleepstudy")\n'
            'subjects = sorted(sleep["Subject"].unique())\n'
            "keep_days = dict(zip(subjects, [1, 2, 2, 3, 3, 4, 5, 5, 6, 7, 8, 8, 9, 10, 10, 10, 10, 10], strict=True))\n"
            'dropout = sleep[sleep["Days"] < sleep["Subject"].map(keep_days)].reset_index(drop=True)\n'
            'ri = bm.MixedModel("Reaction ~ Days + (1 | Subject)", dropout).fit_reml()\n'
            'ri.shrinkage().sort_values("n").head(8)'
        ),
        new_code_cell(
            'fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")\n'
            "plots.pooling_weights(ri, ax=axes[0])\n"
            "plots.pooling(ri, ax=axes[1]);"
        ),
        new_markdown_cell(
            "The subject observed on a single day keeps only about 58% of its own deviation "
            "from the population line; subjects observed on all ten days keep over 90%.\n\n"
            "## Random effects with their uncertainty\n\n"
            "The caterpillar plot shows the BLUPs with ±1.96 conditional SDs."
        ),
        new_code_cell("ax = plots.caterpillar(ri)"),
        new_markdown_cell(
            "## Several variance components\n\n"
            "Nested (`Pastes`: casks within batches) and crossed (`Penicillin`: plates × "
            "samples) random intercepts: the share of each component."
        ),
        new_code_cell(
            'pastes = bm.MixedModel("strength ~ 1 + (1 | batch/cask)", bm.datasets.load("Pastes")).fit_reml()\n'
            'pen = bm.MixedModel("diameter ~ 1 + (1 | plate) + (1 | sample)", bm.datasets.load("Penicillin")).fit_reml()\n'
            'pd.concat({"Pastes": pastes.icc()["by_component"], "Penicillin": pen.icc()["by_component"]})'
        ),
        new_markdown_cell(
            "## Random slopes: ICC and R² (Nakagawa & Schielzeth; Johnson)\n\n"
            "With a random slope the between-subject variance depends on `Days`; Johnson's "
            "extension averages $z_i'\\Sigma z_i$ over the observations. The adjusted ICC "
            "excludes the fixed-effect variance, the conditional ICC includes it."
        ),
        new_code_cell(
            'slopes_model = bm.MixedModel("Reaction ~ Days + (Days | Subject)", sleep)\n'
            "slopes = slopes_model.fit_reml()\n"
            "ic, r2 = slopes.icc(), slopes.r2()\n"
            'pd.Series({"ICC adjusted": ic["adjusted"], "ICC conditional": ic["conditional"],\n'
            '           "R2 marginal": r2["marginal"], "R2 conditional": r2["conditional"]})'
        ),
        new_code_cell("ax = plots.trajectories(slopes)"),
        new_code_cell('ax = plots.pooling(slopes, ("(Intercept)", "Days"))'),
        new_markdown_cell(
            "## Design effect and effective sample size (§3.5)\n\n"
            "$\\mathrm{deff} = 1 + (\\bar m - 1)\\,\\mathrm{ICC}$, $n_\\text{eff} = n/\\mathrm{deff}$. "
            "With unequal clusters the default uses the size-weighted mean cluster size "
            "$\\bar m = \\sum n_j^2 / \\sum n_j$, the exact variance inflation of the sample mean; "
            '`method="mean"` uses $n/J$.'
        ),
        new_code_cell(
            "rows = {}\n"
            'for name, f in [("Dyestuff (balanced)", fit), ("sleepstudy with dropout", ri)]:\n'
            '    for method in ["weighted", "mean"]:\n'
            "        de = bm.variance.design_effect(f, method=method)\n"
            '        rows[(name, method)] = {k: de[k] for k in ["n", "clusters", "m_bar", "icc", "deff", "n_eff"]}\n'
            "pd.DataFrame(rows).T"
        ),
        new_markdown_cell(
            "## Between- and within-cluster effects (§3.3, §3.5)\n\n"
            "`bm.center` splits a predictor into its cluster mean and the deviation from it. "
            "In the dropout data the subjects' mean `Days` differ, so the two effects can be "
            "separated — and estimated with very different precision."
        ),
        new_code_cell(
            'centred = bm.center(dropout, "Days", by="Subject")\n'
            'centred[["Subject", "Days", "Daysm", "Daysc"]].head()'
        ),
        new_code_cell(
            'wb = bm.MixedModel("Reaction ~ Daysc + Daysm + (1 | Subject)", centred).fit_reml()\n'
            'display(wb.tidy(effects="fixed"))\n'
            'v = bm.variance.between_within_variance(wb, "Days", data=centred)\n'
            "{k: round(val, 3) for k, val in v.items()}"
        ),
        new_markdown_cell(
            "The within effect is estimated from the day-to-day changes of every subject; the "
            "between effect only from 18 subject means, each with variance "
            "$\\tau_{00} + \\sigma^2/n_j$ — its standard error is several times larger."
        ),
        new_markdown_cell(
            "## The primer's groups, REML and the posterior side by side\n\n"
            "The primer's §3 example: patients in 9 groups, $\\text{score}_{ij} = "
            "\\gamma_{00} + \\gamma_{10}\\,\\text{agec}_{ij} + u_{0j} + e_{ij}$. The "
            "posterior (default priors, a short run of 2 × 500 draws) carries the uncertainty "
            "of $\\tau_{00}$ into every quantity above: the ICC, each group's pooling weight "
            "$\\lambda_j$ and its estimate."
        ),
        new_code_cell(
            'groups = bm.datasets.primer("groups", seed=1)\n'
            'model = bm.MixedModel("score ~ center(age) + (1 | group)", groups)\n'
            "fit = model.fit_reml()\n"
            + QUIET
            + f"    post = model.sample({QUICK}, random_seed=1, progressbar=False)\n"
            "bm.compare(post, fit)"
        ),
        new_code_cell(
            'fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")\n'
            "plots.pooling(fit, ax=axes[0])\n"
            'axes[0].set_title("REML")\n'
            "plots.pooling(post, ax=axes[1])\n"
            'axes[1].set_title("posterior means");'
        ),
        new_code_cell(
            'cols = ["level", "n", "weight", "weight_low", "weight_high", "partial_pooling"]\n'
            "post.shrinkage()[cols]"
        ),
        new_code_cell("ax = plots.icc_r2_posteriors(post, fit)"),
        new_markdown_cell(
            "With 9 groups the posterior of the ICC is wide, and so are the pooling weights: "
            "a group's $\\lambda_j$ depends on $\\tau_{00}$, which the data pin down only "
            "roughly. The same calls (`bm.variance.icc`, `r2`, `shrinkage`, "
            "`design_effect`) accept either fit."
        ),
    ]
    return cells


def nb_09_effects():
    cells = [
        new_markdown_cell(
            "# 9 · Effect sizes in mixed models\n\n"
            "* local Cohen's $f^2$ of one fixed effect, from the R² of the full and the "
            "reduced model (same random part);\n"
            "* the proportional change in variance (PCV) of a variance component when "
            "predictors are added, and the standardized variance difference $d_\\tau$;\n"
            "* fixed effects in standard-deviation units."
        ),
        new_code_cell(setup(plots=False)),
        new_markdown_cell(
            "## Local $f^2$ (Selya et al. 2012)\n\n"
            "$f^2 = (R^2_\\text{full} - R^2_\\text{reduced}) / (1 - R^2_\\text{full})$, "
            "by default with Nakagawa's *marginal* R²: removing a fixed effect changes what the "
            "fixed effects explain. (Cohen's benchmarks: 0.02 small, 0.15 medium, 0.35 large.)"
        ),
        new_code_cell(
            'ortho = bm.datasets.load("Orthodont")\n'
            'full = bm.MixedModel("distance ~ age + Sex + (1 | Subject)", ortho).fit_reml()\n'
            "full.tidy()"
        ),
        new_code_cell(
            "rows = {}\n"
            'for term in ["age", "Sex"]:\n'
            '    for which in ["marginal", "conditional"]:\n'
            "        out = bm.effects.cohens_f2(full, term, r2=which)\n"
            '        rows[(term, which)] = {k: out[k] for k in ["r2_full", "r2_reduced", "f2"]}\n'
            "pd.DataFrame(rows).T"
        ),
        new_markdown_cell(
            "`Sex` is a subject-level predictor. Without it, the random intercept absorbs the "
            "difference between boys and girls, so the *conditional* R² hardly changes and the "
            "conditional f² is near zero — it answers a different question (how much the fixed "
            "part adds beyond what the clusters already explain). The marginal version is the "
            "default for that reason.\n\n"
            "## PCV and $d_\\tau$\n\n"
            "Adding `Sex` explains part of the between-subject variance:"
        ),
        new_code_cell(
            'null = bm.MixedModel("distance ~ age + (1 | Subject)", ortho).fit_reml()\n'
            "pd.DataFrame({g: bm.effects.variance_change(full, null, g)\n"
            '              for g in ["Subject", "Residual"]}).T'
        ),
        new_markdown_cell(
            "PCV $= (\\tau_\\text{reduced} - \\tau_\\text{full})/\\tau_\\text{reduced}$: about "
            "a quarter (0.27) of the between-subject variance is due to sex, nothing of the "
            "residual (a subject-level predictor cannot explain within-subject variation). "
            "$d_\\tau$ divides the same change by the reduced model's total variance, so "
            "changes at different levels are on one scale and add up.\n\n"
            "## Standardized fixed effects\n\n"
            "$\\gamma/\\sqrt{V}$ with $V$ the total (random + residual), within (σ²) or "
            "between (τ00) variance."
        ),
        new_code_cell(
            "pd.DataFrame({term: {scale: bm.effects.standardized_effect(full, term, scale=scale)\n"
            '                     for scale in ["total", "within", "between"]}\n'
            '              for term in ["age", "SexFemale"]})'
        ),
        new_markdown_cell(
            "## Random slopes\n\n"
            "In sleepstudy the effect of `Days` is large by any measure; its marginal f² uses "
            "Johnson's variance for the random slope."
        ),
        new_code_cell(
            'sleep_fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy")).fit_reml()\n'
            'bm.effects.cohens_f2(sleep_fit, "Days")'
        ),
        new_markdown_cell(
            "## The posterior of an effect size\n\nEvery function above accepts a Bayesian "
            "fit and then returns posteriors (mean, SD, 95% interval, draws). For $f^2$ and "
            "PCV the full and the reduced model are sampled separately and their draws "
            "paired (short runs of 2 × 500 draws, default priors)."
        ),
        new_code_cell(
            "posts = {}\n"
            'for name, formula in [("full", "distance ~ age + Sex + (1 | Subject)"),\n'
            '                      ("null", "distance ~ age + (1 | Subject)")]:\n'
            + ("    " + QUIET.replace("\n", "\n    ")).rstrip()
            + "\n"
            "        posts[name] = bm.MixedModel(formula, ortho).sample(\n"
            f"            {QUICK}, random_seed=1, progressbar=False)\n"
            'f2 = bm.effects.cohens_f2(posts["full"], reduced=posts["null"])\n'
            'pcv = bm.effects.variance_change(posts["full"], posts["null"], "Subject")\n'
            'std = bm.effects.standardized_effect(posts["full"], "SexFemale")\n'
            "reml_values = {\n"
            '    "f² of Sex": bm.effects.cohens_f2(full, "Sex")["f2"],\n'
            '    "PCV (Subject)": bm.effects.variance_change(full, null, "Subject")["pcv"],\n'
            '    "SexFemale / total SD": bm.effects.standardized_effect(full, "SexFemale"),\n'
            "}\n"
            'posterior = {"f² of Sex": f2["f2"], "PCV (Subject)": pcv["pcv"],\n'
            '             "SexFemale / total SD": std}\n'
            'pd.DataFrame({k: {"REML": float(reml_values[k]), "posterior mean": p.mean,\n'
            '                  "2.5%": p.conf_low, "97.5%": p.conf_high}\n'
            "              for k, p in posterior.items()}).T"
        ),
        new_markdown_cell(
            "The posterior intervals are wide: 27 subjects say little about how much of the "
            "between-subject variance sex explains, and f² and PCV, built from differences "
            "of uncertain quantities, even come out negative in some draws. The point "
            "estimates agree with REML to within their uncertainty."
        ),
    ]
    return cells


NOTEBOOKS = {
    "01_regression.ipynb": nb_01_ols,
    "03_random_intercept_pooling.ipynb": nb_03_pooling,
    "09_effect_sizes.ipynb": nb_09_effects,
}


if __name__ == "__main__":
    build(NOTEBOOKS, sys.argv[1:])
