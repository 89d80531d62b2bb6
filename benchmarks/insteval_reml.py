"""REML (and ML) on lme4's InstEval against lme4, in the same run.

Run from the repository root::

    .venv/bin/python benchmarks/insteval_reml.py              # 5 bayesmixed runs, 3 lme4 runs
    .venv/bin/python benchmarks/insteval_reml.py --runs 3 --r-runs 1 --no-ml

The model is ``y ~ service + (1 | s) + (1 | d) + (1 | dept)`` on all 73,421 rows (2,972
students crossed with 1,128 lecturers, 14 departments). At run time R exports ``InstEval``
(``data(InstEval)``) to a CSV in a temporary directory, with each factor's levels in R's
order; the data are never stored in the repository. bayesmixed reads s, d, dept and
service as categoricals with exactly those levels.

* bayesmixed, in this process: wall time from ``MixedModel(formula, data)`` (design build)
  through ``fit_reml()`` (optimizer, polish, convergence check), median of ``--runs``, half
  of them before lme4's runs and half after; the number of criterion evaluations is
  counted on the fit's own deviance function;
* lme4, in one ``Rscript`` process: ``system.time(lmer(...))`` around the ``lmer`` call only
  (R start-up and loading the data not included), median of ``--r-runs``.

The criteria (REML criterion, or deviance for ML: −2 log-likelihood) must agree with lme4's
to 1e-6 (absolute), or be lower (a better optimum than lme4's); to tell the optimizers'
stopping points from the computation, bayesmixed's criterion is also evaluated at lme4's θ,
where it must equal lme4's to 1e-6. The machine's load average (``os.getloadavg()``) is recorded before and
after: on a shared machine both sides slow down, not necessarily equally. Results go to
stdout and to ``benchmarks/out/insteval_reml.md``; the exit status is 1 when a criterion
disagrees.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
from reml_speed import fmt_ms, have_lme4, machine_info

import bayesmixed as bm
import bayesmixed.reml.result  # noqa: F401  (import time is not fit time: load lazy modules now)
from bayesmixed.reml.optimize import fit_lmm_at

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "insteval_reml.md"
FORMULA = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"
FACTORS = ("s", "d", "dept", "service")
TOL = 1e-6  # required agreement of the criterion with lme4's (absolute)

_EXPORT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
data(InstEval)
d <- InstEval[, c("s", "d", "dept", "service", "y")]
write.csv(d, args[1], row.names = FALSE)
for (f in c("s", "d", "dept", "service")) cat(f, "\t", paste(levels(d[[f]]), collapse = ","),
                                               "\n", sep = "", file = args[2], append = TRUE)
"""

_TIME_R = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
runs <- as.integer(args[1])
fits <- strsplit(args[2], ",")[[1]]
data(InstEval)
f <- y ~ service + (1 | s) + (1 | d) + (1 | dept)
cat(sprintf("lme4\t%s\t%s\n", as.character(packageVersion("lme4")), R.version.string))
for (kind in fits) {
  reml <- kind == "REML"
  times <- numeric(runs)
  for (r in seq_len(runs)) {
    times[r] <- system.time(fit <- lmer(f, data = InstEval, REML = reml))[["elapsed"]]
  }
  crit <- if (reml) REMLcrit(fit) else deviance(fit)
  cat(sprintf("fit\t%s\t%.6f\t%.10f\t%d\t%s\t%s\n", kind, median(times), crit,
              as.integer(fit@optinfo$feval), paste(sprintf("%.10f", getME(fit, "theta")),
              collapse = ","), paste(sprintf("%.3f", times), collapse = ",")))
}
"""


def export_insteval(tmp: Path) -> pd.DataFrame:
    """InstEval from R as a DataFrame whose factors have R's levels, in R's order."""
    csv, levels = tmp / "insteval.csv", tmp / "levels.tsv"
    script = tmp / "export.R"
    script.write_text(_EXPORT)
    subprocess.run(["Rscript", str(script), str(csv), str(levels)], check=True)
    data = pd.read_csv(csv, dtype={c: str for c in FACTORS})
    for line in levels.read_text().splitlines():
        name, labels = line.split("\t")
        data[name] = pd.Categorical(data[name], categories=labels.split(","))
    return data


def time_lme4(tmp: Path, runs: int, fits: list[str]) -> tuple[dict, str]:
    script = tmp / "time.R"
    script.write_text(_TIME_R)
    res = subprocess.run(
        ["Rscript", str(script), str(runs), ",".join(fits)],
        capture_output=True,
        text=True,
        check=True,
    )
    out, version = {}, "lme4"
    for line in res.stdout.splitlines():
        parts = line.split("\t")
        if parts[0] == "lme4":
            version = f"lme4 {parts[1]}, {parts[2]}"
        elif parts[0] == "fit":
            out[parts[1]] = {
                "time": float(parts[2]),
                "criterion": float(parts[3]),
                "evaluations": int(parts[4]),
                "theta": parts[5],
                "times": parts[6],
            }
    return out, version


def at_lme4_theta(data: pd.DataFrame, theta: str, reml: bool) -> float:
    """bayesmixed's criterion at lme4's θ: the same number as lme4's if both compute alike."""
    design = bm.MixedModel(FORMULA, data).design
    return float(fit_lmm_at(design, [float(t) for t in theta.split(",")], reml=reml).criterion)


def fit_once(data: pd.DataFrame, reml: bool) -> dict:
    """One timed build + fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        model = bm.MixedModel(FORMULA, data)
        t1 = time.perf_counter()
        fit = model.fit_reml(reml=reml)
        t2 = time.perf_counter()
    evals = fit.deviance_fn.evaluations  # before anything reads the factor at θ̂
    return {"build": t1 - t0, "fit": t2 - t1, "total": t2 - t0, "evals": evals, "obj": fit}


def summarize(runs: list[dict]) -> dict:
    fit = runs[-1]["obj"]
    return {
        "build": statistics.median(r["build"] for r in runs),
        "fit": statistics.median(r["fit"] for r in runs),
        "total": statistics.median(r["total"] for r in runs),
        "times": ",".join(f"{r['total']:.3f}" for r in runs),
        "criterion": float(fit.criterion),
        "evaluations": int(runs[-1]["evals"]),
        "bobyqa": int(fit.optinfo["evaluations"]),
        "theta": ",".join(f"{t:.10f}" for t in fit.theta),
    }


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="bayesmixed runs per fit (median)")
    ap.add_argument("--r-runs", type=int, default=3, help="lme4 runs per fit (median)")
    ap.add_argument("--no-ml", action="store_true", help="REML only (skip the ML fit)")
    args = ap.parse_args(argv)
    if not have_lme4():
        print("needs Rscript with lme4 (InstEval comes from lme4)", file=sys.stderr)
        return 2
    fits = ["REML"] if args.no_ml else ["REML", "ML"]
    loads = {"start": load()}
    with tempfile.TemporaryDirectory(prefix="bm-insteval-") as tmpdir:
        tmp = Path(tmpdir)
        data = export_insteval(tmp)
        # half of our runs before lme4's and half after: the load of a shared machine
        # drifts over the minutes lme4 takes, and the median then sees both ends
        runs = {kind: [] for kind in fits}
        before = (args.runs + 1) // 2
        print("timing bayesmixed ...", file=sys.stderr, flush=True)
        for kind in fits:
            runs[kind] += [fit_once(data, kind == "REML") for _ in range(before)]
        loads["before lme4"] = load()
        print("timing lme4 ...", file=sys.stderr, flush=True)
        r_res, r_version = time_lme4(tmp, args.r_runs, fits)
        loads["after lme4"] = load()
        print("timing bayesmixed ...", file=sys.stderr, flush=True)
        for kind in fits:
            runs[kind] += [fit_once(data, kind == "REML") for _ in range(args.runs - before)]
    loads["end"] = load()
    py_res = {kind: summarize(runs[kind]) for kind in fits}

    lines = [
        "| fit | bayesmixed build + fit | (build / fit) | lme4 `lmer` | lme4 / ours "
        "| criterion ours | criterion lme4 | ours − lme4 | ours at lme4's θ − lme4 | agree "
        "| evaluations ours (BOBYQA) | lme4 evaluations |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|",
    ]
    ok = True
    for kind in fits:
        py, rr = py_res[kind], r_res[kind]
        diff = py["criterion"] - rr["criterion"]
        same = at_lme4_theta(data, rr["theta"], kind == "REML") - rr["criterion"]
        agree = abs(same) <= TOL and diff <= TOL
        ok &= agree
        lines.append(
            f"| {kind} | {fmt_ms(py['total'])} | {fmt_ms(py['build'])} / {fmt_ms(py['fit'])} "
            f"| {fmt_ms(rr['time'])} | {rr['time'] / py['total']:.1f}× "
            f"| {py['criterion']:.7f} | {rr['criterion']:.7f} | {diff:+.1e} | {same:+.1e} "
            f"| {'yes' if agree else 'NO'} | {py['evaluations']} ({py['bobyqa']}) "
            f"| {rr['evaluations']} |"
        )
    flags = sys.argv[1:] if argv is None else list(argv)
    command = " ".join([".venv/bin/python benchmarks/insteval_reml.py", *flags])
    notes = [
        "",
        f"Model: `{FORMULA}` on lme4's InstEval (73,421 rows; s 2,972 levels, d 1,128, "
        "dept 14, crossed), both sides at their default settings.  ",
        f"Command: `{command}` ({time.strftime('%Y-%m-%d %H:%M')}); bayesmixed "
        f"{bm.__version__}, {args.runs} runs per fit (half before lme4's, half after); "
        f"lme4 {args.r_runs} runs per fit.  ",
        f"Machine: {machine_info()}  ",
        "Load average (1, 5, 15 min): " + "; ".join(f"{k}: {v}" for k, v in loads.items()) + "  ",
        f"Peer: {r_version}  ",
        "Times are medians. bayesmixed: `MixedModel(formula, data)` + `fit_reml()` in-process; "
        "lme4: `system.time(lmer(...))` inside one Rscript process. lme4 / ours > 1 means "
        "bayesmixed is faster. Criterion: REML criterion (REML) or deviance (ML), both "
        "−2 log-likelihood; agree: bayesmixed's criterion at lme4's θ equals lme4's to "
        f"{TOL:g} and bayesmixed's optimum is no higher than lme4's + {TOL:g} (lower is a "
        "better optimum). Evaluations ours: every criterion evaluation of the fit (start, "
        "BOBYQA, polish, convergence check), BOBYQA's share in brackets.  ",
        "Single runs: "
        + "; ".join(f"{k} ours {py_res[k]['times']} s, lme4 {r_res[k]['times']} s" for k in fits)
        + "  ",
        "θ: " + "; ".join(f"{k} ours {py_res[k]['theta']}, lme4 {r_res[k]['theta']}" for k in fits),
    ]
    text = "\n".join(lines + notes) + "\n"
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"written to {OUT.relative_to(HERE.parent)}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
