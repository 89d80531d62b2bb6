"""Compiled log densities that nutpie calls natively: no Python, no interpreter lock.

nutpie runs each chain in its own Rust thread. A density given as a Python callback holds
the interpreter lock at every evaluation, so two chains share one core; a C function
pointer is called from those threads directly and the chains run in parallel. Each
compiled kernel of :mod:`._kernels` gets one numba ``cfunc`` here with nutpie's signature
``int64(n, x*, grad*, logp*, user_data*)``; the kernel's arguments travel in ``user_data``
as a table of addresses and shapes (:class:`ArgTable`), so one compiled function serves
every model and numba caches it on disk like the kernels themselves.

The table lists, per argument, (address, d0, d1, d2, d3): float64 or int64 arrays of up to
four dimensions; Python scalars are passed as one-element arrays and read back as scalars.
"""

from __future__ import annotations

import numpy as np
from numba import carray, cfunc, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import _kernels as K

__all__ = ["ArgTable", "CFUNCS", "compiled_model"]

_SLOT = 5
_F8 = np.float64
_I8 = np.int64


@intrinsic
def _as_voidptr(typingctx, src):  # pragma: no cover - compiled
    """An integer address as a void pointer (for numba.carray)."""
    sig = types.voidptr(src)

    def codegen(cgctx, builder, sig, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return sig, codegen


_J = {"cache": True, "nogil": True, "inline": "always"}


@njit(**_J)
def _f1(tab, i):  # pragma: no cover
    s = _SLOT * i
    return carray(_as_voidptr(tab[s]), (tab[s + 1],), _F8)


@njit(**_J)
def _f2(tab, i):  # pragma: no cover
    s = _SLOT * i
    return carray(_as_voidptr(tab[s]), (tab[s + 1], tab[s + 2]), _F8)


@njit(**_J)
def _f3(tab, i):  # pragma: no cover
    s = _SLOT * i
    return carray(_as_voidptr(tab[s]), (tab[s + 1], tab[s + 2], tab[s + 3]), _F8)


@njit(**_J)
def _f4(tab, i):  # pragma: no cover
    s = _SLOT * i
    return carray(_as_voidptr(tab[s]), (tab[s + 1], tab[s + 2], tab[s + 3], tab[s + 4]), _F8)


@njit(**_J)
def _i1(tab, i):  # pragma: no cover
    s = _SLOT * i
    return carray(_as_voidptr(tab[s]), (tab[s + 1],), _I8)


@njit(**_J)
def _i2(tab, i):  # pragma: no cover
    s = _SLOT * i
    return carray(_as_voidptr(tab[s]), (tab[s + 1], tab[s + 2]), _I8)


@njit(**_J)
def _fs(tab, i):  # pragma: no cover
    return _f1(tab, i)[0]


@njit(**_J)
def _is(tab, i):  # pragma: no cover
    return _i1(tab, i)[0]


@njit(**_J)
def _store(lp, g, n, grad_, logp_):  # pragma: no cover
    """Write the result; nutpie treats a non-zero code as a failed (divergent) step."""
    if not np.isfinite(lp):
        return 4
    grad = carray(grad_, (n,))
    for i in range(n):
        if not np.isfinite(g[i]):
            return 3
        grad[i] = g[i]
    out = carray(logp_, (1,))
    out[0] = lp
    return 0


_SIG = types.int64(
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)


def _single(n, x_, grad_, logp_, ud):  # pragma: no cover
    tab = carray(ud, (1 + _SLOT * 16,), _I8)[1:]
    x = carray(x_, (n,))
    # no try/except: this kernel has no operation that raises (element loops, no linalg),
    # and exception handling doubles the compile time of the first posterior
    lp, g = K.single_term_logp_grad(
        x, _is(tab, 0), _is(tab, 1), _i1(tab, 2), _f2(tab, 3), _i1(tab, 4), _f1(tab, 5),
        _f1(tab, 6), _f1(tab, 7), _f1(tab, 8), _f3(tab, 9), _f3(tab, 10), _f2(tab, 11),
        _f2(tab, 12), _f1(tab, 13), _fs(tab, 14), _fs(tab, 15),
    )  # fmt: skip
    return _store(lp, g, n, grad_, logp_)


def _nested(n, x_, grad_, logp_, ud):  # pragma: no cover
    tab = carray(ud, (1 + _SLOT * 18,), _I8)[1:]
    x = carray(x_, (n,))
    try:
        lp, g = K.nested_logp_grad(
            x, _i1(tab, 0), _i1(tab, 1), _f2(tab, 2), _i1(tab, 3), _f1(tab, 4), _f1(tab, 5),
            _f1(tab, 6), _f1(tab, 7), _i1(tab, 8), _f3(tab, 9), _f3(tab, 10), _f2(tab, 11),
            _f2(tab, 12), _f1(tab, 13), _fs(tab, 14), _fs(tab, 15), _f4(tab, 16), _i2(tab, 17),
        )  # fmt: skip
    except Exception:
        return 1
    return _store(lp, g, n, grad_, logp_)


def _dense(n, x_, grad_, logp_, ud):  # pragma: no cover
    tab = carray(ud, (1 + _SLOT * 21,), _I8)[1:]
    x = carray(x_, (n,))
    try:
        lp, g = K.dense_logp_grad(
            x, _i1(tab, 0), _i1(tab, 1), _f2(tab, 2), _i1(tab, 3), _f1(tab, 4), _f1(tab, 5),
            _f1(tab, 6), _f1(tab, 7), _i1(tab, 8), _f3(tab, 9), _f3(tab, 10), _f2(tab, 11),
            _f2(tab, 12), _f1(tab, 13), _fs(tab, 14), _fs(tab, 15), _f3(tab, 16), _f2(tab, 17),
            _i1(tab, 18), _i1(tab, 19), _i1(tab, 20),
        )  # fmt: skip
    except Exception:
        return 1
    return _store(lp, g, n, grad_, logp_)


def _partial_nested(n, x_, grad_, logp_, ud):  # pragma: no cover
    tab = carray(ud, (1 + _SLOT * 29,), _I8)[1:]
    x = carray(x_, (n,))
    try:
        lp, g = K.partial_nested_logp_grad(
            x,
            (_is(tab, 0), _i1(tab, 1), _i1(tab, 2), _f2(tab, 3), _i1(tab, 4), _f1(tab, 5),
             _f1(tab, 6), _f1(tab, 7), _f1(tab, 8)),
            (_f2(tab, 9), _f1(tab, 10), _i2(tab, 11), _f3(tab, 12), _i1(tab, 13), _i1(tab, 14),
             _i1(tab, 15), _i1(tab, 16), _i1(tab, 17)),
            (_i1(tab, 18), _i1(tab, 19), _f3(tab, 20), _f3(tab, 21), _f2(tab, 22), _f2(tab, 23),
             _f1(tab, 24), _fs(tab, 25), _fs(tab, 26), _f4(tab, 27), _i2(tab, 28)),
        )  # fmt: skip
    except Exception:
        return 1
    return _store(lp, g, n, grad_, logp_)


def _partial_dense(n, x_, grad_, logp_, ud):  # pragma: no cover
    tab = carray(ud, (1 + _SLOT * 32,), _I8)[1:]
    x = carray(x_, (n,))
    try:
        lp, g = K.partial_dense_logp_grad(
            x,
            (_is(tab, 0), _i1(tab, 1), _i1(tab, 2), _f2(tab, 3), _i1(tab, 4), _f1(tab, 5),
             _f1(tab, 6), _f1(tab, 7), _f1(tab, 8)),
            (_f2(tab, 9), _f1(tab, 10), _i2(tab, 11), _f3(tab, 12), _i1(tab, 13), _i1(tab, 14),
             _i1(tab, 15), _i1(tab, 16), _i1(tab, 17)),
            (_i1(tab, 18), _i1(tab, 19), _f3(tab, 20), _f3(tab, 21), _f2(tab, 22), _f2(tab, 23),
             _f1(tab, 24), _fs(tab, 25), _fs(tab, 26), _f3(tab, 27), _f2(tab, 28), _i1(tab, 29),
             _i1(tab, 30), _i1(tab, 31)),
        )  # fmt: skip
    except Exception:
        return 1
    return _store(lp, g, n, grad_, logp_)


_EXPAND_SIG = types.int64(
    types.uint64,
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)


def _expand(n, n_out, x_, out_, ud):  # pragma: no cover
    """The draws are the coordinates themselves: nutpie stores x."""
    x = carray(x_, (n,))
    out = carray(out_, (n_out,))
    for i in range(n):
        out[i] = x[i]
    return 0


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
