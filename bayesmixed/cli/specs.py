"""``bayesmixed run models/X.toml`` and ``bayesmixed primer``: declarative specs, fitted and reported.

``run`` loads one spec (:func:`bayesmixed.load_spec`), fits it by REML/ML, samples it when
its ``[report].compare`` asks for the posterior beside the fit, writes ``DIR/<spec>.html``
and prints a summary. ``primer`` does that for every spec of ``models/`` (pages in
``DIR/models/``) and then writes the primer report, ``DIR/index.html``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import ArgumentError
from .errors import existing_file, user_errors
from .fitting import engine_name, reported_warnings
from .output import frame_table, print_table

__all__ = ["run", "primer", "SpecRun", "run_spec", "find_specs"]

_OUT = typer.Option("--out", help="Output directory (created if needed).")
_QUICK = typer.Option("--quick", help="Short sampler runs (for a quick look or a test).")
_DRAWS = typer.Option(
    "--draws",
    min=10,
    help="At most N draws and N tuning steps, 2 chains (between --quick and full).",
)


@dataclass
class SpecRun:
    """What running one spec produced."""

    spec: Path
    title: str
    engine: str
    nobs: int
    sampled: bool
    page: Path
    seconds: float
    max_rhat: float = float("nan")
    # what the primer report reads, so that it fits and samples nothing twice
    settings: object = field(default=None, repr=False)
    model: object = field(default=None, repr=False)
    fit: object = field(default=None, repr=False)
    post: object = field(default=None, repr=False)


def run_spec(spec: Path, page: Path, quick: bool | int = False, status=None) -> SpecRun:
    """Load, fit, sample (when ``[report].compare``) and write the page of one spec.

    ``status``, when given, is called with a short text at each step (for a progress line).
    """
    from ..loading import load_spec
    from .model_page import model_sections, write_model_page

    def say(text: str) -> None:
        if status is not None:
            status(f"{spec.stem}: {text}")

    t0 = time.perf_counter()
    model, settings = load_spec(existing_file(spec, "model spec"), quick=quick)
    engine = engine_name(model, ml=not settings.reml)
    say(f"fitting by {engine}")
    fit = settings.fit(model)
    post = None
    if settings.report.compare:  # the spec asks for the posterior beside the REML fit
        say(f"sampling {settings.sample['chains']} chains × {settings.sample['draws']} draws")
        post = settings.posterior(model, progressbar=False)
    say("writing the page")
    title = settings.report.title or settings.name
    sections = model_sections(model, fit, post, settings.report.quantities, settings.description)
    seconds = time.perf_counter() - t0
    write_model_page(page, settings.name, title, sections, seconds)
    rhat = float(post.tidy()["rhat"].max()) if post is not None else float("nan")
    return SpecRun(
        spec, title, engine, model.design.n, post is not None, page, seconds, rhat,
        settings, model, fit, post,
    )  # fmt: skip


def find_specs(folder: Path) -> list[Path]:
    """The ``*.toml`` specs of ``folder``, sorted; an :class:`ArgumentError` when none."""
    if not folder.is_dir():
        raise ArgumentError(f"no models folder at {folder}; give --models DIR")
    specs = sorted(folder.glob("*.toml"))
    if not specs:
        raise ArgumentError(f"{folder} holds no *.toml model specs")
    return specs


def _summary(runs: list[SpecRun]) -> pd.DataFrame:
    """One row per spec run: what was fitted, whether it was sampled, where its page is."""
    return pd.DataFrame(
        {
            "spec": [r.spec.stem for r in runs],
            "title": [r.title for r in runs],
            "fit": [r.engine for r in runs],
            "n": [r.nobs for r in runs],
            "posterior": ["sampled" if r.sampled else "" for r in runs],
            "max_rhat": [r.max_rhat for r in runs],
            "seconds": [round(r.seconds, 1) for r in runs],
            "page": [str(r.page) for r in runs],
        }
    )


def run(
    spec: Annotated[Path, typer.Argument(help="A model spec, e.g. models/random_slope.toml.")],
    out: Annotated[Path, _OUT] = Path("report"),
    quick: Annotated[bool, _QUICK] = False,
    draws: Annotated[int | None, _DRAWS] = None,
) -> None:
    """Fit one model spec by REML and NUTS and write its report page to OUT/<spec>.html."""
    out_console, err = Console(), Console(stderr=True)
    with user_errors(), reported_warnings(err):
        with err.status(f"{spec.stem}: loading", spinner="dots") as status:
            result = run_spec(spec, out / f"{spec.stem}.html", draws or quick, status.update)
        print_table(out_console, frame_table(_summary([result]), "Model"))
        out_console.print(f"Wrote {result.page}", markup=False, highlight=False)


def primer(
    out: Annotated[Path, _OUT] = Path("report"),
    quick: Annotated[bool, _QUICK] = False,
    draws: Annotated[int | None, _DRAWS] = None,
    models: Annotated[Path, typer.Option(help="Folder of the model specs.")] = Path("models"),
    echo: Annotated[
        bool, typer.Option("--echo", help="Also print every chapter of the primer as text.")
    ] = False,
) -> None:
    """Run every spec of MODELS (pages in OUT/models/) and write the primer report OUT/index.html."""
    from ..views.report import CHAPTERS, build_report

    out_console, err = Console(), Console(stderr=True)
    with user_errors(), reported_warnings(err):
        specs = find_specs(models)
        runs = []
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("models", total=len(specs))
            for spec in specs:

                def status(text: str) -> None:
                    progress.update(task, description=text)

                with reported_warnings(err, prefix=f"{spec.stem}: "):
                    page = out / "models" / f"{spec.stem}.html"
                    runs.append(run_spec(spec, page, draws or quick, status))
                progress.advance(task)
            progress.update(task, description="models done")
        print_table(out_console, frame_table(_summary(runs), "Models"))
        with err.status(f"primer report: {len(CHAPTERS)} chapters", spinner="dots"):
            path = build_report(out, runs, stream=sys.stdout if echo else None)
        out_console.print(f"Wrote {path} and {len(runs)} model pages in {out / 'models'}")
