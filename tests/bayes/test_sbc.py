"""A reduced simulation-based calibration through ``bm.sbc`` (the full one is
``benchmarks/sbc.py``).

Random-intercept model on a small design (8 groups × 4 observations, so that the prior still
matters and a wrong one shows), marginal parameterization, 80 simulations with short
chains. Ranks of γ₀ (back-transformed from the centred intercept the prior is on), γ₁, τ, σ
and two random effects must not be grossly non-uniform. A prior in the fit that differs from
the one the truth was drawn from, a wrong likelihood, a wrong intercept back-transform or a
broken b draw all push some rank distribution off uniform by far more than these bounds
allow. Fixed seeds make it deterministic.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm

pytestmark = pytest.mark.slow

N_SIMS = 80
PRIORS = {
    "(Intercept)": bm.Prior("normal", mu=0.0, sigma=2.0),
    "x": bm.Prior("normal", mu=0.0, sigma=1.0),
    "sd__(Intercept)|g": bm.Prior("halfnormal", sigma=1.0),
    "sigma": bm.Prior("halfnormal", sigma=1.0),
}


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(20240)
    frame = pd.DataFrame(
        {
            "g": np.repeat([f"g{i:02d}" for i in range(8)], 4),
            "x": rng.uniform(0.0, 3.0, 32),  # uncentred on purpose: checks the back-transform
            "y": 0.0,
        }
    )
    model = bm.MixedModel("y ~ x + (1 | g)", frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bm.sbc(model, n_sims=N_SIMS, draws=200, tune=200, chains=2, priors=PRIORS,
                      parameterization="marginal", random_seed=11)  # fmt: skip


def test_random_intercept_marginal_ranks_uniform(result):
    ranks = result.ranks
    assert ranks["sim"].nunique() == N_SIMS and not result.errors
    expected = {
        "(Intercept)",
        "x",
        "sd__(Intercept)|g",
        "sigma",
        "b|g[g00,(Intercept)]",
        "b|g[g01,(Intercept)]",
    }
    assert set(ranks["parameter"]) == expected
    summary = result.summary().set_index("parameter")
    bad = summary[
        (summary["chi2_p"] <= 0.001)
        | (summary["ecdf_p"] <= 0.001)
        | ((summary["mean_rank"] - 0.5).abs() >= 0.15)
    ]
    assert bad.empty, f"miscalibrated:\n{summary.to_string()}"
