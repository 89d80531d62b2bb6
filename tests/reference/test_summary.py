"""Text, HTML and dict summaries of REML/ML and OLS fits.

The text is compared line by line with R's own ``print(summary(lmerTest::lmer(...)))`` and
``print(summary(lm(...)))`` for every fixture (tests/reference/summaries/, written by
tests/reference/make_summaries.R). Words, spacing and layout must match exactly; printed
numbers must be identical, except that numbers printed with 7 or more significant digits (the
Satterthwaite df) may differ by one unit in their last digit. The mixed models are computed at
lme4's own θ (stored in the fixtures), so the optimizers' stopping points play no part.
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import REF, fit_at_theta, fixture_names, load_data, load_fixture

import bayesmixed as bm
from bayesmixed.reml.summary import LmmSummary
from bayesmixed.results.rformat import format_pval, format_real
from bayesmixed.results.rprint import abbreviate

CASES = fixture_names("lmer") + fixture_names("lm")
_NUM = re.compile(r"(-?\d+(?:\.\d+)?(?:e[-+]\d+)?)")
_FITS: dict[str, object] = {}


def get_fit(case: str):
    if case not in _FITS:
        fx = load_fixture(case)
        if fx["kind"] == "lmer":  # at lme4's θ: the text, not the optimizers, is compared
            fit = fit_at_theta(fx["formula"], fx["data"], fx["theta"], fx["REML"])
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = bm.MixedModel(fx["formula"], load_data(fx["data"])).fit_reml()
        _FITS[case] = (fx, fit)
    return _FITS[case]


def _body(lines: list[str]) -> list[str]:
    """From the criterion / residuals block to the end, without optimizer messages."""
    start = next(
        i
        for i, line in enumerate(lines)
        if line.startswith(("REML criterion", "     AIC", "Residuals:"))
    )
    out = [s for s in lines[start:] if not s.startswith(("optimizer (", "boundary (singular)"))]
    while out and not out[-1].strip():
        out.pop()
    return out


def _same_line(ours: str, ref: str) -> bool:
    a, b = _NUM.split(ours), _NUM.split(ref)
    if len(a) != len(b):
        return False
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if i % 2 == 0:
            if x != y:
                return False
        elif x != y:
            # printed numbers are identical at lme4's θ (all 40 summaries); only numbers of 7+
            # significant digits (Satterthwaite df, whose numerical derivatives carry noise
            # of about 1e-7 relative here) may differ by one unit in their last digit
            if len(x) != len(y) or "e" in x or "e" in y:
                return False
            if len(x.lstrip("-").replace(".", "").lstrip("0")) < 7:
                return False
            decimals = len(x.split(".")[1]) if "." in x else 0
            if abs(float(x) - float(y)) > 1.01 * 10.0**-decimals:
                return False
    return True


@pytest.mark.parametrize("case", CASES)
def test_text_matches_r(case):
    fx, fit = get_fit(case)
    ref_lines = (REF / "summaries" / f"{case}.txt").read_text().split("\n")
    ours_lines = str(fit.summary()).split("\n")
    ours, ref = _body(ours_lines), _body(ref_lines)
    assert len(ours) == len(ref), "\n".join(ours)
    bad = [(o, r) for o, r in zip(ours, ref, strict=True) if not _same_line(o, r)]
    assert not bad, "\n".join(f"ours: {o!r}\n   R: {r!r}" for o, r in bad)
    if fx["kind"] == "lmer":
        assert ours_lines[0].startswith(
            "Linear mixed model fit by REML" if fx["REML"] else "Linear mixed model fit by maximum"
        )
        assert ours_lines[1] == f"Formula: {fx['formula']}"
        singular_in_r = any(s.startswith("boundary (singular)") for s in ref_lines)
        assert singular_in_r == fx["singular"]
        assert any(s.startswith("boundary (singular)") for s in ours_lines) == singular_in_r


def test_sleepstudy_summary_numbers(sleepstudy):
    fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)", sleepstudy).fit_reml()
    assert isinstance(fit.summary(), LmmSummary)
    text = str(fit.summary())
    # lme4 1.1-31 / lmerTest 3.1-3 with the fixture's optimizer settings
    for piece in [
        "Linear mixed model fit by REML. t-tests use Satterthwaite's method",
        "REML criterion at convergence: 1743.6",
        "-3.9536 -0.4634  0.0231  0.4634  5.1793 ",
        " Subject  (Intercept) 612.09   24.740       ",
        "          Days         35.07    5.922   0.07",
        " Residual             654.94   25.592       ",
        "Number of obs: 180, groups:  Subject, 18",
        "(Intercept)  251.405      6.825  17.000  36.838  < 2e-16 ***",
        "Days          10.467      1.546  17.000   6.771 3.26e-06 ***",
        "Days -0.138",
    ]:
        assert piece in text, piece
    assert repr(fit) == text
    assert "boundary" not in text


def test_ml_summary_has_information_criteria(sleepstudy):
    fit = bm.MixedModel("Reaction ~ Days + (Days || Subject)", sleepstudy).fit_reml(reml=False)
    text = str(fit.summary())
    assert "Linear mixed model fit by maximum likelihood" in text
    assert "     AIC      BIC   logLik deviance df.resid " in text
    assert "    1762     1778     -876     1752      175 " in text
    assert " Subject.1 Days         33.63    5.799  " in text
    crit = fit.summary().criteria()
    assert crit["deviance"] == pytest.approx(-2 * crit["logLik"])
    assert crit["df.resid"] == 175


def test_singular_fit_message():
    with pytest.warns(bm.errors.SingularFitWarning):
        fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff2")).fit_reml()
    s = fit.summary()
    assert any("boundary (singular) fit" in m and "Batch.(Intercept)" in m for m in s.messages())
    assert "boundary (singular) fit" in str(s)
    assert s.to_dict()["singular"] is True


def test_correlation_hidden_for_many_fixed_effects(sleepstudy):
    # p = 19 > 12: lme4 prints a note instead of the correlation matrix
    data = sleepstudy.assign(Subj="S" + sleepstudy["Subject"].astype(str))
    fit = bm.MixedModel("Reaction ~ Days + Subj + (0 + Days | Subj)", data).fit_reml()
    assert fit.design.p == 19
    text = str(fit.summary())
    assert "Correlation of Fixed Effects" not in text
    assert "Correlation matrix not shown by default, as p = 19 > 12." in text
    shown = str(fit.summary(correlation=True))
    assert "Correlation of Fixed Effects:" in shown


def test_to_dict_is_json_and_consistent(sleepstudy):
    fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)", sleepstudy).fit_reml()
    d = fit.summary().to_dict()
    json.dumps(d)  # plain Python objects only
    assert d["method"] == "REML" and d["nobs"] == 180
    assert d["ngroups"] == {"Subject": 18}
    assert d["criteria"]["REML"] == pytest.approx(fit.criterion)
    q = np.quantile(fit.residuals() / fit.sigma, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(list(d["scaled_residuals"].values()), q)
    re_rows = d["random_effects"]
    assert [r["group"] for r in re_rows] == ["Subject", "Subject", "Residual"]
    assert re_rows[1]["corr"][0] == pytest.approx(0.0656, abs=5e-4)
    tidy = fit.tidy(effects="fixed")
    got = pd.DataFrame(d["fixed_effects"])
    np.testing.assert_allclose(got["df"], tidy["df"])
    np.testing.assert_allclose(got["p_value"], tidy["p_value"])
    assert d["correlation"][0][1] == pytest.approx(-0.138, abs=5e-4)


def test_html_repr_renders(sleepstudy):
    fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)", sleepstudy).fit_reml()
    html = fit._repr_html_()
    assert html.count("<table") >= 4  # residuals, random effects, fixed effects, correlation
    assert "Satterthwaite" in html
    assert "Reaction ~ Days + (Days | Subject)" in html
    assert "251.4" in html and "612.09" in html
    assert "&lt;" in html  # p < 2e-16 escaped
    assert html.count("<div") == html.count("</div>")


def test_html_repr_ml_and_singular():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff2")).fit_reml(
            reml=False
        )
    html = fit.summary()._repr_html_()
    assert "AIC" in html and "deviance" in html
    assert "boundary (singular) fit" in html


# --------------------------------------------------------------------------- R's formatting
def test_format_real_like_r():
    # values checked against R 4.2: format(x, digits = 4)
    assert format_real([612.0896, 35.0717, 654.941], 4) == ["612.09", " 35.07", "654.94"]
    assert format_real([-3.95361, -0.46340, 0.02310, 0.4634, 5.17930], 4) == [
        "-3.9536",
        "-0.4634",
        " 0.0231",
        " 0.4634",
        " 5.1793",
    ]
    assert format_real([1e-10, 1], 4) == ["1e-10", "1e+00"]
    assert format_real([132.0], 7) == ["132"]
    assert format_real([np.nan, 1.5], 4) == [" NA", "1.5"]


def test_format_pval_like_r():
    assert format_pval([1e-30, 3.26e-06], 3) == ["< 2e-16", "3.26e-06"]
    assert format_pval([1e-30, 0.98], 3) == ["<2e-16", "0.98"]
    assert format_pval([1e-30], 4) == ["< 2.2e-16"]


def test_abbreviate_like_r():
    # R: abbreviate(c(...), 6)
    names = ["(Intercept)", "sectorpublic", "Days:SubjectS309", "scale(x)", "x1:x2:x3:x4"]
    assert abbreviate(names, 6) == ["(Intr)", "sctrpb", "D:SS30", "scl(x)", "x1:2:3"]
    assert abbreviate(["x:sectorpublic", "Days:SubjectS309"], 11) == [
        "x:sectrpblc",
        "Dys:SbjS309",
    ]
    # duplicates are abbreviated again with a larger minlength
    out = abbreviate(["periodlate1", "periodlate2"], 4)
    assert len(set(out)) == 2


def test_summary_prints_when_satterthwaite_fails(monkeypatch):
    fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("singular Hessian")

    monkeypatch.setattr(fit, "tidy", broken)
    text = repr(fit)
    assert "(Intercept)  1527.50      19.38 NA    78.8       NA" in text
    assert "Satterthwaite degrees of freedom unavailable (singular Hessian)" in text
