"""The ``bayesmixed`` command: help, fits in every format, and one-line user errors (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import bayesmixed as bm
from bayesmixed.cli import app
from bayesmixed.cli.residual_text import parse_residual

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
SLEEP = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "sleep.csv"
    bm.datasets.load("sleepstudy").to_csv(path, index=False)
    return path


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("command", [[], ["fit"], ["run"], ["primer"], ["show"]])
def test_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_help_lists_fit_options():
    out = runner.invoke(app, ["fit", "--help"], env={"COLUMNS": "200"}).output
    for option in [
        "--reml-only",
        "--ml",
        "--residual",
        "--draws",
        "--sampler",
        "--format",
        "--save",
    ]:
        assert option in out


def test_python_dash_m_help():
    done = subprocess.run(
        [sys.executable, "-m", "bayesmixed", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "fit" in done.stdout and "primer" in done.stdout


def test_fit_reml_only_csv_matches_the_library(sleep_csv):
    result = runner.invoke(app, ["fit", str(sleep_csv), SLEEP, "--reml-only", "--format", "csv"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(StringIO(result.stdout))
    assert set(table["table"]) == {"reml"}
    expected = bm.MixedModel(SLEEP, bm.datasets.load("sleepstudy")).fit_reml().tidy()
    assert table["term"].tolist() == expected["term"].tolist()
    assert table["estimate"].to_numpy() == pytest.approx(expected["estimate"].to_numpy(), rel=1e-12)


def test_fit_reml_only_json_ml(sleep_csv):
    result = runner.invoke(
        app, ["fit", str(sleep_csv), SLEEP, "--reml-only", "--ml", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["method"] == "ML" and out["nobs"] == 180
    assert "posterior" not in out and "compare" not in out
    expected = bm.MixedModel(SLEEP, bm.datasets.load("sleepstudy")).fit_reml(reml=False)
    assert out["glance"][0]["logLik"] == pytest.approx(expected.glance()["logLik"][0], rel=1e-12)
    assert out["reml"][0]["group"] is None  # missing values are null
    assert "deviance" in out["glance"][0]


def test_fit_table_with_residual_structure(sleep_csv):
    result = runner.invoke(
        app,
        [
            "fit",
            str(sleep_csv),
            "Reaction ~ Days",
            "--reml-only",
            "--residual",
            "AR1(time=Days, group=Subject)",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "GLS (REML) estimates" in result.stdout
    assert "rho" in result.stdout


def test_fit_save_writes_a_loadable_fit(sleep_csv, tmp_path):
    path = tmp_path / "out" / "sleep.bmfit"
    result = runner.invoke(
        app, ["fit", str(sleep_csv), SLEEP, "--reml-only", "--format", "json", "--save", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert bm.load(path).tidy()["estimate"].tolist() == pytest.approx(
        [r["estimate"] for r in json.loads(result.stdout)["reml"]], rel=1e-12
    )


def test_bad_formula_is_one_line_exit_2(sleep_csv):
    result = runner.invoke(
        app, ["fit", str(sleep_csv), "Reaction ~ Days + (Days | ", "--reml-only"]
    )
    line = _one_error_line(result)
    assert "unmatched '('" in line and "character" in line


def test_unknown_column_is_one_line_exit_2(sleep_csv):
    result = runner.invoke(app, ["fit", str(sleep_csv), "Reaction ~ Dayz", "--reml-only"])
    assert "Dayz" in _one_error_line(result)


def test_missing_file_is_one_line_exit_2(tmp_path):
    result = runner.invoke(app, ["fit", str(tmp_path / "nope.csv"), "y ~ x", "--reml-only"])
    assert "nope.csv" in _one_error_line(result)


@pytest.mark.parametrize(
    "text, says",
    [
        ("AR2(time=Days, group=Subject)", "unknown structure 'AR2'"),
        ("AR1(time=Days)", "needs group"),
        ("AR1(time=Days, group=Subject, lag=2)", "unknown key 'lag'"),
        ("__import__('os').system('true')", "NAME(key=value"),
        ("AR1(time=Nope, group=Subject)", "Nope"),
    ],
)
def test_bad_residual_is_one_line_exit_2(sleep_csv, text, says):
    result = runner.invoke(
        app, ["fit", str(sleep_csv), "Reaction ~ Days", "--reml-only", "--residual", text]
    )
    assert says in _one_error_line(result)


def test_parse_residual_reads_quotes_and_by():
    assert parse_residual(" un( time = 'visit' , group=\"id\", by=arm ) ") == bm.residual.UN(
        time="visit", group="id", by="arm"
    )
    assert parse_residual(None) is None


def test_bad_option_value_is_exit_2(sleep_csv):
    result = runner.invoke(app, ["fit", str(sleep_csv), SLEEP, "--draws", "0"])
    assert result.exit_code == 2


@pytest.mark.slow
def test_fit_with_sampling_prints_the_three_tables(sleep_csv):
    dye = sleep_csv.parent / "dyestuff.csv"
    bm.datasets.load("Dyestuff").to_csv(dye, index=False)
    args = ["fit", str(dye), "Yield ~ 1 + (1 | Batch)", "--draws", "200", "--tune", "200"]
    result = runner.invoke(app, [*args, "--chains", "2", "--seed", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [r["term"] for r in out["compare"]] == [
        "(Intercept)",
        "sd__(Intercept)",
        "sd__Observation",
    ]
    assert {"reml", "glance", "posterior", "compare"} <= set(out)


# ---------------------------------------------------------------------------- show
@pytest.fixture(scope="module")
def saved_gls(tmp_path_factory) -> tuple[Path, object]:
    ar1 = bm.residual.AR1(time="Days", group="Subject")
    fit = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy"), residual=ar1).fit_reml()
    return fit.save(tmp_path_factory.mktemp("fits") / "ar1.bmfit"), fit


def test_show_csv_matches_the_saved_fit(saved_gls):
    path, fit = saved_gls
    result = runner.invoke(app, ["show", str(path), "--format", "csv"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(StringIO(result.stdout))
    assert set(table["table"]) == {"tidy"}  # one CSV holds the per-parameter tables
    assert table["term"].tolist() == fit.tidy()["term"].tolist()
    assert table["estimate"].to_numpy() == pytest.approx(fit.tidy()["estimate"].to_numpy(), 1e-15)


def test_show_json_and_table(saved_gls):
    path, fit = saved_gls
    out = json.loads(runner.invoke(app, ["show", str(path), "--format", "json"]).stdout)
    assert out["method"] == "GLS (REML)" and out["nobs"] == 180
    assert out["formula"] == "Reaction ~ Days" and "diagnostics" not in out
    assert out["glance"][0]["logLik"] == fit.glance()["logLik"][0]
    text = runner.invoke(app, ["show", str(path)]).stdout
    assert "GLS (REML) estimates" in text and "GLS (REML) fit" in text and "rho" in text


def test_show_bad_or_altered_file_is_one_line_exit_2(saved_gls, tmp_path):
    import zipfile

    path, _ = saved_gls
    junk = tmp_path / "junk.bmfit"
    junk.write_text("not a fit")
    assert "not a saved bayesmixed fit" in _one_error_line(runner.invoke(app, ["show", str(junk)]))
    missing = runner.invoke(app, ["show", str(tmp_path / "none.bmfit")])
    assert "none.bmfit" in _one_error_line(missing)
    # the data edited: the checksum no longer matches
    altered = tmp_path / "altered.bmfit"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(altered, "w") as dst:
        for name in src.namelist():
            raw = src.read(name)
            dst.writestr(name, raw.replace(b"249.56", b"250.56") if name == "data.csv" else raw)
    assert "checksum" in _one_error_line(runner.invoke(app, ["show", str(altered)]))
    # a truncated file
    cut = tmp_path / "cut.bmfit"
    cut.write_bytes(path.read_bytes()[:-200])
    _one_error_line(runner.invoke(app, ["show", str(cut)]))


@pytest.mark.slow
def test_show_posterior_prints_its_diagnostics(tmp_path):
    m = bm.MixedModel("Reaction ~ Days + (1 | Subject)", bm.datasets.load("sleepstudy"))
    post = m.sample(draws=50, tune=50, chains=2, random_seed=1, progressbar=False, check=False)
    path = post.save(tmp_path / "post.bmfit")
    out = json.loads(runner.invoke(app, ["show", str(path), "--format", "json"]).stdout)
    assert out["method"] == "NUTS"
    assert [r["term"] for r in out["diagnostics"]] == post.diagnostics()["term"].tolist()
    assert [r["rhat"] for r in out["tidy"]] == post.tidy()["rhat"].tolist()
    text = runner.invoke(app, ["show", str(path)]).stdout
    assert "Sampling diagnostics" in text and "Posterior (NUTS)" in text


# ---------------------------------------------------------------------------- run, primer
def test_run_one_spec_quick(tmp_path):
    result = runner.invoke(
        app,
        ["run", str(ROOT / "models" / "random_intercept.toml"), "--out", str(tmp_path), "--quick"],
    )
    assert result.exit_code == 0, result.output
    page = tmp_path / "random_intercept.html"
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "tidy()" in html and "<img" in html  # the tables and the figures
    assert "random_intercept" in result.stdout and str(page) in result.stdout


def test_run_without_posterior_writes_reml_page(tmp_path):
    spec = tmp_path / "dye.toml"
    spec.write_text(
        'description = "Six batches."\nformula = "Yield ~ 1 + (1 | Batch)"\n'
        'data = {dataset = "Dyestuff"}\n[report]\nquantities = ["icc", "ranef"]\ncompare = false\n'
    )
    result = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "out" / "dye.html").read_text(encoding="utf-8")
    assert "icc" in html and "ranef" in html and "Posterior" not in html


def test_run_saves_the_fits_the_spec_asks_for_and_show_reads_them(tmp_path):
    spec = tmp_path / "specs" / "dye.toml"
    spec.parent.mkdir()
    spec.write_text(
        'description = "Six batches."\nformula = "Yield ~ 1 + (1 | Batch)"\n'
        'data = {dataset = "Dyestuff"}\n[fit]\nsave = "fits/dye.bmfit"\n'
        "[sample]\nseed = 2\n[report]\ncompare = true\n"
    )
    result = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "out"), "--quick"])
    assert result.exit_code == 0, result.output
    fits = spec.parent / "fits"  # relative to the spec file, not to the working directory
    assert sorted(p.name for p in fits.iterdir()) == ["dye.bmfit", "dye.posterior.bmfit"]
    shown = json.loads(
        runner.invoke(app, ["show", str(fits / "dye.bmfit"), "--format", "json"]).stdout
    )
    assert shown["method"] == "REML" and shown["nobs"] == 30
    post = runner.invoke(app, ["show", str(fits / "dye.posterior.bmfit")])
    assert post.exit_code == 0, post.output
    assert "Sampling diagnostics" in post.stdout


def test_run_bad_spec_is_one_line_exit_2(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text(
        'description = "x"\nformula = "y ~ x"\ndata = {dataset = "Dyestuff"}\nbogus = 1\n'
    )
    assert "bogus" in _one_error_line(runner.invoke(app, ["run", str(spec)]))
    missing = runner.invoke(app, ["run", str(tmp_path / "nope.toml")])
    assert "nope.toml" in _one_error_line(missing)


def test_primer_without_specs_is_one_line_exit_2(tmp_path):
    result = runner.invoke(app, ["primer", "--models", str(tmp_path), "--out", str(tmp_path)])
    assert "no *.toml" in _one_error_line(result)


@pytest.mark.slow
def test_primer_quick(tmp_path):
    result = runner.invoke(
        app, ["primer", "--out", str(tmp_path), "--quick"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "index.html").exists()
    pages = sorted(p.stem for p in (tmp_path / "models").glob("*.html"))
    assert pages == sorted(p.stem for p in (ROOT / "models").glob("*.toml"))
