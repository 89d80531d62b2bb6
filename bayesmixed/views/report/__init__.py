"""The primer report: one HTML page, a section per chapter (``python -m bayesmixed.views.report``).

* :mod:`.page` — the page model (:class:`Section`, :class:`Chapter`) and the page renderer;
* :mod:`.context` — what the chapters share (fits computed once, common tables);
* :mod:`.chapters` — the primer's chapters, :data:`CHAPTERS`;
* :mod:`.build` — :func:`build_report` and the command line :func:`main`.
"""

from .build import build_report, main
from .chapters import CHAPTERS
from .context import DemoContext
from .page import Chapter, Section

__all__ = ["build_report", "main", "CHAPTERS", "Chapter", "Section", "DemoContext"]
