"""One batch runner for independent tasks: a local process pool or a Dask cluster.

Bootstraps, profile grids and sensitivity runs are many independent computations. They all
go through :func:`run_tasks`, which

* gives task ``i`` its own random generator, made from child ``i`` of
  ``numpy.random.SeedSequence(random_seed).spawn(n)``, so that the results depend on the seed
  and the task list only — not on how many workers there are, on chunking, or on whether the
  tasks ran locally or on Dask;
* runs locally on a ``concurrent.futures.ProcessPoolExecutor`` (spawn start method, one
  process per core by default), or on Dask when ``client=`` is a ``distributed.Client`` or
  a scheduler address;
* turns a failing task into a :class:`TaskResult` carrying its error message, so that one
  bad replicate never loses a batch.

Local workers run with one BLAS/OpenMP/Numba thread each (the pool already uses every core;
more threads per worker only oversubscribe them) and each with its own PyTensor compile
directory: PyTensor's compile cache takes a lock that is not safe to share between processes
started at the same moment.

Tasks are sent in chunks (a few per worker) to spread the cost of pickling ``func`` and of
each round trip; chunking never changes a result, because every task brings its own seed.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import tempfile
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ArgumentError, BayesMixedWarning

__all__ = ["TaskResult", "run_tasks"]

# Environment of a local worker: one thread per library, set before the worker imports them.
_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)
_CHUNKS_PER_WORKER = 4
_PREPARED = False  # this process has been set up as a worker


@dataclass(frozen=True)
class TaskResult:
    """The outcome of one task: its ``value``, or the ``error`` message that stopped it.

    Attributes
    ----------
    index : int
        Position of the task in the list given to :func:`run_tasks`.
    value : object
        What ``func`` returned (None when it failed).
    error : str or None
        ``"ExceptionType: message"`` when the task raised, else None.
    traceback : str or None
        The formatted traceback of that exception.
    """

    index: int
    value: Any = None
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the task returned normally."""
        return self.error is None


def _prepare_worker(compile_root: str | None) -> None:
    """Once per worker process: single-threaded libraries and a private PyTensor cache."""
    global _PREPARED
    if _PREPARED:
        return
    _PREPARED = True
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    if compile_root is not None:
        # PyTensor reads its flags when first imported; bayesmixed imports it lazily, so
        # setting them here (before any task runs) takes effect
        compiledir = os.path.join(compile_root, f"worker-{os.getpid()}")
        flags = os.environ.get("PYTENSOR_FLAGS", "")
        os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, f"compiledir={compiledir}") if f)
    try:  # numpy is already loaded in a spawned worker: cap its BLAS at run time too
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with PyMC
        pass


def _run_chunk(func: Callable, items: list, compile_root: str | None = None) -> list[TaskResult]:
    """Run ``func(task, rng)`` for each (index, task, seed) of a chunk, catching failures."""
    _prepare_worker(compile_root)
    out = []
    for index, task, seed in items:
        try:
            value = func(task, np.random.default_rng(seed))
            out.append(TaskResult(index, value))
        except Exception as exc:  # a failing task is reported, never fatal to the batch
            out.append(
                TaskResult(
                    index,
                    error=f"{type(exc).__name__}: {exc}",
                    traceback=traceback.format_exc(),
                )
            )
    return out


@contextlib.contextmanager
def _worker_environment():
    """Single-threaded libraries in the environment spawned workers inherit (restored after).

    Spawned workers import numpy before any initializer runs, so BLAS threads must be set in
    the environment they start with; the pool starts its workers while tasks are submitted.
    """
    saved = {var: os.environ.get(var) for var in _THREAD_VARS}
    os.environ.update(dict.fromkeys(_THREAD_VARS, "1"))
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _chunks(items: list, n_workers: int) -> list[list]:
    size = max(1, -(-len(items) // (n_workers * _CHUNKS_PER_WORKER)))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with PyMC
        return None
    return tqdm(total=total, desc="tasks")


def _dask_client(client):
    """(Client, whether we opened it) for a Client or a scheduler address."""
    try:
        import distributed
    except ImportError as exc:
        raise ArgumentError(
            "client= needs Dask's distributed package: pip install distributed"
        ) from exc
    if isinstance(client, distributed.Client):
        return client, False
    if isinstance(client, str):
        return distributed.Client(client), True
    raise ArgumentError(
        f"client must be a distributed.Client or a scheduler address such as "
        f"'tcp://127.0.0.1:8786', got {type(client).__name__}"
    )


def _collect(futures, as_completed, bar, n: int) -> list[TaskResult]:
    """Results of chunk futures as they finish; a lost chunk becomes error results."""
    results: list[TaskResult] = []
    for fut in as_completed(futures):
        chunk = futures[fut]
        try:
            done = fut.result()
        except Exception as exc:  # the worker itself died (or the cluster lost the chunk)
            msg = f"{type(exc).__name__}: {exc}"
            done = [TaskResult(i, error=msg) for i, _, _ in chunk]
        results.extend(done)
        if bar is not None:
            bar.update(len(done))
    if bar is not None:
        bar.close()
    results.sort(key=lambda r: r.index)
    assert len(results) == n
    return results


def run_tasks(
    func: Callable[[Any, np.random.Generator], Any],
    tasks: Sequence,
    *,
    random_seed: int | np.random.SeedSequence | None = None,
    client=None,
    progressbar: bool = True,
    n_workers: int | None = None,
) -> list[TaskResult]:
    """Run ``func(task, rng)`` for every task, in parallel, with reproducible seeds.

    Parameters
    ----------
    func : callable
        ``func(task, rng) -> value``, where ``rng`` is a ``numpy.random.Generator`` of its
        own. It must be picklable (a module-level function or a ``functools.partial`` of
        one), as must the tasks and the values.
    tasks : sequence
        One item per task.
    random_seed : int or SeedSequence, optional
        Task ``i`` draws from child ``i`` of ``SeedSequence(random_seed).spawn(len(tasks))``:
        the same seed gives the same results locally, on Dask and with any number of workers.
    client : distributed.Client or str, optional
        Run on this Dask cluster (a client or a scheduler address) instead of a local pool.
    progressbar : bool
        Show a tqdm progress bar.
    n_workers : int, optional
        Local worker processes (default: every core). ``1`` runs in this process.

    Returns
    -------
    list of TaskResult
        In task order; a task that raised has ``ok == False`` and its message in ``error``.

    Raises
    ------
    ArgumentError
        ``client`` is neither a ``distributed.Client`` nor an address, or ``n_workers`` is
        not a positive integer.

    Examples
    --------
    >>> res = run_tasks(lambda scale, rng: scale * rng.normal(), [1.0, 2.0],
    ...                 random_seed=1, n_workers=1, progressbar=False)
    >>> [r.ok for r in res], [round(r.value, 3) for r in res]
    ([True, True], [-0.64, 4.971])
    """
    if n_workers is not None and (
        isinstance(n_workers, bool) or not isinstance(n_workers, (int, np.integer)) or n_workers < 1
    ):
        raise ArgumentError(f"n_workers must be a positive integer, got {n_workers!r}")
    if not callable(func):
        raise ArgumentError(f"func must be callable, got {type(func).__name__}")
    tasks = list(tasks)
    seeds = (
        random_seed
        if isinstance(random_seed, np.random.SeedSequence)
        else np.random.SeedSequence(random_seed)
    ).spawn(len(tasks))
    items = [(i, t, s) for i, (t, s) in enumerate(zip(tasks, seeds, strict=True))]
    if not items:
        return []
    if client is not None:
        return _run_dask(func, items, client, progressbar)
    workers = int(n_workers or os.cpu_count() or 1)
    workers = min(workers, len(items))
    bar = _progress(len(items), progressbar)
    if workers == 1:
        out = []
        for chunk in _chunks(items, 1):
            out.extend(_run_chunk_here(func, chunk))
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        return out
    with tempfile.TemporaryDirectory(prefix="bayesmixed-batch-") as root:
        ctx = multiprocessing.get_context("spawn")
        with (
            _worker_environment(),
            cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool,
        ):
            futures = {
                pool.submit(_run_chunk, func, chunk, root): chunk
                for chunk in _chunks(items, workers)
            }
            results = _collect(futures, cf.as_completed, bar, len(items))
    if all(r.error and r.error.startswith("BrokenProcessPool") for r in results):
        # Spawned workers re-import the calling script; a script without an
        # ``if __name__ == "__main__":`` guard starts its own batch there and the workers die.
        # Run the tasks here instead (same seeds, same results) and say why it is slower.
        warnings.warn(
            "the worker processes could not start (a script that runs batches must put its "
            'code under `if __name__ == "__main__":`, because worker processes re-import it); '
            "running the tasks one after another in this process instead",
            BayesMixedWarning,
            stacklevel=2,
        )
        return run_tasks(func, tasks, random_seed=random_seed, progressbar=progressbar, n_workers=1)
    return results


def _run_chunk_here(func: Callable, chunk: list) -> list[TaskResult]:
    """A chunk in the calling process (n_workers=1): its threads and caches stay as they are."""
    global _PREPARED
    was = _PREPARED
    _PREPARED = True  # do not reconfigure the caller's own process
    try:
        return _run_chunk(func, chunk)
    finally:
        _PREPARED = was


def _run_dask(func: Callable, items: list, client, progressbar: bool) -> list[TaskResult]:
    """The chunks as Dask futures (the workers' own processes; each prepares itself once)."""
    from distributed import as_completed

    client, opened = _dask_client(client)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        compile_root = os.path.join(tempfile.gettempdir(), "bayesmixed-dask-pytensor")
        futures = {}
        for chunk in _chunks(items, n_workers):
            fut = client.submit(_run_chunk, func, chunk, compile_root, pure=False)
            futures[fut] = chunk
        bar = _progress(len(items), progressbar)
        return _collect(futures, as_completed, bar, len(items))
    finally:
        if opened:
            client.close()
