"""Formula parsing (lme4 syntax) and the model matrices built from it.

Expected column names and term expansions are what R 4.2 / lme4 1.1-31 produce
(``colnames(model.matrix(...))``, ``lFormula(...)$reTrms$cnms``), noted next to each case.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.design import build_design, r_column_name
from bayesmixed.spec import ModelSpec, RandomTerm, parse_formula


def bars(formula: str) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(t.expr, t.group, t.factors) for t in parse_formula(formula).random]


@pytest.fixture(scope="module")
def toy() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n = 120
    return pd.DataFrame(
        {
            "y": rng.normal(10, 2, n),
            "x": rng.normal(size=n),
            "w": rng.uniform(1, 5, n),
            "f": np.tile(["b", "a", "C"], n // 3),
            "g": np.repeat([f"g{i:02d}" for i in range(12)], n // 12),
            "h": np.tile(["u", "v"], n // 2),
            "k": np.tile([f"k{i}" for i in range(8)], n // 8),
        }
    )


# --------------------------------------------------------------------------- the bars
@pytest.mark.parametrize(
    "formula, expected",
    [
        ("y ~ 1 + (1 | g)", [("1", "g", ("g",))]),
        ("y ~ x + (x | g)", [("x", "g", ("g",))]),
        ("y ~ x + (1 + x | g)", [("1 + x", "g", ("g",))]),
        ("y ~ x + (0 + x | g)", [("0 + x", "g", ("g",))]),
        # lme4's expandDoubleVerts: (x || g) -> (1 | g) + (0 + x | g)
        ("y ~ x + (x || g)", [("1", "g", ("g",)), ("0 + x", "g", ("g",))]),
        ("y ~ (x + w || g)", [("1", "g", ("g",)), ("0 + x", "g", ("g",)), ("0 + w", "g", ("g",))]),
        ("y ~ (0 + x || g)", [("0 + x", "g", ("g",))]),
        # (1 | a/b) -> (1 | b:a) + (1 | a), inner factor first as lme4 names it
        ("y ~ (1 | a/b)", [("1", "b:a", ("b", "a")), ("1", "a", ("a",))]),
        (
            "y ~ (1 | a/b/c)",
            [("1", "c:b:a", ("c", "b", "a")), ("1", "b:a", ("b", "a")), ("1", "a", ("a",))],
        ),
        ("y ~ x + (x | a/b)", [("x", "b:a", ("b", "a")), ("x", "a", ("a",))]),
        ("y ~ (1 | a:b)", [("1", "a:b", ("a", "b"))]),
        # crossed
        ("y ~ x + (1 | a) + (1 | b)", [("1", "a", ("a",)), ("1", "b", ("b",))]),
        # several terms on one factor
        ("y ~ x + (1 | g) + (0 + x | g)", [("1", "g", ("g",)), ("0 + x", "g", ("g",))]),
        ("y ~ x + (f | g)", [("f", "g", ("g",))]),
        ("y~x+(x|g)", [("x", "g", ("g",))]),
        ("y ~ x + ((x) | (g))", [("(x)", "g", ("g",))]),
        ("y ~ (1 | `my group`)", [("1", "my group", ("my group",))]),
    ],
)
def test_bars(formula, expected):
    assert bars(formula) == expected


@pytest.mark.parametrize(
    "formula, response, fixed",
    [
        ("y ~ 1 + (1 | g)", "y", "1"),
        ("y ~ (1 | g)", "y", "1"),
        ("y ~ x + (x | g)", "y", "x"),
        ("y ~ x * f + (1 | g)", "y", "x * f"),
        ("y ~ x:f", "y", "x:f"),
        ("y ~ 0 + x", "y", "0 + x"),
        ("y ~ x - 1", "y", "x - 1"),
        ("y ~ (1 | g) - 1", "y", "1 - 1"),
        ("y ~ center(x) + (1 | g)", "y", "center(x)"),
        ("y ~ scale(x) + log(w)", "y", "scale(x) + log(w)"),
        ("np.log(y) ~ np.log(w) + (1 | g)", "np.log(y)", "np.log(w)"),
        ("y ~ x + I(x**2)", "y", "x + I(x**2)"),
        ("y ~ x + 1e-3", "y", "x + 1e-3"),
    ],
)
def test_fixed_part_and_response(formula, response, fixed):
    spec = parse_formula(formula)
    assert isinstance(spec, ModelSpec)
    assert spec.response == response
    assert spec.fixed == fixed


def test_spec_properties():
    spec = parse_formula("y ~ x + (x || g) + (1 | a/b)")
    assert spec.has_random
    assert spec.grouping_columns == ["g", "b", "a"]
    assert str(spec) == "y ~ x + (1 | g) + (0 + x | g) + (1 | b:a) + (1 | a)"
    assert all(isinstance(t, RandomTerm) for t in spec.random)
    assert spec.random[0].source == "(x || g)"
    assert not parse_formula("y ~ x").has_random


# --------------------------------------------------------------------------- fixed columns
@pytest.mark.parametrize(
    "formula, names",
    [
        # colnames(model.matrix(~ x * f)); levels sort as R sorts them: a < b < C
        ("y ~ x * f", ["(Intercept)", "x", "fb", "fC", "x:fb", "x:fC"]),
        ("y ~ f * x", ["(Intercept)", "fb", "fC", "x", "fb:x", "fC:x"]),
        ("y ~ x:f", ["(Intercept)", "x:fa", "x:fb", "x:fC"]),
        ("y ~ f:x + x", ["(Intercept)", "x", "fb:x", "fC:x"]),
        ("y ~ 0 + f", ["fa", "fb", "fC"]),
        ("y ~ f - 1", ["fa", "fb", "fC"]),
        ("y ~ 0 + x", ["x"]),
        ("y ~ x + w - 1", ["x", "w"]),
        ("y ~ 1", ["(Intercept)"]),
        ("y ~ center(x) + scale(w)", ["(Intercept)", "center(x)", "scale(w)"]),
        ("y ~ np.log(w) + log(w + 1)", ["(Intercept)", "log(w)", "log(w + 1)"]),
        ("y ~ f + h", ["(Intercept)", "fb", "fC", "hv"]),
    ],
)
def test_fixed_column_names(toy, formula, names):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = build_design(parse_formula(formula), toy)
    assert d.xnames == names


def test_fixed_term_of_column(toy):
    d = build_design(parse_formula("y ~ x * f"), toy)
    assert d.fixed_term_of_column == ["(Intercept)", "x", "f", "f", "x:f", "x:f"]


def test_transforms_values(toy):
    d = build_design(parse_formula("np.log(y) ~ center(x) + scale(w) + np.log(w)"), toy)
    X = pd.DataFrame(d.X, columns=d.xnames)
    x, w = toy["x"].to_numpy(), toy["w"].to_numpy()
    np.testing.assert_allclose(X["center(x)"], x - x.mean(), atol=1e-14)
    # R's scale(): centred and divided by the sample SD (n - 1)
    np.testing.assert_allclose(X["scale(w)"], (w - w.mean()) / w.std(ddof=1), atol=1e-14)
    np.testing.assert_allclose(X["log(w)"], np.log(w))
    np.testing.assert_allclose(d.y, np.log(toy["y"]))
    # R's log() is accepted without the numpy prefix
    d2 = build_design(parse_formula("y ~ log(w)"), toy)
    np.testing.assert_allclose(d2.X[:, 1], np.log(w))


def test_treatment_coding_reference_is_first_sorted_level(toy):
    d = build_design(parse_formula("y ~ f"), toy)
    X = pd.DataFrame(d.X, columns=d.xnames)
    # reference level 'a' (R sorts a < b < C): rows with f == 'a' have zeros in the dummies
    assert (X.loc[toy["f"] == "a", ["fb", "fC"]].to_numpy() == 0).all()
    assert (X.loc[toy["f"] == "b", "fb"] == 1).all()
    assert (X.loc[toy["f"] == "C", "fC"] == 1).all()


def test_r_sort_is_case_insensitive_lower_first():
    # R: sort(c("b","a","C","B","A","c")) -> a A b B c C
    data = pd.DataFrame({"y": np.arange(12.0), "s": ["b", "a", "C", "B", "A", "c"] * 2})
    d = build_design(parse_formula("y ~ s"), data)
    assert d.xnames == ["(Intercept)", "sA", "sb", "sB", "sc", "sC"]


@pytest.mark.parametrize("ordered", [False, True])
def test_categorical_order_is_used(toy, ordered):
    data = toy.assign(f=pd.Categorical(toy["f"], categories=["C", "b", "a"], ordered=ordered))
    d = build_design(parse_formula("y ~ f"), data)
    # R: factor(f, levels = c("C", "b", "a")) -> (Intercept), f2b, f2a
    assert d.xnames == ["(Intercept)", "fb", "fa"]


def test_numeric_codes_are_numeric_in_fixed_part():
    data = pd.DataFrame({"y": np.arange(10.0), "x": np.arange(10) % 3})
    assert build_design(parse_formula("y ~ x"), data).xnames == ["(Intercept)", "x"]


def test_boolean_predictor_is_a_factor():
    data = pd.DataFrame({"y": np.arange(10.0), "b": np.arange(10) % 2 == 0})
    # R: model.matrix(~ b) for a logical b -> (Intercept), bTRUE
    assert build_design(parse_formula("y ~ b"), data).xnames == ["(Intercept)", "bTRUE"]


def test_r_column_name():
    assert r_column_name("Intercept") == "(Intercept)"
    assert r_column_name("x:g[T.b]") == "x:gb"
    assert r_column_name("g[b]") == "gb"
    assert r_column_name("np.log(w)") == "log(w)"
    assert r_column_name("scale(x):f[T.C]") == "scale(x):fC"


# --------------------------------------------------------------------------- random terms
def test_double_bar_numeric_splits(toy):
    d = build_design(parse_formula("y ~ x + (x || g)"), toy)
    # lme4 cnms: list(g = "(Intercept)", g = "x"); VarCorr names g and g.1
    assert [(t.name, t.group, t.cnames) for t in d.terms] == [
        ("g", "g", ["(Intercept)"]),
        ("g.1", "g", ["x"]),
    ]
    assert d.theta_names == ["g.(Intercept)", "g.x"]


def test_double_bar_factor_is_not_split_further(toy):
    d = build_design(parse_formula("y ~ x + (f || g)"), toy)
    # lme4: (f || g) -> (1 | g) + (0 + f | g), the second with every level of f
    assert [(t.name, t.cnames) for t in d.terms] == [
        ("g", ["(Intercept)"]),
        ("g.1", ["fa", "fb", "fC"]),
    ]


def test_categorical_predictor_inside_a_bar(toy):
    d = build_design(parse_formula("y ~ x + (f | g)"), toy)
    (t,) = d.terms
    assert t.cnames == ["(Intercept)", "fb", "fC"]
    assert t.k == 3 and t.cov.ntheta == 6
    d0 = build_design(parse_formula("y ~ x + (0 + f | g)"), toy)
    assert d0.terms[0].cnames == ["fa", "fb", "fC"]


def test_nested_term_levels_and_names(toy):
    d = build_design(parse_formula("y ~ x + (1 | g/h)"), toy)
    assert [(t.name, t.m) for t in d.terms] == [("h:g", 24), ("g", 12)]
    inner = d.terms[0]
    assert inner.levels[:3] == ["u:g00", "u:g01", "u:g02"]
    codes = inner.codes
    labels = [f"{h}:{g}" for h, g in zip(toy["h"], toy["g"], strict=True)]
    assert [inner.levels[c] for c in codes] == labels


def test_interaction_grouping_factor(toy):
    d = build_design(parse_formula("y ~ x + (1 | g:h)"), toy)
    (t,) = d.terms
    assert t.group == "g:h" and t.m == 24
    assert t.levels[:2] == ["g00:u", "g00:v"]


def test_crossed_terms_ordered_by_levels(toy):
    d = build_design(parse_formula("y ~ x + (1 | k) + (1 | g)"), toy)
    # lme4 orders terms by decreasing number of levels
    assert [(t.name, t.m) for t in d.terms] == [("g", 12), ("k", 8)]
    assert d.q == 20
    Z = d.Z.toarray()
    assert Z.shape == (120, 20)
    np.testing.assert_array_equal(Z.sum(axis=1), 2.0)  # one level of each factor per row


def test_slope_columns_in_z(toy):
    d = build_design(parse_formula("y ~ x + (x | g)"), toy)
    (t,) = d.terms
    Z = d.Z.toarray()
    # level-major columns: (Intercept, x) for g00, then for g01, ...
    rows = np.flatnonzero(t.codes == 0)
    np.testing.assert_allclose(Z[rows, 0], 1.0)
    np.testing.assert_allclose(Z[rows, 1], toy["x"].to_numpy()[rows])
    assert np.count_nonzero(Z[rows, 2:]) == 0


# --------------------------------------------------------------------------- equivalent fits
def _fits(formulas, data, reml=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [bm.MixedModel(f, data).fit_reml(reml=reml) for f in formulas]


def test_double_bar_equals_explicit_split(sleepstudy):
    a, b = _fits(
        [
            "Reaction ~ Days + (Days || Subject)",
            "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)",
        ],
        sleepstudy,
    )
    assert a.criterion == pytest.approx(b.criterion, abs=1e-8)
    pd.testing.assert_frame_equal(a.tidy(), b.tidy(), rtol=1e-6)


def test_slash_equals_explicit_nesting():
    pastes = bm.datasets.load("Pastes")
    a, b = _fits(
        ["strength ~ 1 + (1 | batch/cask)", "strength ~ 1 + (1 | cask:batch) + (1 | batch)"],
        pastes,
    )
    assert a.criterion == pytest.approx(b.criterion, abs=1e-8)
    assert list(a.tidy()["group"]) == list(b.tidy()["group"])
    # a REML criterion of 247.0 as lme4 reports for Pastes
    assert a.criterion == pytest.approx(246.99, abs=0.01)


def test_intercept_forms_are_equivalent(sleepstudy):
    a, b = _fits(
        ["Reaction ~ Days + (Days | Subject)", "Reaction ~ 1 + Days + (1 + Days | Subject)"],
        sleepstudy,
    )
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-8)


def test_r_idioms_factor_power_and_logical_levels():
    """factor(), as.factor(), I(x^2) and logical levels are read and named as R does
    (values checked against lme4: fixef of Reaction ~ factor(Days) + (1|Subject))."""
    import warnings

    d = bm.datasets.load("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bm.MixedModel("Reaction ~ factor(Days) + I(Days^2) + (1|Subject)", d).fit_reml()
    fx = fit.fixef()
    assert fit.design.dropped == ["I(Days^2)"]  # aliased with the factor, as lme4 drops it
    assert fx["factor(Days)9"] == pytest.approx(94.199417, rel=1e-6)
    assert fit.loglik == pytest.approx(-864.7463, abs=1e-4)
    fit2 = bm.MixedModel("Reaction ~ as.factor(Days > 4) + I(Days^2) + (1|Subject)", d).fit_reml()
    assert list(fit2.fixef().index) == ["(Intercept)", "as.factor(Days > 4)TRUE", "I(Days^2)"]
    # I(x^2) is a power, not Python's XOR
    np.testing.assert_allclose(fit2.design.X[:, 2], d["Days"].to_numpy() ** 2)
