"""The primer report's parts: number formatting, legends, the model in the primer's notation,
the page, and a report built from a small folder of specs."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.views.report import CHAPTERS, Section, build_report
from bayesmixed.views.report.legends import legend_for
from bayesmixed.views.report.notation import equations, estimates_line
from bayesmixed.views.report.page import format_cell, render_page
from bayesmixed.views.report.runs import by_chapter, chapter_number


def test_cells_are_rounded_as_a_reader_wants():
    assert format_cell("ess_bulk", 412.7) == "413"
    assert format_cell("rhat", 1.004512) == "1.005"
    assert format_cell("estimate", 251.405105) == "251.4"
    assert format_cell("estimate", 0.0123456) == "0.01235"
    assert format_cell("p_value", 2e-12) == "<0.0001"
    assert format_cell("p_boundary", 0.0123456) == "0.0123"
    assert format_cell("df", 17.0) == "17" and format_cell("df", 8.4961) == "8.5"
    assert format_cell("std_error", float("nan")) == "" and format_cell("group", None) == ""


def test_tables_have_legends_and_scroll():
    frame = pd.DataFrame({"term": ["a"], "z_diff": [0.5], "rhat": [1.0], "x": [None]})
    s = Section("S").table(frame, "caption", legend="Own words.")
    html = s.to_html()
    assert '<div style="overflow-x:auto"><table' in html
    assert "Own words." in html and "z_diff: (posterior mean − REML estimate)" in html
    assert "NaN" not in html and "None" not in html
    assert legend_for(["term"]) == ""


def test_folded_section_is_a_details_element():
    html = Section("Supporting model", folded=True).para("x").to_html()
    assert html.startswith("<section><details><summary>Supporting model</summary>")


@pytest.mark.parametrize(
    "formula, kind, expected",
    [
        ("score ~ age", "square", ["score_i = γ₀ + γ₁·age_i + e_i"]),
        (
            "score ~ agec + (agec | hospital)",
            "hospitals",
            ["u₀ⱼ + u₁ⱼ·agec_i", "(u₀ⱼ, u₁ⱼ) ~ N(0, T)", "j = hospital"],
        ),
        ("score ~ agec + (agec || hospital)", "hospitals", ["u₀ⱼ ~ N(0, τ₀²)", "u₁ⱼ ~"]),
        ("score ~ age + (1 | hospital/ward)", "wards", ["j = hospital:ward", "k = hospital"]),
        ("score ~ ses + (1 | school) + (1 | neighbourhood)", "schools", ["v₀ₖ"]),
    ],
)
def test_equations_in_the_primers_notation(formula, kind, expected):
    html, text = equations(bm.MixedModel(formula, bm.datasets.primer(kind)))
    joined = "\n".join(text)
    for piece in expected:
        assert piece in joined
    assert len(html) == len(text) and "<sub>" in html[0]


def test_residual_structure_equation_and_estimates():
    d = bm.datasets.primer("longitudinal")
    model = bm.MixedModel("score ~ visit", d, residual=bm.residual.AR1(time="visit", group="id"))
    text = equations(model)[1]
    assert "ρ^|s − t|" in text[-1]
    line = estimates_line(model.fit_reml())
    assert line.startswith("REML: γ̂₀ = ") and "rho" in line.replace("ρ̂ ", "")


def test_chapter_numbers_group_subsections():
    assert [chapter_number(c) for c in ("1", "3.3", "5.2", "")] == ["1", "3", "5", ""]
    assert by_chapter([]) == {}


def test_render_page_has_no_script_and_a_viewport():
    page = render_page([(CHAPTERS[0], [Section("S").para("x")])], 1.0)
    assert "name='viewport'" in page and not re.search(r"<(script|link)\b", page)


_SPECS = {
    "ols.toml": 'description = "The mean and age."\nformula = "score ~ age"\n'
    'data = {primer = "square", seed = 1}\n[report]\nchapter = "1"\n',
    "ri.toml": 'description = "Nine groups."\nformula = "score ~ 1 + (1 | group)"\n'
    'data = {primer = "groups", seed = 1}\n[sample]\nseed = 1\n'
    '[report]\nchapter = "3"\ncompare = true\n',
}


@pytest.fixture(scope="module")
def small_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    for name, text in _SPECS.items():
        (folder / name).write_text(text)
    out = tmp_path_factory.mktemp("report")
    path = build_report(out, models=folder, quick=True, stream=None)
    return path.read_text(encoding="utf-8")


def test_small_report_has_every_chapter(small_report):
    for chapter in CHAPTERS:
        assert f"id='{chapter.key}'" in small_report
    assert "No spec of models/ names chapter 2." in small_report


def test_small_report_shows_figures_and_clean_tables(small_report):
    assert small_report.count("<img") >= 8
    assert small_report.count("<table") == small_report.count('<div style="overflow-x:auto"><table')
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", small_report)
    assert cells and not {"nan", "NaN", "None", "<NA>"} & set(cells)
    assert "γ<sub>0</sub>" in small_report and "bm.compare(post, fit)" in small_report
