"""``bm.load``: a saved fit back in any process, checked before it is trusted.

The model is rebuilt from the saved formula and data, and each engine's fit is restored
from what reproduces it — without trusting the file's numbers: the REML/ML fit is recomputed
at the saved θ and its criterion compared with the saved one (as MixedModels.jl's
``restoreoptsum!`` does), a fit with a residual structure likewise at its saved covariance
parameters (the structure rebuilt from its saved name and columns), the least-squares fit is
redone and its coefficients compared, and a posterior's log-likelihood is recomputed from its
draws on the data and compared with the saved InferenceData (per subject for a posterior
with a residual structure, from the structure's parameters: see
:mod:`bayesmixed.bayes.residual.saving`). A mismatch means the file was altered, or was
written by a version that computes differently: the file is refused, never silently used.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import ArgumentError, StorageError
from .model import MixedModel, fit_design
from .results.archive import read_archive
from .results.components import Components

__all__ = ["load"]

# what reading or restoring a damaged or hand-edited file raises besides StorageError (a bad
# CRC, a truncated deflate stream, an unparsable netCDF, a missing key or array, an array of
# the wrong shape)
_DAMAGE = (
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
)

# relative agreement required between a recomputed criterion or coefficient and the saved
# one: the same computation on the same data and θ agrees to rounding (1e-13 seen); a
# different BLAS can move the last digits, never the tenth
_RTOL = 1e-9


def _refuse(path: Path, what: str, saved, recomputed) -> StorageError:
    return StorageError(
        f"{str(path)!r}: the saved {what} does not reproduce (saved {saved!r}, recomputed "
        f"{recomputed!r}): the file was altered, or written by a bayesmixed that computes "
        "differently; refit the model from the data"
    )


def _close(a, b) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= _RTOL * np.maximum(np.abs(b), 1.0)))


def _restore_reml(path, model, state, arrays):
    from .reml.optimize import fit_lmm_at

    fit = fit_lmm_at(model.design, arrays["theta"], reml=state["reml"])
    if not _close(fit.criterion, state["criterion"]):
        raise _refuse(path, "REML/ML criterion", state["criterion"], float(fit.criterion))
    fit.optinfo = dict(state.get("optinfo", {}))
    fit.singular_tol = float(state.get("singular_tol", fit.singular_tol))
    fit.refitter = fit_design
    return fit


def _restore_ols(path, model, state, arrays):
    fit = fit_design(model.design, reml=False)
    if not _close(fit.beta, arrays["beta"]):
        raise _refuse(path, "coefficients", arrays["beta"].tolist(), fit.beta.tolist())
    return fit


def _saved_residual(path, state):
    """The residual structure of a saved GLS fit, from its name and columns."""
    from .spec import residual as structures

    st = state.get("structure") or {}
    name = st.get("name")
    if name not in structures.STRUCTURE_NAMES:
        raise StorageError(f"{str(path)!r}: unknown residual structure {name!r}")
    return getattr(structures, name)(time=st["time"], group=st["group"], by=st.get("by"))


def _restore_gls(path, model, state, arrays):
    from .reml.gls.optimize import fit_gls_at

    phi = np.asarray(arrays["phi"], float)
    names = state.get("parameters")
    fit = fit_gls_at(
        model.design, model.residual_design, phi, state["reml"], state.get("optinfo", {})
    )
    if names is not None and list(names) != fit.criterion_fn.names:
        raise _refuse(path, "covariance parameters", names, fit.criterion_fn.names)
    if not _close(fit.criterion, state["criterion"]):
        raise _refuse(path, "REML/ML criterion", state["criterion"], float(fit.criterion))
    return fit


def _restore_bayes(path, model, state, arrays, idata):
    from .bayes.graph import graph_info
    from .bayes.priors import PriorSet
    from .bayes.result import BayesFit
    from .results.predictor import predict_components

    if idata is None:
        raise StorageError(f"{str(path)!r}: a Bayesian fit without its posterior.nc")
    design = model.design
    k = len(design.terms)
    comps = Components(
        design=design,
        beta=arrays["beta"],
        sigma=arrays["sigma"],
        cov=[arrays[f"cov_{i}"] for i in range(k)],
        b=[arrays[f"b_{i}"] for i in range(k)] if k else [],
        draws=True,
    )
    saved_beta = idata.posterior["beta"].values
    if not _close(comps.beta, saved_beta.reshape(-1, saved_beta.shape[-1])):
        raise _refuse(path, "posterior of the fixed effects", "posterior.nc", "arrays.npz")
    if "log_likelihood" in idata.groups():
        mu = predict_components(comps, None, re=True)
        s = comps.sigma[:, None]
        ll = -0.5 * ((design.y - mu) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)
        saved = idata.log_likelihood["y"].values.reshape(ll.shape)
        if not _close(ll, saved):
            raise _refuse(path, "pointwise log-likelihood", "posterior.nc", "recomputed")
    info = graph_info(design, state["parameterization"])
    info.term_modes = dict(state.get("term_modes") or {})
    return BayesFit(
        idata=idata,
        design=design,
        priors=PriorSet.from_dict(state["priors"]),
        info=info,
        components_=comps,
        sampler=state["sampler"],
        seconds=state["seconds"],
        sampling_seconds=state["sampling_seconds"],
        target_accept=state["target_accept"],
    )


def _restore_bayes_residual(path, model, state, arrays, idata):
    from .bayes.residual import ResidualBayesFit
    from .bayes.residual.saving import restored_fields

    if idata is None:
        raise StorageError(f"{str(path)!r}: a Bayesian fit without its posterior.nc")
    # a missing or misshapen array raises here, and load() refuses the file as damaged
    fields, checks = restored_fields(model.design, model.residual_design, state, arrays, idata)
    for what, saved, recomputed in checks:
        if not _close(recomputed, saved):
            diff = (
                float(np.max(np.abs(np.asarray(recomputed) - np.asarray(saved))))
                if np.shape(recomputed) == np.shape(saved)
                else f"shape {np.shape(saved)} against {np.shape(recomputed)}"
            )
            raise _refuse(path, what, "draws", f"largest difference {diff}")
    return ResidualBayesFit(**fields)


def load(path):
    """Load a fit written by ``fit.save(path)`` (REML/ML, GLS, OLS or a posterior, with or
    without a residual structure).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    REMLFit, GLSFit, OLSFit, BayesFit or ResidualBayesFit
        The same tables, predictions and plots as the saved fit.

    Raises
    ------
    StorageError
        Not a saved fit, an unknown format version, altered data, or numbers that do not
        reproduce (see the module docstring).

    Examples
    --------
    >>> import bayesmixed as bm, tempfile, os
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> back = bm.load(fit.save(os.path.join(tempfile.mkdtemp(), "dyestuff.bmfit")))
    >>> back.theta.tolist() == fit.theta.tolist()
    True
    """
    if not isinstance(path, (str, Path)):
        raise ArgumentError(f"path must be a file name (str or Path), got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise StorageError(f"no saved fit at {str(path)!r}")
    try:
        return _restore(path, read_archive(path))
    except StorageError:
        raise
    except _DAMAGE as e:
        # a member that cannot be decompressed or parsed, a key or array the file lacks: not
        # what fit.save wrote, whatever the detail
        raise StorageError(
            f"{str(path)!r}: the saved fit is incomplete or damaged ({type(e).__name__}: {e}); "
            "refit the model from the data"
        ) from e


def _restore(path: Path, arch):
    man = arch.manifest
    kind, state = man["kind"], man["state"]
    residual = _saved_residual(path, state) if kind in ("gls", "bayes_residual") else None
    try:
        model = MixedModel(man["formula"], arch.data, residual=residual)
    except Exception as e:  # a BayesMixedError on data this file itself holds: not trusted
        raise StorageError(f"{str(path)!r}: the saved model cannot be rebuilt: {e}") from e
    if kind == "reml":
        return _restore_reml(path, model, state, arch.arrays)
    if kind == "gls":
        return _restore_gls(path, model, state, arch.arrays)
    if kind == "ols":
        return _restore_ols(path, model, state, arch.arrays)
    if kind == "bayes":
        return _restore_bayes(path, model, state, arch.arrays, arch.idata)
    if kind == "bayes_residual":
        return _restore_bayes_residual(path, model, state, arch.arrays, arch.idata)
    raise StorageError(
        f"{str(path)!r}: unknown kind of fit {kind!r} (ols, reml, gls, bayes or bayes_residual)"
    )
