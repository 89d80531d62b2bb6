"""bayesmixed: mixed models, rigorous and intuitive.

One lme4-syntax specification, fitted by an lme4-exact REML/ML reference fitter and sampled
with NUTS through PyMC, reported side by side in the primer's vocabulary.

Examples
--------
>>> import bayesmixed as bm
>>> model = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
>>> fit = model.fit_reml()
>>> "anova" in dir(bm) and "plots" in dir(bm)
True
"""

from __future__ import annotations

import importlib

from . import datasets, errors
from ._version import __version__
from .errors import BayesMixedError, BayesMixedWarning
from .model import MixedModel

# Heavier parts (PyMC, matplotlib, the engines) load on first use so that `import bayesmixed`
# stays fast; `__dir__` lists them, so tab completion finds them before they are loaded.
_LAZY = {
    "compare": ("bayesmixed.quantities.comparison", "compare"),
    "anova": ("bayesmixed.quantities.lrt", "anova"),
    "load": ("bayesmixed.restore", "load"),
    "load_spec": ("bayesmixed.loading", "load_spec"),
    "center": ("bayesmixed.quantities.clustering", "center"),
    "plots": ("bayesmixed.views.plots", None),
    "variance": ("bayesmixed.quantities.variance", None),
    "effects": ("bayesmixed.quantities.effects", None),
    "assumptions": ("bayesmixed.quantities.assumptions", None),
    "pooling": ("bayesmixed.results.pooling", None),
    "bayes": ("bayesmixed.bayes", None),
    "Prior": ("bayesmixed.bayes.priors", "Prior"),
    "BayesFit": ("bayesmixed.bayes.result", "BayesFit"),
    "REMLFit": ("bayesmixed.reml.result", "REMLFit"),
    "OLSFit": ("bayesmixed.ols.fit", "OLSFit"),
    "residual": ("bayesmixed.spec.residual", None),
    "compare_structures": ("bayesmixed.quantities.structures", "compare_structures"),
    # loaded through their plot module, which wires result.plot()
    "sbc": ("bayesmixed.views.plots.calibration", "sbc"),
    "power": ("bayesmixed.views.plots.calibration", "power"),
    "prior_sensitivity": ("bayesmixed.bayes.power_scaling", "prior_sensitivity"),
    # bayesmixed.quantities.sensitivity's function, loaded through its plot module, which
    # gives the result its .plot() (views sit above quantities, so only they can wire it)
    "sensitivity": ("bayesmixed.views.plots.priors", "sensitivity"),
}

__all__ = [
    "MixedModel",
    "BayesMixedError",
    "BayesMixedWarning",
    "datasets",
    "errors",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bayesmixed' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
