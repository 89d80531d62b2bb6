"""What a fresh process loads: ``import bayesmixed`` stays light, and the default Bayesian path
(nutpie on the marginal density) never loads PyMC or PyTensor (their import alone takes seconds
and benchmarks/first_posterior.py times a first posterior from a cold start)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# loaded on first use, never by `import bayesmixed`
HEAVY = ("pymc", "pytensor", "arviz", "xarray", "numba", "nutpie", "matplotlib", "bambi", "jax")


def loaded_after(code: str) -> list[str]:
    """The HEAVY modules a new interpreter has loaded after running ``code``."""
    probe = (
        f"import json, sys\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=600, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_loads_no_engine_or_plotting_library():
    assert loaded_after("import bayesmixed") == []


@pytest.mark.slow
def test_marginal_nutpie_sampling_loads_neither_pymc_nor_pytensor():
    code = (
        "import bayesmixed as bm\n"
        "bm.MixedModel('Reaction ~ Days + (Days | Subject)', bm.datasets.load('sleepstudy'))"
        ".sample(draws=50, tune=50, chains=1, random_seed=1, progressbar=False)"
    )
    assert not {"pymc", "pytensor", "bambi", "jax"} & set(loaded_after(code))
