"""Random designs against lme4 + lmerTest: the fitter on data no fixture has seen.

Run from the repository root (needs R with lme4 and lmerTest)::

    .venv/bin/python benchmarks/fuzz_vs_lme4.py            # 12 designs
    .venv/bin/python benchmarks/fuzz_vs_lme4.py --n 40 --seed 7

Each design draws group counts, sample size, effect sizes and variance components at random
(often enough to give singular fits), and cycles through formulas with slopes, ``||``,
crossed and nested terms, factors inside bars and interactions; REML and ML alternate. lme4
is converged tightly (bobyqa, rhoend = 1e-12) so that the comparison is of the statistics.
Prints the largest relative difference per quantity and exits 1 if any exceeds the
DEVELOPERS.md tolerances (fixed effects 1e-5, SDs/correlations 1e-4, logLik 1e-4 absolute).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayesmixed as bm

FORMULAS = [
    "y ~ x1 + x2 + (1 + x1 | g1)",
    "y ~ x1 * f + (1 | g1) + (1 | g2)",
    "y ~ x1 + (x1 || g1) + (1 | g2)",
    "y ~ f + (1 | g1/g3)",
    "y ~ x1 + x2 + (1 + x1 + x2 | g1)",
    "y ~ x1 + I(x1^2) + (1 | g1) + (0 + x2 | g2)",
    "y ~ x1 + (f | g1)",
    "y ~ f * x2 + (1 + x2 | g1) + (1 | g2)",
]

R_SCRIPT = r"""
suppressMessages({library(lmerTest); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
cases <- fromJSON(args[1], simplifyDataFrame = FALSE)
ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
out <- lapply(cases, function(cs) {
  d <- read.csv(cs$data, stringsAsFactors = TRUE)
  m <- suppressWarnings(suppressMessages(
    lmer(as.formula(cs$formula), d, REML = cs$REML, control = ctrl)))
  s <- summary(m)$coefficients
  list(logLik = as.numeric(logLik(m)), term = rownames(s), est = unname(s[, 1]),
       se = unname(s[, 2]), df = unname(s[, "df"]),
       sdcor = as.data.frame(VarCorr(m))$sdcor, singular = isSingular(m))
})
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), args[2])
"""


def simulate(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n1, n2 = int(rng.integers(5, 30)), int(rng.integers(3, 12))
    n = int(rng.integers(60, 400))
    g1, g2, g3 = rng.integers(0, n1, n), rng.integers(0, n2, n), rng.integers(0, 3, n)
    x1 = rng.normal(rng.uniform(-2, 2), rng.uniform(0.5, 3), n)
    x2 = rng.uniform(0, 10, n)
    f = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    b0 = rng.normal(0, rng.uniform(0.1, 3), n1)
    b1 = rng.normal(0, rng.uniform(0.05, 1), n1)
    c0 = rng.normal(0, rng.uniform(0.1, 2), n2)
    y = (
        1 + 0.5 * x1 - 0.2 * x2 + (f == "b") * 1.0 + b0[g1] + b1[g1] * x1 + c0[g2]
        + rng.normal(0, rng.uniform(0.5, 3), n)
    )  # fmt: skip
    return pd.DataFrame(
        {
            "y": y, "x1": x1, "x2": x2, "f": f,
            "g1": [f"p{v}" for v in g1], "g2": [f"q{v}" for v in g2], "g3": [f"r{v}" for v in g3],
        }
    )  # fmt: skip


def _sd_diff(ours: np.ndarray, theirs) -> float:
    """Largest difference of the sorted SDs/correlations; an undefined correlation (an SD of
    zero: R's NaN) must be undefined on both sides."""
    a = np.sort(np.asarray(ours, float))
    b = np.sort(pd.to_numeric(pd.Series(np.atleast_1d(theirs)), errors="coerce").to_numpy())
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        return np.inf
    ok = ~np.isnan(a)
    return float(np.max(np.abs(a[ok] - b[ok]))) if ok.any() else 0.0


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-8))) if b.size else 0.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12, help="number of random designs")
    ap.add_argument("--seed", type=int, default=100)
    args = ap.parse_args(argv)
    if shutil.which("Rscript") is None:
        print("Rscript not found: install R with lme4 and lmerTest", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = []
        for i in range(args.n):
            path = tmp / f"d{i}.csv"
            simulate(args.seed + i).to_csv(path, index=False)
            cases.append(
                {"data": str(path), "formula": FORMULAS[i % len(FORMULAS)], "REML": bool(i % 3)}
            )
        (tmp / "cases.json").write_text(json.dumps(cases))
        (tmp / "fit.R").write_text(R_SCRIPT)
        subprocess.run(
            ["Rscript", str(tmp / "fit.R"), str(tmp / "cases.json"), str(tmp / "r.json")],
            check=True,
        )
        ref = json.loads((tmp / "r.json").read_text())
        rows = []
        for cs, r in zip(cases, ref, strict=True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = bm.MixedModel(cs["formula"], pd.read_csv(cs["data"])).fit_reml(
                    reml=cs["REML"]
                )
            fx = fit.tidy(effects="fixed")
            rp = np.sort(fit.tidy(effects="ran_pars")["estimate"].to_numpy())
            rows.append(
                {
                    "formula": cs["formula"],
                    "REML": cs["REML"],
                    "singular (R / ours)": f"{r['singular']} / {fit.is_singular}",
                    "names": fx["term"].tolist() == list(np.atleast_1d(r["term"])),
                    "fixed": _rel(fx["estimate"], r["est"]),
                    "se": _rel(fx["std_error"], r["se"]),
                    "df": _rel(fx["df"], r["df"]),
                    "sdcor": _sd_diff(rp, r["sdcor"]),
                    "logLik": abs(float(fit.glance()["logLik"].iloc[0]) - r["logLik"]),
                    # a higher maximum than lme4's: lme4 stopped at a worse local optimum, the
                    # estimates cannot be compared (and ours are the better ones)
                    "ours_higher": float(fit.glance()["logLik"].iloc[0]) > r["logLik"] + 1e-6,
                }
            )
    tab = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.float_format", "{:.1e}".format):
        print(tab.to_string(index=False))
    same = tab[~tab["ours_higher"]]
    ok = (
        tab["names"].all()
        and (same["fixed"] < 1e-5).all()
        and (same["sdcor"] < 1e-4).all()
        and (same["logLik"] < 1e-4).all()
    )
    print(
        f"\n{len(tab)} designs; {len(tab) - len(same)} where bayesmixed's maximum is higher "
        f"than lme4's (lme4 stopped at a worse local optimum; not compared). Largest over the "
        f"other {len(same)}: fixed {same['fixed'].max():.1e}, se {same['se'].max():.1e}, "
        f"df {same['df'].max():.1e}, sd/cor {same['sdcor'].max():.1e} (abs), logLik "
        f"{same['logLik'].max():.1e} (abs): {'within' if ok else 'OUTSIDE'} tolerance"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
