"""Property-based tests (hypothesis): random formulas and data shapes either fit and satisfy
the invariants of a mixed model, or raise a ``BayesMixedError`` — never anything else.

Example counts are bounded and the search is derandomized, so CI runs the same examples
every time (no dependence on hash order or timing: ``deadline=None``).

Tolerances: estimates are compared relative to their scale at 1e-5 (the optimizer stops at
a relative θ tolerance near 1e-8; rounding of sums in another row order moves θ by less than
that, and β, σ and the SDs by less than 1e-5 relative); log-likelihoods at 1e-6 absolute.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesmixed as bm

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FORMULAS = [
    "y ~ x + (1 | g)",
    "y ~ x + (x | g)",
    "y ~ x + (x || g)",
    "y ~ x + (1 | g/h)",
    "y ~ x + (1 | g) + (1 | k)",
    "y ~ f * x + (1 | g)",
    "y ~ f + (1 + x | g) + (1 | k)",
    "y ~ 1 + (1 | g:h)",
]


@st.composite
def datasets(draw):
    """Unbalanced clustered data: groups g (with h nested in g), a crossed factor k, a numeric
    x and a factor f whose cells may be missing."""
    n_g = draw(st.integers(2, 7))
    sizes = draw(st.lists(st.integers(1, 7), min_size=n_g, max_size=n_g))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    g = np.repeat([f"g{i}" for i in range(n_g)], sizes)
    n = len(g)
    h = np.array([f"h{v}" for v in rng.integers(0, draw(st.integers(1, 3)), n)])
    k = np.array([f"k{v}" for v in rng.integers(0, draw(st.integers(2, 4)), n)])
    f = np.array(list("ab"))[rng.integers(0, 2, n)]
    x = rng.normal(size=n)
    u = {lv: rng.normal() for lv in np.unique(g)}
    y = 1.0 + 0.5 * x + np.array([u[v] for v in g]) + rng.normal(scale=0.7, size=n)
    return pd.DataFrame({"y": y, "x": x, "g": g, "h": h, "k": k, "f": f})


def _fit(formula, data, reml=True, converged=None):
    """Fit, ignoring bayesmixed's warnings; with ``converged`` (a list), append whether the
    fit converged (no ConvergenceWarning): where the criterion is unbounded or flat (e.g. as
    many random effects as observations) the optimum is not unique and the invariants below
    cannot hold, which the warning tells the user."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bm.BayesMixedWarning)
        fit = bm.MixedModel(formula, data).fit_reml(reml=reml)
    if converged is not None:
        converged.append(
            not any(issubclass(w.category, bm.errors.ConvergenceWarning) for w in caught)
        )
    return fit


def _estimates(fit) -> np.ndarray:
    t = fit.tidy()
    return t.sort_values(["effect", "group", "term"], na_position="first")["estimate"].to_numpy(
        dtype=float
    )


def _close(a, b, rtol=1e-5):
    """Equal up to ``rtol`` of the largest value (an undefined correlation, NaN, on both)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = max(float(np.nanmax(np.abs(b), initial=0.0)), 1e-12)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, equal_nan=True)


@SETTINGS
@given(data=datasets(), formula=st.sampled_from(FORMULAS), reml=st.booleans())
def test_fit_or_named_error_and_invariants(data, formula, reml):
    ok: list[bool] = []
    try:
        fit = _fit(formula, data, reml, ok)
    except bm.BayesMixedError:
        return
    est = _estimates(fit)
    assert np.all(np.isfinite(est[~np.isnan(est)]))
    assert np.isfinite(fit.loglik) and fit.sigma > 0
    # predict(re=True) on the training data equals fitted()
    np.testing.assert_allclose(fit.predict(data, re=True), fit.fitted(), rtol=1e-10, atol=1e-10)
    if not ok[0]:
        return
    # reordering rows changes no estimate
    perm = np.random.default_rng(0).permutation(len(data))
    again = _fit(formula, data.iloc[perm].reset_index(drop=True), reml)
    _close(_estimates(again), est)
    assert abs(again.loglik - fit.loglik) < 1e-6


@SETTINGS
@given(data=datasets(), formula=st.sampled_from(FORMULAS[:5]))
def test_relabelling_levels_changes_no_estimate(data, formula):
    ok: list[bool] = []
    try:
        fit = _fit(formula, data, converged=ok)
    except bm.BayesMixedError:
        return
    if not ok[0]:
        return
    renamed = data.assign(
        g=data["g"].map(lambda v: f"z{v[::-1]}"), h=data["h"].str.upper(), k="q" + data["k"]
    )
    _close(_estimates(_fit(formula, renamed)), _estimates(fit))


@SETTINGS
@given(data=datasets(), c=st.sampled_from([1e-6, 0.37, 1e6]))
def test_scaling_y_scales_fixed_effects_and_sds(data, c):
    formula = "y ~ x + (x | g)"
    ok: list[bool] = []
    try:
        fit = _fit(formula, data, converged=ok)
    except bm.BayesMixedError:
        return
    if not ok[0]:
        return
    scaled = _fit(formula, data.assign(y=data["y"] * c))
    a, b = fit.tidy(), scaled.tidy()
    is_cor = a["term"].str.startswith("cor__").to_numpy()
    _close(b["estimate"][~is_cor].to_numpy() / c, a["estimate"][~is_cor].to_numpy(), rtol=1e-4)
    # correlations are scale-free (an undefined correlation stays undefined)
    np.testing.assert_allclose(
        b["estimate"][is_cor].to_numpy(), a["estimate"][is_cor].to_numpy(), atol=1e-4
    )


@SETTINGS
@given(
    m=st.integers(3, 9),
    size=st.integers(3, 6),  # more observations than the 2·m random effects of (x | g)
    seed=st.integers(0, 2**31 - 1),
)
def test_balanced_designs(m, size, seed):
    """Balanced data with the same x in every cluster: BLUPs of each term sum to 0, and REML
    and ML give the same fixed effects for an intercept-only model (the grand mean)."""
    rng = np.random.default_rng(seed)
    x = np.tile(np.arange(size, dtype=float), m)
    g = np.repeat([f"c{i}" for i in range(m)], size)
    y = 2.0 + 0.3 * x + np.repeat(rng.normal(size=m), size) + rng.normal(size=m * size)
    data = pd.DataFrame({"y": y, "x": x, "g": g})
    for formula in ["y ~ x + (1 | g)", "y ~ x + (x | g)"]:
        fit = _fit(formula, data)
        re = fit.ranef()
        sums = re.groupby("term")["estimate"].sum().to_numpy()
        scale = re["estimate"].abs().max() + 1e-12
        assert np.all(np.abs(sums) <= 1e-6 * scale * m)
    b_reml = _fit("y ~ 1 + (1 | g)", data).fixef().to_numpy()
    b_ml = _fit("y ~ 1 + (1 | g)", data, reml=False).fixef().to_numpy()
    np.testing.assert_allclose(b_reml, b_ml, rtol=1e-9)
    np.testing.assert_allclose(b_reml, [y.mean()], rtol=1e-9)


@SETTINGS
@given(m=st.integers(3, 8), size=st.integers(2, 6), seed=st.integers(0, 2**31 - 1))
def test_zero_between_variance_equals_ols(m, size, seed):
    """Identical cluster means (τ̂ = 0 on the boundary): the mixed model is its OLS fit."""
    rng = np.random.default_rng(seed)
    g = np.repeat([f"c{i}" for i in range(m)], size)
    e = rng.normal(size=(m, size))
    y = 5.0 + (e - e.mean(axis=1, keepdims=True)).ravel()
    data = pd.DataFrame({"y": y, "g": g})
    fit = _fit("y ~ 1 + (1 | g)", data)
    ols = _fit("y ~ 1", data)
    assert fit.tidy().query("group == 'g'")["estimate"].iloc[0] == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(fit.fixef().to_numpy(), ols.fixef().to_numpy(), rtol=1e-9)
    ml = _fit("y ~ 1 + (1 | g)", data, reml=False)
    assert ml.loglik == pytest.approx(ols.loglik, abs=1e-6)
