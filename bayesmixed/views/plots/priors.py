"""What the priors say: on the τ, ICC and R² scales, and against the posterior across priors.

* :func:`prior_implied` — draws from the prior (no data) shown where a reader thinks: the
  random-effect SDs τ, the ICC and the marginal/conditional R². A half-Student-t on τ that
  looks vague can still say "the ICC is probably above 0.5"; this picture shows it.
* :func:`sensitivity_grid` — the refits of :func:`bayesmixed.sensitivity`: one row per prior
  combination, one column each for τ, the ICC and a γ; the posterior (filled) over the prior
  (dashed), the REML estimate marked. It is also ``result.plot()``.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...bayes.densities import prior_logp
from ...errors import ArgumentError
from ...quantities.sensitivity import SensitivityResult, _register_renderer, sensitivity
from ...results.components import Components
from ...results.variance import icc, r2
from ._common import BAYES_COLOR, REML_COLOR, get_axes

__all__ = ["prior_implied", "sensitivity_grid", "sensitivity"]

PRIOR_COLOR = "0.35"
UNIT = (0.0, 1.0)
BOUNDS = [(0.0, None), UNIT, (None, None)]  # τ, ICC, γ in the sensitivity grid


def _prior_components(design, prior) -> Components:
    """Components (draws along the first axis) from an InferenceData ``prior`` group."""
    beta = np.asarray(prior["beta"].values, float).reshape(-1, design.p)
    sigma = np.asarray(prior["sigma"].values, float).ravel()
    covs = []
    for t in design.terms:
        sd = np.asarray(prior[f"sd_{t.name}"].values, float).reshape(-1, t.k)
        if t.k > 1:
            R = np.asarray(prior[f"cor_{t.name}"].values, float).reshape(-1, t.k, t.k)
        else:
            R = np.ones((sd.shape[0], 1, 1))
        covs.append(sd[:, :, None] * R * sd[:, None, :])
    return Components(design=design, beta=beta, sigma=sigma, cov=covs, draws=True)


def _sd_draws(comp: Components) -> dict[str, np.ndarray]:
    out = {}
    for t, C in zip(comp.design.terms, comp.cov, strict=True):
        for i, c in enumerate(t.cnames):
            out[f"sd__{c}|{t.name}"] = np.sqrt(np.clip(C[:, i, i], 0.0, None))
    return out


def _shares(comp: Components) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        out_icc, out_r2 = icc(comp), r2(comp)
    return (
        np.asarray(out_icc["adjusted"].draws, float),
        np.asarray(out_r2["marginal"].draws, float),
        np.asarray(out_r2["conditional"].draws, float),
    )


def _density(ax, x, color, lo=None, hi=None, fill=True, label=None, ls="-", bounds=(None, None)):
    """A kernel density of draws x on [lo, hi]; reflected at hard ``bounds`` (0 for τ, 0 and
    1 for shares), where a plain kernel density would dip for want of draws beyond them."""
    from scipy.stats import gaussian_kde

    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    lo = np.quantile(x, 0.001) if lo is None else lo
    hi = np.quantile(x, 0.999) if hi is None else hi
    if x.size < 2 or np.ptp(x) == 0:
        ax.axvline(float(np.mean(x)), color=color, ls=ls, label=label)
        return
    grid = np.linspace(lo, hi, 300)
    kde = gaussian_kde(x)
    y = kde(grid)
    for b in bounds:
        if b is not None:
            y = y + kde(2.0 * b - grid)
    ax.plot(grid, y, color=color, ls=ls, lw=1.4, label=label)
    if fill:
        ax.fill_between(grid, y, color=color, alpha=0.25)


def prior_implied(model, priors: dict | None = None, draws: int = 2000, random_seed=None,
                  fit=None, ax=None):  # fmt: skip
    """The priors' meaning on the τ, ICC and R² scales (prior draws, no data).

    Parameters
    ----------
    model : MixedModel
    priors : dict, optional
        As in :meth:`MixedModel.sample`.
    draws : int
    random_seed : int, optional
    fit : REMLFit, optional
        Mark its estimates (where the data put τ, the ICC and R²).
    ax : sequence of 3 Axes, optional

    Returns
    -------
    list of 3 Axes
        τ, ICC, R²; the figure is ``axes[0].figure``.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    >>> axes = bm.plots.prior_implied(m, draws=500, random_seed=1)
    >>> [a.get_title() for a in axes]
    ['τ (random-effect SDs)', 'ICC', 'R²']
    """
    if not getattr(model, "has_random", False):
        raise ArgumentError("prior_implied needs a model with random effects (τ and the ICC)")
    idata = model.sample_prior_predictive(draws=draws, priors=priors, random_seed=random_seed)
    comp = _prior_components(model.design, idata.prior)
    ref = None
    if fit is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = fit.components()
    axes = get_axes(ax, 3, figsize_each=(4.3, 3.6), what="prior_implied")
    sds = _sd_draws(comp)
    hi = max(np.quantile(v, 0.95) for v in sds.values())
    for i, (key, v) in enumerate(sds.items()):
        color = f"C{i}"
        _density(axes[0], v, color, lo=0.0, hi=hi, label=key, bounds=(0.0, None))
        if ref is not None:
            axes[0].axvline(float(np.atleast_1d(_sd_draws(ref.as_draws())[key])[0]), color=color,
                            ls=":", lw=1.5)  # fmt: skip
    axes[0].set_title("τ (random-effect SDs)")
    axes[0].set_xlabel("τ (the upper 5% of prior draws lie beyond the axis)")
    axes[0].legend(fontsize=7)
    a, rm, rc = _shares(comp)
    _density(axes[1], a, BAYES_COLOR, lo=0.0, hi=1.0, bounds=UNIT)
    axes[1].set_title("ICC")
    axes[1].set_xlabel("adjusted ICC = τ² / (τ² + σ²)")
    _density(axes[2], rm, "C0", lo=0.0, hi=1.0, label="marginal", bounds=UNIT)
    _density(axes[2], rc, "C2", lo=0.0, hi=1.0, label="conditional", bounds=UNIT)
    axes[2].set_title("R²")
    axes[2].set_xlabel("R² (Nakagawa & Schielzeth)")
    axes[2].legend(fontsize=7)
    if ref is not None:
        ra, rrm, rrc = _shares(ref.as_draws())
        axes[1].axvline(float(ra[0]), color=REML_COLOR, ls=":", lw=1.5, label="REML")
        axes[2].axvline(float(rrm[0]), color="C0", ls=":", lw=1.5)
        axes[2].axvline(float(rrc[0]), color="C2", ls=":", lw=1.5)
    for axx in axes:
        axx.set_yticks([])
        axx.set_ylabel("prior density")
    axes[0].figure.suptitle(f"What the priors imply before seeing the data ({draws} draws)")
    return axes


# --------------------------------------------------------------------------- refit grid
def _columns(result: SensitivityResult, tau: str | None, gamma: str | None) -> tuple[str, str]:
    table = result.table
    sds = [f"{t}|{g}" for t, g in zip(table["term"], table["group"], strict=True)
           if str(t).startswith("sd__") and g != "Residual"]  # fmt: skip
    fixed = list(dict.fromkeys(table.loc[table["effect"] == "fixed", "term"]))
    tau = tau or (sds[0] if sds else None)
    if tau not in dict.fromkeys(sds) and tau != "sigma":
        raise ArgumentError(
            f"tau={tau!r} is not an SD of the model; choose one of {sorted(set(sds))}"
        )
    slopes = [f for f in fixed if f != "(Intercept)"]
    gamma = gamma or (slopes[0] if slopes else fixed[0])
    if gamma not in fixed:
        raise ArgumentError(f"gamma={gamma!r} is not a fixed effect; choose one of {fixed}")
    return tau, gamma


def _cell_draws(fit, tau: str, gamma: str):
    """Posterior and prior draws (τ, ICC, γ) of one fit, and τ's prior."""
    comp = fit.components()
    j = list(fit.design.xnames).index(gamma)
    post_tau = np.asarray(comp.sigma, float) if tau == "sigma" else _sd_draws(comp)[tau]
    prior_c = _prior_components(fit.design, fit.idata.prior)
    tau_prior = fit.priors.sigma if tau == "sigma" else fit.priors.sd[tau]
    return (
        (post_tau, _shares(comp)[0], np.asarray(comp.beta, float)[:, j]),
        (None, _shares(prior_c)[0], prior_c.beta[:, j]),
        tau_prior,
    )


def sensitivity_grid(result: SensitivityResult, tau: str | None = None,
                     gamma: str | None = None, figsize=None):  # fmt: skip
    """Posterior of τ, the ICC and a γ under each prior combination of a sensitivity run.

    Parameters
    ----------
    result : SensitivityResult
        From :func:`bayesmixed.sensitivity`.
    tau : str, optional
        ``"sd__(Intercept)|g"`` (default: the first SD) or ``"sigma"``.
    gamma : str, optional
        A fixed effect (default: the first slope, else the intercept).
    figsize : tuple, optional

    Returns
    -------
    ndarray of Axes, shape (combinations, 3)
        The figure is ``axes[0, 0].figure``. Rows are the combinations; each panel shows the posterior (filled), the prior
        (dashed grey; for the ICC and γ, the prior draws' density) and the REML estimate
        (dotted blue). Fits not kept (``keep_fits=False``) show their 95% interval.
    """
    import matplotlib.pyplot as plt

    if not isinstance(result, SensitivityResult):
        raise ArgumentError("sensitivity_grid() takes the result of bm.sensitivity(...)")
    if result.table.empty:
        raise ArgumentError("every fit of this sensitivity run failed: nothing to draw")
    tau, gamma = _columns(result, tau, gamma)
    n = len(result.grid)
    fig, axes = plt.subplots(n, 3, figsize=figsize or (11.0, 1.5 + 1.3 * n), squeeze=False,
                             sharex="col", layout="constrained")  # fmt: skip
    keys = [("ran_pars", tau), ("icc", "icc_adjusted"), ("fixed", gamma)]
    cells = [_cell_draws(f, tau, gamma) if f is not None else None for f in result.fits]
    ranges = []
    for c in range(3):
        xs = [cell[0][c] for cell in cells if cell is not None]
        rows = _rows(result.table, *keys[c])
        lo = min([np.quantile(x, 0.002) for x in xs] + list(rows["conf_low"]))
        hi = max([np.quantile(x, 0.998) for x in xs] + list(rows["conf_high"]))
        if c == 1:
            ranges.append(UNIT)
            continue
        if c == 0:
            lo = 0.0
        ranges.append((lo, hi + 0.05 * (hi - lo)))
    ref = _reference_values(result, tau, gamma)
    for r in range(n):
        for c in range(3):
            ax = axes[r, c]
            lo, hi = ranges[c]
            cell = cells[r]
            if cell is None:
                row = _rows(result.table, *keys[c]).query("combination == @r")
                for _, x in row.iterrows():
                    ax.plot([x["conf_low"], x["conf_high"]], [0.5, 0.5], color=BAYES_COLOR)
                    ax.plot([x["estimate"]], [0.5], "o", color=BAYES_COLOR)
            else:
                _density(ax, cell[0][c], BAYES_COLOR, lo=lo, hi=hi, bounds=BOUNDS[c])
                twin = ax.twinx()  # the prior on its own height: it is far flatter
                if c == 0:
                    grid = np.linspace(max(lo, 1e-9), hi, 300)
                    with np.errstate(all="ignore"):
                        twin.plot(grid, np.exp(prior_logp(cell[2], grid)[0]) * np.ones_like(grid),
                                  color=PRIOR_COLOR, ls="--", lw=1.2)  # fmt: skip
                else:
                    _density(twin, cell[1][c], PRIOR_COLOR, lo=lo, hi=hi, fill=False, ls="--",
                             bounds=BOUNDS[c])  # fmt: skip
                twin.set_ylim(bottom=0)
                twin.set_yticks([])
            if np.isfinite(ref[c]):
                ax.axvline(ref[c], color=REML_COLOR, ls=":", lw=1.6)
            ax.set_xlim(lo, hi)
            ax.set_ylim(bottom=0)
            ax.set_yticks([])
        axes[r, 0].set_ylabel(_wrap(result.grid["prior"].iloc[r]), fontsize=7, rotation=0,
                              ha="right", va="center")  # fmt: skip
    for c, title in enumerate([f"τ: {tau}", "ICC (adjusted)", f"γ: {gamma}"]):
        axes[0, c].set_title(title, fontsize=10)
    fig.suptitle(
        "Posterior (filled) over prior (dashed) under each prior; REML dotted", fontsize=10
    )
    return axes


def _rows(t, effect: str, term: str):
    """The rows of a table (sensitivity table or REML reference) for one quantity."""
    if effect == "ran_pars":
        if term == "sigma":
            return t[(t["term"] == "sd__Observation") & (t["group"] == "Residual")]
        name, group = term.split("|", 1)
        return t[(t["term"] == name) & (t["group"] == group)]
    return t[(t["effect"] == effect) & (t["term"] == term)]


def _reference_values(result, tau: str, gamma: str) -> list[float]:
    ref = result.reference
    if ref.empty:
        return [np.nan] * 3
    out = []
    for effect, term in [("ran_pars", tau), ("icc", "icc_adjusted"), ("fixed", gamma)]:
        sub = _rows(ref, effect, term)
        out.append(float(sub["estimate"].iloc[0]) if len(sub) else np.nan)
    return out


def _wrap(label: str) -> str:
    return label.replace("; ", "\n")


_register_renderer(sensitivity_grid)
