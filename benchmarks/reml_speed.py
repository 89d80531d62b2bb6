"""REML fitter speed and memory against lme4.

Run from the repository root::

    .venv/bin/python benchmarks/reml_speed.py            # full: 15 runs per small case, 3 large
    .venv/bin/python benchmarks/reml_speed.py --quick    # 5 runs per small case, 1 large

For every case the identical data (a CSV in a temporary directory) is fitted

* by bayesmixed, in this process: wall time from ``MixedModel(...)`` (design build) through
  ``fit_reml()`` (optimizer, polish, convergence check), median of the runs; ``fit.tidy()``
  (Satterthwaite df, computed lazily) is timed on its own;
* by lme4, in one ``Rscript`` process for all cases: ``system.time(lmer(...))`` around the
  ``lmer`` call only (R start-up and ``read.csv`` not included), median of as many runs.

No warm-up run is discarded on either side: the median already ignores one slow first call.
Peak memory is the peak resident set size (Linux VmHWM) of a fresh Python subprocess that
imports bayesmixed, loads the data and fits the model once; the same process's peak just
before ``MixedModel(...)`` is reported as the baseline so the fit's own share is visible, and
``tracemalloc`` gives the peak of the fit's own NumPy/Python allocations.

Targets (issue): no small fit slower than lme4; the 100,000-row crossed fit at least 5×
faster (goal 10×) with peak memory under 2 GB. Results go to stdout and to
``benchmarks/out/reml_speed.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy

import bayesmixed as bm
import bayesmixed.reml.result  # noqa: F401  (import time is not fit time: load lazy modules now)

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "reml_speed.md"
TOL = 1e-4  # required agreement of the REML criterion with lme4 (absolute)


@dataclass
class Case:
    name: str
    formula: str
    data: pd.DataFrame
    factors: tuple[str, ...]  # columns R must read as factors
    large: bool = False


def simulate_crossed(seed: int = 20240611) -> pd.DataFrame:
    """100,000 rows, factor A with 3,000 levels crossed with factor B with 1,000 levels."""
    rng = np.random.default_rng(seed)
    n, ma, mb = 100_000, 3_000, 1_000
    # every level appears at least once, the rest are drawn uniformly (unbalanced counts)
    a = np.concatenate([np.arange(ma), rng.integers(0, ma, n - ma)])
    b = np.concatenate([np.arange(mb), rng.integers(0, mb, n - mb)])
    rng.shuffle(a)
    rng.shuffle(b)
    x1 = rng.normal(size=n)
    x2 = rng.uniform(size=n)
    ua = rng.normal(scale=0.8, size=ma)
    ub = rng.normal(scale=0.5, size=mb)
    y = 1.0 + 0.5 * x1 - 0.3 * x2 + ua[a] + ub[b] + rng.normal(size=n)
    return pd.DataFrame(
        {
            "y": np.round(y, 8),
            "x1": np.round(x1, 8),
            "x2": np.round(x2, 8),
            "A": [f"a{i:04d}" for i in a],
            "B": [f"b{i:04d}" for i in b],
        }
    )


def make_cases(include_large: bool) -> list[Case]:
    sleep = bm.datasets.load("sleepstudy")
    cases = [
        Case(
            "sleepstudy (Days | Subject)", "Reaction ~ Days + (Days | Subject)", sleep, ("Subject",)
        ),
        Case(
            "sleepstudy (Days || Subject)",
            "Reaction ~ Days + (Days || Subject)",
            sleep,
            ("Subject",),
        ),
        Case(
            "Penicillin (1 | plate) + (1 | sample)",
            "diameter ~ 1 + (1 | plate) + (1 | sample)",
            bm.datasets.load("Penicillin"),
            ("plate", "sample"),
        ),
        Case(
            "Pastes (1 | batch/cask)",
            "strength ~ 1 + (1 | batch/cask)",
            bm.datasets.load("Pastes"),
            ("batch", "cask"),
        ),
    ]
    if include_large:
        cases.append(
            Case(
                "crossed 100k rows, 3000 × 1000 levels",
                "y ~ x1 + x2 + (1 | A) + (1 | B)",
                simulate_crossed(),
                ("A", "B"),
                large=True,
            )
        )
    return cases


# --------------------------------------------------------------------------- bayesmixed
def time_python(case: Case, path: Path, reps: int) -> dict:
    """In-process timings; the CSV is read once, outside the timed region (as in R)."""
    data = pd.read_csv(path, dtype={c: str for c in case.factors})
    build, fit_t, total, tidy_t = [], [], [], []
    fit = None
    for i in range(reps):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            model = bm.MixedModel(case.formula, data)
            t1 = time.perf_counter()
            fit = model.fit_reml()
            t2 = time.perf_counter()
            # the large case's tidy() is timed once: its cost does not vary between runs
            if not case.large or i == 0:
                fit.tidy()
                tidy_t.append(time.perf_counter() - t2)
        build.append(t1 - t0)
        fit_t.append(t2 - t1)
        total.append(t2 - t0)
    return {
        "build": statistics.median(build),
        "fit": statistics.median(fit_t),
        "total": statistics.median(total),
        "first": total[0],
        "tidy": statistics.median(tidy_t),
        "criterion": float(fit.criterion),
        "evaluations": int(fit.deviance_fn.evaluations),
    }


_MEM_CHILD = r"""
import json, resource, sys, tracemalloc, warnings
import pandas as pd
import bayesmixed as bm
import bayesmixed.reml.result


def peak_rss_mb():
    # VmHWM belongs to this process image; ru_maxrss would also count the parent's RSS at
    # fork time, which Linux carries across exec.
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


path, formula = sys.argv[1], sys.argv[2]
data = pd.read_pickle(path)
base = peak_rss_mb()
tracemalloc.start()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    fit = bm.MixedModel(formula, data).fit_reml()
    fit.criterion
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({"base_mb": base, "peak_mb": peak_rss_mb(), "traced_mb": traced / 2**20}))
"""


def peak_memory(case: Case, path: Path) -> dict:
    """Memory of one fit in a fresh interpreter: peak RSS of the whole process (Linux VmHWM,
    else ``ru_maxrss``), its value before the fit, and tracemalloc's peak of the fit's own
    Python and NumPy allocations (BLAS/LAPACK workspace is not traced; RSS covers it).

    The child loads the data (as read from the CSV) from a pickle: parsing the CSV would
    set a high-water mark of its own that hides the fit's.
    """
    pkl = path.with_suffix(".pkl")
    pd.read_csv(path, dtype={c: str for c in case.factors}).to_pickle(pkl)
    res = subprocess.run(
        [sys.executable, "-c", _MEM_CHILD, str(pkl), case.formula],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- lme4
_R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
cases <- read.delim(args[1], stringsAsFactors = FALSE)
cat(sprintf("lme4\t%s\t%s\n", as.character(packageVersion("lme4")), R.version.string))
for (i in seq_len(nrow(cases))) {
  facs <- strsplit(cases$factors[i], ",")[[1]]
  cc <- setNames(rep("factor", length(facs)), facs)
  d <- read.csv(cases$path[i], colClasses = cc)
  f <- as.formula(cases$formula[i])
  times <- numeric(cases$reps[i])
  for (r in seq_len(cases$reps[i])) {
    times[r] <- system.time(fit <- lmer(f, data = d, REML = TRUE))[["elapsed"]]
  }
  cat(sprintf("case\t%d\t%.6f\t%.10f\t%s\n", i, median(times), REMLcrit(fit),
              paste(sprintf("%.4f", times), collapse = ",")))
}
"""


def have_lme4() -> bool:
    if shutil.which("Rscript") is None:
        return False
    res = subprocess.run(
        ["Rscript", "-e", "quit(status = !requireNamespace('lme4', quietly = TRUE))"],
        capture_output=True,
    )
    return res.returncode == 0


def time_lme4(cases: list[Case], paths: list[Path], reps: list[int], tmp: Path):
    """One Rscript process for all cases; returns (per-case results, version string)."""
    script = tmp / "bench.R"
    script.write_text(_R_SCRIPT)
    table = tmp / "cases.tsv"
    pd.DataFrame(
        {
            "path": [str(p) for p in paths],
            "formula": [c.formula for c in cases],
            "factors": [",".join(c.factors) for c in cases],
            "reps": reps,
        }
    ).to_csv(table, sep="\t", index=False)
    res = subprocess.run(
        ["Rscript", str(script), str(table)], capture_output=True, text=True, check=True
    )
    out, version = {}, "lme4"
    for line in res.stdout.splitlines():
        parts = line.split("\t")
        if parts[0] == "lme4":
            version = f"lme4 {parts[1]}, {parts[2]}"
        elif parts[0] == "case":
            out[int(parts[1]) - 1] = {"time": float(parts[2]), "criterion": float(parts[3])}
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
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{i['internal_api']} {i.get('version') or ''} ({i['num_threads']} threads)".strip()
            for i in threadpool_info()
            if i["user_api"] == "blas"
        )
    except ImportError:
        blas = "unknown"
    try:
        load = "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "load average unknown"
    return (
        f"{cpu}; {os.cpu_count()} CPUs ({load} at the end); "
        f"{platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"pandas {pd.__version__}; BLAS: {blas}"
    )


def fmt_ms(s: float | None) -> str:
    if s is None:
        return "–"
    return f"{s * 1e3:,.1f} ms" if s < 10 else f"{s:,.2f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs (5 small, 1 large)")
    ap.add_argument("--no-large", action="store_true", help="skip the 100,000-row crossed case")
    ap.add_argument("--no-r", action="store_true", help="do not run lme4 even if installed")
    args = ap.parse_args(argv)
    small_reps, large_reps = (5, 1) if args.quick else (15, 3)
    cases = make_cases(include_large=not args.no_large)
    reps = [large_reps if c.large else small_reps for c in cases]

    with tempfile.TemporaryDirectory(prefix="bm-bench-") as tmpdir:
        tmp = Path(tmpdir)
        paths = []
        for i, c in enumerate(cases):
            p = tmp / f"case{i}.csv"
            c.data.to_csv(p, index=False)
            paths.append(p)

        use_r = not args.no_r and have_lme4()
        r_results, r_version = ({}, "lme4 not run (Rscript or lme4 missing)")
        if args.no_r:
            r_version = "lme4 not run (--no-r)"
        if use_r:
            print("timing lme4 ...", file=sys.stderr, flush=True)
            r_results, r_version = time_lme4(cases, paths, reps, tmp)

        rows = []
        for c, p, r in zip(cases, paths, reps, strict=True):
            print(f"timing bayesmixed: {c.name} ...", file=sys.stderr, flush=True)
            py = time_python(c, p, r)
            mem = peak_memory(c, p)
            rows.append((c, r, py, mem))

    lines = [
        "| case | n | runs | bayesmixed build + fit | (build / fit) | lme4 `lmer` | lme4 / ours "
        "| first run | `tidy()` | peak RSS (before fit) | fit allocations "
        "| REML criterion ours / lme4 | agree |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    ok_all = True
    for i, (c, r, py, mem) in enumerate(rows):
        rr = r_results.get(i)
        ratio = f"{rr['time'] / py['total']:.1f}×" if rr else "–"
        if rr:
            diff = abs(py["criterion"] - rr["criterion"])
            agree = "yes" if diff <= TOL else f"NO ({diff:.1e})"
            ok_all &= diff <= TOL
            crit = f"{py['criterion']:.6f} / {rr['criterion']:.6f}"
        else:
            agree, crit = "–", f"{py['criterion']:.6f} / –"
        lines.append(
            f"| {c.name.replace('|', '&#124;')} | {len(c.data):,} | {r} | {fmt_ms(py['total'])} "
            f"| {fmt_ms(py['build'])} / {fmt_ms(py['fit'])} | {fmt_ms(rr['time'] if rr else None)} "
            f"| {ratio} | {fmt_ms(py['first'])} | {fmt_ms(py['tidy'])} "
            f"| {mem['peak_mb']:,.0f} MB ({mem['base_mb']:,.0f} MB) | {mem['traced_mb']:,.1f} MB "
            f"| {crit} | {agree} |"
        )
    flags = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(["python benchmarks/reml_speed.py", *flags])
    notes = [
        "",
        f"Command: `{command}` ({time.strftime('%Y-%m-%d')})  ",
        f"Machine: {machine_info()}  ",
        f"Peer: {r_version}  ",
        "Times are medians over the runs. bayesmixed: `MixedModel(formula, data)` + "
        "`fit_reml()` in-process (REML, default settings); lme4: `system.time(lmer(...))` "
        "inside one Rscript process. lme4 / ours > 1 means bayesmixed is faster. "
        "`tidy()` (Satterthwaite df) is timed separately and not included. First run: the "
        "first build + fit of the case in this process (modules imported beforehand). Peak "
        "RSS: high-water mark (VmHWM) of a fresh Python process that loads the data and "
        "fits once, in "
        "brackets its peak before `MixedModel(...)` (interpreter, imports, data); fit "
        "allocations: `tracemalloc` peak during build + fit (NumPy/Python allocations).",
    ]
    text = "\n".join(lines + notes) + "\n"
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"written to {OUT.relative_to(HERE.parent)}", file=sys.stderr)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
