"""Kenward–Roger marginal means and pairwise contrasts on a 10,000-row model.

``y ~ time * arm + (1 | id)``: 2,500 subjects × 4 visits (T0, T3, T6, T9), arm by subject.
Times the fit, ``fit.emmeans("time", by="arm")`` (which builds the Kenward–Roger machinery;
the default ddf) and ``fit.contrast("time", method="pairwise", by="arm")`` (Tukey), median
of ``--runs`` runs in fresh fits. Target: emmeans + contrasts under 2 s after the fit.

Run from the repository root::

    .venv/bin/python benchmarks/emmeans_speed.py [--runs 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import bayesmixed as bm


def simulate(n_id: int = 2500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    times = np.array(["T0", "T3", "T6", "T9"])
    ids = np.repeat(np.arange(n_id), 4)
    tt = np.tile(np.arange(4), n_id)
    arm = np.where(ids % 2, "treated", "control")
    u = rng.normal(0, 2, n_id)[ids]
    y = 20 + tt + (arm == "treated") * tt * 0.5 + u + rng.normal(size=ids.size)
    return pd.DataFrame({"id": [f"s{i}" for i in ids], "time": times[tt], "arm": arm, "y": y})


def one_run(data: pd.DataFrame) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    fit = bm.MixedModel("y ~ time * arm + (1 | id)", data).fit_reml()
    t1 = time.perf_counter()
    fit.emmeans("time", by="arm")
    t2 = time.perf_counter()
    fit.contrast("time", method="pairwise", by="arm")
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    data = simulate()
    one_run(data)  # warm: imports and first-use setup
    runs = np.array([one_run(data) for _ in range(args.runs)])
    fit_s, emm_s, con_s = np.median(runs, axis=0)
    print(f"n = {len(data)} rows, median of {args.runs} runs")
    print("| step | seconds |\n|---|---|")
    print(f"| fit (REML) | {fit_s:.3f} |")
    print(f"| emmeans, Kenward-Roger | {emm_s:.3f} |")
    print(f"| pairwise contrasts, Tukey | {con_s:.3f} |")
    print(f"| emmeans + contrasts after the fit | {emm_s + con_s:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
