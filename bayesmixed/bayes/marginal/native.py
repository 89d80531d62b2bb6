"""Compiled log densities that nutpie calls natively: no Python, no interpreter lock.

nutpie runs each chain in its own Rust thread. A density given as a Python callback holds
the interpreter lock at every evaluation, so two chains share one core; a C function
pointer is called from those threads directly and the chains run in parallel. Each
compiled kernel gets one numba ``cfunc`` (its Python body lives in :mod:`._kernels`, whose file
keys the disk cache) with nutpie's signature
``int64(n, x*, grad*, logp*, user_data*)``; the kernel's arguments travel in ``user_data``
as a table of addresses and shapes (:class:`ArgTable`), so one compiled function serves
every model and numba caches it on disk like the kernels themselves.

The table lists, per argument, (address, d0, d1, d2, d3): float64 or int64 arrays of up to
four dimensions; Python scalars are passed as one-element arrays and read back as scalars.
"""

from __future__ import annotations

import numpy as np
from numba import cfunc

from . import _kernels as K
from ._kernels import (
    _EXPAND_SIG,
    _SIG,
    _SLOT,
    _dense,
    _expand,
    _nested,
    _partial_dense,
    _partial_nested,
    _single,
)

__all__ = ["ArgTable", "CFUNCS", "compiled_model"]

# kernel → (the function nutpie calls, number of arguments after x, flattened)
CFUNCS = {
    K.single_term_logp_grad: (_single, 16),
    K.nested_logp_grad: (_nested, 18),
    K.dense_logp_grad: (_dense, 21),
    K.partial_nested_logp_grad: (_partial_nested, 29),
    K.partial_dense_logp_grad: (_partial_dense, 32),
}
_COMPILED: dict = {}


def _compiled(fn, sig=_SIG):
    """``fn`` as a C callback, compiled on first use only (a model needs one of them; numba
    compiles a cfunc when it is created, and loads it from its disk cache afterwards)."""
    if fn not in _COMPILED:
        _COMPILED[fn] = cfunc(sig, cache=True)(fn)
    return _COMPILED[fn]


def _flatten(args: tuple) -> tuple:
    """One level of grouping undone: the partly marginal kernels take grouped arguments."""
    return tuple(a for g in args for a in (g if isinstance(g, tuple) else (g,)))


class ArgTable:
    """The kernel arguments as one int64 table of (address, shape) slots.

    The arrays it points into are kept alive by the table (``self.keep``); the table's own
    address is what nutpie hands the compiled function as ``user_data``.

    Examples
    --------
    >>> t = ArgTable((np.arange(3.0), 2, 1.5))
    >>> print(t.table[0], t.table[2:6].tolist())  # three slots; the first has shape (3,)
    3 [3, 0, 0, 0]
    """

    def __init__(self, args: tuple):
        self.keep = []
        tab = np.zeros(1 + _SLOT * len(args), dtype=np.int64)
        tab[0] = len(args)
        for i, a in enumerate(args):
            if isinstance(a, (bool, np.bool_)):
                raise TypeError("boolean kernel argument")
            if isinstance(a, (int, np.integer)):
                a = np.array([a], dtype=np.int64)
            elif isinstance(a, (float, np.floating)):
                a = np.array([a], dtype=np.float64)
            a = np.ascontiguousarray(a)
            if a.dtype not in (np.float64, np.int64) or a.ndim > 4:
                raise TypeError(f"kernel argument {i}: {a.dtype} with {a.ndim} dimensions")
            self.keep.append(a)
            s = 1 + _SLOT * i
            tab[s] = a.ctypes.data
            tab[s + 1 : s + 1 + a.ndim] = a.shape
        self.table = tab  # tab[0] is the count; the compiled side reads slots from index 1


def compiled_model(kernel, args: tuple, ndim: int, initial_point, names=("x",)):
    """A nutpie model calling ``kernel(x, *args)`` natively.

    Parameters
    ----------
    kernel : one of :data:`CFUNCS`' keys
    args : tuple
        The kernel's arguments after ``x``.
    ndim : int
        Length of x.
    initial_point : callable
        ``f(seed) -> ndarray`` starting point of a chain.

    Returns
    -------
    nutpie's compiled-model object, for ``nutpie.sample``; its draws come back as one
    variable ``x`` of length ``ndim``.
    """
    from nutpie.compile_pymc import CompiledPyMCModel

    fn, nargs = CFUNCS[kernel]
    args = _flatten(args)
    if len(args) != nargs:
        raise TypeError(f"{kernel.__name__} takes {nargs} arguments after x, got {len(args)}")
    table = ArgTable(args)
    shape_info = (list(names), [slice(0, ndim)], [(ndim,)])
    model = CompiledPyMCModel(
        dims={},
        compiled_logp_func=_compiled(fn),
        compiled_expand_func=_compiled(_expand, _EXPAND_SIG),
        initial_point_func=initial_point,
        shared_data={},
        user_data=table.table,
        n_expanded=ndim,
        shape_info=shape_info,
        logp_func=None,
        expand_func=None,
        _n_dim=ndim,
        _shapes={names[0]: (ndim,)},
        _coords={},
    )
    object.__setattr__(model, "_bm_table", table)  # frozen dataclass: keep the arrays alive
    return model
