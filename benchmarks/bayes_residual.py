"""Benchmark: NUTS on a 400-subject, 4-visit trial with AR1 and with UN residuals.

Run ``python benchmarks/bayes_residual.py`` (``--reps 1`` for a quick look). For each
structure: one cold run (PyTensor compiles the model's C code, cached across processes)
then ``--reps`` warm runs of ``MixedModel``-equivalent sampling, 2 chains × (1000 tune +
1000 draws) with nutpie; the table has the median warm wall time, the minimum bulk ESS and
the divergences of the posterior, and max |posterior mean − REML| / posterior SD over the
fixed effects.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import pandas as pd


def simulate(n_subjects: int = 400, seed: int = 11) -> pd.DataFrame:
    """A two-arm trial, visits T0..T3, residuals with an unstructured covariance."""
    rng = np.random.default_rng(seed)
    visits = ["T0", "T1", "T2", "T3"]
    sd = np.array([2.0, 2.2, 2.5, 3.0])
    cor = np.array(
        [
            [1.0, 0.7, 0.55, 0.45],
            [0.7, 1.0, 0.7, 0.55],
            [0.55, 0.7, 1.0, 0.7],
            [0.45, 0.55, 0.7, 1.0],
        ]
    )
    V = sd[:, None] * cor * sd[None, :]
    arm = rng.integers(0, 2, n_subjects)
    mean = (
        20.0
        + np.array([0.0, 0.3, 0.1, 0.2])[None, :]
        - arm[:, None] * np.array([0.0, 1.0, 1.5, 2.5])
    )
    y = mean + rng.multivariate_normal(np.zeros(4), V, size=n_subjects)
    return pd.DataFrame(
        {
            "id": np.repeat([f"s{i:03d}" for i in range(n_subjects)], 4),
            "arm": np.repeat(np.where(arm == 1, "treated", "control"), 4),
            "visit": visits * n_subjects,
            "y": y.ravel(),
        }
    )


def run(structure: str, data: pd.DataFrame, reps: int) -> dict:
    import bayesmixed as bm
    from bayesmixed.bayes.residual import sample_residual_design
    from bayesmixed.design.residual import build_residual_design
    from bayesmixed.reml.gls import fit_gls
    from bayesmixed.spec import parse_formula

    spec = getattr(bm.residual, structure)(time="visit", group="id")
    design, rd = build_residual_design(parse_formula("y ~ visit * arm"), data, spec)
    reml = fit_gls(design, rd)

    def once():
        t0 = time.perf_counter()
        post = sample_residual_design(
            design, rd, draws=1000, tune=1000, chains=2, random_seed=1, progressbar=False,
            check=False,
        )  # fmt: skip
        return time.perf_counter() - t0, post

    cold, post = once()
    warm = []
    for _ in range(reps):
        t, post = once()
        warm.append(t)
    tab = post.tidy()
    fixed = tab[tab["effect"] == "fixed"]
    z = np.abs(fixed["estimate"].to_numpy() - reml.beta) / fixed["std_error"].to_numpy()
    return {
        "structure": structure,
        "cold_s": round(cold, 1),
        "warm_median_s": round(statistics.median(warm), 1),
        "min_ess_bulk": round(float(tab["ess_bulk"].min())),
        "divergences": int(post.glance()["divergences"].iloc[0]),
        "max_z_fixed": round(float(z.max()), 3),
        "max_rhat": round(float(tab["rhat"].max()), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--structures", default="AR1,UN")
    args = ap.parse_args()
    data = simulate()
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s in args.structures.split(","):
            rows.append(run(s, data, args.reps))
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
