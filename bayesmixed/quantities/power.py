"""Power of a clustered design by simulation (the REML engine, Satterthwaite t-tests).

For every design cell — a number of clusters J and a cluster size m — :func:`power` repeats:
draw the predictors as ``design=`` describes, draw y from the model (random effects with
SDs ``tau``, residual SD ``sigma``, fixed effects ``effects``), fit by REML and test every
named effect with its Satterthwaite t-test. The power of a test is the share of simulations
in which it rejects at level ``alpha``; its Monte Carlo SE is √(p(1 − p)/nsim).

It shows the primer's point about clustered designs: the power for an effect that varies
only *between* clusters (a cluster-level treatment) is governed by the number of clusters,
because its SE contains τ²/J however large the clusters are; an effect that varies *within*
clusters is estimated from within-cluster contrasts and its power grows with the total n.

``design=`` maps each predictor of the formula to ``(level, generator)``:

* ``level`` is ``"cluster"`` (one value per cluster) or ``"observation"`` (one per row);
* ``generator`` is a list of values, allocated in turn (cluster j gets ``values[j % k]``;
  row i of a cluster gets ``values[i % k]``, e.g. visit times), giving balanced arms or
  visits (strings make a factor, named as R does: ``armB``); or ``"normal"`` (standard
  normal draws, new every simulation) or ``"uniform"`` (U(0, 1) draws).

Every simulation runs as a task of :func:`bayesmixed.batch.run_tasks`, so one seed gives the
same table locally and on a Dask ``client=``.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from ..batch import run_tasks
from ..errors import ArgumentError
from ..model import MixedModel
from ..reml.optimize import fit_lmm
from ..reml.simulate import simulate_response
from ..spec.formula import parse_formula

__all__ = ["power", "PowerResult"]

_LEVELS = ("cluster", "observation")
_GENERATORS = ("normal", "uniform")
# set by bayesmixed.views.plots.calibration when it loads (views sit above quantities)
_RENDERER = None


@dataclass
class PowerResult:
    """Power of each tested effect in each design cell.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per cell × term: n_clusters, cluster_size, n_obs, term, level (where its
        predictors vary: cluster, observation or both), effect (true γ), power, mcse,
        mean_estimate, nsim (successful simulations), failed.
    sims : pandas.DataFrame
        One row per successful simulation × term: n_clusters, cluster_size, sim, term,
        estimate, p_value.
    errors : list of str
        Messages of the simulations that failed (their fit raised).
    alpha : float

    ``result.plot()`` (:func:`bayesmixed.plots.power_curves`) draws the power curves.
    """

    table: pd.DataFrame
    sims: pd.DataFrame
    errors: list
    alpha: float

    def plot(self, **kwargs):
        """Power against the number of clusters, a line per cluster size
        (:func:`bayesmixed.plots.power_curves`)."""
        if _RENDERER is None:
            raise ArgumentError(
                "the plot lives in bayesmixed.plots: call bm.plots.power_curves(result) "
                "(or import bayesmixed.plots once, after which result.plot() works)"
            )
        return _RENDERER(self, **kwargs)

    def __repr__(self) -> str:
        return f"PowerResult (alpha = {self.alpha})\n{self.table.to_string(index=False)}"


def _check_design(design, spec) -> dict[str, tuple[str, object]]:
    if not isinstance(design, dict) or not design:
        raise ArgumentError(
            "design must be a dict mapping each predictor to (level, generator), e.g. "
            "{'treat': ('cluster', [0, 1]), 'x': ('observation', 'normal')}"
        )
    out = {}
    for name, entry in design.items():
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
            raise ArgumentError(
                f"design[{name!r}] must be (level, generator), e.g. ('cluster', [0, 1]), "
                f"got {entry!r}"
            )
        level, gen = entry
        if level not in _LEVELS:
            raise ArgumentError(
                f"design[{name!r}]: level must be 'cluster' or 'observation', got {level!r}"
            )
        if isinstance(gen, str):
            if gen not in _GENERATORS:
                raise ArgumentError(
                    f"design[{name!r}]: generator must be a list of values, 'normal' or "
                    f"'uniform', got {gen!r}"
                )
        elif not (isinstance(gen, Sequence | np.ndarray) and len(gen) > 0):
            raise ArgumentError(f"design[{name!r}]: give a non-empty list of values")
        out[str(name)] = (level, gen)
    if spec.response in out:
        raise ArgumentError(f"design must not describe the response {spec.response!r}")
    groups = spec.grouping_columns
    if len(groups) != 1:
        raise ArgumentError(
            "power() simulates one grouping factor (the clusters); the formula has "
            f"{len(groups)}: {groups}"
        )
    if groups[0] in out:
        raise ArgumentError(f"{groups[0]!r} is the cluster factor; leave it out of design=")
    return out


def _check_sizes(name: str, values, minimum: int) -> list[int]:
    vals = [values] if isinstance(values, (int, np.integer)) else list(values)
    ok = vals and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum for v in vals
    )
    if not ok:
        hint = " (a cluster variance needs at least 2 clusters)" if minimum == 2 else ""
        raise ArgumentError(f"{name} must be integers >= {minimum}{hint}, got {values!r}")
    return [int(v) for v in vals]


def _frame(spec_design: dict, group: str, J: int, m: int, rng) -> pd.DataFrame:
    """One simulated data set's predictors (the response is filled in later)."""
    cols = {group: np.repeat([f"c{j:04d}" for j in range(J)], m)}
    for name, (level, gen) in spec_design.items():
        size = J if level == "cluster" else J * m
        if isinstance(gen, str):
            v = rng.standard_normal(size) if gen == "normal" else rng.uniform(size=size)
        else:
            vals = np.asarray(list(gen), dtype=object if isinstance(gen[0], str) else float)
            idx = np.arange(J) if level == "cluster" else np.tile(np.arange(m), J)
            v = vals[idx % len(vals)]
        cols[name] = np.repeat(v, m) if level == "cluster" else v
    frame = pd.DataFrame(cols)
    return frame


def _covs(design, tau) -> list[np.ndarray]:
    out = []
    for t in design.terms:
        if isinstance(tau, dict):
            missing = [c for c in t.cnames if c not in tau]
            if missing:
                raise ArgumentError(
                    f"tau has no SD for {missing[0]!r} of the term {t.name!r}; give "
                    f"tau={{{', '.join(repr(c) + ': ...' for c in t.cnames)}}}"
                )
            sds = np.array([float(tau[c]) for c in t.cnames])
        elif t.k == 1:
            sds = np.array([float(tau)])
        else:
            raise ArgumentError(
                f"the term {t.name!r} has {t.k} coefficients {list(t.cnames)}: give tau as a "
                "dict of their SDs (independent random effects)"
            )
        if np.any(sds < 0) or not np.all(np.isfinite(sds)):
            raise ArgumentError(f"tau must hold finite SDs >= 0, got {tau!r}")
        out.append(np.diag(sds**2))
    return out


def _one_sim(task, rng, formula, spec_design, group, effects, tau, sigma, test):
    """Simulate one data set of a cell, fit by REML, return (estimate, p) per tested term."""
    J, m = task
    frame = _frame(spec_design, group, J, m, rng)
    frame[parse_formula(formula).response] = 0.0
    design = MixedModel(formula, frame).design
    beta = np.array([effects.get(name, 0.0) for name in design.xnames], float)
    y = simulate_response(design, beta, _covs(design, tau), sigma, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # singular refits are part of a power study
        fit = fit_lmm(dataclasses.replace(design, y=y), reml=True)
        tidy = fit.tidy(effects="fixed").set_index("term")
    return {t: (float(tidy.at[t, "estimate"]), float(tidy.at[t, "p_value"])) for t in test}


def power(
    formula: str,
    design: dict,
    effects: dict,
    tau,
    sigma: float,
    n_clusters,
    cluster_size,
    nsim: int = 500,
    alpha: float = 0.05,
    test: list | None = None,
    random_seed=None,
    client=None,
    n_workers: int | None = None,
    progressbar: bool = False,
) -> PowerResult:
    """Power of Satterthwaite t-tests of fixed effects, by simulating a clustered design.

    Parameters
    ----------
    formula : str
        lme4 syntax with one grouping factor (the clusters), e.g. ``"y ~ treat + x + (1 | g)"``.
    design : dict
        Each predictor → ``(level, generator)``: level ``"cluster"`` or ``"observation"``;
        generator a list of values allocated in turn, ``"normal"`` or ``"uniform"``
        (see the module docstring).
    effects : dict
        True fixed effects by R column name (``"treat"``, ``"armB"``, ``"(Intercept)"``);
        columns not named are 0.
    tau : float or dict
        Random-effect SD (a float for a random intercept) or a dict of SDs by coefficient
        (``{"(Intercept)": 1.0, "x": 0.3}``; independent random effects).
    sigma : float
        Residual SD.
    n_clusters, cluster_size : int or list of int
        The design cells are every combination (clusters >= 2, size >= 1).
    nsim : int
        Simulations per cell.
    alpha : float
        Test level.
    test : list of str, optional
        Terms to test (default: every term in ``effects`` except the intercept).
    random_seed : int, optional
        Same seed → same table, locally or on Dask.
    client : distributed.Client or str, optional
        Run the simulations on a Dask cluster.
    n_workers : int, optional
        Local processes (default every core; 1 runs here).
    progressbar : bool

    Returns
    -------
    PowerResult

    Raises
    ------
    ArgumentError
        A cell with fewer than 2 clusters, an unknown effect or test name, a bad
        ``design=`` entry, or a formula with several grouping factors.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> res = bm.power("y ~ treat + x + (1 | school)",
    ...                design={"treat": ("cluster", [0, 1]), "x": ("observation", "normal")},
    ...                effects={"treat": 0.5, "x": 0.2}, tau=0.5, sigma=1.0,
    ...                n_clusters=[10, 20], cluster_size=10, nsim=20, random_seed=1,
    ...                n_workers=1)
    >>> res.table[["n_clusters", "term", "nsim"]].values.tolist()[:2]
    [[10, 'treat', 20], [10, 'x', 20]]
    """
    spec = parse_formula(formula)
    spec_design = _check_design(design, spec)
    group = spec.grouping_columns[0]
    Js = _check_sizes("n_clusters", n_clusters, 2)
    ms = _check_sizes("cluster_size", cluster_size, 1)
    if isinstance(nsim, bool) or not isinstance(nsim, (int, np.integer)) or nsim < 1:
        raise ArgumentError(f"nsim must be a positive integer, got {nsim!r}")
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise ArgumentError(f"alpha must be between 0 and 1, got {alpha!r}")
    if not (isinstance(sigma, float | int) and sigma > 0):
        raise ArgumentError(f"sigma must be a positive number, got {sigma!r}")
    if not isinstance(effects, dict):
        raise ArgumentError("effects must be a dict of true fixed effects by term name")
    # one probe data set checks the names against the model's columns before any work
    probe = _frame(spec_design, group, Js[0], ms[0], np.random.default_rng(0))
    probe[spec.response] = 0.0
    probe_design = MixedModel(formula, probe).design
    xnames = list(probe_design.xnames)
    _covs(probe_design, tau)
    effects = {("(Intercept)" if k == "Intercept" else k): float(v) for k, v in effects.items()}
    test = [k for k in effects if k != "(Intercept)"] if test is None else list(test)
    for name in [*effects, *test]:
        if name not in xnames:
            raise ArgumentError(
                f"{name!r} is not a fixed effect of {formula!r}; its columns are {xnames}"
            )
    if not test:
        raise ArgumentError("nothing to test: name the effects in effects= or test=")
    cells = list(itertools.product(Js, ms))
    tasks = [cell for cell in cells for _ in range(int(nsim))]
    func = partial(
        _one_sim,
        formula=formula,
        spec_design=spec_design,
        group=group,
        effects=effects,
        tau=tau,
        sigma=float(sigma),
        test=test,
    )
    results = run_tasks(
        func,
        tasks,
        random_seed=random_seed,
        client=client,
        n_workers=n_workers,
        progressbar=progressbar,
    )
    return _tabulate(results, tasks, cells, test, effects, spec_design, int(nsim), float(alpha))


def _tabulate(results, tasks, cells, test, effects, spec_design, nsim, alpha) -> PowerResult:
    rows, errors = [], []
    sim_of = {}
    for r, (J, m) in zip(results, tasks, strict=True):
        i = sim_of[(J, m)] = sim_of.get((J, m), -1) + 1
        if not r.ok:
            errors.append(r.error)
            continue
        for t, (est, p) in r.value.items():
            rows.append(
                {"n_clusters": J, "cluster_size": m, "sim": i, "term": t, "estimate": est,
                 "p_value": p}
            )  # fmt: skip
    sims = pd.DataFrame(
        rows, columns=["n_clusters", "cluster_size", "sim", "term", "estimate", "p_value"]
    )
    out = []
    for J, m in cells:
        for t in test:
            s = sims[(sims["n_clusters"] == J) & (sims["cluster_size"] == m) & (sims["term"] == t)]
            p = s["p_value"].to_numpy()
            n = int(np.isfinite(p).sum())
            pw = float(np.mean(p[np.isfinite(p)] < alpha)) if n else np.nan
            out.append(
                {
                    "n_clusters": J,
                    "cluster_size": m,
                    "n_obs": J * m,
                    "term": t,
                    "level": _level_of(t, spec_design),
                    "effect": effects.get(t, 0.0),
                    "power": pw,
                    "mcse": float(np.sqrt(pw * (1 - pw) / n)) if n else np.nan,
                    "mean_estimate": float(s["estimate"].mean()) if n else np.nan,
                    "nsim": n,
                    "failed": nsim - n,
                }
            )
    return PowerResult(table=pd.DataFrame(out), sims=sims, errors=errors, alpha=alpha)


def _level_of(term: str, spec_design: dict) -> str:
    """Where the predictors behind a term vary: "cluster", "observation" or "both"."""
    levels = {
        lvl
        for name, (lvl, _) in spec_design.items()
        if any(part == name or part.startswith(name) for part in term.split(":"))
    }
    return levels.pop() if len(levels) == 1 else "both"
