"""The report's material: every ``models/*.toml`` spec loaded, fitted and (when it asks)
sampled, grouped by the primer chapter its ``[report].chapter`` names.

:func:`run_specs` does the work for the command line's ``bayesmixed primer`` and for
``python -m bayesmixed.views.report``; :func:`from_runs` takes results the command has already
computed (so nothing is fitted or sampled twice). :func:`chapter_number` maps a spec's
``"3.3"`` or ``"5.2"`` to its chapter (``"3"``, ``"5"``).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SpecResult", "run_spec", "run_specs", "from_runs", "chapter_number", "by_chapter"]


@dataclass
class SpecResult:
    """One spec, fitted: its settings, model, REML/ML fit and posterior (``None`` when the
    spec does not set the posterior beside the fit), and the warnings raised on the way."""

    path: Path
    settings: object
    model: object
    fit: object
    post: object | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def name(self) -> str:
        """The spec's file stem (``random_intercept``)."""
        return self.path.stem

    @property
    def title(self) -> str:
        """``[report].title``, else the name."""
        return self.settings.report.title or self.name

    @property
    def chapter(self) -> str:
        """``[report].chapter`` as written (``"3.3"``), ``""`` when absent."""
        return self.settings.report.chapter or ""


def run_spec(path: str | Path, quick: bool = False, sample: dict | None = None) -> SpecResult:
    """Load, fit and (when ``[report].compare``) sample one spec.

    Parameters
    ----------
    path : str or Path
    quick : bool
        The short sampler settings of :func:`bayesmixed.load_spec`.
    sample : dict, optional
        Sampler keywords replacing the spec's (e.g. ``{"draws": 500, "tune": 500, "chains": 2}``).
    """
    from ...loading import load_spec

    t0 = time.perf_counter()
    path = Path(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, settings = load_spec(path, quick=quick)
        fit = settings.fit(model)
        post = None
        if settings.report.compare:
            post = settings.posterior(model, progressbar=False, **(sample or {}))
    notes = list(dict.fromkeys(str(w.message) for w in caught))
    return SpecResult(path, settings, model, fit, post, notes, time.perf_counter() - t0)


def run_specs(
    folder: str | Path = "models",
    quick: bool = False,
    sample: dict | None = None,
    status: Callable[[str], None] | None = None,
) -> list[SpecResult]:
    """:func:`run_spec` for every ``*.toml`` of ``folder``, in name order."""
    out = []
    for path in sorted(Path(folder).glob("*.toml")):
        if status is not None:
            status(f"{path.stem}: fitting")
        out.append(run_spec(path, quick, sample))
    return out


def from_runs(runs: Iterable[object]) -> list[SpecResult]:
    """Results already computed elsewhere (objects with ``spec``/``path``, ``settings``,
    ``model``, ``fit`` and ``post`` attributes, as the command line's runs) as
    :class:`SpecResult`; one that lacks its fit is run here."""
    out = []
    for r in runs:
        if isinstance(r, SpecResult):
            out.append(r)
            continue
        path = Path(getattr(r, "path", None) or r.spec)
        if getattr(r, "fit", None) is None or getattr(r, "model", None) is None:
            out.append(run_spec(path))
            continue
        out.append(
            SpecResult(
                path,
                r.settings,
                r.model,
                r.fit,
                getattr(r, "post", None),
                list(getattr(r, "warnings", []) or []),
                float(getattr(r, "seconds", 0.0)),
            )
        )
    return out


def chapter_number(chapter: str) -> str:
    """The chapter a ``[report].chapter`` belongs to: the part before the first dot.

    Examples
    --------
    >>> chapter_number("3.3"), chapter_number("5.2"), chapter_number("7"), chapter_number("")
    ('3', '5', '7', '')
    """
    return str(chapter).split(".", 1)[0].strip()


def by_chapter(results: Sequence[SpecResult]) -> dict[str, list[SpecResult]]:
    """The results grouped by :func:`chapter_number`, each group in spec-name order."""
    out: dict[str, list[SpecResult]] = {}
    for r in results:
        out.setdefault(chapter_number(r.chapter), []).append(r)
    return out
