"""Many-model runs on the batch runner: locally (a process pool over all cores) and on a Dask
``LocalCluster(n_workers=2)``, with identical results.

* the parametric bootstrap of ``bm.anova(m0, m1, bootstrap=1000)`` on sleepstudy
  (2,000 refits);
* a 6-prior sensitivity grid on Dyestuff (``bm.sensitivity``, 2 chains × (1000 + 1000) each);
* a 200-simulation SBC of Dyestuff's random-intercept model (``bm.sbc``);
* a 500-simulation power run over one design cell (``bm.power``).

Wall time of each, local and on the cluster (workers started beforehand: their start-up is
not timed), and whether the two results are identical. Run from the repository root::

    .venv/bin/python benchmarks/batch_speed.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import bayesmixed as bm


def _timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t0


def cases(quick: bool):
    sleep = bm.datasets.load("sleepstudy")
    dye = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    m0 = bm.MixedModel("Reaction ~ Days + (1 | Subject)", sleep).fit_reml(reml=False)
    m1 = bm.MixedModel("Reaction ~ Days + (Days | Subject)", sleep).fit_reml(reml=False)
    nboot = 100 if quick else 1000
    sims = 20 if quick else 200
    npow = 50 if quick else 500
    grid = {
        "sd__(Intercept)|Batch": [bm.Prior("halfnormal", sigma=s) for s in (5, 20, 50, 100, 200)]
        + [bm.Prior("inversegamma", alpha=1, beta=1, on="variance")]
    }
    draws = 300 if quick else 1000

    def boot(client):
        return bm.anova(m0, m1, bootstrap=nboot, random_seed=1, client=client)["p_bootstrap"]

    def sens(client):
        res = bm.sensitivity(
            dye,
            priors=grid,
            draws=draws,
            tune=draws,
            random_seed=1,
            client=client,
            progressbar=False,
            keep_fits=False,
        )
        return res.table["estimate"]

    def sbc(client):
        res = bm.sbc(dye, n_sims=sims, random_seed=1, client=client, progressbar=False)
        return res.ranks["rank"]

    def power(client):
        res = bm.power(
            "y ~ treat + x + (1 | cluster)",
            design={"treat": ("cluster", [0, 1]), "x": ("observation", "normal")},
            effects={"treat": 0.5, "x": 0.3},
            tau=0.5,
            sigma=1.0,
            n_clusters=[20],
            cluster_size=[10],
            nsim=npow,
            random_seed=1,
            client=client,
            progressbar=False,
        )
        return res.table["power"]

    return {
        f"bootstrap anova, {nboot} × 2 refits": boot,
        "6-prior sensitivity grid": sens,
        f"SBC, {sims} simulations": sbc,
        f"power, {npow} simulations": power,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    from distributed import Client, LocalCluster

    warnings.simplefilter("ignore")
    rows = []
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster,
        Client(cluster) as client,
    ):
        for name, run in cases(args.quick).items():
            local, t_local = _timed(lambda run=run: run(None))
            dask, t_dask = _timed(lambda run=run: run(client))
            same = np.array_equal(np.asarray(local, float), np.asarray(dask, float), equal_nan=True)
            rows.append((name, t_local, t_dask, same))
            print(f"{name}: local {t_local:.1f} s, LocalCluster(2) {t_dask:.1f} s, same {same}")
    tab = pd.DataFrame(rows, columns=["run", "local_s", "localcluster_s", "identical"])
    print("\n| run | local (2 cores) | LocalCluster(2) | identical |\n|---|---:|---:|:---:|")
    for r in tab.itertuples():
        print(f"| {r.run} | {r.local_s:.1f} s | {r.localcluster_s:.1f} s | {r.identical} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
