"""Every specification in models/ loads, fits by REML and yields what its report asks for; a
handful also sample briefly (quick=True)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import bayesmixed as bm

MODELS = Path(__file__).resolve().parents[1] / "models"
SPECS = sorted(MODELS.glob("*.toml"))

# the primer's models, each with its own file (the brief's list)
PRIMER_MODELS = [
    "ols_intercept", "ols_groups", "ols_continuous", "ols_dichotomized", "ols_interaction",
    "fixed_groups", "random_intercept", "level2_predictor", "within_between", "random_slope",
    "uncorrelated_slope", "three_level", "crossed", "crossed_slope", "longitudinal_intercept",
    "longitudinal_slope", "categorical_time",
    "residual_cs", "residual_csh", "residual_ar1", "residual_arh1", "residual_toep", "residual_un",
]  # fmt: skip

# sampled in the fast suite: the marginal nutpie path, no compilation
QUICK_BAYES = ["random_intercept", "random_slope", "three_level", "sleepstudy"]
# sampled too, but slower (PyTensor graphs, residual structures, crossed kernels)
SLOW_BAYES = ["ols_groups", "residual_ar1", "crossed"]


def test_every_primer_model_has_a_spec():
    names = {p.stem for p in SPECS}
    assert not set(PRIMER_MODELS) - names
    assert len(SPECS) >= 18


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_spec_loads_and_fits(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", bm.BayesMixedWarning)  # the primer data fit cleanly
        model, settings = bm.load_spec(path)
        fit = settings.fit(model)
    spec = settings.file
    assert settings.name == path.stem
    assert len(settings.description.split()) >= 15, "a one-paragraph description"
    assert settings.report.title and settings.report.chapter
    assert spec.sample.seed is not None, "a reproducible spec names its seed"
    has_random = "|" in spec.formula
    expected = "GLSFit" if spec.residual else ("REMLFit" if has_random else "OLSFit")
    assert type(fit).__name__ == expected
    tidy = fit.tidy()
    assert tidy["estimate"].notna().all()
    for quantity in settings.report.quantities:
        method = getattr(fit, quantity)
        if quantity.startswith("residual_"):
            subject = spec.load_data()[spec.residual.group].iloc[0]
            value = method(subject)
        else:
            value = method()
        assert value is not None, quantity


def _sample(name: str):
    model, settings = bm.load_spec(MODELS / f"{name}.toml", quick=True)
    assert settings.sample["draws"] == 100 and settings.sample["chains"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.errors.SamplingWarning)  # 100 draws: rough R-hat
        warnings.simplefilter("ignore", bm.errors.LooWarning)
        post = settings.posterior(model, progressbar=False, cores=1)
    tidy = post.tidy()
    reml = settings.fit(model).tidy()
    # the same parameters as REML (OLS has no sd__Observation row; the posterior has sigma's)
    assert set(reml["term"]) <= set(tidy["term"]) <= set(reml["term"]) | {"sd__Observation"}
    assert tidy["estimate"].notna().all()
    return post


@pytest.mark.parametrize("name", QUICK_BAYES)
def test_quick_bayesian_run(name):
    _sample(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW_BAYES)
def test_quick_bayesian_run_slow(name):
    _sample(name)


def test_seeded_specs_sample_reproducibly():
    a = _sample("random_intercept").tidy()
    b = _sample("random_intercept").tidy()
    assert a["estimate"].tolist() == b["estimate"].tolist()
