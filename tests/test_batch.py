"""bayesmixed.batch.run_tasks: seeds, failures, local pool and Dask give the same results."""

from __future__ import annotations

import numpy as np
import pytest

from bayesmixed.batch import TaskResult, run_tasks
from bayesmixed.errors import ArgumentError


def _draw(task, rng):
    """Module level, so spawned workers and Dask can unpickle it."""
    if task == "boom":
        raise RuntimeError("task failed on purpose")
    return float(task) * rng.normal(size=3)


def _values(results):
    return [r.value.tolist() if r.ok else r.error for r in results]


TASKS = [1.0, 2.0, "boom", 3.0, 4.0]


def test_in_process_matches_seed_sequence():
    res = run_tasks(_draw, [1.0, 2.0], random_seed=7, n_workers=1, progressbar=False)
    seeds = np.random.SeedSequence(7).spawn(2)
    expect = [
        s * np.random.default_rng(seed).normal(size=3)
        for s, seed in zip([1, 2], seeds, strict=True)
    ]
    np.testing.assert_array_equal([r.value for r in res], expect)
    assert [r.index for r in res] == [0, 1]


def test_failing_task_is_reported_not_fatal():
    res = run_tasks(_draw, TASKS, random_seed=1, n_workers=1, progressbar=False)
    assert [r.ok for r in res] == [True, True, False, True, True]
    bad = res[2]
    assert isinstance(bad, TaskResult) and bad.value is None
    assert bad.error == "RuntimeError: task failed on purpose"
    assert "Traceback" in bad.traceback


def test_local_pool_equals_in_process():
    one = run_tasks(_draw, TASKS, random_seed=3, n_workers=1, progressbar=False)
    pool = run_tasks(_draw, TASKS, random_seed=3, n_workers=2, progressbar=False)
    assert _values(one) == _values(pool)


def test_bad_arguments():
    with pytest.raises(ArgumentError, match="client must be"):
        run_tasks(_draw, TASKS, client=42)
    with pytest.raises(ArgumentError, match="n_workers"):
        run_tasks(_draw, TASKS, n_workers=0)
    assert run_tasks(_draw, [], random_seed=1) == []


@pytest.mark.slow  # starts a Dask LocalCluster
def test_dask_equals_local():
    distributed = pytest.importorskip("distributed")
    local = run_tasks(_draw, TASKS, random_seed=11, n_workers=2, progressbar=False)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = run_tasks(_draw, TASKS, random_seed=11, client=client, progressbar=False)
        by_address = run_tasks(
            _draw, TASKS, random_seed=11, client=cluster.scheduler_address, progressbar=False
        )
    assert _values(on_dask) == _values(local) == _values(by_address)
    assert on_dask[2].error == "RuntimeError: task failed on purpose"


UNGUARDED = """
import warnings
from bayesmixed.batch import run_tasks

def double(x, rng):
    return 2 * x

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    out = run_tasks(double, [1, 2, 3], random_seed=1, n_workers=2, progressbar=False)
print([r.value for r in out], any("__main__" in str(w.message) for w in caught))
"""


@pytest.mark.slow  # a new Python process and a pool that fails to start
def test_a_script_without_a_main_guard_still_gets_its_results(tmp_path):
    """Spawned workers re-import the calling script; without the guard they die on start, and
    the batch runs in the calling process with a warning that says why."""
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[2, 4, 6] True"
