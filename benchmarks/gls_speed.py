"""Speed of the residual-structure engine (GLS/MMRM) against nlme::gls.

Run from the repository root::

    .venv/bin/python benchmarks/gls_speed.py             # 5 runs each side
    .venv/bin/python benchmarks/gls_speed.py --runs 3    # fewer runs
    .venv/bin/python benchmarks/gls_speed.py --r-runs 1  # one nlme fit (minutes each)
    .venv/bin/python benchmarks/gls_speed.py --no-r      # bayesmixed only

The case: an unstructured residual covariance (UN: 8 visit SDs and 28 correlations) for a
two-arm trial of 1,000 subjects × 8 visits (8,000 rows, fixed part ``y ~ visit * arm`` with
16 coefficients), simulated with heteroscedastic, serially correlated residuals;
``--dropout`` removes the visits after a random dropout time of that share of subjects, so
that the subjects fall into several visit patterns.

* bayesmixed, in this process: wall time from ``MixedModel(..., residual=UN(...))`` (design
  build) through ``fit_reml()`` (REML: optimizer and convergence check), median of the runs;
* nlme, in one ``Rscript`` process: ``system.time(gls(y ~ visit * arm, correlation =
  corSymm(form = ~ vnum | id), weights = varIdent(form = ~ 1 | visit), method = "REML"))``
  around the ``gls`` call only (R start-up and ``read.csv`` not included), median of as many
  runs. Skipped when Rscript or nlme is missing.

Both fit the same CSV; their REML log-likelihoods must agree to 1e-3 (nlme's default
tolerances stop earlier than ours). Targets: under 2 s and at least 5× faster than nlme.
Results go to stdout and to ``benchmarks/out/gls_speed.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayesmixed as bm
import bayesmixed.reml.gls  # noqa: F401  (import time is not fit time: load the engine now)

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "gls_speed.md"
FORMULA = "y ~ visit * arm"
TOL = 1e-3  # agreement of the REML log-likelihoods (absolute)
TARGET_SECONDS, TARGET_RATIO = 2.0, 5.0


def simulate(n_subjects: int = 1000, n_visits: int = 8, dropout: float = 0.0, seed: int = 7):
    """A two-arm trial: arm-specific means over the visits, SDs growing over time, an
    AR(1)-like correlation plus a subject level (so no simple structure is exact)."""
    rng = np.random.default_rng(seed)
    visits = [f"V{k:02d}" for k in range(n_visits)]
    arm = rng.permutation(np.repeat(["control", "treated"], n_subjects // 2 + 1)[:n_subjects])
    lag = np.abs(np.subtract.outer(np.arange(n_visits), np.arange(n_visits)))
    R = 0.35 + 0.65 * 0.7**lag
    sd = np.linspace(1.0, 2.2, n_visits)
    L = np.linalg.cholesky(R * np.outer(sd, sd))
    e = rng.standard_normal((n_subjects, n_visits)) @ L.T
    slope = np.where(arm == "treated", -0.25, 0.05)
    mu = 20.0 + np.outer(slope, np.arange(n_visits))
    y = mu + e
    keep = np.ones((n_subjects, n_visits), bool)
    drop = rng.uniform(size=n_subjects) < dropout
    last = rng.integers(2, n_visits, size=n_subjects)
    keep[drop] = np.arange(n_visits)[None, :] < last[drop, None]
    ids = np.repeat([f"s{i:04d}" for i in range(n_subjects)], n_visits)
    d = pd.DataFrame(
        {
            "id": ids,
            "arm": np.repeat(arm, n_visits),
            "visit": np.tile(visits, n_subjects),
            "vnum": np.tile(np.arange(1, n_visits + 1), n_subjects),
            "y": np.round(y.ravel(), 8),
        }
    )
    return d[keep.ravel()].reset_index(drop=True)


# --------------------------------------------------------------------------- bayesmixed
def time_python(path: Path, runs: int) -> dict:
    """In-process timings; the CSV is read once, outside the timed region (as in R)."""
    data = pd.read_csv(path)
    spec = bm.residual.UN(time="visit", group="id")
    total, build, cpu, fit = [], [], [], None
    for _ in range(runs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c0, t0 = time.process_time(), time.perf_counter()
            model = bm.MixedModel(FORMULA, data, residual=spec)
            t1 = time.perf_counter()
            fit = model.fit_reml(reml=True)
            t2, c2 = time.perf_counter(), time.process_time()
        build.append(t1 - t0)
        total.append(t2 - t0)
        cpu.append(c2 - c0)
    return {
        "total": statistics.median(total),
        "cpu": statistics.median(cpu),
        "build": statistics.median(build),
        "first": total[0],
        "all": total,
        "logLik": float(fit.loglik),
        "evaluations": int(fit.optinfo.get("evaluations", -1)),
        "npar": int(fit.nparams),
    }


# --------------------------------------------------------------------------- nlme
_R_SCRIPT = r"""
suppressPackageStartupMessages(library(nlme))
args <- commandArgs(trailingOnly = TRUE)
runs <- as.integer(args[2])
d <- read.csv(args[1], stringsAsFactors = FALSE)
d$visit <- factor(d$visit, levels = sort(unique(d$visit)))
d$arm <- factor(d$arm)
cat(sprintf("nlme\t%s\t%s\n", as.character(packageVersion("nlme")), R.version.string))
times <- cpu <- numeric(runs)
for (r in seq_len(runs)) {
  st <- system.time(fit <- gls(
    y ~ visit * arm, data = d, method = "REML",
    correlation = corSymm(form = ~ vnum | id), weights = varIdent(form = ~ 1 | visit)
  ))
  times[r] <- st[["elapsed"]]
  cpu[r] <- st[["user.self"]] + st[["sys.self"]]
}
cat(sprintf("fit\t%.6f\t%.10f\t%d\t%s\t%.6f\n", median(times), as.numeric(logLik(fit)),
            as.integer(attr(logLik(fit), "df")), paste(sprintf("%.3f", times), collapse = ","),
            median(cpu)))
"""


def have_nlme() -> bool:
    if shutil.which("Rscript") is None:
        return False
    res = subprocess.run(
        ["Rscript", "-e", "quit(status = !requireNamespace('nlme', quietly = TRUE))"],
        capture_output=True,
    )
    return res.returncode == 0


def time_nlme(path: Path, runs: int, tmp: Path) -> tuple[dict, str]:
    script = tmp / "gls_bench.R"
    script.write_text(_R_SCRIPT)
    res = subprocess.run(
        ["Rscript", str(script), str(path), str(runs)], capture_output=True, text=True, check=True
    )
    out, version = {}, "nlme"
    for line in res.stdout.splitlines():
        parts = line.split("\t")
        if parts[0] == "nlme":
            version = f"nlme {parts[1]}, {parts[2]}"
        elif parts[0] == "fit":
            out = {
                "total": float(parts[1]),
                "logLik": float(parts[2]),
                "npar": int(parts[3]),
                "all": [float(t) for t in parts[4].split(",")],
                "cpu": float(parts[5]),
            }
    return out, version


# --------------------------------------------------------------------------- report
def machine_info() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "load average unknown"
    return (
        f"{cpu}; {os.cpu_count()} CPUs ({load} at the end); Python "
        f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per side (median reported)")
    ap.add_argument("--r-runs", type=int, default=None, help="nlme runs (default: --runs)")
    ap.add_argument("--subjects", type=int, default=1000)
    ap.add_argument("--visits", type=int, default=8)
    ap.add_argument("--dropout", type=float, default=0.0, help="share of subjects dropping out")
    ap.add_argument("--no-r", action="store_true", help="do not run nlme even if installed")
    args = ap.parse_args(argv)
    data = simulate(args.subjects, args.visits, args.dropout)

    with tempfile.TemporaryDirectory(prefix="bm-gls-bench-") as tmpdir:
        tmp = Path(tmpdir)
        path = tmp / "trial.csv"
        data.to_csv(path, index=False)
        print("timing bayesmixed ...", file=sys.stderr, flush=True)
        py = time_python(path, args.runs)
        r, r_version = {}, "nlme not run (Rscript or nlme missing)"
        if args.no_r:
            r_version = "nlme not run (--no-r)"
        elif have_nlme():
            print("timing nlme::gls ...", file=sys.stderr, flush=True)
            r, r_version = time_nlme(path, args.r_runs or args.runs, tmp)

    def fmt(s):
        return "–" if s is None else (f"{s * 1e3:,.0f} ms" if s < 10 else f"{s:,.1f} s")

    ok = py["total"] < TARGET_SECONDS
    ratio = r["total"] / py["total"] if r else None
    cpu_ratio = r["cpu"] / py["cpu"] if r else None
    agree = "–"
    if r:
        diff = abs(py["logLik"] - r["logLik"])
        agree = "yes" if diff <= TOL and py["npar"] == r["npar"] else f"NO (|Δ| = {diff:.1e})"
        ok &= min(ratio, cpu_ratio) >= TARGET_RATIO and agree == "yes"
    n_pat = data.groupby("id")["visit"].agg(tuple).nunique()
    case = (
        f"UN, {args.subjects:,} subjects × {args.visits} visits ({len(data):,} rows, "
        f"{n_pat} visit pattern{'s' if n_pat > 1 else ''})"
    )
    cell = {
        "ours": fmt(py["total"]),
        "cpu": fmt(py["cpu"]),
        "nlme": f"{fmt(r['total'])} ({fmt(r['cpu'])} CPU)" if r else "–",
        "ratio": f"{ratio:.1f}× ({cpu_ratio:.1f}× CPU)" if r else "–",
        "ll": f"{py['logLik']:.4f} / {r['logLik']:.4f}" if r else f"{py['logLik']:.4f} / –",
        "runs": f"{args.runs} / {len(r['all'])}" if r else f"{args.runs} / –",
    }
    lines = [
        "| case | runs ours / nlme | bayesmixed (build + REML fit) | CPU | first run "
        "| nlme::gls | nlme / ours | npar | REML logLik ours / nlme | agree |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
        f"| {case} | {cell['runs']} | {cell['ours']} | {cell['cpu']} | {fmt(py['first'])} "
        f"| {cell['nlme']} | {cell['ratio']} | {py['npar']} | {cell['ll']} | {agree} |",
    ]
    flags = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(["python benchmarks/gls_speed.py", *flags])
    notes = [
        "",
        f"Command: `{command}` ({time.strftime('%Y-%m-%d')})  ",
        f"Machine: {machine_info()}  ",
        f"Peer: {r_version}  ",
        f"Runs, bayesmixed: {', '.join(f'{t:.3f}' for t in py['all'])} s "
        f"({py['evaluations']} criterion evaluations in the last run)"
        + (f"; nlme: {', '.join(f'{t:.3f}' for t in r['all'])} s  " if r else "  "),
        "Wall times are medians of the runs; CPU is the process CPU time (all threads), "
        "less sensitive than wall time to a busy machine.  ",
        f"Targets: under {TARGET_SECONDS:g} s and at least {TARGET_RATIO:g}× faster than nlme — "
        + ("met." if ok else "NOT met."),
    ]
    text = "\n".join(lines + notes) + "\n"
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"written to {OUT.relative_to(HERE.parent)}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
