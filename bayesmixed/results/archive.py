"""The file format of saved fits: one zip archive, no pickle.

Unpickling a file runs code, so a saved fit holds only data formats that cannot:

* ``manifest.json`` — the format name and version, the bayesmixed version, the kind of fit
  (``"ols"``, ``"reml"``, ``"bayes"``), the formula, the engine's state (θ and the criterion
  for REML/ML, the coefficients for OLS, priors and sampler settings for Bayes), the column
  types of the data and the SHA-256 of ``data.csv``;
* ``data.csv`` — the model frame (the rows and columns the fit used), every float written
  with the 17 significant digits that read back as the same double;
* ``arrays.npz`` — numeric arrays (NumPy's format, read with ``allow_pickle=False``);
* ``posterior.nc`` — the InferenceData of a Bayesian fit (netCDF, ArviZ's own format).

Loading (:func:`bayesmixed.load`) rebuilds the model from the formula and the data, then
recomputes what the file claims (the REML criterion at the saved θ, the least-squares
coefficients, the posterior's log-likelihood) and refuses a file whose numbers do not
reproduce, whose data were altered, or whose format version it does not know.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from .._version import __version__
from ..errors import StorageError

__all__ = ["FORMAT", "FORMAT_VERSION", "write_archive", "read_archive", "Archive"]

FORMAT = "bayesmixed-fit"
FORMAT_VERSION = 1


def _column_types(frame: pd.DataFrame) -> dict:
    out = {}
    for c in frame.columns:
        s = frame[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            out[c] = {
                "kind": "category",
                "categories": [str(v) for v in s.cat.categories],
                "ordered": bool(s.cat.ordered),
                "values": str(s.cat.categories.dtype),
            }
        elif pd.api.types.is_bool_dtype(s):
            out[c] = {"kind": "bool"}
        elif pd.api.types.is_integer_dtype(s):
            out[c] = {"kind": "int", "dtype": str(s.dtype)}
        elif pd.api.types.is_float_dtype(s):
            out[c] = {"kind": "float", "dtype": str(s.dtype)}
        else:
            out[c] = {"kind": "str"}
    return out


def _frame_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, float_format="%.17g", lineterminator="\n").encode("utf-8")


def _read_frame(raw: bytes, types: dict) -> pd.DataFrame:
    dtype = {c: str for c, t in types.items() if t["kind"] in ("str", "category")}
    frame = pd.read_csv(io.BytesIO(raw), dtype=dtype, keep_default_na=False, na_values=[""])
    for c, t in types.items():
        if t["kind"] == "category":
            cats = pd.Index(t["categories"])
            if t["values"] != "object" and not t["values"].startswith("str"):
                cats = cats.astype(t["values"])
                frame[c] = frame[c].astype(t["values"])
            frame[c] = pd.Categorical(frame[c], categories=cats, ordered=t["ordered"])
        elif t["kind"] == "bool":
            frame[c] = frame[c].astype(bool)
        elif t["kind"] in ("int", "float"):
            frame[c] = frame[c].astype(t["dtype"])
    return frame


class Archive:
    """What a saved fit holds: manifest, data, arrays and (Bayes) the InferenceData."""

    def __init__(self, manifest: dict, data: pd.DataFrame, arrays: dict, idata=None):
        self.manifest = manifest
        self.data = data
        self.arrays = arrays
        self.idata = idata


def write_archive(
    path: str | Path,
    kind: str,
    formula: str,
    data: pd.DataFrame,
    state: dict,
    arrays: dict | None = None,
    idata=None,
) -> Path:
    """Write one saved fit (see the module docstring for the layout).

    Examples
    --------
    >>> import bayesmixed as bm, tempfile, os
    >>> fit = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")).fit_reml()
    >>> path = fit.save(os.path.join(tempfile.mkdtemp(), "ols.bmfit"))
    >>> sorted(zipfile.ZipFile(path).namelist())
    ['arrays.npz', 'data.csv', 'manifest.json']
    """
    path = Path(path)
    raw = _frame_csv(data)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "bayesmixed_version": __version__,
        "kind": kind,
        "formula": formula,
        "columns": _column_types(data),
        "data_sha256": hashlib.sha256(raw).hexdigest(),
        "state": state,
    }
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in (arrays or {}).items()})
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=1, allow_nan=True))
            zf.writestr("data.csv", raw)
            zf.writestr("arrays.npz", buf.getvalue())
            if idata is not None:
                with tempfile.TemporaryDirectory() as tmp:
                    nc = Path(tmp) / "posterior.nc"
                    idata.to_netcdf(str(nc))
                    zf.write(nc, "posterior.nc")
    except OSError as e:
        raise StorageError(f"cannot write the fit to {str(path)!r}: {e}") from e
    return path


def read_archive(path: str | Path) -> Archive:
    """Read and check a saved fit: format, version and data checksum.

    Raises
    ------
    StorageError
        Not a bayesmixed fit, an unknown format version, or data that were altered.
    """
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise StorageError(
            f"{str(path)!r} is not a saved bayesmixed fit (a zip archive written by fit.save): {e}"
        ) from e
    with zf:
        names = set(zf.namelist())
        if not {"manifest.json", "data.csv", "arrays.npz"} <= names:
            raise StorageError(f"{str(path)!r} is not a saved bayesmixed fit: files are missing")
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except ValueError as e:
            raise StorageError(f"{str(path)!r}: manifest.json is not valid JSON ({e})") from e
        if manifest.get("format") != FORMAT:
            raise StorageError(f"{str(path)!r} is not a saved bayesmixed fit")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise StorageError(
                f"{str(path)!r} was written in format version {manifest.get('format_version')} "
                f"by bayesmixed {manifest.get('bayesmixed_version')}; this bayesmixed "
                f"({__version__}) reads format version {FORMAT_VERSION}: refit the model, or "
                f"load it with bayesmixed {manifest.get('bayesmixed_version')}"
            )
        raw = zf.read("data.csv")
        if hashlib.sha256(raw).hexdigest() != manifest.get("data_sha256"):
            raise StorageError(
                f"{str(path)!r}: the saved data do not match their checksum (the file was "
                "altered or damaged); refit the model from the original data"
            )
        data = _read_frame(raw, manifest["columns"])
        with np.load(io.BytesIO(zf.read("arrays.npz")), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        idata = None
        if "posterior.nc" in names:
            import arviz as az

            # eager: the data are read into memory and the file closed before it is deleted
            with tempfile.TemporaryDirectory() as tmp, az.rc_context({"data.load": "eager"}):
                nc = Path(zf.extract("posterior.nc", tmp))
                idata = az.from_netcdf(str(nc))
    return Archive(manifest, data, arrays, idata)
