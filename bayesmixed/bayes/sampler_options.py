"""Which extra keyword arguments each sampler takes, checked before anything is sampled.

``MixedModel.sample(**kwargs)`` passes extra keywords on to the sampler. A misspelt one
(``draw=100``) would otherwise surface as the sampler's own internal error (nutpie:
``AttributeError: 'builtins.PyNutsSettings' object has no attribute 'draw'``) after the
model was built; here it becomes an :class:`~bayesmixed.errors.ArgumentError` naming the
argument and the closest valid one.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable

from ..errors import ArgumentError

__all__ = ["sampler_options", "check_sampler_kwargs"]

# set by bayesmixed itself from the named arguments of sample(): never passed through
_SET_BY_US = {
    "draws",
    "tune",
    "chains",
    "cores",
    "seed",
    "random_seed",
    "progress_bar",
    "progressbar",
    "save_warmup",
    "nuts_sampler",
    "model",
    "compute_convergence_checks",
    "idata_kwargs",
    "return_inferencedata",
    "discard_tuned_samples",
    "kwargs",
    "self",
    "vars",
    "compiled_model",
    "blocking",
    "return_raw_trace",
    "zarr_store",
}
# what a user of nutpie or PyMC may reach for, and what sample() calls it
_RENAMED = {"seed": "random_seed", "progress_bar": "progressbar", "random_state": "random_seed"}
_NUMPYRO_EXTRA = {"chain_method", "postprocessing_backend", "postprocessing_vectorize"}


def sampler_options(sampler: str) -> set[str]:
    """The extra keyword arguments ``sampler`` accepts through ``sample(**kwargs)``.

    nutpie: the options of ``nutpie.sample`` and of its NUTS settings (``maxdepth``,
    ``store_divergences``, ...); pymc and numpyro: the options of ``pymc.sample`` and of
    PyMC's NUTS step (``max_treedepth``, ...).

    Examples
    --------
    >>> "maxdepth" in sampler_options("nutpie")
    True
    """
    if sampler == "nutpie":
        import nutpie
        from nutpie import _lib

        names = set(inspect.signature(nutpie.sample).parameters)
        settings = _lib.PyNutsSettings.Diag(1)
        names |= {a for a in dir(settings) if not a.startswith("_") and a[0].islower()}
        names -= {"num_chains", "num_draws", "num_tune", "set_target_accept"}
    else:
        import pymc as pm
        from pymc.step_methods.hmc.base_hmc import BaseHMC

        names = set(inspect.signature(pm.sample).parameters)
        names |= set(inspect.signature(pm.NUTS.__init__).parameters)
        names |= set(inspect.signature(BaseHMC.__init__).parameters)
        if sampler == "numpyro":
            names |= _NUMPYRO_EXTRA
    return names - _SET_BY_US


def check_sampler_kwargs(sampler: str, kwargs: dict, public: Iterable[str]) -> None:
    """Refuse extra keywords that ``sampler`` does not take, naming the closest valid one.

    Parameters
    ----------
    sampler : str
    kwargs : dict
        The extra keywords given to ``sample()``.
    public : iterable of str
        The named arguments of ``sample()`` itself (a misspelling of one is the usual case).

    Raises
    ------
    ArgumentError

    Examples
    --------
    >>> check_sampler_kwargs("nutpie", {"draw": 100}, ["draws", "tune"])
    Traceback (most recent call last):
    ...
    bayesmixed.errors.ArgumentError: sample() got an unexpected keyword argument 'draw': did you mean 'draws'? ...
    """
    if not kwargs:
        return
    public = list(public)
    for key in kwargs:
        if key in _RENAMED:
            raise ArgumentError(
                f"sample() sets {key!r} itself: pass {_RENAMED[key]}= instead of {key}="
            )
        if key in _SET_BY_US:
            raise ArgumentError(
                f"sample() sets {key!r} itself from its own arguments; remove {key}= "
                f"(sample's arguments: {', '.join(public)})"
            )
    valid = sampler_options(sampler)
    for key in kwargs:
        if key in valid:
            continue
        close = difflib.get_close_matches(key, public + sorted(valid), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ArgumentError(
            f"sample() got an unexpected keyword argument {key!r}: {hint}"
            f"sample() takes {', '.join(public)}, and sampler={sampler!r} also takes "
            f"{', '.join(sorted(valid))}"
        )
