"""Same data + specification + seed → bit-identical draws, for every sampler and form; the
seed and sampler are recorded in the InferenceData."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayesmixed as bm

pytestmark = pytest.mark.slow

CASES = [
    ("nutpie", "marginal"),
    ("nutpie", "noncentered"),
    ("pymc", "noncentered"),
    ("numpyro", "noncentered"),
]


def _run(sampler: str, parameterization: str, seed: int):
    m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.sample(
            draws=100,
            tune=100,
            chains=2,
            sampler=sampler,
            parameterization=parameterization,
            random_seed=seed,
            progressbar=False,
        )


@pytest.mark.parametrize("sampler,parameterization", CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_same_seed_gives_identical_draws(sampler, parameterization):
    a, b = _run(sampler, parameterization, 11), _run(sampler, parameterization, 11)
    for v in a.idata.posterior.data_vars:
        np.testing.assert_array_equal(a.idata.posterior[v].values, b.idata.posterior[v].values)
    attrs = a.idata.posterior.attrs
    assert attrs["random_seed"] == 11
    assert attrs["sampler"] == sampler
    assert attrs["parameterization"] == parameterization
    assert attrs["bayesmixed_version"] == bm.__version__


def test_another_seed_gives_other_draws():
    a, c = _run("nutpie", "marginal", 11), _run("nutpie", "marginal", 12)
    assert not np.array_equal(a.idata.posterior["sigma"].values, c.idata.posterior["sigma"].values)
