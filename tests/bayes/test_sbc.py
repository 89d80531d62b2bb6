"""A reduced simulation-based calibration (the full one is ``benchmarks/sbc.py``).

Random-intercept model on a small design (8 groups × 4 observations, so that the prior still
matters and a wrong one shows), marginal parameterization through the public
``MixedModel.sample``, 80 simulations with short chains. Ranks of γ₀ (back-transformed from the centred intercept the
prior is on), γ₁, τ, σ and two random effects must not be grossly non-uniform. A prior in the
fit that differs from the one the truth was drawn from, a wrong likelihood, a wrong intercept
back-transform or a broken b draw all push some rank distribution off uniform by far more
than these bounds allow. Fixed seeds (and one BLAS thread, see the benchmark) make it
deterministic.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

N_SIMS = 80
SBC_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "sbc.py"


def _load_sbc():
    name = "_bayesmixed_sbc_benchmark"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SBC_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ranks():
    sbc = _load_sbc()
    case = sbc.intercept_case(groups=8, per_group=4)
    settings = sbc.FitSettings(draws=200, tune=200, chains=2, cores=2)
    return sbc.run_sbc(case, "marginal", N_SIMS, settings, seed=11)


def test_uniformity_tests_are_calibrated():
    sbc = _load_sbc()
    rng = np.random.default_rng(3)
    p = np.array(
        [
            (sbc.chi2_uniform(r), sbc.ecdf_uniform(r))
            for r in rng.integers(0, sbc.L_DRAWS + 1, size=(200, 40))
        ]
    )
    # uniform ranks: p-values spread out, not piled up near 0
    assert (p < 0.05).mean() < 0.12
    # ranks skewed to the top, as when the posterior sits too low: both tests reject
    skewed = np.minimum((rng.beta(2.0, 1.0, 40) * 100).astype(int), sbc.L_DRAWS)
    assert sbc.chi2_uniform(skewed) < 0.01
    assert sbc.ecdf_uniform(skewed) < 0.01


def test_random_intercept_marginal_ranks_uniform(ranks):
    sbc = _load_sbc()
    assert ranks["sim"].nunique() == N_SIMS
    expected = {
        "(Intercept)",
        "x",
        "sd__(Intercept)|g",
        "sigma",
        "b|g[g00,(Intercept)]",
        "b|g[g01,(Intercept)]",
    }
    assert set(ranks["parameter"]) == expected
    summary = sbc.summarize(ranks).set_index("parameter")
    bad = summary[
        (summary["chi2_p"] <= 0.001)
        | (summary["ecdf_p"] <= 0.001)
        | ((summary["mean_rank"] - 0.5).abs() >= 0.15)
    ]
    assert bad.empty, f"miscalibrated:\n{summary.to_string()}"
