"""bayesmixed: mixed models, rigorous and intuitive.

One lme4-syntax specification, fitted by an lme4-exact REML/ML reference fitter and sampled
with NUTS through PyMC, reported side by side in the primer's vocabulary.

Examples
--------
>>> import bayesmixed as bm
>>> model = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
>>> fit = model.fit_reml()
"""

from __future__ import annotations

import importlib

from . import datasets, errors
from .errors import BayesMixedError
from .model import MixedModel

__version__ = "0.1.0"

# Heavier parts (PyMC, matplotlib) load on first use so that `import bayesmixed` stays fast.
_LAZY = {
    "compare": ("bayesmixed.comparison", "compare"),
    "anova": ("bayesmixed.reml.lrt", "anova"),
    "center": ("bayesmixed.variance", "center"),
    "plots": ("bayesmixed.plots", None),
    "variance": ("bayesmixed.variance", None),
    "effects": ("bayesmixed.effects", None),
    "assumptions": ("bayesmixed.assumptions", None),
    "pooling": ("bayesmixed.pooling", None),
    "bayes": ("bayesmixed.bayes", None),
    "BayesFit": ("bayesmixed.bayes.fit", "BayesFit"),
    "REMLFit": ("bayesmixed.reml.fit", "REMLFit"),
    "OLSFit": ("bayesmixed.ols", "OLSFit"),
}

__all__ = ["MixedModel", "BayesMixedError", "datasets", "errors", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bayesmixed' has no attribute {name!r}")
