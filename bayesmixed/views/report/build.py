"""Building the report: run the chapters, echo them as text, write ``index.html``; the command line.

``python -m bayesmixed.views.report --out DIR [--quiet] [--chapter KEY]`` (``make demo``)
runs :func:`main`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .chapters import CHAPTERS
from .context import DemoContext
from .page import Chapter, render_page

__all__ = ["build_report", "main"]


def build_report(
    out: str | Path,
    chapters: Sequence[Chapter] | None = None,
    stream: TextIO | None = sys.stdout,
) -> Path:
    """Run the chapters, echo them to ``stream`` and write ``out/index.html``.

    Parameters
    ----------
    out : str or Path
        Output directory (created if needed).
    chapters : sequence of Chapter, optional
        Defaults to :data:`CHAPTERS`.
    stream : file-like or None
        Where to print the summaries; ``None`` for silence.

    Returns
    -------
    Path
        The written ``index.html``.

    Examples
    --------
    >>> import tempfile
    >>> path = build_report(tempfile.mkdtemp(), chapters=CHAPTERS[:1], stream=None)
    >>> path.name
    'index.html'
    """
    chapters = list(CHAPTERS if chapters is None else chapters)
    ctx = DemoContext()
    t0 = time.perf_counter()
    rendered = []
    for chapter in chapters:
        sections = chapter.build(ctx)
        rendered.append((chapter, sections))
        if stream is not None:
            bar = "=" * len(chapter.title)
            print(f"\n{bar}\n{chapter.title}\n{bar}", file=stream)
            for s in sections:
                print(f"\n--- {s.title} ---", file=stream)
                for t in s.text:
                    print(f"\n{t}", file=stream)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(render_page(rendered, time.perf_counter() - t0), encoding="utf-8")
    if stream is not None:
        print(f"\nWrote {path}", file=stream)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m bayesmixed.views.report --out report [--quiet] [--chapter KEY]``."""
    parser = argparse.ArgumentParser(
        prog="python -m bayesmixed.views.report",
        description="Walk through the primer (REML and Bayes) and write an HTML report.",
    )
    parser.add_argument("--out", default="report", help="output directory (default: report)")
    parser.add_argument("--quiet", action="store_true", help="do not print to stdout")
    parser.add_argument(
        "--chapter",
        action="append",
        choices=[c.key for c in CHAPTERS],
        help="run only this chapter (repeatable)",
    )
    args = parser.parse_args(argv)
    chapters = [c for c in CHAPTERS if not args.chapter or c.key in args.chapter]
    build_report(args.out, chapters, stream=None if args.quiet else sys.stdout)
    return 0
