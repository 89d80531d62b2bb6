"""Time to a first posterior: a fresh process, from nothing to a sampled BayesFit.

Run from the repository root::

    .venv/bin/python benchmarks/first_posterior.py              # 5 cold + 5 warm runs, imports
    .venv/bin/python benchmarks/first_posterior.py --runs 3 --no-importtime

Each run is a new ``python`` process that imports bayesmixed and samples lme4's sleepstudy
``Reaction ~ Days + (Days | Subject)`` with 2 chains x (1000 tuning + 1000 kept draws)::

    bm.MixedModel(f, bm.datasets.load("sleepstudy")).sample(
        draws=1000, tune=1000, chains=2, random_seed=1, progressbar=False)

* cold: empty numba cache (``NUMBA_CACHE_DIR=<new tmp>``; with it set numba neither reads nor
  writes the package's own ``bayesmixed/**/__pycache__`` cache) and empty PyTensor compile
  directory (``PYTENSOR_FLAGS=compiledir=<new tmp>``): the first posterior on a new machine;
* warm: the same with caches a discarded run filled: what every later script pays.

The whole-process wall time is measured by the parent; the breakdown inside the child comes
from timers wrapped around the steps of ``sample()`` once their modules are imported (so no
import moves out of the step that pays it), numba's compile events (``numba.core.event``,
top-level compilations; callees are compiled inside their caller's event) and the outermost
imports of the main thread (``import`` statements and ``importlib.import_module``).
``-X importtime`` of one more cold run lists the imports over 0.1 s per phase. Results go to
stdout and ``benchmarks/out/first_posterior.md``.
"""

import time

T_START = time.time()  # first thing in the child: the end of interpreter start-up

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

FORMULA = "Reaction ~ Days + (Days | Subject)"
# the steps timed inside sample(), wrapped right after their module is imported
WATCH = {
    "bayesmixed.bayes.pipeline": ["resolve_priors", "graph_info", "run_sampler", "assemble"],
    "bayesmixed.bayes.result": ["BayesFit.check"],
    "nutpie": ["sample"],
    # a numba cfunc compiles without a compile event of its own (its callees have theirs)
    "numba.core.ccallback": ["CFunc.compile"],
}
LABEL = {"sample": "nutpie.sample", "BayesFit.check": "fit.check", "CFunc.compile": "cfunc compile"}


# ===================================================================== child (one process)
class Clock:
    """Nested wall-clock sections; numba compilations and imports are charged to every
    open section (so a section's figures include its subsections')."""

    def __init__(self):
        self.stack: list[str] = []
        self.rows: dict[str, dict] = {}
        self.compiles: list[dict] = []  # every compile event: name, depth, incl, excl
        self._events: list[list] = []
        self._import_depth = 0

    def _row(self) -> dict:
        path = "/".join(self.stack) or "(outside)"
        row = {"wall": 0.0, "cpu": 0.0, "numba": 0.0, "imports": 0.0, "n": 0}
        return self.rows.setdefault(path, row)

    def _charge(self, key: str, seconds: float) -> None:
        for i in range(1, len(self.stack) + 1):
            row = self.rows["/".join(self.stack[:i])]
            row[key] += seconds

    def section(self, name: str):
        clock = self

        class _Section:
            def __enter__(self):
                clock.stack.append(name)
                clock._row()["n"] += 1
                self.t, self.cpu = time.perf_counter(), time.process_time()

            def __exit__(self, *exc):
                row = clock._row()
                row["wall"] += time.perf_counter() - self.t
                row["cpu"] += time.process_time() - self.cpu
                clock.stack.pop()

        return _Section()

    def wrap(self, fn, name: str):
        def timed(*args, **kwargs):
            with self.section(name):
                return fn(*args, **kwargs)

        return timed

    # ---- numba's compile events (any thread; numba compiles under one global lock)
    def on_compile_start(self, event) -> None:
        d = event.data["dispatcher"]
        name = f"{d.py_func.__module__}.{d.py_func.__qualname__}"
        parent = self._events[-1][0] if self._events else None
        self._events.append([name, time.perf_counter(), 0.0, parent, time.thread_time()])

    def on_compile_end(self, event) -> None:
        name, t, inner, parent, cpu0 = self._events.pop()
        incl = time.perf_counter() - t
        cpu = time.thread_time() - cpu0
        depth = len(self._events)
        self.compiles.append(
            {"name": name, "parent": parent, "depth": depth, "incl": incl, "excl": incl - inner}
            | {"cpu": cpu}
        )
        if depth:
            self._events[-1][2] += incl
        else:
            self._charge("numba", incl)

    # ---- the main thread's outermost imports, and the wrapping of WATCH once imported
    def install_import_hook(self) -> None:
        """Time ``import`` statements and ``importlib.import_module`` calls (xarray loads
        dask that way) of the main thread, outermost only, outside numba compilations."""
        import builtins
        import importlib
        import threading

        main = threading.main_thread()
        patched: set[str] = set()

        def timed(original):
            def timed_import(*args, **kwargs):
                if self._import_depth or self._events or threading.current_thread() is not main:
                    return original(*args, **kwargs)
                self._import_depth += 1
                t = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    self._import_depth -= 1
                    self._charge("imports", time.perf_counter() - t)
                    self._after_import(patched)

            return timed_import

        builtins.__import__ = timed(builtins.__import__)
        importlib.import_module = timed(importlib.import_module)

    def _after_import(self, patched: set[str]) -> None:
        if "numba" not in patched and "numba.core.event" in sys.modules:
            ev = sys.modules["numba.core.event"]
            clock = self

            class Listener(ev.Listener):
                def on_start(self, event):
                    clock.on_compile_start(event)

                def on_end(self, event):
                    clock.on_compile_end(event)

            ev.register("numba:compile", Listener())
            patched.add("numba")
        for module, attrs in WATCH.items():
            mod = sys.modules.get(module)
            if module in patched or mod is None or not hasattr(mod, attrs[0].split(".")[0]):
                continue
            patched.add(module)
            for attr in attrs:
                *owner_path, leaf = attr.split(".")
                owner = mod
                for part in owner_path:
                    owner = getattr(owner, part)
                if hasattr(owner, leaf):
                    setattr(owner, leaf, self.wrap(getattr(owner, leaf), LABEL.get(attr, attr)))


def child() -> None:
    clock = Clock()
    clock.install_import_hook()
    cache = os.environ.get("NUMBA_CACHE_DIR", "")
    cached_before = sum(len(f) for _, _, f in os.walk(cache)) if cache else -1
    importtime = "-X" in sys.orig_argv and "importtime" in sys.orig_argv

    def phase(name: str) -> None:
        if importtime:  # a marker between -X importtime's lines (both on stderr)
            print(f"##phase {name}", file=sys.stderr, flush=True)

    phase("import bayesmixed")
    with clock.section("import bayesmixed"):
        import bayesmixed as bm
    phase("model build")
    with clock.section("model build"):
        model = bm.MixedModel(FORMULA, bm.datasets.load("sleepstudy"))
    model.__class__._reml_start = clock.wrap(model.__class__._reml_start, "REML start")
    phase("sample()")
    with clock.section("sample()"):
        fit = model.sample(draws=1000, tune=1000, chains=2, random_seed=1, progressbar=False)
    phase("end")
    out = {
        "start": T_START,
        "end": time.time(),
        "rows": clock.rows,
        "compiles": clock.compiles,
        "cached_before": cached_before,
        "modules": len(sys.modules),
        "heavy_modules": [m for m in ("pymc", "pytensor", "bambi", "jax") if m in sys.modules],
        "mean_days": float(fit.idata.posterior["beta"].values[..., 1].mean()),
    }
    print(json.dumps(out))


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    child()
    sys.exit(0)


# ===================================================================== parent
import argparse  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "first_posterior.md"


def run_child(cache_root: Path, importtime: bool = False) -> dict:
    """One fresh process on the caches under ``cache_root``; its JSON plus the parent's
    whole-process wall time, interpreter start and exit."""
    env = dict(
        os.environ,
        NUMBA_CACHE_DIR=str(cache_root / "numba"),
        PYTENSOR_FLAGS=f"compiledir={cache_root / 'pytensor'}",
    )
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), __file__, "--child"]
    load = os.getloadavg()[0]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    spawn, t0 = time.time(), time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    wall, done = time.perf_counter() - t0, time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    if res.returncode:
        raise SystemExit(f"child failed:\n{res.stderr}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out.update(
        wall=wall,
        cpu=cpu,
        interp=out["start"] - spawn,
        exit=done - out["end"],
        load=load,
        stderr=res.stderr,
    )
    return out


def cold_run(importtime: bool = False) -> dict:
    root = Path(tempfile.mkdtemp(prefix="first_posterior_"))
    try:
        out = run_child(root, importtime)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if out["cached_before"] != 0 or not out["compiles"]:
        raise SystemExit("a cold run found a numba cache or compiled nothing: not cold")
    return out


def med(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def breakdown(runs: list[dict]) -> list[tuple[str, str, int, dict]]:
    """(key, label, depth, medians of wall/cpu/numba/imports) rows in the order the child ran
    them, an "(other)" row under every section with children, interpreter start, exit and
    the whole process (the parent's clock; its CPU is the child's, all threads) around them."""
    if not runs:
        return []
    paths = list(dict.fromkeys(p for r in runs for p in r["rows"] if p != "(outside)"))
    keys = ("wall", "cpu", "numba", "imports")

    def value(r, path, key):
        return r["rows"].get(path, {}).get(key, 0.0)

    rows = [("start", "interpreter start", 0, {"wall": med(r["interp"] for r in runs)})]

    def emit(path: str, depth: int) -> None:
        stats = {k: med(value(r, path, k) for r in runs) for k in keys}
        rows.append((path, path.split("/")[-1], depth, stats))
        kids = [p for p in paths if p.startswith(path + "/") and p.count("/") == depth + 1]
        for kid in kids:
            emit(kid, depth + 1)
        if kids:
            rest = {
                k: med(value(r, path, k) - sum(value(r, c, k) for c in kids) for r in runs)
                for k in keys
            }
            rows.append((path + "/(other)", "(other)", depth + 1, rest))

    for path in paths:
        if "/" not in path:
            emit(path, 0)
    rows.append(("exit", "exit", 0, {"wall": med(r["exit"] for r in runs)}))
    whole = {"wall": med(r["wall"] for r in runs), "cpu": med(r["cpu"] for r in runs)}
    rows.append(("whole", "whole process", 0, whole))
    return rows


def compile_table(runs: list[dict], top: int = 8) -> list[tuple[str, float, float, float]]:
    """Median seconds (inclusive, exclusive, inclusive CPU) of each top-level numba compilation and, under
    it, its largest direct callees (summed over their signatures)."""

    def short(name: str) -> str:
        return name.removeprefix("bayesmixed.bayes.marginal._kernels.")

    def median_of(name: str, parent: str | None) -> tuple[float, float, float]:
        """Median over the runs of the summed seconds of ``name`` compiled under ``parent``
        (None: at top level)."""
        picked = [
            [c for c in r["compiles"] if c["name"] == name and c["parent"] == parent] for r in runs
        ]
        return tuple(med(sum(c[k] for c in cs) for cs in picked) for k in ("incl", "excl", "cpu"))

    def names(parent: str | None) -> list[str]:
        return list(
            dict.fromkeys(c["name"] for r in runs for c in r["compiles"] if c["parent"] == parent)
        )

    out = []
    for name in names(None):
        out.append((short(name), *median_of(name, None)))
        sub = [(c, *median_of(c, name)) for c in names(name)]
        out += [("  " + short(c), *v) for c, *v in sorted(sub, key=lambda t: -t[1])[:top]]
    return out


def import_table(stderr: str, threshold: float = 0.1) -> list[tuple[str, str, float, float]]:
    """(phase, module, self s, cumulative s) from ``-X importtime``: the outermost imports
    of each phase over ``threshold`` seconds, each followed by the modules under it whose own
    import takes ``threshold`` or more (importtime prints a module after its imports)."""
    phase, out, under = "start-up", [], []
    for line in stderr.splitlines():
        if line.startswith("##phase "):
            phase = line.removeprefix("##phase ")
            continue
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line.removeprefix("import time:").split("|")
        own, cum = int(self_us) / 1e6, int(cum_us) / 1e6
        if len(name) - len(name.lstrip(" ")) > 1:  # nested: indented under its importer
            if own >= threshold:
                under.append((phase, "&nbsp;&nbsp;… " + name.strip(), own, cum))
            continue
        if cum >= threshold or under:
            out += [(phase, name.strip(), own, cum), *under]
        under = []
    return out


def fmt(x: float | None) -> str:
    return "" if x is None or x != x or abs(x) < 0.005 else f"{x:.2f}"


def versions() -> str:
    names = ("numpy", "numba", "nutpie", "arviz", "bayesmixed")
    return ", ".join(f"{n} {metadata.version(n)}" for n in names)


def source_state() -> str:
    """The commit measured, and whether the package's working tree differed from it."""

    def git(*args):
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--", "bayesmixed")
    n = len(changed.splitlines())
    return f"commit {head}" + (f" with {n} changed or new files under bayesmixed/" if n else "")


def report(cold, warm, imports, command) -> str:
    loads = [r["load"] for r in cold + warm]
    lines = [
        "# Time to a first posterior",
        "",
        f"`{FORMULA}` on sleepstudy, 2 chains x (1000 tune + 1000 draws), nutpie (marginal),",
        "each run a fresh process; seconds, median of the runs.",
        "",
        f"Command: `{command}`  ",
        f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}; "
        f"{versions()}  ",
        f"Source: {source_state()}  ",
        f"Load average (1 min) before the runs: min {min(loads):.2f}, median {med(loads):.2f}, "
        f"max {max(loads):.2f}  ",
        f"Runs: {len(cold)} cold (empty numba cache and PyTensor compiledir), {len(warm)} warm "
        "(caches filled by a discarded run). CPU: the process's CPU seconds over all threads "
        "(nutpie runs the chains in two); on a loaded machine wall grows, CPU much less.",
        "",
        "| step | cold wall | cold CPU | of which numba compile | of which imports "
        "| warm wall | warm CPU | warm imports |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    warm_rows = {key: v for key, _, _, v in breakdown(warm)}
    for key, label, depth, v in breakdown(cold):
        w = warm_rows.get(key, {})
        name = "&nbsp;&nbsp;" * depth + (f"**{label}**" if key == "whole" else label)
        lines.append(
            f"| {name} | {fmt(v['wall'])} | {fmt(v.get('cpu'))} | {fmt(v.get('numba'))} "
            f"| {fmt(v.get('imports'))} | {fmt(w.get('wall'))} | {fmt(w.get('cpu'))} "
            f"| {fmt(w.get('imports'))} |"
        )
    lines += [
        "",
        "Whole-process times of the runs: cold "
        + ", ".join(f"{r['wall']:.2f}" for r in cold)
        + "; warm "
        + ", ".join(f"{r['wall']:.2f}" for r in warm),
        f"Modules loaded: {cold[0]['modules']}; heavy ones not needed here that were imported: "
        f"{', '.join(cold[0]['heavy_modules']) or 'none (no pymc, pytensor, bambi, jax)'}",
        "",
        "## numba compilations (cold runs)",
        "",
        "Top-level compilations with their largest direct callees (a callee is compiled inside",
        "its caller's compilation; inclusive and exclusive seconds, summed over signatures).",
        "",
        "| function | inclusive | exclusive | inclusive CPU |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {n.replace('<', '&lt;')} | {fmt(i)} | {fmt(e)} | {fmt(c)} |"
        for n, i, e, c in compile_table(cold)
    ]
    warm_compiles = med(sum(c["incl"] for c in r["compiles"] if c["depth"] == 0) for r in warm)
    lines += [
        "",
        f"Warm runs compile {warm_compiles:.2f} s with numba (kernels load from the cache).",
    ]
    if imports:
        lines += [
            "",
            "## Imports over 0.1 s (`-X importtime`, one more cold run)",
            "",
            "Outermost imports of each phase (cumulative), and, indented, any module whose own",
            "import (self) takes 0.1 s or more.",
            "",
            "| phase | module | self | cumulative |",
            "|---|---|---:|---:|",
        ]
        lines += [f"| {ph} | {m} | {fmt(a)} | {fmt(b)} |" for ph, m, a, b in imports]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="cold runs and warm runs (default 5)")
    ap.add_argument("--no-warm", action="store_true", help="cold runs only")
    ap.add_argument("--no-importtime", action="store_true", help="skip the -X importtime run")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    command = "python benchmarks/first_posterior.py " + " ".join(argv or sys.argv[1:])
    cold, warm = [], []
    warm_root = Path(tempfile.mkdtemp(prefix="first_posterior_warm_"))
    try:
        if not args.no_warm:
            run_child(warm_root)  # fills the warm caches
        for i in range(args.runs):  # interleaved, so that load on the machine hits both alike
            cold.append(cold_run())
            print(
                f"cold {i + 1}: {cold[-1]['wall']:.2f} s (load {cold[-1]['load']:.2f})", flush=True
            )
            if not args.no_warm:
                warm.append(run_child(warm_root))
                print(f"warm {i + 1}: {warm[-1]['wall']:.2f} s", flush=True)
    finally:
        shutil.rmtree(warm_root, ignore_errors=True)
    imports = [] if args.no_importtime else import_table(cold_run(importtime=True)["stderr"])
    text = report(cold, warm, imports, command.strip())
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"written to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
