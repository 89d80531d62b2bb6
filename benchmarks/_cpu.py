"""CPU time of every thread of this process while a block of code runs (Linux ``/proc``).

nutpie runs each chain in a worker thread, so whether two chains really ran side by side
shows in the threads' CPU seconds: two busy threads near 100 % each, the main Python thread
small. The process-wide CPU time (``os.times``) cannot tell that apart from one thread
doing the work of two.

Usage::

    from _cpu import thread_cpu

    with thread_cpu() as cpu:
        fit = model.sample(...)
    print(cpu.describe())  # "threads: 98%, 97%, main 3%"

A background thread reads ``/proc/self/task/<tid>/stat`` (utime + stime) and
``/proc/self/task/<tid>/comm`` (the thread name) every ``interval`` seconds, and from
``schedstat`` the time each thread was ready to run but waited for a CPU: on a shared
machine that, not the code, is where the wall time of a thread at 30 % goes. A thread that
ends between two polls is counted up to its last poll, so up to ``interval`` seconds of its
CPU can be missing; ``process_cpu`` (all threads, from ``os.times``) is the check.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

__all__ = ["ThreadCPU", "ThreadUse", "thread_cpu"]

_TICK = os.sysconf("SC_CLK_TCK")
_TASKS = "/proc/self/task"


@dataclass
class ThreadUse:
    """CPU use of one thread over the monitored block."""

    tid: int
    name: str
    cpu: float  # seconds (user + system) spent inside the block
    first: float | None = None  # seconds after the start when it was first seen using CPU
    last: float | None = None  # ... and last seen using CPU
    main: bool = False
    wait: float = 0.0  # seconds runnable but waiting for a CPU (a busy machine), if known


def _read(tid: int) -> tuple[float, str, float] | None:
    try:
        with open(f"{_TASKS}/{tid}/stat") as fh:
            stat = fh.read()
        with open(f"{_TASKS}/{tid}/comm") as fh:
            name = fh.read().strip()
    except OSError:  # the thread ended between listing and reading
        return None
    try:  # run-queue wait (ns), the second field; absent without schedstats in the kernel
        with open(f"{_TASKS}/{tid}/schedstat") as fh:
            wait = int(fh.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        wait = 0.0
    # the name in field 2 may contain spaces and ")": split after the last ")"
    rest = stat[stat.rindex(")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / _TICK, name, wait


def _snapshot() -> dict[int, tuple[float, str, float]]:
    out = {}
    try:
        tids = os.listdir(_TASKS)
    except OSError:
        return out
    for t in tids:
        r = _read(int(t))
        if r is not None:
            out[int(t)] = r
    return out


@dataclass
class ThreadCPU:
    """Result of :func:`thread_cpu`: filled in when the ``with`` block ends."""

    interval: float = 0.25
    threshold: float = 0.05  # threads below this share of the wall time are not listed
    wall: float = 0.0
    process_cpu: float = 0.0  # all threads of the process (os.times), for comparison
    threads: list[ThreadUse] = field(default_factory=list)  # every thread that used CPU
    _start: dict = field(default_factory=dict, repr=False)
    _seen: dict = field(default_factory=dict, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _t0: float = 0.0
    _poller: threading.Thread | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ monitoring
    def _poll(self) -> None:
        now = time.perf_counter() - self._t0
        own = threading.get_native_id()
        for tid, (cpu, name, wait) in _snapshot().items():
            if tid == own:  # the poller itself
                continue
            base, _, wait0 = self._start.get(tid, (0.0, name, 0.0))
            used = cpu - base
            prev = self._seen.get(tid)
            first, last = (prev.first, prev.last) if prev else (None, None)
            if used > (prev.cpu if prev else 0.0):
                first = now if first is None else first
                last = now
            self._seen[tid] = ThreadUse(
                tid, name, used, first, last, main=tid == os.getpid(), wait=wait - wait0
            )

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._poll()

    def __enter__(self) -> ThreadCPU:
        self._start = _snapshot()
        self._cpu0 = sum(os.times()[:2])
        self._t0 = time.perf_counter()
        self._poller = threading.Thread(target=self._run, name="cpu-monitor", daemon=True)
        self._poller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._poller.join()
        self._poll()
        self.wall = time.perf_counter() - self._t0
        self.process_cpu = sum(os.times()[:2]) - self._cpu0
        self.threads = sorted(
            (u for u in self._seen.values() if u.cpu > 0), key=lambda u: (-u.main, -u.cpu)
        )

    # ------------------------------------------------------------------ reporting
    def busy(self) -> list[ThreadUse]:
        """Threads (main first, then by CPU) that used more than ``threshold`` of the wall."""
        w = max(self.wall, 1e-9)
        return [u for u in self.threads if u.main or u.cpu / w > self.threshold]

    def workers(self) -> list[ThreadUse]:
        """The busy threads other than the main one, busiest first."""
        return [u for u in self.busy() if not u.main]

    def describe(self, names: bool = False) -> str:
        """One line, e.g. ``threads: 98%, 97%, main 3%`` (CPU % of the wall time); with
        ``names`` each worker's thread name first (``nutpie-worker-1 98%``). ``other``: the
        process CPU not in the listed threads (threads below the threshold or that lived
        between two polls), shown when above the threshold."""
        w = max(self.wall, 1e-9)
        parts = [f"{u.name + ' ' if names else ''}{100 * u.cpu / w:.0f}%" for u in self.workers()]
        main = [u for u in self.threads if u.main]
        parts.append(f"main {100 * main[0].cpu / w:.0f}%" if main else "main 0%")
        # threads that ended between two polls, the small ones and the poller itself
        other = self.process_cpu - sum(u.cpu for u in self.busy())
        if other / w > self.threshold:
            parts.append(f"other {100 * other / w:.0f}%")
        return "threads: " + ", ".join(parts)

    def overlap(self) -> float:
        """How much the two busiest worker threads ran at the same time: the overlap of their
        active spans (first to last poll with CPU use) as a share of the shorter span; 0 with
        fewer than two workers. Two chains run in parallel when this is near 1."""
        ws = [u for u in self.workers() if u.first is not None][:2]
        if len(ws) < 2:
            return 0.0
        a, b = ws
        span = min(a.last - a.first, b.last - b.first)
        inter = min(a.last, b.last) - max(a.first, b.first)
        return max(0.0, inter) / span if span > 0 else 0.0

    def as_dict(self) -> dict:
        """Plain data (for JSON between processes)."""
        return {
            "wall": self.wall,
            "process_cpu": self.process_cpu,
            "describe": self.describe(),
            "named": self.describe(names=True),
            "overlap": self.overlap(),
            "threads": [
                {
                    "name": u.name,
                    "main": u.main,
                    "cpu": u.cpu,
                    "share": u.cpu / max(self.wall, 1e-9),
                    "first": u.first,
                    "last": u.last,
                    "wait": u.wait,
                }
                for u in self.busy()
            ],
        }


def thread_cpu(interval: float = 0.25, threshold: float = 0.05) -> ThreadCPU:
    """A context manager measuring every thread's CPU seconds while its block runs.

    >>> import sys; sys.path.insert(0, "benchmarks")
    >>> with thread_cpu(interval=0.05) as cpu:
    ...     _ = sum(i * i for i in range(2_000_000))
    >>> cpu.describe().startswith("threads:")
    True
    """
    return ThreadCPU(interval=interval, threshold=threshold)
