"""Write and execute the primer notebooks on variance, pooling and effect sizes.

Usage (from the repository root)::

    .venv/bin/python notebooks/build_variance_notebooks.py

Writes ``01_ols.ipynb``, ``03_partial_pooling_and_icc.ipynb`` and ``08_effect_sizes.ipynb``
next to this script, executed with nbclient so that they are stored with their outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import bayesmixed as bm
from bayesmixed import plots

pd.set_option("display.precision", 4)
pd.set_option("display.width", 120)"""

BAYES_NOTE = """\
## Where the Bayesian posteriors plug in

Everything above ran on the REML fit. The same functions accept a Bayesian fit unchanged —
they read the fit's `components()`, which for `model.sample(...)` carry posterior draws — and
then return full posteriors instead of numbers (a `Posterior` with `.draws`, `.mean`, `.sd`,
`.conf_low`, `.conf_high`; tables get posterior means plus interval columns):

```python
post = model.sample(draws=1000, tune=1000, chains=4, random_seed=1)
bm.variance.icc(post)["adjusted"]          # Posterior: mean, sd, 95% interval, draws
bm.variance.r2(post)                       # {"marginal": Posterior, "conditional": Posterior}
bm.variance.shrinkage(post)                # λ_j and estimates per draw → posterior means + intervals
plots.icc_r2_posteriors(post, fit)         # densities with the REML values marked
plots.compare(bm.compare(post, fit))       # forest plot REML vs Bayes
```

Sampling is left out here to keep the notebook fast."""


def nb_01_ols():
    cells = [
        new_markdown_cell(
            "# §1 Ordinary least squares and its assumptions\n\n"
            "A single regression line for all observations, "
            "$y_i = \\gamma_0 + \\gamma_1 x_i + e_i$, $e_i \\sim N(0, \\sigma^2)$ independent. "
            "We fit it to the `sleepstudy` data (reaction time over days of sleep deprivation, "
            "18 subjects × 10 days) and check the assumptions — which is where the need for "
            "mixed models shows up."
        ),
        new_code_cell(SETUP),
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
            "errors that treat them as 180 are too small. Chapter 3 continues with the mixed "
            "model."
        ),
        new_markdown_cell(
            "## Bayesian version\n\nFor a regression without random effects the Bayesian fit "
            "differs from OLS only by its priors; the assumption checks above are about the "
            "likelihood and apply to both."
        ),
    ]
    return cells


def nb_03_pooling():
    cells = [
        new_markdown_cell(
            "# §3 Partial pooling, ICC and the design effect\n\n"
            "Random-intercept model $y_{ij} = \\gamma_{00} + u_{0j} + e_{ij}$ with "
            "$u_{0j} \\sim N(0, \\tau_{00})$ and $e_{ij} \\sim N(0, \\sigma^2)$."
        ),
        new_code_cell(SETUP),
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
        new_markdown_cell(BAYES_NOTE),
    ]
    return cells


def nb_08_effects():
    cells = [
        new_markdown_cell(
            "# §8 Effect sizes in mixed models\n\n"
            "* local Cohen's $f^2$ of one fixed effect, from the R² of the full and the "
            "reduced model (same random part);\n"
            "* the proportional change in variance (PCV) of a variance component when "
            "predictors are added, and the standardized variance difference $d_\\tau$;\n"
            "* fixed effects in standard-deviation units."
        ),
        new_code_cell(SETUP),
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
            BAYES_NOTE.replace(
                "plots.compare(bm.compare(post, fit))       # forest plot REML vs Bayes",
                "plots.compare(bm.compare(post, fit))       # forest plot REML vs Bayes\n"
                "bm.effects.cohens_f2(post, reduced=post_reduced)   # f² posterior (draws paired)",
            )
        ),
    ]
    return cells


NOTEBOOKS = {
    "01_ols.ipynb": nb_01_ols,
    "03_partial_pooling_and_icc.ipynb": nb_03_pooling,
    "08_effect_sizes.ipynb": nb_08_effects,
}


def build(names: list[str] | None = None) -> None:
    for name, make in NOTEBOOKS.items():
        if names and name not in names:
            continue
        nb = new_notebook(cells=make())
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
        ).execute()
        nbformat.write(nb, HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    build(sys.argv[1:] or None)
