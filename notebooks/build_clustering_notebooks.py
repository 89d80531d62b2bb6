"""Write and execute the primer chapters on clustered data: 02, 04 and 06.

Usage (from the repository root)::

    .venv/bin/python notebooks/build_clustering_notebooks.py [NAME.ipynb ...]

Writes ``02_dependent_data.ipynb`` (patients in groups: OLS against the random intercept,
ICC and design effect), ``04_random_slopes.ipynb`` (age effects varying between hospitals,
``(x | g)`` and ``(x || g)``, pooling of slopes, the Bayesian fit in full) and
``06_nesting_crossing.ipynb`` (wards in hospitals, schools crossed with neighbourhoods),
all on :func:`bayesmixed.datasets.primer`, executed so that they are stored with outputs.
"""

from __future__ import annotations

import sys

from nbformat.v4 import new_code_cell as code
from nbformat.v4 import new_markdown_cell as md
from notebook_tools import QUICK, build, setup

SAMPLE_QUIET = f"""\
with warnings.catch_warnings():  # a short run: its R-hat/ESS and LOO warnings are expected
    warnings.simplefilter("ignore", bm.errors.SamplingWarning)
    warnings.simplefilter("ignore", bm.errors.LooWarning)
    post = model.sample({{PRIORS}}{QUICK}, random_seed=1, progressbar=False)"""


def sample_cell(priors: str = "") -> str:
    return SAMPLE_QUIET.replace("{PRIORS}", priors)


def nb_02_dependent():
    return [
        md(
            "# 2 · Dependent data: patients in groups\n\n"
            "The primer's §2: the SQUARE scores of about 110 patients treated in 9 groups. "
            "Ordinary regression, $\\text{score}_{ij} = \\gamma_0 + \\gamma_1\\,\\text{age}_{ij} "
            "+ e_{ij}$, assumes that the residuals $e_{ij}$ are independent. When the groups "
            "differ in level, patients of one group are alike and that assumption fails: part "
            "of each residual, $u_{0j}$, is shared by the whole group $j$. This notebook shows "
            "the dependence, measures it (ICC, design effect) and what it does to the "
            "standard errors, with the REML fit and the posterior side by side."
        ),
        code(setup("plt", "np")),
        code(
            'groups = bm.datasets.primer("groups", seed=1)\n'
            'groups.groupby("group")["score"].agg(["size", "mean", "std"]).T.round(2)'
        ),
        md(
            "One regression line per group (thin) and the pooled line (dashed): the groups "
            "share roughly the same age slope but not the same level."
        ),
        code('ax = plots.data_lines(groups, "age", "score", group="group")'),
        md(
            "## Ignoring the groups: OLS\n\nA formula without a bar is an ordinary "
            "regression (`OLSFit`, R's `lm`). Its residuals, grouped, are not centred on zero: "
            "whole groups lie above or below the line."
        ),
        code(
            'ols = bm.MixedModel("score ~ center(age)", groups).fit_reml()\n'
            "display(ols.tidy())\n"
            'resid = pd.DataFrame({"group": groups["group"], "residual": ols.residuals()})\n'
            "fig, ax = plt.subplots(figsize=(7, 3.2))\n"
            'resid.boxplot(column="residual", by="group", ax=ax, grid=False)\n'
            'ax.axhline(0, color="grey", lw=0.8)\n'
            'ax.set_title("OLS residuals by group")\n'
            'fig.suptitle("")\n'
            "plt.show()"
        ),
        md(
            "The F test of `group` added to the regression says the same formally: the group "
            "means differ by more than the within-group noise allows."
        ),
        code('bm.MixedModel("score ~ center(age) + group", groups).fit_reml().anova()'),
        md(
            "## Cluster-aware: a random intercept per group\n\n"
            "$\\text{score}_{ij} = \\gamma_{00} + \\gamma_{10}\\,\\text{agec}_{ij} + u_{0j} + "
            "e_{ij}$, $u_{0j} \\sim N(0, \\tau_{00})$, $e_{ij} \\sim N(0, \\sigma^2)$. The "
            "intraclass correlation $\\rho = \\tau_{00}/(\\tau_{00} + \\sigma^2)$ is the "
            "correlation of two patients of the same group, and the design effect "
            "$\\text{deff} = 1 + (\\bar m - 1)\\,\\rho$ says how much the variance of a group-"
            "level mean grows because of it; $n/\\text{deff}$ is the effective sample size."
        ),
        code(
            'model = bm.MixedModel("score ~ center(age) + (1 | group)", groups)\n'
            "fit = model.fit_reml()\n"
            "display(fit.tidy())\n"
            "de = bm.variance.design_effect(fit)\n"
            'pd.Series({k: de[k] for k in ["n", "clusters", "m_bar", "icc", "deff", "n_eff"]})'
        ),
        md(
            "What the dependence does to the standard errors: the OLS SE of the intercept "
            "(the mean level, a group-level quantity) is too small by almost exactly "
            "$\\sqrt{\\text{deff}}$ — OLS counts 112 patients where the data hold the "
            "information of about 36. Age varies within the groups: the random intercept "
            "takes the groups' levels out of its residual noise, so its SE does not grow "
            "(here it even shrinks a little)."
        ),
        code(
            'se = pd.DataFrame({"OLS": ols.tidy().set_index("term")["std_error"],\n'
            '                   "random intercept": fit.tidy(effects="fixed").set_index("term")'
            '["std_error"]})\n'
            'se["OLS × √deff"] = se["OLS"] * np.sqrt(de["deff"])\n'
            "se"
        ),
        md(
            "## The Bayesian fit beside REML\n\nThe same specification sampled with NUTS, "
            "default weakly informative priors (a short run: 2 chains × 500 draws; use 4 × 1000 "
            "for a real analysis). `bm.compare` lines up the REML estimate and SE with the "
            "posterior mean, SD and 95% interval; `z_diff` is their difference in posterior SDs."
        ),
        code(sample_cell() + "\ntable = bm.compare(post, fit)\ntable"),
        code("ax = plots.compare(table)"),
        md(
            "With only 9 groups the posterior of $\\tau_0$ is wide and right-skewed, so its "
            "mean lies above the REML estimate — and so do the posterior ICC and design "
            "effect. The same `design_effect` call on the posterior returns posteriors "
            "(mean, SD, interval, draws) instead of numbers."
        ),
        code(
            "de_post = bm.variance.design_effect(post)\n"
            'pd.DataFrame({k: {"REML": de[k], "posterior mean": de_post[k].mean,\n'
            '                  "2.5%": de_post[k].conf_low, "97.5%": de_post[k].conf_high}\n'
            '              for k in ["icc", "deff", "n_eff"]}).T'
        ),
        code("ax = plots.icc_r2_posteriors(post, fit)"),
        md(
            "**Reading.** About a fifth of the variance of the scores lies between groups. "
            "With some 12 patients per group that makes the 112 patients worth about 36 "
            "independent ones for estimating the mean level — but the posterior interval of "
            "that number is wide (9 groups say little about $\\tau_{00}$). Chapter 3 looks "
            "at what the random intercept does to each group's estimate (partial pooling)."
        ),
    ]


def nb_04_slopes():
    return [
        md(
            "# 4 · Random slopes: age effects that vary between hospitals\n\n"
            "The primer's hospitals data (§3.3–4): patients in 20 hospitals, with age split "
            "into the hospital mean `agem` and the deviation from it `agec` "
            "(`bm.center`). The random-slope model lets each hospital have its own age "
            "effect:\n\n"
            "$$\\text{score}_{ij} = \\gamma_{00} + \\gamma_{10}\\,\\text{agec}_{ij} + u_{0j} + "
            "u_{1j}\\,\\text{agec}_{ij} + e_{ij},\\qquad (u_{0j}, u_{1j}) \\sim N(0, T),$$\n\n"
            "with $T$ holding $\\tau_{00}$, $\\tau_{11}$ and their covariance $\\tau_{01}$ "
            "(correlation $\\rho_{01}$). In lme4 syntax `(agec | hospital)`; "
            "`(agec || hospital)` fixes $\\rho_{01} = 0$."
        ),
        code(setup("plt")),
        code(
            'hosp = bm.datasets.primer("hospitals", seed=1)\n'
            'hosp[["hospital", "type", "age", "agem", "agec", "score"]].head()'
        ),
        code('ax = plots.data_lines(hosp, "agec", "score", group="hospital")'),
        md(
            "## Three random parts, by REML\n\nRandom intercept only, uncorrelated intercept "
            "and slope, correlated intercept and slope. `(agec || hospital)` is expanded as in "
            "lme4 to `(1 | hospital) + (0 + agec | hospital)`, so its slope SD sits in group "
            "`hospital.1`."
        ),
        code(
            "formulas = {\n"
            '    "(1 | hospital)": "score ~ agec + (1 | hospital)",\n'
            '    "(agec || hospital)": "score ~ agec + (agec || hospital)",\n'
            '    "(agec | hospital)": "score ~ agec + (agec | hospital)",\n'
            "}\n"
            "fits = {k: bm.MixedModel(f, hosp).fit_reml() for k, f in formulas.items()}\n"
            "def estimates(f):\n"
            '    t = f.tidy().fillna({"group": "fixed"})\n'
            '    return t.set_index(["group", "term"])["estimate"]\n\n'
            "pd.concat({k: estimates(f) for k, f in fits.items()}, axis=1)"
        ),
        md(
            "The slope SD $\\tau_1 \\approx 0.1$ is large next to $\\gamma_{10} \\approx "
            "0.08$: in some hospitals the score hardly changes with age, in others twice as "
            "fast. The likelihood-ratio tests below are only a first look; chapter 5 treats "
            "them properly (the null value $\\tau_{11} = 0$ lies on the boundary)."
        ),
        code(
            "with warnings.catch_warnings():  # REML fits are refitted by ML for the LRT\n"
            '    warnings.simplefilter("ignore", bm.errors.RefitWarning)\n'
            "    display(bm.anova(*fits.values()))"
        ),
        md(
            "## Pooling of slopes\n\nEach hospital's slope is a compromise between its own "
            "least-squares slope (no pooling) and $\\gamma_{10}$ (complete pooling). Hospitals "
            "with few patients or a narrow age range are pulled furthest. In the plane of the "
            "two coefficients the pull is towards the population point (star)."
        ),
        code(
            'slopes = fits["(agec | hospital)"]\n'
            'fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")\n'
            'plots.pooling(slopes, "agec", ax=axes[0])\n'
            'plots.pooling(slopes, ("(Intercept)", "agec"), ax=axes[1]);'
        ),
        code("slopes.shrinkage().query(\"term == 'agec'\").head(8)"),
        code("ax = plots.trajectories(slopes)"),
        md(
            "## The Bayesian fit\n\nThe primer's specification `models/random_slope.toml` "
            "holds the same formula with explicit priors on $\\tau_0$, $\\tau_1$ and the "
            "correlation; `bm.load_spec` reads it into a model and its settings."
        ),
        code(
            'model, settings = bm.load_spec("../models/random_slope.toml")\n'
            "print(model.formula)\n"
            "settings.priors"
        ),
        md(
            "Draws from the prior predictive distribution show what the priors imply for the "
            "scores before seeing them: broad, but on the scale of the data."
        ),
        code(
            "prior = model.sample_prior_predictive(priors=settings.priors, draws=300, "
            "random_seed=1)\n"
            "fig, ax = plt.subplots(figsize=(6, 3.2))\n"
            'ax.hist(prior.prior_predictive["y"].values.ravel(), bins=80, range=(-20, 40), '
            'density=True, alpha=0.6, label="prior predictive")\n'
            'ax.hist(hosp["score"], bins=21, density=True, alpha=0.6, label="data")\n'
            'ax.set_xlabel("score")\n'
            "ax.legend()\n"
            "plt.show()"
        ),
        md(
            "By default the random effects are integrated out analytically "
            '(`parameterization="marginal"`): NUTS samples γ, σ, τ and the correlation only, '
            "and the BLUPs are drawn afterwards from their exact conditional posterior, free "
            "of the funnel that troubles hierarchical samplers. A short run (2 × 500)."
        ),
        code(sample_cell("priors=settings.priors, ") + "\npost.glance()"),
        code("table = bm.compare(post, slopes)\ntable"),
        code("ax = plots.compare(table)"),
        md(
            "The correlation $\\rho_{01}$ is the least determined parameter: 20 hospitals "
            "give an interval from about −0.4 to 0.6, and the LKJ(2) prior pulls its "
            "posterior mean a little towards 0.\n\n"
            "## Slopes and shrinkage with their uncertainty\n\nThe caterpillar plot of the "
            "hospitals' slope deviations $u_{1j}$ (posterior means and 95% intervals), and "
            "the shrinkage of each hospital's slope as a posterior."
        ),
        code('ax = plots.caterpillar(post, term="agec")'),
        code("post.shrinkage().query(\"term == 'agec'\").head(8)"),
        md("## ICC and R² as posteriors, with the REML values marked"),
        code("ax = plots.icc_r2_posteriors(post, slopes)"),
        md(
            "## Other parameterizations and samplers\n\nThe classic non-centred graph gives "
            "the same posterior (within Monte Carlo error), more slowly:\n\n```python\n"
            'model.sample(parameterization="noncentered")   # PyMC graph, sampled by nutpie\n'
            'model.sample(sampler="pymc")                   # PyMC\'s own NUTS\n'
            'model.sample(sampler="numpyro")                # NumPyro\n'
            "model.pymc_model()                             # the pm.Model, to modify and "
            "sample yourself\n```\n\n"
            "How much the priors matter for τ is the subject of chapter 10."
        ),
    ]


def nb_06_nesting():
    return [
        md(
            "# 6 · Nesting and crossing\n\n"
            "Two designs with more than one grouping factor (the primer's §5):\n\n"
            "* **nested** — patients in wards in hospitals; every ward belongs to one "
            "hospital: $\\text{score}_{ijk} = \\gamma_0 + \\gamma_1\\,\\text{age}_{ijk} + "
            "v_{0k} + u_{0jk} + e_{ijk}$ with $v_{0k} \\sim N(0, \\tau_v)$ (hospitals), "
            "$u_{0jk} \\sim N(0, \\tau_u)$ (wards) and $e_{ijk} \\sim N(0, \\sigma^2)$;\n"
            "* **crossed** — students belong to a school and, separately, to a "
            "neighbourhood; neither is nested in the other: "
            "$\\text{score}_{i} = \\gamma_0 + \\gamma_1\\,\\text{ses}_i + u_{\\text{school}[i]} "
            "+ v_{\\text{neighbourhood}[i]} + e_i$."
        ),
        code(setup("plt")),
        md(
            "## Three levels: wards within hospitals\n\nThe ward labels W1–W4 repeat in "
            "every hospital, so ward W1 of hospital H01 and W1 of H02 are different wards. "
            "`(1 | hospital/ward)` says so: lme4 expands it to "
            "`(1 | hospital) + (1 | ward:hospital)`. The specification is "
            "`models/three_level.toml`."
        ),
        code(
            'model, settings = bm.load_spec("../models/three_level.toml")\n'
            'wards = bm.datasets.primer("wards", seed=1)  # the spec\'s data\n'
            'print(model.formula, "|", wards["hospital"].nunique(), "hospitals,",\n'
            '      wards.groupby(["hospital", "ward"]).ngroups, "wards,", len(wards), "patients")\n'
            "nested = model.fit_reml()\n"
            "nested.tidy()"
        ),
        md(
            "Written `(1 | hospital) + (1 | ward)`, the model would treat the four labels as "
            "four wards shared by all hospitals (crossed with them): the ward variance then "
            "measures only how W1 differs from W2 on average over hospitals, and the real "
            "ward-to-ward variation goes to σ²."
        ),
        code(
            'wrong = bm.MixedModel("score ~ age + (1 | hospital) + (1 | ward)", wards).fit_reml()\n'
            'pd.concat({"(1 | hospital/ward)": nested.tidy(effects="ran_pars").set_index('
            '["group", "term"])["estimate"],\n'
            '           "(1 | hospital) + (1 | ward)": wrong.tidy(effects="ran_pars").set_index('
            '["group", "term"])["estimate"]}, axis=1)'
        ),
        md(
            "## ICC by level\n\nThe variance splits into three shares: hospitals "
            "$\\tau_v$, wards within hospitals $\\tau_u$ and patients $\\sigma^2$. Two "
            "correlations follow: of two patients of the same hospital but different wards, "
            "$\\tau_v / (\\tau_v + \\tau_u + \\sigma^2)$, and of two patients of the same ward, "
            "$(\\tau_v + \\tau_u)/(\\tau_v + \\tau_u + \\sigma^2)$."
        ),
        code(
            'shares = nested.icc()["by_component"]\n'
            "display(shares.to_frame())\n"
            'pd.Series({"same hospital, other ward": shares["hospital"],\n'
            '           "same ward": shares["hospital"] + shares["ward:hospital"]}, name="ICC")'
        ),
        md(
            "The Bayesian fit with the specification's priors (half-normal with scale 5 on "
            "both SDs; a short run), beside REML:"
        ),
        code(sample_cell("priors=settings.priors, ") + "\nbm.compare(post, nested)"),
        code('post.icc()["by_component_summary"]'),
        md(
            "With 48 wards the ward SD is well determined; with 12 hospitals the hospital "
            "SD's posterior is wider and skewed to the right of the REML estimate."
        ),
        code("ax = plots.compare(bm.compare(post, nested))"),
        md(
            "## Crossed: schools and neighbourhoods\n\nEach school draws most of its "
            "students from a few neighbourhoods, and each neighbourhood sends students to "
            "several schools: a corner of the school × neighbourhood table shows the "
            "crossing (counts of students)."
        ),
        code(
            'model, settings = bm.load_spec("../models/crossed.toml")\n'
            'schools = bm.datasets.primer("schools", seed=1)  # the spec\'s data\n'
            'pd.crosstab(schools["school"], schools["neighbourhood"]).iloc[:8, :12]'
        ),
        code("crossed = model.fit_reml()\ncrossed.tidy()"),
        md(
            "Crossed terms each get their own variance, and the ICC splits by "
            "classification: two students of the same school (different neighbourhoods) "
            "correlate by the school share, of the same neighbourhood by the neighbourhood "
            "share, and of both by their sum."
        ),
        code('crossed.icc()["by_component"].to_frame()'),
        code(
            'fig, axes = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")\n'
            'plots.caterpillar(crossed, group="school", ax=axes[0])\n'
            'plots.caterpillar(crossed, group="neighbourhood", ax=axes[1]);'
        ),
        md(
            "The posterior (default priors, short run). For crossed designs the marginal "
            "parameterization integrates the random effects out through one dense block as "
            "wide as the smaller factor (20 neighbourhoods here)."
        ),
        code(sample_cell() + "\nprint(post.parameterization)\nbm.compare(post, crossed)"),
        code('post.icc()["by_component_summary"]'),
        md(
            "**Reading.** In the wards data most of the clustering is between hospitals "
            "(about 39% of the variance) and little between wards of one hospital (about "
            "7%); in the schools data schools matter about twice as much as neighbourhoods. "
            "Both engines agree on the variance components; the Bayesian intervals show how "
            "little 12 hospitals or 20 neighbourhoods pin down their SD."
        ),
    ]


NOTEBOOKS = {
    "02_dependent_data.ipynb": nb_02_dependent,
    "04_random_slopes.ipynb": nb_04_slopes,
    "06_nesting_crossing.ipynb": nb_06_nesting,
}


if __name__ == "__main__":
    build(NOTEBOOKS, sys.argv[1:])
