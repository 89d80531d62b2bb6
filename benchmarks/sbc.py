"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari & Gelman 2018) of the
three parameterizations on three designs, through the package's ``bm.sbc``.

Run from the repository root::

    .venv/bin/python benchmarks/sbc.py                  # full: 200 sims marginal, 100 others
    .venv/bin/python benchmarks/sbc.py --quick          # 20 / 10 sims, a few minutes
    .venv/bin/python benchmarks/sbc.py --sims 50 --out benchmarks/out/sbc
    .venv/bin/python benchmarks/sbc.py --client tcp://127.0.0.1:8786   # on a Dask cluster

The machinery (prior draws → simulated y → posterior → thinned ranks; χ² and ECDF
uniformity tests; plots) is :func:`bayesmixed.sbc`, :mod:`bayesmixed.quantities.rank_uniformity`
and ``bm.plots.sbc_ranks`` / ``bm.plots.sbc_ecdf``; this script only fixes the designs, the
priors and the sampling settings and writes the outputs.

Designs (fixed across simulations; only θ and y vary), each with an uncentred covariate
``x ~ U(0, 3)``:

* ``intercept``   ``y ~ x + (1 | g)``: 16 groups × 6 observations;
* ``slopes``      ``y ~ x + (x | g)``: 16 groups × 8 observations, correlated intercept/slope;
* ``crossed``     ``y ~ x + (1 | a) + (1 | b)``: a 10 × 8 layout with 70% of the cells
  observed (every level present), 2 observations per cell.

Priors: fixed and proper, passed explicitly (the package defaults are scaled by y)::

    (Intercept) ~ Normal(0, 2)   x ~ Normal(0, 1)   sd__(Intercept) ~ HalfNormal(1)
    sd__x ~ HalfNormal(0.5)      cor ~ LKJ(2)       sigma ~ HalfNormal(1)

The ``(Intercept)`` prior is on the intercept at the mean of x; x is not centred, so the
ranked ``(Intercept)`` (γ₀ at x = 0) checks the back-transform too. Ranked quantities: γ₀,
γ₁, every τ, the correlation (``cor__(Intercept).x|g``), σ and the random effects of the
first two levels of every term.

Sampling: 2 chains after 500 tuning steps each, target_accept 0.8; 500 draws per chain for
the marginal parameterization, 1,000 for the others (their draws are several times more
autocorrelated), thinned to L = 99. ``marginal`` uses the NumPy log density (about a second
per fit); ``noncentered`` and ``centered`` compile the PyMC model once per worker process and
swap each simulated y in. The same seed gives the same simulated data sets for every
parameterization of a design, so differences between them are the samplers'.

About 70 p-values come out of a full run, so a few below 0.05 are expected by chance; the
summary flags p < 0.01 on both tests, or < 0.001 on either.

Outputs (``--out``, default ``benchmarks/out/sbc``): ``sbc_<design>_<parameterization>.png``
(rank histograms, grey = 99% band of each bin count under uniformity),
``sbc_<design>_<parameterization>_ecdf.png``, ``ranks.csv`` (one row per simulation ×
parameter, with the truth, the fit's minimum ESS, divergences and seconds), ``summary.csv``,
``diagnostics.csv`` and ``summary.md``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import bayesmixed as bm  # noqa: E402
from bayesmixed.bayes import Prior  # noqa: E402

L_DRAWS = 99  # posterior draws per rank → ranks in 0..99
PARAMETERIZATIONS = ("marginal", "noncentered", "centered")
SEED_OFFSET = {"intercept": 0, "slopes": 1, "crossed": 2}  # one seed per design

# the numbers of the fit's Prior objects
PRIOR_SPEC = {
    "(Intercept)": (0.0, 2.0),  # Normal(mu, sigma) on the intercept at mean x
    "x": (0.0, 1.0),  # Normal(mu, sigma)
    "sd__(Intercept)": 1.0,  # HalfNormal(sigma)
    "sd__x": 0.5,  # HalfNormal(sigma)
    "cor": 2.0,  # LKJ(eta)
    "sigma": 1.0,  # HalfNormal(sigma)
}


# --------------------------------------------------------------------------------- designs
@dataclass
class Case:
    """A fixed design: the covariate/grouping frame and which random terms it has."""

    name: str
    formula: str
    frame: pd.DataFrame  # x and the grouping factors; y is added per simulation
    terms: list[tuple[str, tuple[str, ...]]]  # (grouping factor, coefficient names)

    def priors(self) -> dict:
        """The fixed priors, by the package's parameter names."""
        P = PRIOR_SPEC
        out = {
            "(Intercept)": Prior("normal", mu=P["(Intercept)"][0], sigma=P["(Intercept)"][1]),
            "x": Prior("normal", mu=P["x"][0], sigma=P["x"][1]),
            "sigma": Prior("halfnormal", sigma=P["sigma"]),
        }
        for g, coefs in self.terms:
            for c in coefs:
                out[f"sd__{c}|{g}"] = Prior("halfnormal", sigma=P[f"sd__{c}"])
            if len(coefs) > 1:
                out[f"cor|{g}"] = Prior("lkj", eta=P["cor"])
        return out

    def model(self, y: np.ndarray) -> bm.MixedModel:
        return bm.MixedModel(self.formula, self.frame.assign(y=y))


def intercept_case(groups: int = 16, per_group: int = 6, seed: int = 20240) -> Case:
    """``y ~ x + (1 | g)`` with ``groups`` × ``per_group`` observations."""
    rng = np.random.default_rng(seed)
    g = np.repeat([f"g{i:02d}" for i in range(groups)], per_group)
    x = rng.uniform(0.0, 3.0, groups * per_group)
    return Case(
        "intercept", "y ~ x + (1 | g)", pd.DataFrame({"x": x, "g": g}), [("g", ("(Intercept)",))]
    )


def slopes_case(groups: int = 16, per_group: int = 8, seed: int = 20241) -> Case:
    """``y ~ x + (x | g)`` with ``groups`` × ``per_group`` observations."""
    rng = np.random.default_rng(seed)
    g = np.repeat([f"g{i:02d}" for i in range(groups)], per_group)
    x = rng.uniform(0.0, 3.0, groups * per_group)
    return Case(
        "slopes", "y ~ x + (x | g)", pd.DataFrame({"x": x, "g": g}), [("g", ("(Intercept)", "x"))]
    )


def crossed_case(na: int = 10, nb: int = 8, fill: float = 0.7, reps: int = 2, seed: int = 20242):
    """``y ~ x + (1 | a) + (1 | b)``: a share ``fill`` of the na × nb cells observed (every level
    present), ``reps`` observations per cell."""
    rng = np.random.default_rng(seed)
    while True:
        keep = rng.random((na, nb)) < fill
        if keep.any(axis=0).all() and keep.any(axis=1).all():
            break
    ia, ib = np.nonzero(keep)
    ia, ib = np.repeat(ia, reps), np.repeat(ib, reps)
    frame = pd.DataFrame(
        {
            "x": rng.uniform(0.0, 3.0, ia.size),
            "a": [f"a{i:02d}" for i in ia],
            "b": [f"b{j:02d}" for j in ib],
        }
    )
    return Case(
        "crossed",
        "y ~ x + (1 | a) + (1 | b)",
        frame,
        [("a", ("(Intercept)",)), ("b", ("(Intercept)",))],
    )


def make_cases() -> dict[str, Case]:
    """The three benchmark designs (covariates drawn once, from fixed seeds)."""
    return {"intercept": intercept_case(), "slopes": slopes_case(), "crossed": crossed_case()}


# --------------------------------------------------------------------------------- running
@dataclass
class FitSettings:
    draws: int = 500
    tune: int = 500
    chains: int = 2
    target_accept: float = 0.8


def run_sbc(case, parameterization, n_sims, settings, seed=1, client=None, n_workers=None):
    """``bm.sbc`` on a case; ranks with the design and parameterization as columns."""
    res = bm.sbc(
        case.model(np.zeros(len(case.frame))),
        n_sims=n_sims,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        priors=case.priors(),
        parameterization=parameterization,
        L=L_DRAWS,
        target_accept=settings.target_accept,
        random_seed=[seed, SEED_OFFSET.get(case.name, 9)],
        client=client,
        n_workers=n_workers,
    )
    for err in res.errors:
        print(f"  failed simulation: {err}", flush=True)
    return res


def _tagged(df: pd.DataFrame, design: str, par: str) -> pd.DataFrame:
    return df.assign(design=design, parameterization=par)[
        ["design", "parameterization", *df.columns]
    ]


def _save(axes, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = axes[0].figure
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _md_table(df: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        cells = [
            floatfmt.format(row[c]) if isinstance(row[c], float | np.floating) else str(row[c])
            for c in cols
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sims",
        type=int,
        default=None,
        help="simulations per design and "
        "parameterization (default 200 marginal, 100 others; --quick 20 / 10)",
    )
    ap.add_argument("--quick", action="store_true", help="few simulations, a few minutes")
    ap.add_argument("--out", default=str(HERE / "out" / "sbc"))
    ap.add_argument("--designs", default="intercept,slopes,crossed")
    ap.add_argument("--parameterizations", default=",".join(PARAMETERIZATIONS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=None, help="local processes (default: cores)")
    ap.add_argument("--client", default=None, help="Dask scheduler address")
    args = ap.parse_args(argv)  # fmt: skip

    import matplotlib

    matplotlib.use("Agg")
    logging.getLogger("pymc").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cases = make_cases()
    scale = 0.6 if args.quick else 1.0
    marginal_settings = FitSettings(draws=int(500 * scale), tune=int(500 * scale))
    other_settings = FitSettings(draws=int(1000 * scale), tune=int(500 * scale))

    def n_for(par: str) -> int:
        if args.sims is not None:
            return args.sims
        if args.quick:
            return 20 if par == "marginal" else 10
        return 200 if par == "marginal" else 100

    t_all = time.perf_counter()
    ranks, summaries, diags = [], [], []
    for dname in args.designs.split(","):
        case = cases[dname]
        for par in args.parameterizations.split(","):
            t0 = time.perf_counter()
            settings = marginal_settings if par == "marginal" else other_settings
            res = run_sbc(case, par, n_for(par), settings, args.seed, args.client, args.workers)
            wall = time.perf_counter() - t0
            print(f"{dname}/{par}: {n_for(par)} simulations in {wall:.1f} s", flush=True)
            ranks.append(_tagged(res.ranks, dname, par))
            summ = res.summary().rename(columns={"n": "n_sims", "flagged": "flag"})
            summaries.append(_tagged(summ, dname, par))
            diags.append(_tagged(res.diagnostics().assign(wall_s=wall), dname, par))
            n = res.ranks["sim"].nunique()
            title = f"SBC ranks: {dname}, {par}, N={n}, L={L_DRAWS}"
            _save(bm.plots.sbc_ranks(res, title=title), out / f"sbc_{dname}_{par}.png")
            _save(bm.plots.sbc_ecdf(res, title=f"{dname}, {par}"),
                  out / f"sbc_{dname}_{par}_ecdf.png")  # fmt: skip
    ranks_df = pd.concat(ranks, ignore_index=True)
    ranks_df.to_csv(out / "ranks.csv", index=False)
    summ = pd.concat(summaries, ignore_index=True)
    summ.to_csv(out / "summary.csv", index=False)
    diag = pd.concat(diags, ignore_index=True)
    diag.to_csv(out / "diagnostics.csv", index=False)
    total = time.perf_counter() - t_all

    md = [
        "# Simulation-based calibration",
        "",
        f"Generated by `benchmarks/sbc.py{' --quick' if args.quick else ''}` in "
        f"{total / 60:.1f} min; L = {L_DRAWS} thinned draws per fit; "
        f"{marginal_settings.chains} chains × {marginal_settings.draws} draws "
        f"({marginal_settings.tune} tuning) for marginal, × {other_settings.draws} draws for "
        f"the others; target_accept {marginal_settings.target_accept}. `mean_rank` is the "
        "mean rank / L (0.5 if calibrated); `flag` marks p < 0.01 on both tests or < 0.001 "
        "on either (χ² is NaN when there are too few simulations for 10 per bin).",
        "",
        "## Uniformity of ranks",
        "",
        _md_table(summ),
        "",
        "## Sampler diagnostics",
        "",
        "`divergent_draws` is per fit; `fits_min_ess_below_L` is the share of fits whose "
        "smallest bulk ESS over the ranked quantities was below L; `wall_s` includes the "
        "one-off model compilation of the non-marginal parameterizations (once per worker).",
        "",
        _md_table(diag, "{:.2f}"),
        "",
    ]
    (out / "summary.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
