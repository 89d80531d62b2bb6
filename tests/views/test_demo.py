"""The demo (``make demo``): runs end to end and writes a self-contained HTML report.

Key numbers are R's (lm / lme4 / lmerTest, as in the fixtures and ``anova(m0, m1)``), printed
to the precision the report shows them.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bayesmixed as bm
import bayesmixed.views.report as primer


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[str, str]:
    out = tmp_path_factory.mktemp("report")
    buf = io.StringIO()
    path = primer.build_report(out, stream=buf)
    assert path == out / "index.html"
    return path.read_text(encoding="utf-8"), buf.getvalue()


def test_html_is_self_contained(report):
    page, _ = report
    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")
    assert "<style>" in page
    # no external resources
    assert not re.search(r"<(script|link)\b", page)
    assert not re.search(r"src=['\"]https?:", page)
    for tag in ("section", "table", "pre"):
        assert page.count(f"<{tag}") == page.count(f"</{tag}>"), tag


def test_every_chapter_is_in_the_report(report):
    page, text = report
    for chapter in primer.CHAPTERS:
        assert f"id='{chapter.key}'" in page
        assert chapter.title in text


@pytest.mark.parametrize(
    "number, what",
    [
        ("251.405", "OLS / lmer intercept, sleepstudy"),
        ("0.286471", "lm R-squared, sleepstudy"),
        ("71.4644", "lm F statistic"),
        ("162703", "anova sum of squares for Days"),
        ("1527.5", "Dyestuff intercept"),
        ("49.5101", "Dyestuff residual SD"),
        ("42.0006", "Dyestuff batch SD"),
        ("24.7405", "sleepstudy (Days | Subject) intercept SD, REML"),
        ("5.92213", "sleepstudy (Days | Subject) slope SD, REML"),
        ("23.7806", "same, ML"),
        ("42.1393", "LRT (1|Subject) vs (Days|Subject): R anova Chisq 42.139"),
        ("7.072e-10", "its chi-square(2) p-value, as R's anova"),
        ("42.0754", "LRT of the uncorrelated slope variance"),
        ("60.0533", "Pastes intercept"),
        ("2.90408", "Pastes cask:batch SD"),
        ("22.9722", "Penicillin intercept"),
        ("0.84670", "Penicillin plate SD (R: 0.8467043)"),
    ],
)
def test_key_numbers(report, number, what):
    page, text = report
    assert number in page, what
    assert number in text, what


def test_mixture_p_value_is_half_for_one_variance():
    # the report's likelihood-ratio table is bm.anova's; its prose relies on this
    d = bm.datasets.load("sleepstudy")
    m0 = bm.MixedModel("Reaction ~ Days + (1 | Subject)", d).fit_reml(reml=False)
    m1 = bm.MixedModel("Reaction ~ Days + (Days || Subject)", d).fit_reml(reml=False)
    t = bm.anova(m0, m1).iloc[1]
    assert t["df"] == 1
    assert t["statistic"] == pytest.approx(2 * (m1.loglik - m0.loglik))
    assert t["p_boundary"] == pytest.approx(t["p_value"] / 2)


def test_tables_scroll_and_summaries_keep_r_layout(report):
    page, text = report
    assert page.count("<table") == page.count('<div style="overflow-x:auto"><table')
    assert "Random effects:\n Groups   Name        Variance Std.Dev. Corr" in text


def test_singular_fit_is_reported(report):
    page, _ = report
    assert "boundary (singular) fit" in page


def test_sections_are_composable(tmp_path):
    def extra(ctx):
        s = primer.Section("A custom section").para("hello <world>")
        s.raw("<div class='figure'>figure here</div>", text="[figure]")
        return [s]

    chapters = [primer.CHAPTERS[0], primer.Chapter("extra", "7. Extra", extra)]
    path = primer.build_report(tmp_path, chapters=chapters, stream=None)
    page = path.read_text()
    assert "hello &lt;world&gt;" in page
    assert "<div class='figure'>figure here</div>" in page
    assert "Random slopes" not in page


def test_command_line(tmp_path):
    out = tmp_path / "rep"
    proc = subprocess.run(
        [sys.executable, "-m", "bayesmixed.views.report", "--out", str(out), "--chapter", "ols"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert "1. Ordinary least squares" in proc.stdout
    assert "Wrote" in proc.stdout
    assert (out / "index.html").exists()
