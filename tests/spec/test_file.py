"""The models/*.toml schema: what a valid file becomes, and what every mistake says.

Each error is a SpecError naming the file, the key as a dotted path and the valid choices.
"""

from __future__ import annotations

import re

import pytest

import bayesmixed as bm
from bayesmixed.errors import BayesMixedError, SpecError
from bayesmixed.spec.file import ModelFile, read_model_file

HEAD = """\
description = "Nine groups, random intercept."
formula = "score ~ 1 + (1 | group)"
data = {primer = "groups", seed = 2}
"""


@pytest.fixture()
def write(tmp_path, monkeypatch):
    """Write ``models/x.toml`` under a temporary working directory; return its relative path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()

    def _write(text: str, name: str = "x.toml") -> str:
        path = f"models/{name}"
        (tmp_path / path).write_text(text, encoding="utf-8")
        return path

    return _write


def message(path: str, loader=read_model_file) -> str:
    with pytest.raises(SpecError) as info:
        loader(path)
    return str(info.value)


def test_a_minimal_file_gets_the_defaults(write):
    spec = read_model_file(write(HEAD))
    assert isinstance(spec, ModelFile)
    assert spec.name == "x" and spec.formula == "score ~ 1 + (1 | group)"
    assert (spec.data.primer, spec.data.seed) == ("groups", 2)
    assert spec.residual is None and spec.priors == {} and spec.fit.reml is True
    s = spec.sample
    assert (s.draws, s.tune, s.chains, s.sampler, s.seed) == (1000, 1000, 4, "nutpie", None)
    assert spec.report.quantities == ["tidy"] and spec.report.compare is False
    assert spec.load_data().equals(bm.datasets.primer("groups", seed=2))


def test_a_full_file_is_read(write):
    text = (
        HEAD
        + """
[priors]
"sd__(Intercept)|group" = {dist = "halfnormal", sigma = 5}
sigma = {dist = "inversegamma", alpha = 1, beta = 1, on = "variance"}

[fit]
reml = false

[sample]
draws = 200
tune = 300
chains = 2
sampler = "pymc"
parameterization = "noncentered"
target_accept = 0.9
seed = 11

[report]
title = "Groups"
chapter = 3
quantities = ["icc", "r2", "shrinkage"]
compare = true
"""
    )
    spec = read_model_file(write(text))
    prior = spec.priors["sd__(Intercept)|group"]
    assert prior.dist == "halfnormal" and prior.params == {"sigma": 5} and prior.on == "sd"
    assert spec.priors["sigma"].on == "variance"
    assert spec.fit.reml is False
    assert spec.sample.sampler == "pymc" and spec.sample.target_accept == 0.9
    assert spec.report.chapter == "3" and spec.report.quantities == ["icc", "r2", "shrinkage"]


def test_sampler_choice_names_file_key_and_choices(write):
    path = write(HEAD + '[sample]\nsampler = "stan"\n')
    assert message(path) == (
        "models/x.toml: [sample].sampler = 'stan' is not one of nutpie, pymc, numpyro"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEAD + "colour = 1\n", "unknown key colour; valid keys at the top level are: description, formula, data"),
        (HEAD + "[sample]\nchainz = 2\n", "unknown key [sample].chainz; valid keys of [sample] are: draws, tune, chains"),
        (HEAD + "[report]\nquantity = []\n", "unknown key [report].quantity; valid keys of [report] are: title"),
        (HEAD.replace("seed = 2}", "seed = 2, n = 5}"), "unknown key [data].n; valid keys of [data] are: dataset, primer, seed, csv"),
        (HEAD + 'residual = {structure = "UN", time = "t", group = "g", id = "x"}\n', "unknown key [residual].id"),
        (HEAD + "[sampler]\ndraws = 1\n", "unknown key sampler; valid keys at the top level"),
    ],
)  # fmt: skip
def test_unknown_keys_are_refused(write, text, expected):
    msg = message(write(text))
    assert msg.startswith("models/x.toml: ")
    assert expected in msg


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEAD.replace('primer = "groups"', 'primer = "clinics"'), "[data].primer = 'clinics' is not one of square, groups, hospitals, wards, schools, longitudinal"),
        (HEAD.replace('primer = "groups", seed = 2', 'dataset = "iris"'), "[data].dataset = 'iris' is not one of BodyWeight, Dyestuff"),
        (HEAD + 'residual = {structure = "XYZ", time = "t", group = "g"}\n', "[residual].structure = 'XYZ' is not one of CS, CSH, AR1, ARH1, TOEP, TOEPH, UN, AD, CAR1"),
        (HEAD + 'residual = {structure = "UN", group = "g"}\n', "[residual].time is missing (required)"),
        (HEAD + '[sample]\nparameterization = "fast"\n', "[sample].parameterization = 'fast' is not one of auto, marginal, partial, noncentered, centered"),
        (HEAD + '[sample]\ndraws = "many"\n', "[sample].draws = 'many': Input should be a valid integer"),
        (HEAD + "[sample]\ndraws = 0\n", "[sample].draws = 0: Input should be greater than 0"),
        (HEAD + "[sample]\ntarget_accept = 1.5\n", "[sample].target_accept = 1.5: Input should be less than 1"),
        (HEAD + '[fit]\nreml = "yes"\n', "[fit].reml = 'yes': Input should be a valid boolean"),
        (HEAD + '[fit]\nsave = 3\n', "[fit].save = 3: Input should be a valid string"),
        (HEAD + '[fit]\nsave = "fits/"\n', "[fit].save = 'fits/': names a folder; give a file name"),
        (HEAD + '[fit]\nsave = ""\n', "[fit].save = '': String should have at least 1 character"),
        (HEAD + '[report]\nquantities = ["icc", "magic"]\n', "[report].quantities[1] = 'magic' is not one of tidy, glance, ranef, icc"),
        (HEAD + '[priors]\nsigma = {sigma = 5}\n', '[priors].sigma.dist is missing (required)'),
        (HEAD + '[priors]\n"sd__(Intercept)|group" = {dist = "halfnormal", sigma = "five"}\n', '[priors]."sd__(Intercept)|group": parameter sigma = \'five\' must be a number'),
        (HEAD + '[priors]\nsigma = {dist = "halfnormal", on = "log"}\n', "[priors].sigma.on = 'log' is not one of sd, variance"),
        (HEAD.replace('formula = "score ~ 1 + (1 | group)"\n', ""), "formula is missing (required)"),
        (HEAD.replace('"Nine groups, random intercept."', '""'), "description = '': String should have at least 1 character"),
    ],
)  # fmt: skip
def test_bad_values_name_the_key_and_the_choices(write, text, expected):
    msg = message(write(text))
    assert msg.startswith("models/x.toml: ")
    assert expected in msg


@pytest.mark.parametrize(
    "data",
    [
        '{dataset = "Dyestuff", primer = "square"}',
        "{seed = 3}",
        '{csv = "a.csv", primer = "wards"}',
    ],
)
def test_exactly_one_data_source(write, data):
    text = HEAD.replace('{primer = "groups", seed = 2}', data)
    assert "give exactly one data source" in message(write(text))


def test_several_mistakes_are_all_reported(write):
    msg = message(write(HEAD + '[sample]\nsampler = "stan"\nchains = 0\n'))
    assert "[sample].sampler = 'stan'" in msg and "[sample].chains = 0" in msg


def test_toml_syntax_error_names_file_and_line(write):
    path = write(HEAD + "[sample]\ndraws = = 3\n")
    msg = message(path)
    assert msg.startswith("models/x.toml: TOML syntax error")
    assert re.search(r"line 5\b", msg)


def test_missing_file(write):
    msg = message("models/none.toml")
    assert msg.startswith("models/none.toml: cannot read the specification file")


def test_spec_error_is_a_bayesmixed_error():
    assert issubclass(SpecError, BayesMixedError) and issubclass(SpecError, ValueError)
    assert bm.errors.SpecError is SpecError


# ----------------------------------------------------------------------------- load_spec
def test_load_spec_builds_the_model_and_its_settings(write):
    text = (
        HEAD
        + """
[priors]
"sd__(Intercept)|group" = {dist = "halfnormal", sigma = 5}
fixed = {dist = "normal", mu = 0, sigma = 10}

[sample]
draws = 500
chains = 3
seed = 4

[report]
quantities = ["icc"]
"""
    )
    model, settings = bm.load_spec(write(text))
    assert isinstance(model, bm.MixedModel) and model.formula == "score ~ 1 + (1 | group)"
    assert settings.name == "x" and settings.description == "Nine groups, random intercept."
    assert settings.priors == {
        "sd__(Intercept)|group": bm.Prior("halfnormal", sigma=5),
        "fixed": bm.Prior("normal", mu=0, sigma=10),
    }
    assert settings.sample == {
        "draws": 500,
        "tune": 1000,
        "chains": 3,
        "sampler": "nutpie",
        "parameterization": "auto",
        "target_accept": 0.8,
        "random_seed": 4,
    }
    assert settings.report.quantities == ["icc"] and settings.reml is True
    fit = settings.fit(model)
    assert fit.tidy().equals(model.fit_reml().tidy())


def test_quick_caps_the_sampler(write):
    _, settings = bm.load_spec(
        write(HEAD + "[sample]\ndraws = 4000\ntune = 50\nchains = 6\n"), quick=True
    )
    assert (settings.sample["draws"], settings.sample["tune"], settings.sample["chains"]) == (
        100,
        50,
        2,
    )


def test_a_number_caps_draws_and_tuning_at_it(write):
    """quick=N (the demo's --draws N): at most N draws and N tuning steps, 2 chains."""
    _, settings = bm.load_spec(
        write(HEAD + "[sample]\ndraws = 4000\ntune = 300\nchains = 6\n"), quick=500
    )
    s = settings.sample
    assert (s["draws"], s["tune"], s["chains"]) == (500, 300, 2)


def test_residual_structure_and_csv_relative_to_the_file(write, tmp_path):
    bm.datasets.primer("longitudinal").to_csv(tmp_path / "models" / "trial.csv", index=False)
    text = """\
description = "A trial read from CSV."
formula = "score ~ visit * arm"
data = {csv = "trial.csv", categories = {visit = ["T0", "T3", "T6", "T9"]}}
residual = {structure = "AR1", time = "visit", group = "id"}
[fit]
reml = false
"""
    model, settings = bm.load_spec(write(text))
    assert model.residual == bm.residual.AR1(time="visit", group="id")
    fit = settings.fit(model)
    assert type(fit).__name__ == "GLSFit"
    direct = bm.MixedModel(
        "score ~ visit * arm",
        bm.datasets.primer("longitudinal"),
        residual=bm.residual.AR1(time="visit", group="id"),
    ).fit_reml(reml=False)
    assert fit.tidy()["estimate"].round(8).tolist() == direct.tidy()["estimate"].round(8).tolist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEAD + '[priors]\n"sd__(Intercept)|ward" = {dist = "halfnormal", sigma = 5}\n', "models/x.toml: [priors]: unknown parameter 'sd__(Intercept)|ward' in priors; valid names are: (Intercept), Intercept, sd__(Intercept)|group"),
        (HEAD + '[priors]\nsigma = {dist = "wide", sigma = 5}\n', 'models/x.toml: [priors]."sigma": unknown prior family \'wide\'; choose one of'),
        (HEAD + '[priors]\nsigma = {dist = "halfnormal", mu = 5}\n', "prior 'halfnormal' has no parameter 'mu'"),
        (HEAD + '[priors]\nsigma = {dist = "normal", sigma = 5}\n', "models/x.toml: [priors]:"),
        (HEAD.replace("(1 | group)", "(1 | ward)"), "models/x.toml: formula = 'score ~ 1 + (1 | ward)': "),
        (HEAD.replace('{primer = "groups", seed = 2}', '{csv = "gone.csv"}'), "models/x.toml: [data].csv = 'gone.csv': no such file"),
        (HEAD.replace("seed = 2}", 'seed = 2, categories = {group = ["G1", "G2"]}}'), "[data].categories.group misses the values G3, G4"),
        (HEAD.replace("seed = 2}", 'seed = 2, categories = {arm = ["a"]}}'), "[data].categories.arm: no column 'arm'"),
        (HEAD + 'residual = {structure = "CS", time = "group", group = "group"}\n', "models/x.toml: [residual]: CS(): time, group and by must be different columns"),
    ],
)  # fmt: skip
def test_load_spec_errors_name_file_and_key(write, text, expected):
    assert expected in message(write(text), bm.load_spec)


SAVED = """\
description = "Six batches of dyestuff."
formula = "Yield ~ 1 + (1 | Batch)"
data = {dataset = "Dyestuff"}
[fit]
save = "../fits/dye.bmfit"
[sample]
seed = 3
"""


def test_fit_save_is_relative_to_the_spec_file(write, tmp_path):
    spec = read_model_file(write(SAVED))
    assert spec.fit.save == "../fits/dye.bmfit"
    assert spec.save_path.as_posix() == "models/../fits/dye.bmfit"
    assert spec.posterior_save_path.name == "dye.posterior.bmfit"
    assert read_model_file(write(HEAD, "y.toml")).save_path is None


def test_load_spec_settings_save_the_fit_and_the_posterior(write, tmp_path):
    model, settings = bm.load_spec(write(SAVED), quick=True)
    fits = tmp_path / "fits"
    assert not fits.exists()
    fit = settings.fit(model)  # the folder is made when the fit is saved
    assert bm.load(fits / "dye.bmfit").tidy().equals(fit.tidy())
    post = settings.posterior(model, progressbar=False, draws=50, tune=50, check=False)
    back = bm.load(fits / "dye.posterior.bmfit")
    assert type(back).__name__ == "BayesFit"
    assert back.tidy().equals(post.tidy()) and back.ndraws == 50


def test_load_spec_without_save_writes_nothing(write, tmp_path):
    model, settings = bm.load_spec(write(HEAD))
    assert settings.save is None and settings.posterior_save is None
    settings.fit(model)
    assert sorted(p.name for p in tmp_path.rglob("*.bmfit")) == []
