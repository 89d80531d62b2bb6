"""Prior sensitivity by refitting: one posterior per combination of priors, one table.

:func:`sensitivity` takes, for some parameters, a list of priors to try; every combination
(the Cartesian product of the lists) is put on top of ``base_priors`` (themselves on top of
the documented defaults) and sampled, each fit an independent task of
:func:`bayesmixed.batch.run_tasks` — a local process pool or a Dask cluster, with task ``i``
seeded by child ``i`` of ``SeedSequence(random_seed)``, so the same seed gives the same table
locally and on Dask with any number of workers.

Where the posterior of τ, of the ICC or of a γ moves with the prior, the data do not pin it
down; where it does not move, the prior does not matter (Gelman 2006 for τ; the primer §5).
The refits complement the power-scaling diagnosis (``bm.prior_sensitivity``), which needs
no refit but only sees small changes of the prior.

Transport: the fits travel back from the workers pickled (a :class:`BayesFit` pickles with
its InferenceData); ``keep_fits=False`` returns the table rows only, for large grids on a
cluster.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..batch import run_tasks
from ..bayes.priors import Prior, resolve_priors
from ..errors import ArgumentError, PriorError, RefitWarning
from ..model import MixedModel

__all__ = ["SensitivityResult", "sensitivity", "SENSITIVITY_COLUMNS"]

#: Columns of :attr:`SensitivityResult.table`.
SENSITIVITY_COLUMNS = [
    "prior", "combination", "effect", "group", "term",
    "estimate", "std_error", "conf_low", "conf_high", "rhat", "ess_bulk",
]  # fmt: skip


@dataclass
class SensitivityResult:
    """The refits of :func:`sensitivity`.

    Attributes
    ----------
    table : DataFrame
        One row per prior combination × parameter (columns :data:`SENSITIVITY_COLUMNS`):
        the fixed effects, the ``ran_pars`` (SDs, correlations, σ), the adjusted ICC
        (effect ``"icc"``; per group too with several random terms) and the marginal and
        conditional R² (effect ``"r2"``). ``prior`` labels the combination
        (``"sd__(Intercept)|Rail ~ HalfNormal(5)"``), ``combination`` numbers it.
    grid : DataFrame
        One row per combination: its number, label, and the prior label of each varied name.
    fits : list of BayesFit or None
        The posteriors in grid order (None for a failed fit, or with ``keep_fits=False``).
    priors : list of dict
        The varied priors of each combination (name → Prior).
    reference : DataFrame
        The REML fit's estimates (effect, group, term, estimate; ICC and R² rows too), NaN
        where it could not be fitted; the plot marks them.
    failures : DataFrame
        prior, error: the combinations whose fit raised.
    """

    table: pd.DataFrame
    grid: pd.DataFrame
    fits: list
    priors: list[dict]
    reference: pd.DataFrame
    failures: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["prior", "error"]))

    def plot(self, **kwargs):
        """Posteriors of τ, the ICC and a γ across the priors, each over its prior density,
        the REML estimate marked (:func:`bayesmixed.plots.sensitivity_grid`)."""
        if _RENDERER is None:
            raise ArgumentError(
                "the plot lives in bayesmixed.plots: call bm.plots.sensitivity_grid(result) "
                "(or import bayesmixed.plots once, after which result.plot() works)"
            )
        return _RENDERER(self, **kwargs)

    def _repr_html_(self) -> str:
        return self.table._repr_html_()

    def __repr__(self) -> str:
        return f"SensitivityResult: {len(self.grid)} prior combinations\n{self.table!r}"


# set by bayesmixed.views.plots.priors when it loads (views sit above quantities)
_RENDERER = None


def _register_renderer(func) -> None:
    global _RENDERER
    _RENDERER = func


# --------------------------------------------------------------------------- input
def _check_client(client) -> None:
    if client is None or isinstance(client, str):
        return
    try:
        import distributed
    except ImportError:
        distributed = None
    if distributed is None or not isinstance(client, distributed.Client):
        raise ArgumentError(
            "client must be None (a local process pool), a distributed.Client or a scheduler "
            f"address such as 'tcp://127.0.0.1:8786', got {type(client).__name__}"
        )


def _grid(model: MixedModel, priors, base_priors) -> list[dict]:
    """Every combination of the varied priors, each checked against the model."""
    if not isinstance(priors, Mapping) or not priors:
        raise ArgumentError(
            "priors must be a non-empty dict mapping parameter names to lists of priors, e.g. "
            "{'sd__(Intercept)|Batch': [Prior('halfnormal', sigma=5), Prior('exponential', "
            "lam=0.1)]}"
        )
    if base_priors is not None and not isinstance(base_priors, Mapping):
        raise ArgumentError("base_priors must be a dict of name → Prior (or None)")
    names, options = [], []
    for name, values in priors.items():
        if isinstance(values, Prior):
            values = [values]
        if not isinstance(values, Sequence) or isinstance(values, str) or not values:
            raise ArgumentError(
                f"priors[{name!r}] must be a non-empty list of Prior(...), got {values!r}"
            )
        for v in values:
            if not isinstance(v, Prior):
                raise PriorError(
                    f"priors[{name!r}] holds {v!r}: every entry must be a bayesmixed Prior"
                )
        names.append(name)
        options.append(list(values))
    combos = [dict(zip(names, c, strict=True)) for c in itertools.product(*options)]
    for combo in combos:  # unknown names and wrong kinds fail here, before any sampling
        resolve_priors(model.design, {**dict(base_priors or {}), **combo})
    return combos


def _label(combo: dict) -> str:
    return "; ".join(f"{k} ~ {p.label}" for k, p in combo.items())


# --------------------------------------------------------------------------- one task
def _diag(x: np.ndarray, chains: int) -> tuple[float, float]:
    """R-hat and bulk ESS of a derived quantity's draws (chains stacked)."""
    import arviz as az

    a = np.asarray(x, float).reshape(chains, -1)
    if not np.all(np.isfinite(a)) or np.ptp(a) == 0:
        return np.nan, np.nan
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(az.rhat(a)), float(az.ess(a, method="bulk"))


def _shares(post) -> list[dict]:
    """ICC and R² rows of a posterior (effect, group, term, summaries)."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        icc, r2 = post.icc(), post.r2()
    items = [("icc", None, "icc_adjusted", icc["adjusted"].draws)]
    if len(post.design.terms) > 1:
        shares = icc["by_component_draws"]
        items += [("icc", g, "icc", shares[g].to_numpy()) for g in shares.columns[:-1]]
    items += [("r2", None, f"r2_{k}", r2[k].draws) for k in ("marginal", "conditional")]
    for effect, group, term, x in items:
        x = np.asarray(x, float)
        rhat, ess = _diag(x, post.nchains)
        rows.append(
            {
                "effect": effect, "group": group, "term": term,
                "estimate": float(np.mean(x)), "std_error": float(np.std(x, ddof=1)),
                "conf_low": float(np.quantile(x, 0.025)),
                "conf_high": float(np.quantile(x, 0.975)),
                "rhat": rhat, "ess_bulk": ess,
            }
        )  # fmt: skip
    return rows


def _fit_one(task: tuple, rng: np.random.Generator):
    """Sample one combination; its table rows and (optionally) the fit."""
    model, priors, settings, keep = task
    seed = int(rng.integers(2**31 - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = model.sample(priors=priors, random_seed=seed, progressbar=False, **settings)
    cols = ["effect", "group", "term", "estimate", "std_error", "conf_low", "conf_high"]
    rows = post.tidy()[[*cols, "rhat", "ess_bulk"]]
    rows = pd.concat([rows, pd.DataFrame(_shares(post))], ignore_index=True)
    return rows, (post if keep else None)


def _reference(model: MixedModel) -> pd.DataFrame:
    """The REML estimates the plot marks (empty when the REML fit fails)."""
    cols = ["effect", "group", "term", "estimate"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = model.fit_reml()
            icc, r2 = fit.icc(tolerance=0), fit.r2(tolerance=0)
    except Exception:  # a reference is a convenience: the refits do not need it
        return pd.DataFrame(columns=cols)
    rows = fit.tidy()[cols].to_dict("records")
    rows.append(
        {"effect": "icc", "group": None, "term": "icc_adjusted", "estimate": icc["adjusted"]}
    )
    for g, v in icc["by_component"].iloc[:-1].items() if len(model.design.terms) > 1 else ():
        rows.append({"effect": "icc", "group": g, "term": "icc", "estimate": float(v)})
    for k in ("marginal", "conditional"):
        rows.append({"effect": "r2", "group": None, "term": f"r2_{k}", "estimate": float(r2[k])})
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- entry point
def sensitivity(
    model: MixedModel,
    priors: dict,
    base_priors: dict | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    random_seed: int | None = None,
    client=None,
    progressbar: bool = True,
    *,
    sampler: str = "nutpie",
    keep_fits: bool = True,
    n_workers: int | None = None,
) -> SensitivityResult:
    """Refit the model under every combination of the given priors.

    Parameters
    ----------
    model : MixedModel
    priors : dict
        Parameter name (or class, ``"sd"``) → list of :class:`~bayesmixed.bayes.Prior` to try;
        names as in ``model.sample(priors=...)``.
    base_priors : dict, optional
        Priors kept in every fit (under the varied ones; the defaults fill the rest).
    draws, tune, chains : int
        Per fit.
    random_seed : int, optional
        Fit ``i`` is seeded from child ``i`` of ``SeedSequence(random_seed)``: the same seed
        gives the same table locally and on Dask.
    client : distributed.Client or str, optional
        Run the fits on this Dask cluster instead of local processes.
    progressbar : bool
    sampler : str
        Passed to :meth:`MixedModel.sample`; each fit's chains run one after the other
        (``cores=1``), the fits in parallel.
    keep_fits : bool
        Return the BayesFits (pickled back from the workers); False keeps the tables only.
    n_workers : int, optional
        Local processes (default: every core; 1 runs here).

    Returns
    -------
    SensitivityResult

    Raises
    ------
    PriorError
        A name that is not a parameter (the message lists them) or a prior of the wrong
        kind for its parameter (a normal on an SD).
    ArgumentError
        An empty grid, or ``client`` of the wrong type.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    >>> res = bm.sensitivity(m, {"sd__(Intercept)|Batch": [bm.Prior("halfnormal", sigma=50),
    ...                      bm.Prior("exponential", lam=0.05)]}, draws=300, tune=300,
    ...                      random_seed=1, progressbar=False, n_workers=1)
    >>> res.grid["prior"].tolist()
    ['sd__(Intercept)|Batch ~ HalfNormal(50)', 'sd__(Intercept)|Batch ~ Exponential(0.05)']
    """
    if not isinstance(model, MixedModel):
        raise ArgumentError(f"model must be a bm.MixedModel, got {type(model).__name__}")
    _check_client(client)
    combos = _grid(model, priors, base_priors)
    labels = [_label(c) for c in combos]
    settings = {"draws": draws, "tune": tune, "chains": chains, "cores": 1, "sampler": sampler}
    tasks = [(model, {**dict(base_priors or {}), **c}, settings, keep_fits) for c in combos]
    results = run_tasks(
        _fit_one, tasks, random_seed=random_seed, client=client, progressbar=progressbar,
        n_workers=n_workers,
    )  # fmt: skip
    tables, fits, failures = [], [], []
    for i, r in enumerate(results):
        if not r.ok:
            failures.append({"prior": labels[i], "error": r.error})
            fits.append(None)
            continue
        rows, fit = r.value
        tables.append(rows.assign(prior=labels[i], combination=i))
        fits.append(fit)
    if failures:
        warnings.warn(
            f"{len(failures)} of {len(combos)} fits failed (see .failures): "
            + "; ".join(f"{f['prior']}: {f['error']}" for f in failures[:3]),
            RefitWarning,
            stacklevel=2,
        )
    table = (
        pd.concat(tables, ignore_index=True)[SENSITIVITY_COLUMNS]
        if tables
        else pd.DataFrame(columns=SENSITIVITY_COLUMNS)
    )
    grid = pd.DataFrame(
        [
            {"combination": i, "prior": labels[i], **{k: p.label for k, p in c.items()}}
            for i, c in enumerate(combos)
        ]
    )
    return SensitivityResult(
        table=table,
        grid=grid,
        fits=fits,
        priors=combos,
        reference=_reference(model),
        failures=pd.DataFrame(failures, columns=["prior", "error"]),
    )
