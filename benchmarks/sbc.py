"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari & Gelman 2018).

Run from the repository root::

    .venv/bin/python benchmarks/sbc.py                  # full: 200 sims marginal, 100 others
    .venv/bin/python benchmarks/sbc.py --quick          # 20 / 10 sims, a few minutes
    .venv/bin/python benchmarks/sbc.py --sims 50 --out benchmarks/out/sbc

If the sampler, the priors, the likelihood and the mapping of draws back to γ, τ, σ and b are
all right, the rank of a parameter's true value among L posterior draws is uniform on
{0, …, L} when the truth is drawn from the prior and y from the model. For each design and each
parameterization this script repeats: draw θ from the prior, simulate y | θ, sample the
posterior with the same prior, record the rank of θ among L = 99 posterior draws.

Designs (fixed across simulations; only θ and y vary), each with an uncentred covariate
``x ~ U(0, 3)``:

* ``intercept``   ``y ~ x + (1 | g)``: 16 groups × 6 observations;
* ``slopes``      ``y ~ x + (x | g)``: 16 groups × 8 observations, correlated intercept/slope;
* ``crossed``     ``y ~ x + (1 | a) + (1 | b)``: a 10 × 8 layout with 70% of the cells
  observed (every level present), 2 observations per cell.

Priors: fixed and proper, passed explicitly through ``priors=`` (the package defaults are
scaled by y and so would depend on the simulated data, which breaks SBC)::

    (Intercept) ~ Normal(0, 2)   x ~ Normal(0, 1)   sd__(Intercept) ~ HalfNormal(1)
    sd__x ~ HalfNormal(0.5)      cor ~ LKJ(2)       sigma ~ HalfNormal(1)

The truth is drawn with NumPy here, not with the package's prior samplers, so a disagreement
between the package's prior densities and these families shows up as miscalibration. The
``(Intercept)`` prior is brms-style, on the intercept α at the mean x̄ of x; x is deliberately
not centred, so the simulation draws α from its prior and sets γ₀ = α − x̄·γ₁, and the
reported ``beta[(Intercept)]`` is ranked against γ₀ — this checks the back-transform too.
A correlation of a k = 2 term under LKJ(η) is 2·Beta(η, η) − 1.

Ranked quantities: γ₀, γ₁, every τ, the correlation, σ, and the random effects of the first
two levels of every term (b is the quantity users read off, and for the marginal
parameterization it is drawn afterwards from p(b | y, θ), so it needs checking separately).

Sampling: 2 chains after 500 tuning steps each, ``target_accept`` 0.8 (the package default);
500 draws per chain for the marginal parameterization, 1,000 for the others, whose draws are
several times more autocorrelated (bulk ESS per draw about 0.1–0.2 against 0.4–1). The draws
are thinned to L = 99 evenly spaced ones — Talts et al.'s remedy for autocorrelation is to
thin to about the effective sample size. The per-fit minimum bulk ESS over the ranked
quantities is recorded and summarised: where it falls below L the thinned draws are still
autocorrelated, which by itself makes the rank histogram ∪-shaped (too few independent draws
look over-confident), so a ∪ there points at mixing, not at the model.

* ``marginal`` goes through the public ``MixedModel.sample(sampler="nutpie")`` — NumPy log
  density with an exact gradient, no compilation, about a second per fit.
* ``noncentered`` and ``centered``: each ``sample()`` call would build a PyMC model with y
  embedded as a constant and recompile it (5–50 s a fit). Instead the model is built once per
  design with ``build_model(..., mutable_y=True)`` (y in a ``pm.Data`` container), compiled
  once by nutpie's numba backend (15–60 s), and every simulation swaps y in with
  ``CompiledModel.with_data`` (under a second a fit). The draws go through the package's own
  ``_from_arrays`` and ``assemble`` so the mapping to ``beta``/``sd_*``/``cor_*``/``b_*`` is
  the one users get. Sampler: nutpie for all three parameterizations.

BLAS is capped at one thread while fitting: the two chains already run in parallel, and with
OpenBLAS's default of one thread per core every tiny triangular solve in the centred MvNormal
(or the marginal factorization) contends for the cores — 9 ms instead of 35 µs per gradient
of the centred correlated-slopes model on a 2-core machine.

The same simulated data sets (same seeds) are used for every parameterization of a design, so
differences between parameterizations are the samplers', not the simulations'.

Uniformity, per parameter:

* χ² on binned ranks — the 100 rank values grouped into B bins, B the largest divisor of 100
  (at most 20) leaving at least 10 simulations expected per bin;
* the ECDF-difference test of Säilynoja, Bürkner & Vehtari (2022): the smallest two-sided
  pointwise binomial tail probability of the rank ECDF over the L interior points, with its
  null distribution (and the simultaneous 99% band in the ``*_ecdf.png`` plots) from 5,000
  simulations of uniform ranks.

About 70 p-values come out of a full run, so a few below 0.05 are expected by chance; the
summary flags p < 0.01 on both tests, or < 0.001 on either.

Outputs (``--out``, default ``benchmarks/out/sbc``): ``sbc_<design>_<parameterization>.png``
(rank histograms, one panel per parameter, grey = 99% band of each bin count under
uniformity), ``sbc_<design>_<parameterization>_ecdf.png``, ``ranks.csv`` (one row per
simulation × parameter, with the truth, the fit's minimum ESS, divergences and seconds),
``summary.csv`` and ``summary.md``.
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
from scipy import stats
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import bayesmixed as bm  # noqa: E402
from bayesmixed.bayes import Prior  # noqa: E402

L_DRAWS = 99  # posterior draws per rank → ranks in 0..99
PARAMETERIZATIONS = ("marginal", "noncentered", "centered")

# one set of numbers for both the fit's Prior objects and the NumPy draws of the truth
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

    def simulate(self, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
        """θ from the prior and y | θ; returns y and the true value of every ranked quantity."""
        P = PRIOR_SPEC
        x = self.frame["x"].to_numpy()
        alpha = rng.normal(*P["(Intercept)"])
        slope = rng.normal(*P["x"])
        sigma = abs(rng.normal(0.0, P["sigma"]))
        # the prior is on the intercept at mean(x); the reported (Intercept) is at x = 0
        gamma0 = float(alpha - x.mean() * slope)
        truth = {"(Intercept)": gamma0, "x": slope}
        b_truth = {}
        mu = gamma0 + slope * x
        for g, coefs in self.terms:
            levels = np.sort(self.frame[g].unique())
            codes = np.searchsorted(levels, self.frame[g].to_numpy())
            sds = np.array([abs(rng.normal(0.0, P[f"sd__{c}"])) for c in coefs])
            if len(coefs) == 2:
                r = 2.0 * rng.beta(P["cor"], P["cor"]) - 1.0
                R = np.array([[1.0, r], [r, 1.0]])
                truth[f"cor|{g}"] = float(r)
            else:
                R = np.eye(1)
            Lc = np.linalg.cholesky(R)
            b = rng.standard_normal((levels.size, len(coefs))) @ (sds[:, None] * Lc).T
            for i, c in enumerate(coefs):
                truth[f"sd__{c}|{g}"] = float(sds[i])
                col = np.ones_like(x) if c == "(Intercept)" else x
                mu = mu + col * b[codes, i]
                for j, lev in enumerate(levels[:2]):
                    b_truth[f"b|{g}[{lev},{c}]"] = float(b[j, i])
        truth["sigma"] = sigma
        truth.update(b_truth)
        y = mu + sigma * rng.standard_normal(x.size)
        return y, truth

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


# --------------------------------------------------------------------------------- fitting
@dataclass
class FitSettings:
    draws: int = 500
    tune: int = 500
    chains: int = 2
    cores: int = 2
    target_accept: float = 0.8


class MarginalFitter:
    """The public path: ``MixedModel.sample(parameterization="marginal")``."""

    def __init__(self, case: Case, settings: FitSettings):
        self.case = case
        self.s = settings

    def __call__(self, y: np.ndarray, seed: int):
        s = self.s
        fit = self.case.model(y).sample(
            draws=s.draws,
            tune=s.tune,
            chains=s.chains,
            cores=s.cores,
            sampler="nutpie",
            priors=self.case.priors(),
            parameterization="marginal",
            target_accept=s.target_accept,
            random_seed=seed,
            progressbar=False,
            prior_draws=0,
            check=False,
        )
        return fit.idata


class CompiledFitter:
    """One PyMC model per design with y in a ``pm.Data`` container, compiled once by nutpie's
    numba backend; each fit swaps y in (see the module docstring for why)."""

    def __init__(self, case: Case, settings: FitSettings, parameterization: str):
        import nutpie

        from bayesmixed.bayes.graph import build_model
        from bayesmixed.bayes.priors import resolve_priors

        self.case = case
        self.s = settings
        design = case.model(np.zeros(len(case.frame))).design
        self.ps = resolve_priors(design, case.priors())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, self.info = build_model(design, self.ps, parameterization, mutable_y=True)
            self.compiled = nutpie.compile_pymc_model(model, backend="numba")

    def __call__(self, y: np.ndarray, seed: int):
        import nutpie

        from bayesmixed.bayes.posterior import assemble
        from bayesmixed.bayes.samplers import RawDraws, _from_arrays, _stats_from_idata

        s = self.s
        design = self.case.model(y).design
        cm = self.compiled.with_data(**{self.info.y_data: design.y})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = nutpie.sample(
                cm,
                draws=s.draws,
                tune=s.tune,
                chains=s.chains,
                cores=s.cores,
                seed=seed,
                target_accept=s.target_accept,
                progress_bar=False,
            )
        post = {k: np.asarray(v.values) for k, v in idata.posterior.data_vars.items()}
        parts = _from_arrays(post, design, self.info)
        raw = RawDraws(
            beta_c=parts["beta_c"],
            sigma=parts["sigma"],
            sds=parts["sds"],
            cpcs=parts["cpcs"],
            b=parts["b"] or None,
            z=parts["z"] or None,
            stats=_stats_from_idata(idata),
            sampler="nutpie",
        )
        return assemble(raw, design, self.info, self.ps, seed, prior_draws_n=0).idata


def posterior_of(idata, label: str) -> np.ndarray:
    """(chain, draw) draws of a ranked quantity, read from the public posterior layout."""
    post = idata.posterior
    if label in ("(Intercept)", "x"):
        return post["beta"].sel(fixed=label).values
    if label == "sigma":
        return post["sigma"].values
    if label.startswith("sd__"):
        coef, g = label[4:].split("|")
        return post[f"sd_{g}"].sel({f"{g}__coef": coef}).values
    if label.startswith("cor|"):
        g = label[4:]
        return post[f"cor_{g}"].values[..., 1, 0]
    if label.startswith("b|"):
        g, rest = label[2:].split("[")
        lev, coef = rest.rstrip("]").split(",")
        return post[f"b_{g}"].sel({f"{g}__level": lev, f"{g}__coef": coef}).values
    raise KeyError(label)


def thin_rank(draws: np.ndarray, truth: float, L: int = L_DRAWS) -> int:
    """Rank of the truth among L evenly spaced draws of the chain-concatenated sample."""
    flat = draws.reshape(-1)
    idx = (np.arange(L) * flat.size) // L + (flat.size // L) // 2
    return int(np.sum(flat[idx] < truth))


def run_sbc(
    case: Case,
    parameterization: str,
    n_sims: int,
    settings: FitSettings,
    seed: int = 1,
    fitter=None,
    log=None,
) -> pd.DataFrame:
    """Simulate and fit ``n_sims`` times; one row per simulation × ranked quantity."""
    if fitter is None:
        fitter = (
            MarginalFitter(case, settings)
            if parameterization == "marginal"
            else CompiledFitter(case, settings, parameterization)
        )
    rows = []
    case_key = sum(map(ord, case.name))  # the same data sets for every parameterization
    blas = threadpool_limits(1, user_api="blas")
    try:
        rows = _simulate_and_fit(case, parameterization, n_sims, seed, fitter, case_key, log)
    finally:
        blas.restore_original_limits()
    return pd.DataFrame(rows)


def _simulate_and_fit(case, parameterization, n_sims, seed, fitter, case_key, log) -> list:
    import arviz as az

    rows = []
    for i in range(n_sims):
        rng = np.random.default_rng([seed, case_key, i])
        y, truth = case.simulate(rng)
        t0 = time.perf_counter()
        idata = fitter(y, seed=int(rng.integers(2**31)))
        secs = time.perf_counter() - t0
        div = idata.sample_stats.get("diverging")
        n_div = int(np.asarray(div.values).sum()) if div is not None else 0
        draws = {k: posterior_of(idata, k) for k in truth}
        ess = min(float(az.ess(d)) for d in draws.values())
        for k, v in truth.items():
            rows.append(
                {
                    "design": case.name,
                    "parameterization": parameterization,
                    "sim": i,
                    "parameter": k,
                    "truth": v,
                    "rank": thin_rank(draws[k], v),
                    "min_ess": ess,
                    "divergences": n_div,
                    "seconds": secs,
                }
            )
        if log is not None and (i + 1) % max(1, n_sims // 10) == 0:
            log(f"  {case.name}/{parameterization}: {i + 1}/{n_sims} ({secs:.2f} s last fit)")
    return rows


# --------------------------------------------------------------------------------- uniformity
def n_bins(n_sims: int, L: int = L_DRAWS, max_bins: int = 20) -> int:
    """Largest divisor of L + 1 (≤ max_bins) leaving ≥ 10 simulations expected per bin."""
    divs = [d for d in range(1, max_bins + 1) if (L + 1) % d == 0 and n_sims / d >= 10]
    return max(divs) if divs else 1


def chi2_uniform(ranks: np.ndarray, L: int = L_DRAWS, bins: int | None = None) -> float:
    """χ² p-value of binned ranks against the discrete uniform on 0..L."""
    bins = bins or n_bins(ranks.size, L)
    if bins < 2:
        return float("nan")
    counts = np.bincount(np.asarray(ranks) * bins // (L + 1), minlength=bins)
    return float(stats.chisquare(counts).pvalue)


def _gamma_stat(counts_below: np.ndarray, n: int, z: np.ndarray) -> np.ndarray:
    """Säilynoja et al.'s statistic: min over z of the two-sided binomial tail probability."""
    lo = stats.binom.cdf(counts_below, n, z)
    hi = stats.binom.sf(counts_below - 1, n, z)
    return np.min(2.0 * np.minimum(lo, hi), axis=-1)


_NULL_CACHE: dict[tuple[int, int], np.ndarray] = {}


def _gamma_null(n: int, L: int, reps: int = 5000) -> np.ndarray:
    key = (n, L)
    if key not in _NULL_CACHE:
        rng = np.random.default_rng([n, L, 7])
        r = rng.integers(0, L + 1, size=(reps, n))
        z = np.arange(1, L + 1) / (L + 1)
        hist = np.zeros((reps, L + 1), dtype=np.int64)
        np.add.at(hist, (np.repeat(np.arange(reps), n), r.ravel()), 1)
        below = np.cumsum(hist, axis=1)[:, :L]  # #{r < k} for k = 1..L
        _NULL_CACHE[key] = np.sort(_gamma_stat(below, n, z))
    return _NULL_CACHE[key]


def ecdf_uniform(ranks: np.ndarray, L: int = L_DRAWS) -> float:
    """ECDF-difference test p-value (Monte Carlo null, see the module docstring)."""
    ranks = np.asarray(ranks)
    n = ranks.size
    z = np.arange(1, L + 1) / (L + 1)
    below = (ranks[:, None] < np.arange(1, L + 1)).sum(axis=0)
    g = _gamma_stat(below, n, z)
    null = _gamma_null(n, L)
    return float((np.searchsorted(null, g, side="right") + 1) / (null.size + 1))


def ecdf_band(n: int, L: int = L_DRAWS, level: float = 0.99) -> tuple[np.ndarray, ...]:
    """z and the simultaneous ``level`` band of ECDF(z) − z under uniform ranks."""
    null = _gamma_null(n, L)
    gam = null[int((1 - level) * null.size)]
    z = np.arange(1, L + 1) / (L + 1)
    lo = stats.binom.ppf(gam / 2, n, z) / n - z
    hi = stats.binom.ppf(1 - gam / 2, n, z) / n - z
    return z, lo, hi


def summarize(ranks: pd.DataFrame) -> pd.DataFrame:
    """One row per design × parameterization × parameter."""
    out = []
    for (d, p, k), grp in ranks.groupby(["design", "parameterization", "parameter"], sort=False):
        r = grp["rank"].to_numpy()
        chi = chi2_uniform(r)
        ecd = ecdf_uniform(r)
        out.append(
            {
                "design": d,
                "parameterization": p,
                "parameter": k,
                "n_sims": r.size,
                "mean_rank": float(np.mean(r) / L_DRAWS),
                "chi2_p": chi,
                "ecdf_p": ecd,
                # χ² is NaN with too few simulations for 10 per bin: the ECDF test decides
                "flag": bool((ecd < 0.01 and not chi >= 0.01) or np.nanmin([chi, ecd]) < 0.001),
            }
        )
    return pd.DataFrame(out)


def diagnostics(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per design × parameterization: fit time, divergences, ESS."""
    per_fit = ranks.drop_duplicates(["design", "parameterization", "sim"])
    rows = []
    for (d, p), g in per_fit.groupby(["design", "parameterization"], sort=False):
        rows.append(
            {
                "design": d,
                "parameterization": p,
                "n_sims": len(g),
                "median_s_per_fit": float(g["seconds"].median()),
                "total_s": float(g["seconds"].sum()),
                "fits_with_divergences": float((g["divergences"] > 0).mean()),
                "divergent_draws": float(g["divergences"].sum() / len(g)),
                "median_min_ess": float(g["min_ess"].median()),
                "fits_min_ess_below_L": float((g["min_ess"] < L_DRAWS).mean()),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------- plots
def plot_histograms(ranks: pd.DataFrame, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    params = list(dict.fromkeys(ranks["parameter"]))
    ncol = min(4, len(params))
    nrow = -(-len(params) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.3 * ncol, 2.6 * nrow), squeeze=False)
    for ax, k in zip(axes.flat, params, strict=False):
        r = ranks.loc[ranks["parameter"] == k, "rank"].to_numpy()
        n = r.size
        B = max(n_bins(n), 2)
        counts = np.bincount(r * B // (L_DRAWS + 1), minlength=B)
        lo, hi = stats.binom.ppf([0.005, 0.995], n, 1.0 / B)
        ax.axhspan(lo, hi, color="0.85", zorder=0)
        ax.axhline(n / B, color="0.5", lw=0.8, zorder=1)
        ax.bar(np.arange(B), counts, width=0.9, color="C0", zorder=2)
        ax.set_title(f"{k}\nχ² p={chi2_uniform(r):.3f}  ECDF p={ecdf_uniform(r):.3f}", fontsize=8)
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(params) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_ecdf(ranks: pd.DataFrame, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    params = list(dict.fromkeys(ranks["parameter"]))
    ncol = min(4, len(params))
    nrow = -(-len(params) // ncol)
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(3.3 * ncol, 2.4 * nrow), squeeze=False, sharey=True
    )
    for ax, k in zip(axes.flat, params, strict=False):
        r = ranks.loc[ranks["parameter"] == k, "rank"].to_numpy()
        z, lo, hi = ecdf_band(r.size)
        diff = (r[:, None] < np.arange(1, L_DRAWS + 1)).mean(axis=0) - z
        ax.fill_between(z, lo, hi, color="0.85", step="post")
        ax.step(z, diff, where="post", color="C0", lw=1)
        ax.axhline(0, color="0.5", lw=0.6)
        ax.set_title(k, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(params) :]:
        ax.axis("off")
    fig.suptitle(title + "  (ECDF − uniform, simultaneous 99% band)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------- driver
def _md_table(df: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if isinstance(v, float | np.floating):
                cells.append(floatfmt.format(v))
            else:
                cells.append(str(v))
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
    args = ap.parse_args(argv)

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

    def log(msg: str) -> None:
        print(msg, flush=True)

    t_all = time.perf_counter()
    frames, timing = [], []
    for dname in args.designs.split(","):
        case = cases[dname]
        for par in args.parameterizations.split(","):
            t0 = time.perf_counter()
            settings = marginal_settings if par == "marginal" else other_settings
            fitter = (
                MarginalFitter(case, settings)
                if par == "marginal"
                else CompiledFitter(case, settings, par)
            )
            t_compile = time.perf_counter() - t0
            log(f"{dname}/{par}: setup {t_compile:.1f} s")
            df = run_sbc(case, par, n_for(par), settings, seed=args.seed, fitter=fitter, log=log)
            frames.append(df)
            timing.append(
                {
                    "design": dname,
                    "parameterization": par,
                    "setup_s": t_compile,
                    "wall_s": time.perf_counter() - t0,
                }
            )
            plot_histograms(
                df,
                out / f"sbc_{dname}_{par}.png",
                f"SBC ranks: {dname}, {par}, N={df['sim'].nunique()}, L={L_DRAWS}",
            )
            plot_ecdf(df, out / f"sbc_{dname}_{par}_ecdf.png", f"{dname}, {par}")
    ranks = pd.concat(frames, ignore_index=True)
    ranks.to_csv(out / "ranks.csv", index=False)
    summ = summarize(ranks)
    summ.to_csv(out / "summary.csv", index=False)
    diag = diagnostics(ranks).merge(pd.DataFrame(timing), on=["design", "parameterization"])
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
        "`divergent_draws` is per fit (of "
        f"{marginal_settings.chains * marginal_settings.draws} draws marginal, "
        f"{other_settings.chains * other_settings.draws} others); `fits_min_ess_below_L` is "
        "the share of fits whose smallest bulk ESS over the ranked quantities was below L; "
        "`setup_s` is the one-off model compilation, `wall_s` setup plus all fits.",
        "",
        _md_table(diag, "{:.2f}"),
        "",
    ]
    (out / "summary.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
