"""The demo (``make demo`` = ``bayesmixed primer --out report --quick``): every spec of
``models/`` fitted and sampled, one self-contained HTML report. Slow: it runs all the specs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bayesmixed.views.report import CHAPTERS, build_report

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("report")
    path = build_report(out, models=ROOT / "models", quick=True, stream=None)
    return path.read_text(encoding="utf-8")


def test_self_contained(page):
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"<(script|link)\b", page)
    assert not re.search(r"src=['\"]https?:", page)
    for tag in ("section", "table", "figure", "details"):
        assert page.count(f"<{tag}") == page.count(f"</{tag}>"), tag


def test_every_chapter_and_its_specs(page):
    for chapter in CHAPTERS:
        assert f"id='{chapter.key}'" in page
    for spec in (ROOT / "models").glob("*.toml"):
        assert f"models/{spec.name}" in page, spec.name
    assert "No spec of models/" not in page


def test_figures_tables_and_numbers(page):
    assert page.count("<img") >= 12
    assert page.count("<table") == page.count('<div style="overflow-x:auto"><table')
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page)
    assert not {"nan", "NaN", "None", "<NA>"} & set(cells)
    for needed in ("bm.compare(post, fit)", "ICC adjusted", "p_boundary", "residual structures"):
        assert needed in page, needed
