"""Building the report: the spec results through the chapters, echoed as text, written as
``index.html``; the command line ``python -m bayesmixed.views.report``.

``bayesmixed primer --out DIR`` runs every spec (and writes its page) and then calls
:func:`build_report` with those results, so nothing is fitted or sampled twice.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from .chapters import CHAPTERS
from .context import ReportContext
from .page import Chapter, render_page
from .runs import from_runs, run_specs

__all__ = ["build_report", "main", "DEMO_SAMPLER"]

#: sampler settings of ``--demo``: short, yet enough for R-hat and ESS to mean something
DEMO_SAMPLER = {"draws": 500, "tune": 500, "chains": 2}


def build_report(
    out: str | Path,
    runs: Iterable[object] | None = None,
    *,
    models: str | Path = "models",
    quick: bool = False,
    sample: dict | None = None,
    chapters: Sequence[Chapter] | None = None,
    stream: TextIO | None = sys.stdout,
) -> Path:
    """Write the primer report ``out/index.html`` from the ``models/`` specs.

    Parameters
    ----------
    out : str or Path
        Output directory (created if needed).
    runs : iterable, optional
        Results already computed (the command line's runs, or
        :class:`~bayesmixed.views.report.runs.SpecResult`); default: run every spec of
        ``models`` here.
    models : str or Path
        Folder of the specs (when ``runs`` is not given).
    quick : bool
        Short sampler runs (:func:`bayesmixed.load_spec`'s ``quick``).
    sample : dict, optional
        Sampler keywords replacing the specs' (e.g. :data:`DEMO_SAMPLER`).
    chapters : sequence of Chapter, optional
        Defaults to :data:`CHAPTERS`.
    stream : file-like or None
        Where to echo the report as text; ``None`` for silence.

    Returns
    -------
    Path
        The written ``index.html``.
    """
    t0 = time.perf_counter()
    results = from_runs(runs) if runs is not None else run_specs(models, quick=quick, sample=sample)
    ctx = ReportContext(results, quick=quick)
    rendered = []
    for chapter in CHAPTERS if chapters is None else chapters:
        sections = chapter.build(ctx)
        rendered.append((chapter, sections))
        if stream is not None:
            bar = "=" * len(chapter.title)
            print(f"\n{bar}\n{chapter.title}\n{bar}", file=stream)
            for s in sections:
                print(f"\n--- {s.title} ---", file=stream)
                for t in s.text:
                    print(f"\n{t}", file=stream)
    sampled = [r.post for r in results if r.post is not None]
    meta = f"{len(results)} model specs, {len(sampled)} sampled"
    if sampled:
        p = sampled[0]
        meta += f" ({p.nchains} chains × {p.ndraws} draws{', quick run' if quick else ''})"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(render_page(rendered, time.perf_counter() - t0, meta + "."), encoding="utf-8")
    if stream is not None:
        print(f"\nWrote {path}", file=stream)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bayesmixed.views.report --out report [--models DIR] [--quick|--demo]``."""
    parser = argparse.ArgumentParser(
        prog="python -m bayesmixed.views.report",
        description="Fit every models/ spec (REML and NUTS) and write the primer report.",
    )
    parser.add_argument("--out", default="report", help="output directory (default: report)")
    parser.add_argument("--models", default="models", help="folder of the specs")
    parser.add_argument("--quick", action="store_true", help="short sampler runs")
    parser.add_argument("--demo", action="store_true", help="2 chains × 500 draws")
    parser.add_argument("--quiet", action="store_true", help="do not print to stdout")
    parser.add_argument(
        "--chapter",
        action="append",
        choices=[c.key for c in CHAPTERS],
        help="only this chapter (repeatable)",
    )
    args = parser.parse_args(argv)
    chapters = [c for c in CHAPTERS if not args.chapter or c.key in args.chapter]
    build_report(
        args.out,
        models=args.models,
        quick=args.quick,
        sample=DEMO_SAMPLER if args.demo else None,
        chapters=chapters,
        stream=None if args.quiet else sys.stdout,
    )
    return 0
