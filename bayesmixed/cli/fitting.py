"""``bayesmixed fit DATA.csv FORMULA``: REML (or ML) and the posterior of one model, side by side.

The REML/ML table (``tidy()``) and its ``glance()``, then — unless ``--reml-only`` — the
posterior table and :func:`bayesmixed.compare`, written as rich tables, CSV or JSON on
stdout. Progress and warnings go to stderr, so that ``--format csv > out.csv`` stays clean.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from ..errors import ArgumentError, BayesMixedWarning
from .errors import existing_file, user_errors
from .output import Format, show
from .residual_text import parse_residual

__all__ = ["fit", "Sampler", "reported_warnings", "engine_name", "posterior_path"]

T = TypeVar("T")


class Sampler(StrEnum):
    """The NUTS implementations ``model.sample`` accepts."""

    nutpie = "nutpie"
    pymc = "pymc"
    numpyro = "numpyro"


@contextmanager
def reported_warnings(err: Console, prefix: str = "") -> Iterator[None]:
    """Print each bayesmixed warning raised in the block as one ``warning: ...`` line.

    ``prefix`` (a spec's name) starts each line; other libraries' warnings pass on unchanged.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = set()
    for w in caught:
        if issubclass(w.category, BayesMixedWarning):
            text = " ".join(str(w.message).split())
            if text not in seen:
                seen.add(text)
                err.print(f"{prefix}warning: {text}", markup=False, highlight=False, soft_wrap=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def with_status(err: Console, message: str, work: Callable[[], T]) -> T:
    """Run ``work()`` under a rich spinner on stderr (shown only on a terminal)."""
    with err.status(message, spinner="dots"):
        return work()


def engine_name(model, ml: bool) -> str:
    """What fits ``model``: ``"REML"``, ``"ML"``, ``"OLS"`` or ``"GLS (REML)"``...

    Examples
    --------
    >>> import bayesmixed as bm
    >>> engine_name(bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")), ml=False)
    'OLS'
    """
    method = "ML" if ml else "REML"
    if model.residual_design is not None:
        return f"GLS ({method})"
    return method if model.has_random else "OLS"


def posterior_path(path: Path) -> Path:
    """Where ``--save PATH`` writes the posterior beside the REML fit.

    Examples
    --------
    >>> posterior_path(Path("out/sleep.bmfit")).as_posix()
    'out/sleep.posterior.bmfit'
    """
    return path.with_name(f"{path.stem}.posterior{path.suffix or '.bmfit'}")


def fit(
    data: Annotated[Path, typer.Argument(help="CSV file, one row per observation.")],
    formula: Annotated[str, typer.Argument(help='lme4 formula, e.g. "y ~ x + (x | g)".')],
    reml_only: Annotated[
        bool, typer.Option("--reml-only", help="Fit by REML/ML only; do not sample.")
    ] = False,
    ml: Annotated[bool, typer.Option("--ml", help="Maximum likelihood instead of REML.")] = False,
    residual: Annotated[
        str | None,
        typer.Option(
            help='Residual covariance over each subject\'s visits: "AR1(time=t, group=id)"; '
            "structures CS, CSH, AR1, ARH1, TOEP, TOEPH, UN, AD, CAR1, optional by=COLUMN."
        ),
    ] = None,
    draws: Annotated[int, typer.Option(min=1, help="Kept draws per chain.")] = 1000,
    tune: Annotated[int, typer.Option(min=0, help="Tuning draws per chain.")] = 1000,
    chains: Annotated[int, typer.Option(min=1, help="Number of chains.")] = 4,
    sampler: Annotated[Sampler, typer.Option(help="NUTS implementation.")] = Sampler.nutpie,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same draws).")] = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="Output: rich tables, one CSV, or one JSON.")
    ] = Format.table,
    save: Annotated[
        Path | None,
        typer.Option(
            help="Save the REML fit here (bm.load reads it); the posterior goes beside it "
            "as NAME.posterior.bmfit."
        ),
    ] = None,
) -> None:
    """Fit FORMULA to DATA by REML (or ML) and sample its posterior; print both side by side."""
    import pandas as pd

    from ..model import MixedModel

    out, err = Console(), Console(stderr=True)
    with user_errors(), reported_warnings(err):
        frame = pd.read_csv(existing_file(data, "data file"))
        model = MixedModel(formula, frame, residual=parse_residual(residual))
        if save is not None and save.is_dir():
            raise ArgumentError(f"--save {save} is a directory; give a file name")
        engine = engine_name(model, ml)
        reml_fit = with_status(err, f"Fitting by {engine}…", lambda: model.fit_reml(reml=not ml))
        tables = {"reml": reml_fit.tidy(), "glance": reml_fit.glance()}
        titles = {"reml": f"{engine} estimates", "glance": f"{engine} fit"}
        post = None
        if not reml_only:
            post = with_status(
                err,
                f"Sampling {chains} chain(s) × {draws} draws ({tune} tuning) with {sampler.value}…",
                lambda: model.sample(
                    draws=draws,
                    tune=tune,
                    chains=chains,
                    sampler=sampler.value,
                    random_seed=seed,
                    progressbar=False,
                ),
            )
            from ..quantities.comparison import compare

            tables["posterior"] = post.tidy()
            tables["compare"] = compare(post, reml_fit)
            titles["posterior"] = "Posterior (NUTS)"
            titles["compare"] = f"{engine} beside the posterior"
        if fmt is Format.table:
            out.print(repr(model), markup=False, highlight=False, soft_wrap=True)
            out.print()
        show(tables, titles, fmt, out, formula=formula, method=engine, nobs=model.design.n)
        if save is not None:
            save.parent.mkdir(parents=True, exist_ok=True)
            saved = [reml_fit.save(save)]
            if post is not None:
                saved.append(post.save(posterior_path(save)))
            err.print("saved " + ", ".join(str(p) for p in saved), markup=False, highlight=False)
