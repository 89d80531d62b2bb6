"""Write and execute the notebook on longitudinal data and residual covariance structures.

Usage (from the repository root)::

    .venv/bin/python notebooks/build_longitudinal_notebook.py

Writes ``08_covariance_structures.ipynb`` next to this script, executed with nbclient so that
it is stored with its outputs. The notebook runs in seconds (the structure comparison is a handful
of GLS fits), so the test suite executes it as it is. The REML-vs-posterior section is
included when ``model.sample()`` accepts ``residual=`` (checked when the notebook is built);
otherwise the notebook shows the calls without running them.
"""

from __future__ import annotations

import sys
import warnings
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
pd.set_option("display.width", 130)"""

DATA = """\
# A two-arm trial: 120 patients measured at baseline (T0) and after 3, 6 and 9 months.
# Residuals: SDs growing over time, correlation decaying with the distance between visits
# on top of a stable patient level; ~10% of the follow-up visits are missing.
rng = np.random.default_rng(2024)
visits = ["T0", "T3", "T6", "T9"]
n = 120
arm = np.repeat(["control", "treatment"], n // 2)
mean = {"control": [50, 49, 48.5, 48], "treatment": [50, 46, 43, 41]}
sd = np.array([4.0, 4.5, 5.2, 6.0])
lag = np.abs(np.subtract.outer(range(4), range(4)))
R = 0.3 + 0.7 * 0.6**lag
e = rng.standard_normal((n, 4)) @ np.linalg.cholesky(R * np.outer(sd, sd)).T
y = np.array([mean[a] for a in arm]) + e
trial = pd.DataFrame({
    "id": np.repeat([f"p{i:03d}" for i in range(n)], 4),
    "arm": np.repeat(arm, 4),
    "visit": pd.Categorical(visits * n, categories=visits),
    "y": y.ravel().round(2),
})
missing = (trial["visit"] != "T0") & (rng.uniform(size=len(trial)) < 0.1)
trial = trial[~missing].reset_index(drop=True)
trial.head(6)"""

BAYES_RUN = """\
# a short run keeps the notebook fast; its R-hat/ESS warnings are expected (use 4 × 1000)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", bm.errors.SamplingWarning)
    post = model.sample(draws=300, tune=300, chains=2, random_seed=1, progressbar=False)
post.glance()[["nobs", "elpd_loo", "p_loo", "divergences", "max_rhat", "min_ess_bulk"]]"""

BAYES_NOTE = """\
## Where the Bayesian version plugs in

The same specification is sampled with NUTS by passing `residual=` as here; the posterior is
then compared with the REML fit in the primer's vocabulary:

```python
post = model.sample(draws=1000, tune=1000, chains=4, random_seed=1)
post.tidy()                      # γ, the visit SDs and correlations with intervals
bm.compare(post, fit)            # REML estimate and SE beside posterior mean, SD, interval
bm.compare_structures(FORMULA, trial, time="visit", group="id", bayes=True)  # + elpd_loo
```

Sampling with residual structures is not run in this notebook."""


def bayes_available() -> bool:
    """Whether ``model.sample()`` accepts ``residual=`` in this checkout (a tiny run)."""
    import numpy as np
    import pandas as pd

    import bayesmixed as bm

    d = pd.DataFrame({"id": np.repeat(np.arange(8), 2), "visit": ["a", "b"] * 8})
    d["y"] = np.random.default_rng(0).normal(size=16)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = bm.MixedModel("y ~ 1", d, residual=bm.residual.CS(time="visit", group="id"))
            model.sample(draws=10, tune=10, chains=1, random_seed=1, progressbar=False)
    except Exception:  # not landed yet (or failing): show the calls instead
        return False
    return True


def nb_longitudinal(with_bayes: bool):
    md, code = new_markdown_cell, new_code_cell
    cells = [
        md(
            "# 8 · Longitudinal data: choosing a residual covariance structure (§7)\n\n"
            "Repeated measurements of the same patient are correlated, and their variance often "
            "changes over time. With few, fixed visits (T0, T3, T6, T9) the classic approach "
            "models the time course with *categorical time* in the fixed part — "
            "`y ~ visit * arm`, one mean per arm and visit — and puts the dependence into the "
            "**residual covariance** of each patient's visits (a GLS/MMRM model, as nlme's "
            "`gls(correlation=, weights=)` or the `mmrm` package). The question is which "
            "structure: few parameters (compound symmetry, AR(1)) or many (unstructured)."
        ),
        code(SETUP),
        code(DATA),
        md(
            "## The data\n\nOne grey line per patient; the thick lines are the observed means "
            "per arm. Visits are categories, drawn equally spaced in their order."
        ),
        code(
            'plots.trajectories_by_time(trial, "visit", y="y", group="id", color="arm")\nplt.show()'
        ),
        md(
            "## Six candidate structures (§7.1.7)\n\n"
            "| structure | correlation | variances | parameters (T visits) |\n"
            "|---|---|---|---|\n"
            "| CS | one ρ for every pair | one | 2 |\n"
            "| CSH | one ρ for every pair | one per visit | T + 1 |\n"
            "| AR1 | ρ^lag | one | 2 |\n"
            "| ARH1 | ρ^lag | one per visit | T + 1 |\n"
            "| TOEP | one per lag | one | T |\n"
            "| UN | every pair free | one per visit | T(T+1)/2 |\n\n"
            "`bm.compare_structures` fits the same fixed part with each and ranks the fits "
            "by AIC, with BIC beside it. The fits are by **ML** here; REML works too "
            '(`method="REML"`) because every structure has the same fixed effects — REML '
            "criteria compare covariance structures only then. A structure that cannot be "
            "fitted gets a row with its error message instead of stopping the table."
        ),
        code(
            'FORMULA = "y ~ visit * arm"\n'
            "table, fits = bm.compare_structures(\n"
            '    FORMULA, trial, time="visit", group="id",\n'
            '    structures=["CS", "UN", "CSH", "AR1", "ARH1", "TOEP"], return_fits=True,\n'
            ")\n"
            'print(table.attrs["note"])\n'
            'table.drop(columns=["warning", "error"])'
        ),
        md(
            "AIC and BIC agree here: the heterogeneous AR(1) wins. UN fits best in likelihood "
            "but pays for its 10 covariance parameters; the homogeneous structures cannot "
            "follow the growing SDs. The default list adds TOEPH and AD (and CAR1 for a "
            "numeric time)."
        ),
        md(
            "## What the structures imply, lag by lag\n\nLines: the mean correlation over "
            "the visit pairs at each lag; dots: each pair (they spread for UN and CSH, whose "
            "correlation is not a function of the lag alone). The dashed line is the "
            "empirical correlation of the residuals of the patients seen at every visit."
        ),
        code("plots.correlation_by_lag(fits)\nplt.show()"),
        md(
            "## The chosen structure, refitted by REML\n\nFor inference on the fixed effects "
            "the chosen structure is refitted by REML (less biased variances)."
        ),
        code(
            "best = table['structure'].iloc[0]\n"
            "model = bm.MixedModel(FORMULA, trial,\n"
            '                      residual=getattr(bm.residual, best)(time="visit", group="id"))\n'
            "fit = model.fit_reml()\n"
            "fit.tidy()"
        ),
        code("fit.glance()"),
        md(
            "The fitted residual covariance and correlation of one patient seen at every "
            "visit (labelled by visit):"
        ),
        code('fit.residual_cov("p000")'),
        code('fit.residual_cor("p000")'),
        md(
            "## Fitted against empirical correlation\n\nLeft: the correlation the fitted "
            "structure implies; right: the correlation of the residuals y − Xβ̂ of the "
            "complete patients. A good structure reproduces the pattern with few parameters."
        ),
        code("plots.residual_correlation(fit)\nplt.show()"),
        md(
            "## Fitted trajectories\n\nWithout random effects the fitted lines are the arm "
            "means per visit (the population lines), so no separate patient lines are drawn."
        ),
        code('plots.trajectories_by_time(fit, color="arm")\nplt.show()'),
    ]
    if with_bayes:
        cells += [
            md(
                "## REML and the posterior side by side\n\nThe same model sampled with NUTS "
                "(a short run, to keep the notebook fast): REML estimates and SEs beside the "
                "posterior means, SDs and 95% intervals."
            ),
            code(BAYES_RUN),
            code("bm.compare(post, fit)"),
            md(
                "The posterior means sit close to the REML estimates (`z_diff`: their "
                "difference in posterior SDs). `bm.compare_structures(..., bayes=True)` adds "
                "PSIS-LOO (elpd_loo, se, p_loo) from short runs of every structure to the "
                "AIC/BIC table."
            ),
        ]
    else:
        cells.append(md(BAYES_NOTE))
    return new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


def main() -> int:
    path = HERE / "08_covariance_structures.ipynb"
    with_bayes = bayes_available()
    nb = nb_longitudinal(with_bayes)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
    ).execute()
    nbformat.write(nb, path)
    print(f"wrote {path} ({'with' if with_bayes else 'without'} the posterior section)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
