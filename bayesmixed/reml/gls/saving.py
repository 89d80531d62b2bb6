"""What ``GLSFit.save`` writes, and the fit rebuilt from it at the saved parameters.

A saved GLS fit holds the structure's name and columns (``UN(time="visit", group="id")``),
the unconstrained covariance parameters φ, the criterion at φ and the optimizer's report;
its data are the model frame plus the structure's columns (subject, visit, by). Loading
(:func:`bayesmixed.load`) rebuilds the model with the same structure, recomputes the
criterion at the saved φ (:func:`bayesmixed.reml.gls.optimize.fit_gls_at`) and refuses a file whose criterion does not
reproduce.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from .result import GLSFit

__all__ = ["saved_state", "saved_frame"]


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def saved_state(fit: GLSFit) -> tuple[str, dict, dict, None]:
    """(kind ``"gls"``, JSON-able state, arrays ``{"phi"}``, no InferenceData)."""
    spec = fit.rd.spec
    info = {k: _plain(v) for k, v in fit.optinfo.items() if k != "seconds"}
    state = {
        "reml": bool(fit.reml),
        "criterion": float(fit.criterion),
        "structure": {"name": spec.name, "time": spec.time, "group": spec.group, "by": spec.by},
        "parameters": list(fit.criterion_fn.names),
        "optinfo": info,
    }
    return "gls", state, {"phi": np.asarray(fit.phi, float)}, None


def saved_frame(fit: GLSFit) -> pd.DataFrame:
    """The model frame plus the structure's columns the formula does not use (same rows)."""
    frame = fit.design.frame
    extra = [c for c in fit.rd.spec.columns if c not in frame.columns]
    if not extra:
        return frame
    out = frame.copy()
    for c in extra:
        out[c] = fit.rd.data[c].to_numpy()
    return out
