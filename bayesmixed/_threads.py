"""The BLAS thread cap both engines use.

The REML fitter caps BLAS for small dense blocks (threads cost more than they save there),
and nutpie's chains run with one BLAS thread each so that two chains do not oversubscribe
two cores.
"""

from __future__ import annotations

import contextlib

__all__ = ["limit_blas"]

_BLAS_CONTROLLER = None


def limit_blas(threads: int | None):
    """Context manager capping BLAS threads process-wide while it lasts (threadpoolctl; the
    controller, which inspects the loaded libraries, is made once). No-op for ``None`` or
    without threadpoolctl (a PyMC dependency)."""
    global _BLAS_CONTROLLER
    if threads is None:
        return contextlib.nullcontext()
    if _BLAS_CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl comes with PyMC
            return contextlib.nullcontext()
        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=threads, user_api="blas")
