"""Largest discrepancy between the REML/ML fitter and lme4/lmerTest over every R fixture.

Run from the repository root::

    .venv/bin/python benchmarks/r_agreement.py

The fixtures are the JSON files in ``tests/reference/fixtures`` (made by
``tests/reference/make_fixtures.R``); the tests assert the tolerances of DEVELOPERS.md, this
prints how far inside them the fits actually are.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import fixture_names, load_data, load_fixture  # noqa: E402

import bayesmixed as bm  # noqa: E402


def _rel(a: pd.Series, b: pd.Series) -> float:
    nz = np.abs(b) > 1e-6
    return float((np.abs(a - b)[nz] / np.abs(b[nz])).max()) if nz.any() else 0.0


def main() -> None:
    worst = dict.fromkeys(
        ["fixed effects (rel)", "std errors (rel)", "Satterthwaite df (rel)", "SDs/cors (rel)"],
        0.0,
    )
    worst |= {"logLik (abs)": 0.0, "REMLcrit/deviance (abs)": 0.0}
    cases = fixture_names("lmer")
    for case in cases:
        fx = load_fixture(case)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = bm.MixedModel(fx["formula"], load_data(fx["data"])).fit_reml(reml=fx["REML"])
        t, ref = fit.tidy(), pd.DataFrame(fx["tidy"])
        f = t[t.effect == "fixed"].set_index("term")
        rf = ref[ref.effect == "fixed"].set_index("term").loc[f.index]
        r = t[t.effect == "ran_pars"].set_index(["group", "term"]).estimate
        rr = ref[ref.effect == "ran_pars"].set_index(["group", "term"]).estimate
        g = fit.glance().iloc[0]
        crit = "REMLcrit" if fx["REML"] else "deviance"
        new = {
            "fixed effects (rel)": _rel(f.estimate, rf.estimate),
            "std errors (rel)": _rel(f.std_error, rf.std_error),
            "Satterthwaite df (rel)": _rel(f.df, rf.df),
            "SDs/cors (rel)": _rel(r.loc[rr.index], rr),
            "logLik (abs)": abs(g.logLik - fx["glance"]["logLik"]),
            "REMLcrit/deviance (abs)": abs(g[crit] - fx["glance"][crit]),
        }
        worst = {k: max(v, new[k]) for k, v in worst.items()}
    print(f"{len(cases)} lmer fixtures (REML and ML); largest discrepancy from R:")
    for k, v in worst.items():
        print(f"  {k:<26} {v:.1e}")


if __name__ == "__main__":
    main()
