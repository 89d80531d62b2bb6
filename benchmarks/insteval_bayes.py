"""Bayesian crossed random effects at scale: lme4's InstEval, bayesmixed against bambi and brms.

Run from the repository root::

    .venv/bin/python benchmarks/insteval_bayes.py                        # full data, peers
    .venv/bin/python benchmarks/insteval_bayes.py --rows 5000 --no-peers   # while developing
    .venv/bin/python benchmarks/insteval_bayes.py --quick                  # 1 run, no cold run

The model is ``y ~ service + (1 | s) + (1 | d) + (1 | dept)`` on InstEval (73,421 ratings;
2,972 students s crossed with 1,128 lecturers d, nested in 14 departments). The data are
exported from R's lme4 at run time (``data(InstEval)``) into a temporary directory and never
committed; s, d, dept and service are categorical (strings), y numeric. ``--rows N`` takes the
first N rows.

What is measured, every run in a fresh subprocess (so that its peak memory is its own):

* bayesmixed, default settings (sampler nutpie, parameterization "auto"): the wall time of
  ``MixedModel(formula, data)`` through ``.sample(draws=1000, tune=1000, chains=2)``
  returning the BayesFit (post-sampling checks included). Reported: the median of ``--runs``
  runs after one discarded short run that fills the compile caches (PyTensor, numba), and the
  cold first run (empty PyTensor and numba caches; also its whole-process time).
* per run: the minimum rank-normalized bulk ESS (``az.ess(..., method="bulk")``) over the
  fixed effects, the three SDs and σ; divergences; the largest |posterior mean − REML
  estimate| / posterior SD over the same parameters (REML: ``MixedModel(...).fit_reml()`` on
  the same rows); min ESS / wall; peak RSS (``VmHWM``); the parameterization that was chosen;
  and the CPU use of each thread (``benchmarks/_cpu.py``): nutpie samples each chain in a
  worker thread, so two chains in parallel show as two threads near 100 %.
* peers on the first ``--peer-rows`` rows (default 2,000 and 5,000), bayesmixed on the same
  rows in the same run for the ESS/s ratio: bambi (``bmb.Model(...).fit(draws=1000,
  tune=1000, chains=2, cores=2)``, PyMC NUTS in two processes; its default priors) and brms
  (rstan, ``cores = 2``; compiled once with ``brm(..., chains = 0)``, then
  ``update(..., newdata, recompile = FALSE)``), if installed.
* lme4's REML fit of the full data (``system.time(lmer(...))``, one run) for context.

Targets (issue, full data only): wall ≤ 120 s, min bulk ESS ≥ 400, no divergences, posterior
means within 0.5 posterior SD of REML, peak RSS < 4 GB, the two chains in parallel. Results go
to stdout and ``benchmarks/out/insteval_bayes.md`` (every run's numbers in ``.json`` beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _cpu import thread_cpu  # noqa: E402

OUT = HERE / "out" / "insteval_bayes.md"
FORMULA = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"
GROUPS = ("s", "d", "dept")
PARAMS = ["(Intercept)", "service1", "sd__s", "sd__d", "sd__dept", "sigma"]
N_FULL = 73421
DRAWS, TUNE, CHAINS = 1000, 1000, 2
WARMUP_DRAWS = 50  # the discarded run that compiles and caches
TARGET_WALL, TARGET_ESS, TARGET_Z, TARGET_RSS_GB = 120.0, 400.0, 0.5, 4.0
# two chains run in parallel when the two busiest worker threads were active over the same
# span and together used at least this many cores during sampling (one core: they took turns,
# e.g. for the GIL)
PARALLEL_CORES = 1.5


# --------------------------------------------------------------------------- data
def export_insteval(tmp: Path) -> pd.DataFrame:
    """InstEval from R's lme4, written to ``tmp`` and read back with categorical columns."""
    csv = tmp / "InstEval.csv"
    code = (
        "suppressPackageStartupMessages(library(lme4)); data(InstEval); "
        f"write.csv(InstEval[, c('s', 'd', 'dept', 'service', 'y')], '{csv}', row.names = FALSE)"
    )
    subprocess.run(["Rscript", "-e", code], check=True, capture_output=True)
    cols = {"s": str, "d": str, "dept": str, "service": str, "y": float}
    return pd.read_csv(csv, dtype=cols)


# --------------------------------------------------------------------------- one run (child)
def _bayesmixed_params(fit) -> dict:
    post = fit.idata.posterior
    out = {str(n): post["beta"].values[:, :, j] for j, n in enumerate(post["fixed"].values)}
    for g in GROUPS:
        out[f"sd__{g}"] = post[f"sd_{g}"].values[:, :, 0]
    out["sigma"] = post["sigma"].values
    return out


def _bambi_params(idata) -> dict:
    post = idata.posterior
    svc = post["service"]
    out = {"(Intercept)": post["Intercept"].values}
    out["service1"] = svc.values[..., 0] if svc.ndim == 3 else svc.values
    for g in GROUPS:
        out[f"sd__{g}"] = post[f"1|{g}_sigma"].values
    out["sigma"] = post["sigma"].values
    return out


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(spec: dict) -> dict:
    """One run in this (fresh) process; what the parent reads back as JSON."""
    import resource
    import warnings

    import arviz as az
    import xarray as xr

    warnings.simplefilter("ignore")
    data = pd.read_pickle(spec["pkl"]).iloc[: spec["rows"]].reset_index(drop=True)
    draws, tune = spec["draws"], spec["tune"]
    if spec["engine"] == "bayesmixed":
        import bayesmixed as bm

        with thread_cpu() as cpu:
            t0 = time.perf_counter()
            fit = bm.MixedModel(FORMULA, data).sample(
                draws=draws, tune=tune, chains=CHAINS, random_seed=spec["seed"], progressbar=False
            )
            wall = time.perf_counter() - t0
        idata, params = fit.idata, _bayesmixed_params(fit)
        extra = {
            "parameterization": str(fit.parameterization),
            "sampling_s": float(fit.sampling_seconds),
        }
    else:
        import bambi as bmb

        with thread_cpu() as cpu:
            t0 = time.perf_counter()
            idata = bmb.Model(FORMULA.replace(" | ", "|"), data).fit(
                draws=draws,
                tune=tune,
                chains=CHAINS,
                cores=2,
                random_seed=spec["seed"],
                progressbar=False,
            )
            wall = time.perf_counter() - t0
        params = _bambi_params(idata)
        extra = {}
    ds = xr.Dataset({k: (("chain", "draw"), np.asarray(v)) for k, v in params.items()})
    ess = az.ess(ds, method="bulk")
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall": wall,
        "ess": {k: float(ess[k]) for k in params},
        "means": {k: float(np.mean(v)) for k, v in params.items()},
        "sds": {k: float(np.std(v, ddof=1)) for k, v in params.items()},
        "divergences": int(idata.sample_stats["diverging"].values.sum()),
        "rss_mb": _peak_rss_mb(),
        "children_rss_mb": kids.ru_maxrss / 1024,  # bambi's chain processes (largest)
        "children_cpu": kids.ru_utime + kids.ru_stime,
        "cpu": cpu.as_dict(),
        **extra,
    }


def run_child(engine: str, pkl: Path, rows: int, draws: int, seed: int, cold: bool, timeout):
    """One run in a new interpreter (``cold``: empty PyTensor and numba caches)."""
    spec = {"engine": engine, "pkl": str(pkl), "rows": rows, "seed": seed}
    spec.update(draws=draws, tune=draws if draws < DRAWS else TUNE)
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="insteval-cold-") as cache:
        if cold:
            flags = env.get("PYTENSOR_FLAGS", "")
            env["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, f"compiledir={cache}/pt") if f)
            env["NUMBA_CACHE_DIR"] = f"{cache}/numba"
        t0 = time.perf_counter()
        try:
            res = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(spec)],
                capture_output=True,
                text=True,
                env=env,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            print(f"  {engine} on {rows} rows: timed out after {timeout} s", file=sys.stderr)
            return None
        total = time.perf_counter() - t0
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")]
    if res.returncode != 0 or not lines:
        print(f"  {engine} on {rows} rows failed:\n{res.stderr[-3000:]}", file=sys.stderr)
        return None
    out = json.loads(lines[-1][len("RESULT ") :])
    out["process"] = total
    return out


# --------------------------------------------------------------------------- R
_R_LME4 = r"""
suppressPackageStartupMessages(library(lme4)); data(InstEval)
f <- y ~ service + (1 | s) + (1 | d) + (1 | dept)
t <- system.time(m <- lmer(f, InstEval, REML = TRUE))
v <- as.data.frame(VarCorr(m))
cat(sprintf("lme4\t%s\t%.3f\t%.6f\t%.6f\t%s\n", packageVersion("lme4"), t[["elapsed"]],
            fixef(m)[1], fixef(m)[2], paste(sprintf("%s=%.6f", v$grp, v$sdcor), collapse = ";")))
"""

_R_BRMS = r"""
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c("character", "character", "character", "character",
                                      "numeric"))
for (v in c("s", "d", "dept", "service")) d[[v]] <- factor(d[[v]])
rows <- as.integer(strsplit(args[2], ",")[[1]])
suppressPackageStartupMessages(library(brms))
cat(sprintf("version\tbrms %s, rstan %s\n", packageVersion("brms"), packageVersion("rstan")))
f <- y ~ service + (1 | s) + (1 | d) + (1 | dept)
nm <- c(b_Intercept = "(Intercept)", b_service1 = "service1", sd_s__Intercept = "sd__s",
        sd_d__Intercept = "sd__d", sd_dept__Intercept = "sd__dept", sigma = "sigma")
tc <- system.time(fit0 <- brm(f, data = d[seq_len(rows[1]), ], chains = 0, refresh = 0,
                              silent = 2))
cat(sprintf("compile\t%.3f\n", tc[["elapsed"]]))
for (n in rows) {
  tw <- system.time(fit <- update(fit0, newdata = d[seq_len(n), ], chains = 2, iter = 2000,
                                  warmup = 1000, cores = 2, seed = 1, recompile = FALSE,
                                  refresh = 0, silent = 2))
  a <- posterior::as_draws_array(fit)
  cells <- vapply(names(nm), function(v) {
    x <- a[, , v][, , 1]
    sprintf("%s=%.8g:%.6g:%.6g", nm[[v]], mean(x), sd(x), posterior::ess_bulk(x))
  }, "")
  cat(sprintf("run\t%d\t%.3f\t%d\t%s\n", n, tw[["elapsed"]], rstan::get_num_divergent(fit$fit),
              paste(cells, collapse = ";")))
}
"""


def run_lme4() -> dict | None:
    res = subprocess.run(["Rscript", "-e", _R_LME4], capture_output=True, text=True)
    for line in res.stdout.splitlines():
        p = line.split("\t")
        if p[0] == "lme4":
            sds = dict(kv.split("=") for kv in p[5].split(";"))
            return {"version": p[1], "wall": float(p[2]), "est": [p[3], p[4], sds]}
    print(f"  lme4 failed:\n{res.stderr[-2000:]}", file=sys.stderr)
    return None


def brms_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    q = "quit(status = !all(sapply(c('brms', 'rstan', 'posterior'), requireNamespace, quietly = TRUE)))"
    return subprocess.run(["Rscript", "-e", q], capture_output=True).returncode == 0


def run_brms(csv: Path, rows: list[int], tmp: Path, timeout) -> tuple[dict, str]:
    """({rows: run dict}, note) from one Rscript process."""
    script = tmp / "brms.R"
    script.write_text(_R_BRMS)
    try:
        res = subprocess.run(
            ["Rscript", str(script), str(csv), ",".join(map(str, rows))],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        res = e  # keep what finished
        res.stdout = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else e.stdout or ""
    runs, note = {}, "brms"
    for line in (res.stdout or "").splitlines():
        p = line.split("\t")
        if p[0] == "version":
            note = p[1]
        elif p[0] == "compile":
            note += f"; compile (`brm(..., chains = 0)`) {float(p[1]):.0f} s"
        elif p[0] == "run":
            ess, means, sds = {}, {}, {}
            for cell in p[4].split(";"):
                k, vals = cell.split("=")
                means[k], sds[k], ess[k] = (float(x) for x in vals.split(":"))
            runs[int(p[1])] = {
                "wall": float(p[2]),
                "divergences": int(p[3]),
                "ess": ess,
                "means": means,
                "sds": sds,
            }
    if getattr(res, "returncode", 1) != 0:
        print(f"  brms: {str(res.stderr)[-2000:]}", file=sys.stderr)
    return runs, note


# --------------------------------------------------------------------------- summaries
def reml_estimates(data: pd.DataFrame) -> dict:
    """bayesmixed's REML estimates under the names of ``PARAMS``."""
    import warnings

    import bayesmixed as bm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        td = bm.MixedModel(FORMULA, data).fit_reml().tidy()
    out = {}
    for _, r in td.iterrows():
        if r["effect"] == "fixed":
            out[r["term"]] = r["estimate"]
        elif r["group"] == "Residual":
            out["sigma"] = r["estimate"]
        else:
            out[f"sd__{r['group']}"] = r["estimate"]
    return out


def largest_z(run: dict, reml: dict) -> tuple[float, str]:
    """Largest |posterior mean − REML| / posterior SD over ``PARAMS``, and where."""
    z = {p: abs(run["means"][p] - reml[p]) / run["sds"][p] for p in PARAMS}
    worst = max(z, key=z.get)
    return z[worst], worst


def min_ess(run: dict) -> float:
    return min(run["ess"][p] for p in PARAMS)


def chain_cores(run: dict) -> float:
    """CPU seconds of the two busiest worker threads over the time inside the sampler: the
    cores the chains used together (bayesmixed runs; 0 with fewer than two workers)."""
    cpu = run.get("cpu") or {}
    workers = sorted((t["cpu"] for t in cpu.get("threads", []) if not t["main"]), reverse=True)
    inner = run.get("sampling_s") or cpu.get("wall") or 1.0
    return sum(workers[:2]) / inner if len(workers) >= 2 else 0.0


def chains_parallel(run: dict) -> bool:
    """The two chains' threads active over the same span, using ≥ ``PARALLEL_CORES`` cores."""
    cpu = run.get("cpu") or {}
    return cpu.get("overlap", 0.0) >= 0.8 and chain_cores(run) >= PARALLEL_CORES


def fmt_s(s: float | None) -> str:
    if s is None:
        return "–"
    return f"{s:.1f} s" if s < 100 else f"{s:,.0f} s"


def row(label: str, runs: list[dict], reml: dict, cold: dict | None = None, base=None) -> dict:
    """Median over ``runs`` of the table's columns."""
    walls = [r["wall"] for r in runs]
    ess_s = statistics.median(min_ess(r) / r["wall"] for r in runs)
    z, where = max(largest_z(r, reml) for r in runs)
    last = runs[-1]
    cpu = last.get("cpu") or {}
    threads = cpu.get("named", "–")
    if "sampling_s" in last and cpu:
        threads += f"; chains {chain_cores(last):.2f} cores while sampling"
        workers = sorted((t for t in cpu["threads"] if not t["main"]), key=lambda t: -t["cpu"])[:2]
        if len(workers) == 2 and last["sampling_s"] > 0:
            span = 2 * last["sampling_s"]
            waited = sum(t.get("wait", 0.0) for t in workers) / span
            # neither on a CPU nor waiting for one: sleeping (a lock such as the GIL, I/O)
            blocked = max(0.0, 1.0 - waited - sum(t["cpu"] for t in workers) / span)
            threads += f", waiting for a CPU {waited:.0%} of it, blocked {blocked:.0%}"
    if last.get("children_cpu"):
        threads += f"; chain processes {last['children_cpu'] / last['wall']:.0%} of the wall"
    rss = last["rss_mb"] / 1024
    if last.get("children_rss_mb", 0) > 1:
        rss_txt = f"{rss:.2f} GB (+ {last['children_rss_mb'] / 1024:.2f} GB per chain process)"
    else:
        rss_txt = f"{max(r['rss_mb'] for r in runs) / 1024:.2f} GB"
    return {
        "label": label,
        "n": len(runs),
        "wall": statistics.median(walls),
        "walls": walls,
        "sampling": statistics.median(r["sampling_s"] for r in runs)
        if "sampling_s" in last
        else None,
        "cold": cold,
        "ess": statistics.median(min_ess(r) for r in runs),
        "ess_min": min(min_ess(r) for r in runs),
        "ess_s": ess_s,
        "ratio": base / ess_s if base else None,
        "div": sum(r["divergences"] for r in runs),
        "z": z,
        "z_where": where,
        "rss_gb": max(r["rss_mb"] for r in runs) / 1024,
        "rss_txt": rss_txt,
        "threads": threads,
        "parallel": all(chains_parallel(r) for r in runs) if "sampling_s" in last else None,
        "param": last.get("parameterization", "–"),
        "runs": runs,
    }


TABLE_HEAD = [
    "| rows | engine | runs | wall (median) | cold first run: model → fit (process) | "
    "min bulk ESS | ESS/s | bayesmixed ESS/s ÷ this | divergences | max abs(mean − REML)/SD | "
    "peak RSS | CPU per thread (last run) | parameterization |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
]


def table_line(rows: int, r: dict) -> str:
    wall = fmt_s(r["wall"])
    if r["sampling"] is not None:
        wall += f" ({fmt_s(r['sampling'])} sampling)"
    cold = r["cold"]
    cold_txt = f"{fmt_s(cold['wall'])} ({fmt_s(cold['process'])})" if cold else "–"
    ratio = f"{r['ratio']:.1f}×" if r["ratio"] else "–"
    return (
        f"| {rows:,} | {r['label']} | {r['n']} | {wall} | {cold_txt} | {r['ess']:,.0f} | "
        f"{r['ess_s']:,.1f} | {ratio} | {r['div']} | {r['z']:.2f} ({r['z_where']}) | "
        f"{r['rss_txt']} | {r['threads']} | {r['param']} |"
    )


def versions() -> str:
    out = []
    for pkg in ("bayesmixed", "nutpie", "pymc", "pytensor", "arviz", "bambi", "numba"):
        try:
            out.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(out)


def _installed(pkg: str) -> bool:
    try:
        metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return False
    return True


# --------------------------------------------------------------------------- main
def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


_WARMED: set = set()  # (engine, rows) whose compile caches are filled


def _runs(engine, pkl, rows, n, timeout, label) -> list[dict]:
    if (engine, rows) not in _WARMED:
        _progress(f"warm-up: {label} on {rows:,} rows ({WARMUP_DRAWS} draws)")
        run_child(engine, pkl, rows, WARMUP_DRAWS, 99, False, timeout)
        _WARMED.add((engine, rows))
    out = []
    for r in range(n):
        run = run_child(engine, pkl, rows, DRAWS, r + 1, False, timeout)
        if run is None:
            continue
        out.append(run)
        _progress(
            f"{label} on {rows:,} rows, run {r + 1}: {run['wall']:.1f} s, min ESS "
            f"{min_ess(run):.0f}, div {run['divergences']}, RSS {run['rss_mb']:.0f} MB, "
            f"{(run.get('cpu') or {}).get('describe', '')}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=None, help="first N rows (default: all)")
    ap.add_argument("--runs", type=int, default=None, help="timed runs (default 3)")
    ap.add_argument("--quick", action="store_true", help="1 run, no cold run, peers on 2,000 rows")
    ap.add_argument("--no-peers", action="store_true", help="no bambi, brms or lme4")
    ap.add_argument("--no-brms", action="store_true", help="peers without brms")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold first run")
    ap.add_argument("--peer-rows", default=None, help="comma-separated (default 2000,5000)")
    ap.add_argument("--peer-runs", type=int, default=1, help="timed runs per engine on a subset")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run (and for brms)")
    ap.add_argument("--out", type=Path, default=OUT, help=f"markdown file (default {OUT.name})")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(child(json.loads(args.child))), flush=True)
        return 0
    from reml_speed import machine_info

    runs = args.runs or (1 if args.quick else 3)
    peer_rows = [
        int(x) for x in (args.peer_rows or ("2000" if args.quick else "2000,5000")).split(",")
    ]
    cold_run = not (args.no_cold or args.quick)
    load0 = os.getloadavg()
    results: dict = {}  # (rows, engine) → row dict
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="insteval-bench-") as tmpdir:
        tmp = Path(tmpdir)
        _progress("exporting InstEval from R ...")
        full = export_insteval(tmp)
        rows = min(args.rows or len(full), len(full))
        pkl, csv = tmp / "insteval.pkl", tmp / "insteval.csv"
        full.to_pickle(pkl)
        full.to_csv(csv, index=False)
        reml = {n: reml_estimates(full.iloc[:n]) for n in {rows, N_FULL, *peer_rows}}

        cold = None
        if cold_run:
            _progress(f"cold first run: bayesmixed on {rows:,} rows")
            cold = run_child("bayesmixed", pkl, rows, DRAWS, 1, True, args.timeout)
        main_runs = _runs("bayesmixed", pkl, rows, runs, args.timeout, "bayesmixed")
        if main_runs:
            results[(rows, "main")] = row(
                "**bayesmixed** (nutpie, auto)", main_runs, reml[rows], cold
            )

        lme4 = brms_runs = None
        if not args.no_peers:
            have_bambi = _installed("bambi")
            if not have_bambi:
                notes.append("bambi is not installed: skipped.")
            for n in peer_rows:
                # the main case on the same rows is the comparison already
                bm_runs = main_runs if n == rows else []
                bm_runs = bm_runs or _runs(
                    "bayesmixed", pkl, n, args.peer_runs, args.timeout, "bayesmixed"
                )
                if not bm_runs:
                    continue
                base = row("**bayesmixed** (nutpie, auto)", bm_runs, reml[n])
                results[(n, "bm")] = base
                if have_bambi:
                    b_runs = _runs("bambi", pkl, n, args.peer_runs, args.timeout, "bambi")
                    if b_runs:
                        results[(n, "bambi")] = row(
                            "bambi 2 chains, `cores=2`", b_runs, reml[n], base=base["ess_s"]
                        )
            if args.no_brms:
                notes.append("brms: not run (--no-brms).")
            elif brms_available():
                _progress(f"brms on {peer_rows} rows (compile first) ...")
                brms_runs, note = run_brms(csv, peer_rows, tmp, args.timeout)
                notes.append(f"brms: {note}.")
                for n, r in brms_runs.items():
                    r.update(rss_mb=float("nan"))
                    if (n, "bm") in results:
                        results[(n, "brms")] = row(
                            "brms (rstan) `cores = 2`",
                            [r],
                            reml[n],
                            base=results[(n, "bm")]["ess_s"],
                        )
                        results[(n, "brms")]["rss_txt"] = "–"
                        results[(n, "brms")]["threads"] = "–"
            else:
                notes.append(
                    "brms: not installed (`apt-get install -y r-cran-brms` and "
                    "`ln -s /usr/include /usr/lib/R/site-library/BH/include`): skipped."
                )
            _progress("lme4 REML on the full data ...")
            lme4 = run_lme4()

    flags = sys.argv[1:] if argv is None else list(argv)
    command = " ".join([".venv/bin/python benchmarks/insteval_bayes.py", *flags])
    text, ok = report(results, rows, peer_rows, reml, lme4, notes, command, load0, machine_info())
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    # every run's numbers (per-parameter ESS, means, SDs, threads) for a closer look
    raw = {f"{n} rows {e}": r for (n, e), r in results.items()}
    args.out.with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str))
    _progress(f"written to {args.out}")
    return 0 if ok else 1


def report(
    results, rows, peer_rows, reml, lme4, notes, command, load0, machine
) -> tuple[str, bool]:
    lines = [f"### InstEval, `{FORMULA}`: bayesmixed's default sampler", ""]
    lines += TABLE_HEAD
    main = results.get((rows, "main"))
    if main:
        lines.append(table_line(rows, main))
    lines.append("")
    ok = True
    if main and rows == N_FULL:
        checks = [
            (f"wall {fmt_s(main['wall'])} ≤ {TARGET_WALL:.0f} s", main["wall"] <= TARGET_WALL),
            (
                f"min bulk ESS {main['ess_min']:,.0f} (smallest over the runs) ≥ {TARGET_ESS:.0f}",
                main["ess_min"] >= TARGET_ESS,
            ),
            (f"{main['div']} divergences", main["div"] == 0),
            (
                f"posterior means within {main['z']:.2f} posterior SD of REML (≤ {TARGET_Z})",
                main["z"] <= TARGET_Z,
            ),
            (
                f"peak RSS {main['rss_gb']:.2f} GB < {TARGET_RSS_GB:.0f} GB",
                main["rss_gb"] < TARGET_RSS_GB,
            ),
            (f"chains in parallel ({main['threads']})", bool(main["parallel"])),
        ]
        ok = all(m for _, m in checks)
        lines += ["Targets (full data):", ""]
        lines += [f"* {what}: **{'met' if m else 'NOT met'}**" for what, m in checks]
        lines.append("")
    elif main:
        lines += [f"(The issue's targets apply to the full data, {N_FULL:,} rows.)", ""]
    peers = [(n, e) for n in peer_rows for e in ("bm", "bambi", "brms") if (n, e) in results]
    if peers:
        lines += ["### Peers on the first rows (bayesmixed on the same rows, same run)", ""]
        lines += TABLE_HEAD
        lines += [table_line(n, results[(n, e)]) for n, e in peers]
        lines += [
            "",
            "bambi and brms use their own default priors, so their distance from REML is for "
            "information; bambi's CPU is in its two chain processes.",
            "",
        ]
    if lme4:
        f0, f1, sds = lme4["est"]
        lines += [
            f"lme4 {lme4['version']} `lmer(..., REML = TRUE)` on the full data: "
            f"{lme4['wall']:.1f} s (one run; γ = {float(f0):.4f}, {float(f1):.4f}; SDs "
            + ", ".join(f"{k} {float(v):.4f}" for k, v in sds.items())
            + "). bayesmixed's REML on the same data: "
            + ", ".join(f"{p} {v:.4f}" for p, v in reml.get(N_FULL, {}).items())
            + ".",
            "",
        ]
    lines += [f"* {n}" for n in notes]
    if notes:
        lines.append("")
    per_run = [
        f"{n:,} rows {e}: " + ", ".join(f"{w:.1f}" for w in results[(n, e)]["walls"]) + " s"
        for n, e in results
    ]
    load1 = os.getloadavg()
    lines += [
        f"Command: `{command}` ({time.strftime('%Y-%m-%d %H:%M')}); {CHAINS} chains × {TUNE} "
        f"tune + {DRAWS} draws.  ",
        f"Machine: {machine}  ",
        "Load average at the start "
        + " ".join(f"{x:.2f}" for x in load0)
        + ", at the end "
        + " ".join(f"{x:.2f}" for x in load1)
        + "  ",
        f"Python: {versions()}  ",
        f"Runs (wall): {'; '.join(per_run)}  ",
        "Wall: `MixedModel(formula, data)` through `.sample(...)` (bambi: `bmb.Model` through "
        "`.fit`; brms: `system.time(update(...))`) in a fresh process after one discarded "
        f"{WARMUP_DRAWS}-draw run that fills the compile caches; in brackets bayesmixed's time "
        "inside the sampler. Cold first run: empty PyTensor and numba caches (in brackets the "
        "whole process). ESS: rank-normalized bulk ESS, minimum over γ, the three SDs and σ "
        "(median over runs); ESS/s: min ESS / wall. max abs(mean − REML)/SD: the largest over "
        "the same parameters and the runs, against bayesmixed's REML on the same rows. CPU per "
        "thread: CPU seconds of each thread above 5 % of the wall (from /proc/self/task), as a "
        "share of the wall; 'chains … cores while sampling': the CPU seconds of the two busiest "
        "worker threads over bayesmixed's time inside the sampler; the chains count as parallel "
        f"when their threads were active over the same span and used ≥ {PARALLEL_CORES} cores "
        "(a busy machine lowers this: see the load average and 'waiting for a CPU', the "
        "threads' run-queue time from /proc/…/schedstat; 'blocked': neither on a CPU nor "
        "waiting for one, e.g. for the GIL). Peak RSS: VmHWM "
        "of the run's process.",
    ]
    return "\n".join(lines) + "\n", ok


if __name__ == "__main__":
    sys.exit(main())
