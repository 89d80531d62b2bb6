"""``fit.save(path)`` and ``bm.load(path)``: every fit type round-trips into a new process with
identical tables, predictions and plots; altered or foreign files are refused."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.errors import ArgumentError, StorageError

ROOT = Path(__file__).resolve().parents[2]

# what both processes compute from a fit: its tables written the same way (17 digits), the
# predictions, and a hash of a rendered plot's pixels
REPORT = r"""
import hashlib, json, sys, warnings
import matplotlib
matplotlib.use("Agg")
import numpy as np
import bayesmixed as bm

def report(fit):
    out = {}
    for name in ["tidy", "glance", "ranef"]:
        if hasattr(fit, name):
            out[name] = getattr(fit, name)().to_csv(index=False, float_format="%.17g")
    out["predict"] = np.asarray(fit.predict()).tolist()
    out["fitted"] = np.asarray(fit.fitted()).tolist()
    if fit.design.terms:
        ax = bm.plots.caterpillar(fit)
        ax = ax[0] if isinstance(ax, list) else ax
        ax.figure.canvas.draw()
        out["plot"] = hashlib.sha256(bytes(ax.figure.canvas.buffer_rgba())).hexdigest()
    else:
        out["icc"] = None
    return out

if __name__ == "__main__":
    warnings.simplefilter("ignore")
    fit = bm.load(sys.argv[1])
    print(json.dumps(report(fit)))
"""


def _report_here(fit) -> dict:
    ns: dict = {}
    exec(REPORT, ns)  # the same code as the child process runs
    return ns["report"](fit)


def _report_in_new_process(path: Path, tmp_path: Path) -> dict:
    script = tmp_path / "report.py"
    script.write_text(REPORT)
    out = subprocess.run(
        [sys.executable, str(script), str(path)], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fits():
    sleep = bm.datasets.load("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield "ols", bm.MixedModel("Reaction ~ Days", sleep).fit_reml()
        yield "reml", bm.MixedModel("Reaction ~ Days + (Days | Subject)", sleep).fit_reml()
        yield "ml", bm.MixedModel("Reaction ~ Days + (Days || Subject)", sleep).fit_reml(False)
        orth = bm.datasets.load("Orthodont")
        yield "factor", bm.MixedModel("distance ~ age * Sex + (1 | Subject)", orth).fit_reml()
        long = _longitudinal()
        un = bm.residual.UN(time="visit", group="id")
        yield "gls", bm.MixedModel("y ~ visit * arm", long, residual=un).fit_reml()
        ar1 = bm.residual.AR1(time="visit", group="id")
        yield (
            "gls_re_ml",
            bm.MixedModel("y ~ visit + x + (1 | id)", long, residual=ar1).fit_reml(False),
        )
        by = bm.residual.CS(time="visit", group="id", by="arm")
        yield "gls_by", bm.MixedModel("y ~ visit", long, residual=by).fit_reml()


def _longitudinal() -> pd.DataFrame:
    return pd.read_csv(ROOT / "tests" / "reference" / "data" / "longitudinal_unbalanced.csv")


@pytest.mark.slow  # a new Python process per fit type
@pytest.mark.parametrize("kind,fit", list(_fits()), ids=[k for k, _ in _fits()])
def test_round_trip_in_a_new_process(kind, fit, tmp_path):
    path = fit.save(tmp_path / f"{kind}.bmfit")
    assert _report_in_new_process(path, tmp_path) == _report_here(fit)
    back = bm.load(path)
    assert type(back) is type(fit)
    pd.testing.assert_frame_equal(back.tidy(), fit.tidy(), check_exact=True)


@pytest.mark.slow
def test_bayesian_round_trip_in_a_new_process(tmp_path):
    m = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = m.sample(draws=300, tune=300, chains=2, random_seed=3, progressbar=False)
    path = post.save(tmp_path / "post.bmfit")
    assert "posterior.nc" in zipfile.ZipFile(path).namelist()
    assert _report_in_new_process(path, tmp_path) == _report_here(post)
    back = bm.load(path)
    np.testing.assert_array_equal(
        back.idata.posterior["sigma"].values, post.idata.posterior["sigma"].values
    )
    assert back.idata.posterior.attrs["random_seed"] == 3
    assert back.prior_summary().equals(post.prior_summary())


def _rewrite(path: Path, out: Path, edit) -> Path:
    """Copy a saved fit, letting ``edit(name, bytes) -> bytes`` change its members."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, edit(name, src.read(name)))
    return out


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    return fit.save(tmp_path_factory.mktemp("saved") / "dyestuff.bmfit")


def test_altered_theta_is_refused(saved, tmp_path):
    import io

    def edit(name, raw):
        if name != "arrays.npz":
            return raw
        with np.load(io.BytesIO(raw)) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["theta"] = arrays["theta"] * 1.01
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    with pytest.raises(StorageError, match="criterion does not reproduce"):
        bm.load(_rewrite(saved, tmp_path / "theta.bmfit", edit))


def test_altered_data_are_refused(saved, tmp_path):
    def edit(name, raw):
        return raw.replace(b"1545", b"1546") if name == "data.csv" else raw

    with pytest.raises(StorageError, match="checksum"):
        bm.load(_rewrite(saved, tmp_path / "data.bmfit", edit))


def test_altered_data_with_a_matching_checksum_do_not_reproduce(saved, tmp_path):
    """Someone edits the data and the checksum: the criterion at the saved θ then differs."""
    new_csv = {}

    def edit_data(name, raw):
        if name == "data.csv":
            new_csv["raw"] = raw.replace(b"1545", b"1600")
            return new_csv["raw"]
        return raw

    step = _rewrite(saved, tmp_path / "step.bmfit", edit_data)

    def edit_manifest(name, raw):
        if name != "manifest.json":
            return raw
        man = json.loads(raw)
        man["data_sha256"] = hashlib.sha256(new_csv["raw"]).hexdigest()
        return json.dumps(man).encode()

    with pytest.raises(StorageError, match="does not reproduce"):
        bm.load(_rewrite(step, tmp_path / "both.bmfit", edit_manifest))


def test_other_format_versions_and_foreign_files_are_refused(saved, tmp_path):
    def edit(name, raw):
        if name != "manifest.json":
            return raw
        man = json.loads(raw)
        man["format_version"] = 99
        return json.dumps(man).encode()

    with pytest.raises(StorageError, match="format version 99"):
        bm.load(_rewrite(saved, tmp_path / "v99.bmfit", edit))
    junk = tmp_path / "junk.bmfit"
    junk.write_text("not a zip")
    with pytest.raises(StorageError, match="not a saved bayesmixed fit"):
        bm.load(junk)
    with pytest.raises(StorageError, match="no saved fit"):
        bm.load(tmp_path / "missing.bmfit")
    with pytest.raises(ArgumentError, match="path must be a file name"):
        bm.load(3)


def test_no_pickle_in_the_archive(saved):
    with zipfile.ZipFile(saved) as z:
        assert sorted(z.namelist()) == ["arrays.npz", "data.csv", "manifest.json"]
        with np.load(__import__("io").BytesIO(z.read("arrays.npz")), allow_pickle=False) as npz:
            assert all(npz[k].dtype != object for k in npz.files)
        man = json.loads(z.read("manifest.json"))
    assert man["format"] == "bayesmixed-fit" and man["bayesmixed_version"] == bm.__version__


@pytest.fixture(scope="module")
def saved_gls(tmp_path_factory):
    ar1 = bm.residual.AR1(time="visit", group="id")
    fit = bm.MixedModel("y ~ visit * arm", _longitudinal(), residual=ar1).fit_reml()
    return fit.save(tmp_path_factory.mktemp("saved") / "gls.bmfit")


def test_gls_archive_holds_the_structure_and_its_columns(saved_gls):
    with zipfile.ZipFile(saved_gls) as z:
        man = json.loads(z.read("manifest.json"))
        header = z.read("data.csv").decode().splitlines()[0]
    assert man["kind"] == "gls"
    assert man["state"]["structure"] == {"name": "AR1", "time": "visit", "group": "id", "by": None}
    assert "id" in header.split(",")  # the subject column, although the formula does not use it
    back = bm.load(saved_gls)
    assert type(back).__name__ == "GLSFit" and repr(back.rd.spec) == "AR1(time='visit', group='id')"
    assert back.emmeans("visit", by="arm").equals(bm.load(saved_gls).emmeans("visit", by="arm"))


def test_gls_altered_parameters_are_refused(saved_gls, tmp_path):
    import io

    def edit(name, raw):
        if name != "arrays.npz":
            return raw
        with np.load(io.BytesIO(raw)) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["phi"] = arrays["phi"] * 1.01
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    with pytest.raises(StorageError, match="criterion does not reproduce"):
        bm.load(_rewrite(saved_gls, tmp_path / "phi.bmfit", edit))


def test_gls_altered_structure_is_refused(saved_gls, tmp_path):
    def edit(name, raw, new="CS"):
        if name != "manifest.json":
            return raw
        man = json.loads(raw)
        man["state"]["structure"]["name"] = new
        return json.dumps(man).encode()

    # CS has as many parameters as AR1: only the criterion tells them apart
    with pytest.raises(StorageError, match="does not reproduce"):
        bm.load(_rewrite(saved_gls, tmp_path / "cs.bmfit", edit))
    with pytest.raises(StorageError, match="unknown residual structure"):
        bm.load(_rewrite(saved_gls, tmp_path / "xx.bmfit", lambda n, r: edit(n, r, "XX")))


# --------------------------------------------------------------------------- residual posteriors
def _sample_quietly(model, **kw):
    kw = {"draws": 40, "tune": 40, "chains": 2, "random_seed": 5, "progressbar": False, **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short runs: the R-hat/ESS warnings are expected
        return model.sample(**kw)


@pytest.fixture(scope="module")
def residual_post():
    arh1 = bm.residual.ARH1(time="visit", group="id")
    model = bm.MixedModel("y ~ visit + (1 | id)", _longitudinal(), residual=arh1)
    return _sample_quietly(model)


@pytest.fixture(scope="module")
def saved_residual_post(residual_post, tmp_path_factory):
    return residual_post.save(tmp_path_factory.mktemp("saved") / "arh1.posterior.bmfit")


@pytest.mark.slow
def test_residual_posterior_round_trip_in_a_new_process(
    residual_post, saved_residual_post, tmp_path
):
    assert _report_in_new_process(saved_residual_post, tmp_path) == _report_here(residual_post)
    back = bm.load(saved_residual_post)
    assert type(back) is type(residual_post)
    pd.testing.assert_frame_equal(back.tidy(), residual_post.tidy(), check_exact=True)
    pd.testing.assert_frame_equal(back.ranef(), residual_post.ranef(), check_exact=True)
    assert back.glance().equals(residual_post.glance())
    assert back.prior_summary().equals(residual_post.prior_summary())
    assert back.residual_cov("s001").equals(residual_post.residual_cov("s001"))
    assert back.idata.posterior.attrs["residual"] == "ARH1(time='visit', group='id')"
    cmp = bm.compare(
        back,
        bm.MixedModel("y ~ visit + (1 | id)", _longitudinal(), residual=back.rd.spec).fit_reml(),
    )
    assert cmp["reml_estimate"].notna().all()


@pytest.mark.slow
def test_residual_posterior_archive_holds_the_structure(saved_residual_post):
    with zipfile.ZipFile(saved_residual_post) as z:
        assert "posterior.nc" in z.namelist()
        man = json.loads(z.read("manifest.json"))
        with np.load(__import__("io").BytesIO(z.read("arrays.npz")), allow_pickle=False) as npz:
            names = set(npz.files)
    assert man["kind"] == "bayes_residual"
    assert man["state"]["structure"] == {"name": "ARH1", "time": "visit", "group": "id", "by": None}
    assert man["state"]["priors"]["bounds"] == {"rho|Residual": [-1.0, 1.0]}
    assert {"beta", "sigma", "cov_0", "b_0", "residual_values"} <= names
    assert {"residual_params_0", "residual_scale_0"} <= names


@pytest.mark.slow
def test_residual_posterior_by_levels_and_unused_columns(tmp_path):
    """CS by arm on ``y ~ visit``: neither the subject nor the by column is in the formula."""
    cs = bm.residual.CS(time="visit", group="id", by="arm")
    post = _sample_quietly(bm.MixedModel("y ~ visit", _longitudinal(), residual=cs), draws=30)
    path = post.save(tmp_path / "cs_by.bmfit")
    header = zipfile.ZipFile(path).read("data.csv").decode().splitlines()[0].split(",")
    assert {"id", "arm"} <= set(header)
    back = bm.load(path)
    pd.testing.assert_frame_equal(back.tidy(), post.tidy(), check_exact=True)
    assert "Residual:arm=treated" in set(back.tidy()["group"])


def _edit_posterior(raw: bytes, change) -> bytes:
    """posterior.nc with ``change(idata)`` applied (netCDF written back)."""
    import tempfile

    import arviz as az

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.nc", Path(tmp) / "out.nc"
        src.write_bytes(raw)
        with az.rc_context({"data.load": "eager"}):
            idata = az.from_netcdf(str(src))
        change(idata)
        idata.to_netcdf(str(dst))
        return dst.read_bytes()


def _edit_arrays(raw: bytes, change) -> bytes:
    import io

    with np.load(io.BytesIO(raw)) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.mark.slow
def test_residual_posterior_altered_draws_are_refused(saved_residual_post, tmp_path):
    def shift_beta(arrays):
        arrays["beta"] = arrays["beta"] + 0.01

    def shift_posterior_beta(idata):
        idata.posterior["beta"] = idata.posterior["beta"] + 0.01

    # β altered alike in both copies: only the recomputed log-likelihood tells
    def both(name, raw):
        if name == "arrays.npz":
            return _edit_arrays(raw, shift_beta)
        if name == "posterior.nc":
            return _edit_posterior(raw, shift_posterior_beta)
        return raw

    with pytest.raises(StorageError, match="pointwise log-likelihood does not reproduce"):
        bm.load(_rewrite(saved_residual_post, tmp_path / "beta.bmfit", both))

    def widen(arrays):
        arrays["residual_params_0"] = arrays["residual_params_0"] * 1.05

    def params(name, raw):
        return _edit_arrays(raw, widen) if name == "arrays.npz" else raw

    with pytest.raises(StorageError, match="residual parameters does not reproduce"):
        bm.load(_rewrite(saved_residual_post, tmp_path / "params.bmfit", params))

    def drop(arrays):
        del arrays["residual_scale_0"]

    def missing(name, raw):
        return _edit_arrays(raw, drop) if name == "arrays.npz" else raw

    with pytest.raises(StorageError, match="incomplete or damaged"):
        bm.load(_rewrite(saved_residual_post, tmp_path / "missing.bmfit", missing))


def test_a_manifest_without_its_state_is_refused_as_damaged(saved, tmp_path):
    def edit(name, raw):
        if name != "manifest.json":
            return raw
        man = json.loads(raw)
        del man["state"]
        return json.dumps(man).encode()

    with pytest.raises(StorageError, match="incomplete or damaged"):
        bm.load(_rewrite(saved, tmp_path / "nostate.bmfit", edit))
