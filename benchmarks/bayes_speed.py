"""Bayesian engine speed against bambi, brms and rstanarm.

Run from the repository root::

    .venv/bin/python benchmarks/bayes_speed.py              # 3 warm runs per engine, cold runs, R
    .venv/bin/python benchmarks/bayes_speed.py --quick      # 1 warm run, fewer engines and cold runs
    .venv/bin/python benchmarks/bayes_speed.py --no-r --repeats 5

Two models on lme4's sleepstudy, every engine with 2 chains × 1000 tuning + 1000 kept draws:

* ``Reaction ~ Days + (Days || Subject)``, which bambi can fit (bambi's ``(Days | Subject)``
  has independent intercept and slope SDs), and
* ``Reaction ~ Days + (Days | Subject)`` with the correlation.

What is timed (wall clock, median of the warm runs):

* bayesmixed: ``MixedModel(formula, data)`` through ``.sample(...)`` returning the BayesFit,
  whose InferenceData is complete (posterior, random effects, log-likelihood, log prior,
  prior draws; the post-sampling checks included). Default engine: ``sampler="nutpie"`` with
  ``parameterization="auto"`` (→ marginal); the other samplers and the non-centred graph are
  secondary rows.
* bambi: ``bmb.Model(...)`` through ``.fit(draws=1000, tune=1000, chains=2)`` with bambi's
  default priors and sampler (PyMC's NUTS, which on a 2-vCPU machine runs the chains one
  after the other); a second row passes ``cores=2``.
* brms and rstanarm, in one ``Rscript`` process after the Python runs: ``system.time`` around
  ``update(<compiled brmsfit>, recompile = FALSE, ...)`` and ``stan_lmer(...)``. brms's
  compilation (``brm(..., chains = 0)``) is timed once on its own.

Each engine has one short discarded run first, so compiled code is in memory and on disk
(the PyTensor compile cache, numba's cache) and modules are imported: the table's times are
warm. Runs of the engines are interleaved so that load on a shared machine hits all alike.
"Cold" is one run in a fresh interpreter with an empty PyTensor compile directory
(``PYTENSOR_FLAGS=compiledir=<tmp>``) and an empty numba cache (``NUMBA_CACHE_DIR=<tmp>``):
the whole process (start, imports, model, sampling) and, in brackets, the model-to-
InferenceData part. "Fresh process" is the same with the caches left warm: what every
later ``python script.py`` pays.

ESS is the rank-normalized bulk ESS (Vehtari et al. 2021; ArviZ in Python,
``posterior::ess_bulk`` in R), minimum over γ (intercept, slope), τ (the two SDs) and σ. The
posterior means of every engine are printed side by side as a sanity check. Results go to
stdout and to ``benchmarks/out/bayes_speed.md``.
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
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

import bayesmixed as bm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _cpu import thread_cpu  # noqa: E402
from reml_speed import machine_info  # noqa: E402

OUT = HERE / "out" / "bayes_speed.md"
DRAWS, TUNE, CHAINS = 1000, 1000, 2
# the short run that compiles and imports everything before the timed runs
WARMUP_DRAWS = 50
PARAMS = ["(Intercept)", "Days", "sd__(Intercept)", "sd__Days", "cor", "sigma"]
ESS_PARAMS = ["(Intercept)", "Days", "sd__(Intercept)", "sd__Days", "sigma"]  # γ, τ, σ
LABELS = {
    "(Intercept)": "γ₀ (Intercept)",
    "Days": "γ₁ Days",
    "sd__(Intercept)": "τ₀ sd (Intercept)",
    "sd__Days": "τ₁ sd Days",
    "cor": "ρ cor",
    "sigma": "σ",
}
# issue targets
TARGET_RATIO_VS_BAMBI = 5.0
TARGET_WALL, TARGET_ESS = 5.0, 1000.0
# posterior means of different engines agree when within this many posterior SDs
AGREE_SD = 0.25


@dataclass
class Case:
    key: str
    name: str
    formula: str
    bambi_formula: str | None  # None: bambi cannot fit this model


CASES = [
    Case(
        "uncorr",
        "sleepstudy (Days || Subject)",
        "Reaction ~ Days + (Days || Subject)",
        "Reaction ~ Days + (Days | Subject)",
    ),
    Case("corr", "sleepstudy (Days | Subject)", "Reaction ~ Days + (Days | Subject)", None),
]


@dataclass
class Engine:
    key: str
    label: str
    kind: str  # "bayesmixed" | "bambi" | "brms" | "rstanarm"
    kwargs: dict = field(default_factory=dict)
    quick: bool = False  # also run with --quick


PY_ENGINES = [
    Engine("bm", "**bayesmixed** (default: nutpie, marginal)", "bayesmixed", {}, quick=True),
    Engine(
        "bm-nc",
        "bayesmixed nutpie, non-centred",
        "bayesmixed",
        {"parameterization": "noncentered"},
    ),
    Engine("bm-pymc", "bayesmixed PyMC NUTS, marginal", "bayesmixed", {"sampler": "pymc"}),
    Engine("bm-numpyro", "bayesmixed NumPyro, marginal", "bayesmixed", {"sampler": "numpyro"}),
    Engine("bambi", "bambi default (PyMC NUTS)", "bambi", {}, quick=True),
    Engine("bambi-2c", "bambi, `cores=2`", "bambi", {"cores": 2}),
]
R_ENGINES = [
    Engine("brms", "brms (rstan), `cores=2`", "brms"),
    Engine("rstanarm", "rstanarm `stan_lmer`, `cores=2`", "rstanarm"),
]


@dataclass
class Run:
    wall: float
    ess: dict  # param → bulk ESS
    means: dict  # param → posterior mean
    sds: dict  # param → posterior SD
    divergences: int
    inner: float | None = None  # bayesmixed: sampler time; R: Stan's own warmup + sampling
    cpu: str | None = None  # bayesmixed: CPU per thread ("threads: 98%, 97%, main 3%")

    @property
    def min_ess(self) -> float:
        return min(self.ess[p] for p in ESS_PARAMS)

    @property
    def ess_per_s(self) -> float:
        return self.min_ess / self.wall


# --------------------------------------------------------------------------- Python engines
def bulk_ess(draws: dict) -> dict:
    import arviz as az
    import xarray as xr

    ds = xr.Dataset({k: (("chain", "draw"), np.asarray(v)) for k, v in draws.items()})
    res = az.ess(ds, method="bulk")
    return {k: float(res[k]) for k in draws}


def bayesmixed_draws(fit) -> dict:
    """(chain, draw) arrays under the names of ``PARAMS`` (one grouping factor)."""
    post = fit.idata.posterior
    out = {name: post["beta"].values[:, :, j] for j, name in enumerate(post["fixed"].values)}
    for var in post.data_vars:
        arr = post[var]
        if var.startswith("sd_"):
            for a, coef in enumerate(arr[arr.dims[-1]].values):
                out[f"sd__{coef}"] = arr.values[:, :, a]
        elif var.startswith("cor_"):
            out["cor"] = arr.values[:, :, 0, 1]
    out["sigma"] = post["sigma"].values
    return out


def bambi_draws(idata) -> dict:
    post = idata.posterior
    names = {
        "(Intercept)": "Intercept",
        "Days": "Days",
        "sd__(Intercept)": "1|Subject_sigma",
        "sd__Days": "Days|Subject_sigma",
        "sigma": "sigma",
    }
    return {ours: post[theirs].values for ours, theirs in names.items()}


def run_python(engine: Engine, case: Case, data: pd.DataFrame, seed: int, draws: int) -> Run:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cpu = None
        if engine.kind == "bayesmixed":
            with thread_cpu() as cpu:
                t0 = time.perf_counter()
                fit = bm.MixedModel(case.formula, data).sample(
                    draws=draws,
                    tune=draws if draws < DRAWS else TUNE,
                    chains=CHAINS,
                    random_seed=seed,
                    progressbar=False,
                    **engine.kwargs,
                )
                wall = time.perf_counter() - t0
            d = bayesmixed_draws(fit)
            div = int(fit.idata.sample_stats["diverging"].values.sum())
            inner = fit.sampling_seconds
        else:
            import bambi as bmb

            t0 = time.perf_counter()
            model = bmb.Model(case.bambi_formula, data)
            idata = model.fit(
                draws=draws,
                tune=draws if draws < DRAWS else TUNE,
                chains=CHAINS,
                random_seed=seed,
                progressbar=False,
                **engine.kwargs,
            )
            wall = time.perf_counter() - t0
            d = bambi_draws(idata)
            div = int(idata.sample_stats["diverging"].values.sum())
            inner = None
    return Run(
        wall=wall,
        ess=bulk_ess(d),
        means={k: float(np.mean(v)) for k, v in d.items()},
        sds={k: float(np.std(v, ddof=1)) for k, v in d.items()},
        divergences=div,
        inner=inner,
        cpu=cpu.describe(names=True) if cpu else None,
    )


_COLD_CHILD = r"""
import json, sys, time, warnings
t0 = time.perf_counter()
kind, formula, kwargs, path = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
warnings.simplefilter("ignore")
if kind == "bambi":
    import bambi as bmb
else:
    import bayesmixed as bm
import pandas as pd
t1 = time.perf_counter()
data = pd.read_pickle(path)
t2 = time.perf_counter()
if kind == "bambi":
    bmb.Model(formula, data).fit(draws=1000, tune=1000, chains=2, random_seed=1,
                                 progressbar=False, **kwargs)
else:
    bm.MixedModel(formula, data).sample(draws=1000, tune=1000, chains=2, random_seed=1,
                                        progressbar=False, **kwargs)
t3 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "model": t3 - t2}))
"""


def run_fresh(engine: Engine, case: Case, pkl: Path, cold: bool) -> dict | None:
    """One run in a new interpreter; ``cold`` empties the PyTensor and numba caches."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="bm-cold-") as tmpdir:
        if cold:
            flags = env.get("PYTENSOR_FLAGS", "")
            env["PYTENSOR_FLAGS"] = ",".join(
                f for f in (flags, f"compiledir={tmpdir}/pytensor") if f
            )
            env["NUMBA_CACHE_DIR"] = f"{tmpdir}/numba"
        formula = case.formula if engine.kind == "bayesmixed" else case.bambi_formula
        t0 = time.perf_counter()
        res = subprocess.run(
            [
                sys.executable,
                "-c",
                _COLD_CHILD,
                engine.kind,
                formula,
                json.dumps(engine.kwargs),
                str(pkl),
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        total = time.perf_counter() - t0
    if res.returncode != 0:
        print(f"  fresh run of {engine.key} failed:\n{res.stderr[-2000:]}", file=sys.stderr)
        return None
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["total"] = total
    return out


# --------------------------------------------------------------------------- R engines
_R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
cases <- read.delim(args[1], stringsAsFactors = FALSE)
d <- read.csv(args[2])
d$Subject <- factor(d$Subject)
reps <- as.integer(args[3])
engines <- strsplit(args[4], ",")[[1]]
ver <- function(p) tryCatch(as.character(packageVersion(p)), error = function(e) "-")
cat(sprintf("versions\t%s\tbrms %s, rstanarm %s, rstan %s, posterior %s\n", R.version.string,
            ver("brms"), ver("rstanarm"), ver("rstan"), ver("posterior")))

# draws: named list of iterations x chains matrices; names as in the Python script
emit <- function(engine, case, run, wall, stanfit, draws) {
  el <- rstan::get_elapsed_time(stanfit)
  stan <- max(rowSums(el))
  div <- rstan::get_num_divergent(stanfit)
  cells <- vapply(names(draws), function(nm) {
    x <- draws[[nm]]
    sprintf("%s=%.8g:%.6g:%.6g", nm, mean(x), sd(x), posterior::ess_bulk(x))
  }, "")
  cat(sprintf("run\t%s\t%s\t%d\t%.4f\t%.4f\t%d\t%s\n", engine, case, run, wall, stan, div,
              paste(cells, collapse = ";")))
}

brms_draws <- function(fit) {
  a <- posterior::as_draws_array(fit)
  nm <- c("b_Intercept" = "(Intercept)", "b_Days" = "Days",
          "sd_Subject__Intercept" = "sd__(Intercept)", "sd_Subject__Days" = "sd__Days",
          "cor_Subject__Intercept__Days" = "cor", "sigma" = "sigma")
  out <- list()
  for (v in names(nm)) if (v %in% posterior::variables(a)) out[[nm[[v]]]] <- a[, , v][, , 1]
  out
}

rstanarm_draws <- function(fit) {
  a <- as.array(fit)  # iterations x chains x parameters
  p <- dimnames(a)[[3]]
  pick <- function(re) a[, , grep(re, p)[1]]
  out <- list("(Intercept)" = a[, , "(Intercept)"], "Days" = a[, , "Days"])
  v0 <- pick("^Sigma\\[.*:\\(Intercept\\),\\(Intercept\\)\\]$")
  v1 <- pick("^Sigma\\[.*:Days,Days\\]$")
  out[["sd__(Intercept)"]] <- sqrt(v0)
  out[["sd__Days"]] <- sqrt(v1)
  if (any(grepl("^Sigma\\[.*:Days,\\(Intercept\\)\\]$", p))) {
    out[["cor"]] <- pick("^Sigma\\[.*:Days,\\(Intercept\\)\\]$") / sqrt(v0 * v1)
  }
  out[["sigma"]] <- a[, , "sigma"]
  out
}

for (i in seq_len(nrow(cases))) {
  f <- as.formula(cases$formula[i])
  key <- cases$key[i]
  if ("brms" %in% engines) {
    tryCatch({
      suppressPackageStartupMessages(library(brms))
      tc <- system.time(fit0 <- brm(f, data = d, chains = 0, refresh = 0, silent = 2))
      cat(sprintf("compile\tbrms\t%s\t%.4f\n", key, tc[["elapsed"]]))
      for (r in seq_len(reps)) {
        tw <- system.time(fit <- update(fit0, chains = 2, iter = 2000, warmup = 1000,
                                        cores = 2, seed = r, recompile = FALSE, refresh = 0,
                                        silent = 2))
        emit("brms", key, r, tw[["elapsed"]], fit$fit, brms_draws(fit))
      }
    }, error = function(e) cat(sprintf("error\tbrms\t%s\t%s\n", key, conditionMessage(e))))
  }
  if ("rstanarm" %in% engines) {
    tryCatch({
      suppressPackageStartupMessages(library(rstanarm))
      # discarded warm-up run: loads the precompiled Stan models and the parallel workers' code
      invisible(capture.output(stan_lmer(f, data = d, chains = 2, iter = 100, cores = 2,
                                         seed = 99, refresh = 0)))
      for (r in seq_len(reps)) {
        tw <- system.time(fit <- stan_lmer(f, data = d, chains = 2, iter = 2000,
                                           warmup = 1000, cores = 2, seed = r, refresh = 0))
        emit("rstanarm", key, r, tw[["elapsed"]], fit$stanfit, rstanarm_draws(fit))
      }
    }, error = function(e) cat(sprintf("error\trstanarm\t%s\t%s\n", key, conditionMessage(e))))
  }
}
"""


def r_engines_available() -> list[str]:
    if shutil.which("Rscript") is None:
        return []
    have = []
    for pkg in ("brms", "rstanarm"):
        res = subprocess.run(
            [
                "Rscript",
                "-e",
                f"quit(status = !(requireNamespace('{pkg}', quietly = TRUE) && "
                "requireNamespace('posterior', quietly = TRUE)))",
            ],
            capture_output=True,
        )
        if res.returncode == 0:
            have.append(pkg)
    return have


def run_r(cases: list[Case], csv: Path, reps: int, engines: list[str], tmp: Path):
    """One Rscript process: returns ({(engine, case): [Run]}, {case: compile s}, versions)."""
    script = tmp / "bayes_bench.R"
    script.write_text(_R_SCRIPT)
    table = tmp / "cases.tsv"
    pd.DataFrame({"key": [c.key for c in cases], "formula": [c.formula for c in cases]}).to_csv(
        table, sep="\t", index=False
    )
    res = subprocess.run(
        ["Rscript", str(script), str(table), str(csv), str(reps), ",".join(engines)],
        capture_output=True,
        text=True,
    )
    runs: dict = {}
    compile_s: dict = {}
    version = "R not run"
    for line in res.stdout.splitlines():
        parts = line.split("\t")
        if parts[0] == "versions":
            version = f"{parts[1]}; {parts[2]}"
        elif parts[0] == "compile":
            compile_s[parts[2]] = float(parts[3])
        elif parts[0] == "run":
            _, eng, key, _r, wall, stan, div, cells = parts
            ess, means, sds = {}, {}, {}
            for cell in cells.split(";"):
                name, vals = cell.split("=")
                m, sd, e = (float(v) for v in vals.split(":"))
                means[name], sds[name], ess[name] = m, sd, e
            runs.setdefault((eng, key), []).append(
                Run(float(wall), ess, means, sds, int(div), inner=float(stan))
            )
        elif parts[0] == "error":
            print(f"  R: {parts[1]} on {parts[2]} failed: {parts[3]}", file=sys.stderr)
    if res.returncode != 0:
        print(f"  Rscript exited with {res.returncode}:\n{res.stderr[-2000:]}", file=sys.stderr)
    return runs, compile_s, version


# --------------------------------------------------------------------------- report
def fmt_s(s: float | None) -> str:
    if s is None:
        return "–"
    return f"{s * 1e3:,.0f} ms" if s < 1 else f"{s:,.2f} s" if s < 100 else f"{s:,.0f} s"


def summarize(runs: list[Run]) -> dict:
    return {
        "wall": statistics.median(r.wall for r in runs),
        "inner": statistics.median(r.inner for r in runs) if runs[0].inner is not None else None,
        "ess": statistics.median(r.min_ess for r in runs),
        "ess_s": statistics.median(r.ess_per_s for r in runs),
        "div": sum(r.divergences for r in runs),
        "n": len(runs),
        "means": {p: float(np.mean([r.means[p] for r in runs])) for p in runs[0].means},
        "sds": {p: float(np.mean([r.sds[p] for r in runs])) for p in runs[0].sds},
        "ess_all": {p: statistics.median(r.ess[p] for r in runs) for p in runs[0].ess},
    }


def versions() -> str:
    out = []
    for pkg in ("pymc", "pytensor", "nutpie", "numpyro", "jax", "bambi", "arviz", "numba"):
        try:
            out.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="1 warm run; only the default engine and bambi; cold runs of those two only",
    )
    ap.add_argument("--repeats", type=int, default=None, help="warm runs per engine (default 3)")
    ap.add_argument("--no-r", action="store_true", help="do not run brms/rstanarm")
    ap.add_argument("--no-cold", action="store_true", help="skip the fresh-process runs")
    args = ap.parse_args(argv)
    reps = args.repeats or (1 if args.quick else 3)
    engines = [e for e in PY_ENGINES if e.quick or not args.quick]
    if not _installed("bambi"):
        engines = [e for e in engines if e.kind != "bambi"]
    data = bm.datasets.load("sleepstudy")

    results: dict = {}  # (engine key, case key) → [Run]
    fresh: dict = {}  # (engine key, case key, cold) → dict
    compile_s: dict = {}
    r_version = "brms/rstanarm not run (--no-r)" if args.no_r else "R, brms or rstanarm missing"
    with tempfile.TemporaryDirectory(prefix="bm-bayes-bench-") as tmpdir:
        tmp = Path(tmpdir)
        csv, pkl = tmp / "sleepstudy.csv", tmp / "sleepstudy.pkl"
        data.to_csv(csv, index=False)
        data.to_pickle(pkl)
        for case in CASES:
            todo = [e for e in engines if e.kind != "bambi" or case.bambi_formula]
            for e in todo:
                print(f"warm-up: {e.key} on {case.key}", file=sys.stderr, flush=True)
                run_python(e, case, data, seed=99, draws=WARMUP_DRAWS)
            for r in range(reps):
                for e in todo:
                    run = run_python(e, case, data, seed=r + 1, draws=DRAWS)
                    results.setdefault((e.key, case.key), []).append(run)
                    print(
                        f"{case.key} {e.key} run {r + 1}: {run.wall:.2f} s, min ESS "
                        f"{run.min_ess:.0f}, {run.ess_per_s:.0f} ESS/s, div {run.divergences} "
                        f"{run.cpu or ''}",
                        file=sys.stderr,
                        flush=True,
                    )
        if not args.no_cold:
            for case in CASES:
                for e in engines:
                    if e.kind == "bambi" and not case.bambi_formula:
                        continue
                    if e.key == "bambi-2c":  # the default bambi row covers bambi's compile
                        continue
                    for cold in (True, False):
                        what = "cold" if cold else "fresh process"
                        print(f"{what}: {e.key} on {case.key}", file=sys.stderr, flush=True)
                        fresh[(e.key, case.key, cold)] = run_fresh(e, case, pkl, cold)
        r_have = [] if args.no_r else r_engines_available()
        if r_have:
            print(f"R: {', '.join(r_have)} ...", file=sys.stderr, flush=True)
            r_runs, compile_s, r_version = run_r(CASES, csv, reps, r_have, tmp)
            results.update({(k[0], k[1]): v for k, v in r_runs.items()})
            engines = engines + [e for e in R_ENGINES if e.key in r_have]

    # REML estimates as a reference column of the means table
    reml = {}
    for case in CASES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            td = bm.MixedModel(case.formula, data).fit_reml().tidy()
        est = dict(zip(td["term"], td["estimate"], strict=True))
        reml[case.key] = {
            "(Intercept)": est["(Intercept)"],
            "Days": est["Days"],
            "sd__(Intercept)": est["sd__(Intercept)"],
            "sd__Days": est["sd__Days"],
            "sigma": est["sd__Observation"],
            **({"cor": est["cor__(Intercept).Days"]} if "cor__(Intercept).Days" in est else {}),
        }

    flags = sys.argv[1:] if argv is None else list(argv)
    command = " ".join([".venv/bin/python benchmarks/bayes_speed.py", *flags])
    text, ok = report(engines, results, fresh, compile_s, reml, reps, command, r_version)
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"written to {OUT.relative_to(HERE.parent)}", file=sys.stderr)
    return 0 if ok else 1


def _installed(pkg: str) -> bool:
    try:
        metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return False
    return True


def report(engines, results, fresh, compile_s, reml, reps, command, r_version):
    """The markdown tables and notes, and whether every target was met."""
    lines = []
    ok_all = True
    checks = []
    for case in CASES:
        rows = [e for e in engines if (e.key, case.key) in results]
        summ = {e.key: summarize(results[(e.key, case.key)]) for e in rows}
        base = summ.get("bm")
        lines += [
            f"#### {case.name}: `{case.formula}`",
            "",
            "| engine | warm wall (median) | min bulk ESS (γ, τ, σ) | ESS/s | bayesmixed ESS/s "
            "÷ this | divergences | cold: whole process (model → idata) | fresh process, "
            "warm caches |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for e in rows:
            s = summ[e.key]
            wall = fmt_s(s["wall"])
            if e.kind == "bayesmixed" and s["inner"] is not None:
                wall += f" ({fmt_s(s['inner'])} sampling)"
            elif e.kind in ("brms", "rstanarm"):
                wall += f" ({fmt_s(s['inner'])} in Stan)"
            ratio = f"{base['ess_s'] / s['ess_s']:.1f}×" if base else "–"
            if e.kind in ("brms",):
                cold = f"compile {fmt_s(compile_s.get(case.key))}"
                warmproc = "–"
            elif e.kind == "rstanarm":
                cold, warmproc = "precompiled", "–"
            else:
                c = fresh.get((e.key, case.key, True))
                w = fresh.get((e.key, case.key, False))
                cold = f"{fmt_s(c['total'])} ({fmt_s(c['model'])})" if c else "–"
                warmproc = f"{fmt_s(w['total'])} ({fmt_s(w['model'])})" if w else "–"
            lines.append(
                f"| {e.label} | {wall} | {s['ess']:,.0f} | {s['ess_s']:,.0f} | {ratio} "
                f"| {s['div']} | {cold} | {warmproc} |"
            )
        cpus = [f"{e.key} {results[(e.key, case.key)][-1].cpu}" for e in rows]
        cpus = [c for c in cpus if not c.endswith(" None")]
        if cpus:
            lines += ["", "CPU per thread of the last run, % of its wall: " + "; ".join(cpus) + "."]
        lines.append("")
        # posterior means side by side (engines' priors differ: bambi, brms, rstanarm use
        # their own defaults), with the REML estimates for reference
        cols = rows
        params = [p for p in PARAMS if base and p in base["means"]]
        head = "| parameter | REML | " + " | ".join(e.key for e in cols) + " |"
        lines += [
            f"Posterior means ({case.name}; each engine averaged over its runs):",
            "",
            head,
            "|---|" + "---:|" * (len(cols) + 1),
        ]
        for p in params:
            vals = [summ[e.key]["means"].get(p) for e in cols]
            cells = " | ".join("–" if v is None else f"{v:.3f}" for v in vals)
            lines.append(f"| {LABELS[p]} | {reml[case.key].get(p, float('nan')):.3f} | {cells} |")
        lines.append("")
        if base:
            # bayesmixed's other samplers and graphs sample the same posterior, so their means
            # must agree up to Monte Carlo error; the peers use their own default priors and
            # are shown for information
            same, peers, bad = [], [], []
            for e in cols[1:] if cols and cols[0].key == "bm" else cols:
                m = summ[e.key]["means"]
                z = max(abs(m[p] - base["means"][p]) / base["sds"][p] for p in params if p in m)
                (same if e.kind == "bayesmixed" else peers).append(f"{e.key} {z:.2f}")
                if e.kind == "bayesmixed" and z > AGREE_SD:
                    bad.append(e.key)
            ok_all &= not bad
            verdict = f"**disagree: {', '.join(bad)}**" if bad else "agree"
            lines += [
                "Largest difference of a posterior mean from bayesmixed's default, in units of "
                f"its posterior SD: same priors (must be ≤ {AGREE_SD}) {', '.join(same) or '–'} "
                f"→ {verdict}; peers with their own default priors {', '.join(peers) or '–'}.",
                "",
            ]
        if base:
            if case.key == "uncorr" and "bambi" in summ:
                ratio = base["ess_s"] / summ["bambi"]["ess_s"]
                met = ratio >= TARGET_RATIO_VS_BAMBI
                checks.append(
                    f"* {case.name}: bayesmixed's min bulk ESS/s is {ratio:.1f}× bambi's default "
                    f"(target ≥ {TARGET_RATIO_VS_BAMBI:.0f}×): **{'met' if met else 'not met'}**."
                )
                ok_all &= met
            if case.key == "corr":
                runs = results[("bm", case.key)]
                met = (
                    base["wall"] < TARGET_WALL
                    and min(r.min_ess for r in runs) >= TARGET_ESS
                    and base["div"] == 0
                )
                checks.append(
                    f"* {case.name}: median wall {fmt_s(base['wall'])} (target < "
                    f"{TARGET_WALL:.0f} s), smallest min bulk ESS over the runs "
                    f"{min(r.min_ess for r in runs):,.0f} (target ≥ {TARGET_ESS:,.0f}), "
                    f"{base['div']} divergences (target 0): **{'met' if met else 'not met'}**."
                )
                ok_all &= met
            if "cor" in base["ess_all"]:
                lines += [
                    f"Bulk ESS of the correlation ρ (not in the minimum): bayesmixed "
                    f"{base['ess_all']['cor']:,.0f}"
                    + "".join(
                        f", {e.key} {summ[e.key]['ess_all']['cor']:,.0f}"
                        for e in cols
                        if e.key != "bm" and "cor" in summ[e.key]["ess_all"]
                    )
                    + ".",
                    "",
                ]
    notes = [
        "Targets:",
        "",
        *checks,
        "",
        f"Command: `{command}` ({time.strftime('%Y-%m-%d')}); {reps} warm run(s) per engine, "
        f"{CHAINS} chains × {TUNE} tune + {DRAWS} draws.  ",
        f"Machine: {machine_info()}  ",
        f"Python: {versions()}  ",
        f"R: {r_version}  ",
        "Warm wall: model construction to InferenceData, median over the runs, after one "
        "discarded short run per engine (in brackets: bayesmixed's time inside the sampler; "
        "Stan's own warmup + sampling time of the slower chain for brms/rstanarm). ESS/s: "
        "median over runs of min bulk ESS / wall. Divergences: summed over the runs. Cold: a "
        "fresh interpreter with empty PyTensor and numba caches, whole process wall (in "
        "brackets model construction to InferenceData, imports of the sampler libraries that "
        "happen there included). brms's compile is `brm(..., chains = 0)`; its warm time is "
        "`update(fit, recompile = FALSE)`.",
    ]
    return "\n".join(lines + notes) + "\n", ok_all


if __name__ == "__main__":
    sys.exit(main())
