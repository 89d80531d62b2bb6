"""The primer report: one HTML page, a section per chapter, driven by the ``models/`` specs
(``bayesmixed primer --out DIR`` or ``python -m bayesmixed.views.report``).

* :mod:`.runs` — every spec loaded, fitted and sampled, grouped by its ``[report].chapter``;
* :mod:`.context` — what the chapters share (results by chapter, derived fits once);
* :mod:`.page` — the page model (:class:`Section`, :class:`Chapter`) and its renderer;
* :mod:`.notation`, :mod:`.legends`, :mod:`.sections`, :mod:`.figures` — the model in the
  primer's notation, the tables' legends, one spec's sections, the report's own figures;
* :mod:`.chapters` — the primer's chapters, :data:`CHAPTERS`;
* :mod:`.build` — :func:`build_report` and the command line :func:`main`.
"""

from .build import DEMO_SAMPLER, build_report, main
from .chapters import CHAPTERS
from .context import ReportContext
from .page import Chapter, Section
from .runs import SpecResult, run_specs

__all__ = [
    "build_report",
    "main",
    "CHAPTERS",
    "Chapter",
    "Section",
    "ReportContext",
    "SpecResult",
    "run_specs",
    "DEMO_SAMPLER",
]
