"""``bayesmixed show FIT.bmfit``: the tables of a saved fit, read back and checked.

Any file written by ``fit.save`` or ``bayesmixed fit --save`` (OLS, REML/ML, GLS, or a
posterior with or without a residual structure) is loaded with :func:`bayesmixed.load` —
which recomputes what the file claims and refuses a file that does not reproduce — and its
``tidy()`` and ``glance()`` are printed; for a posterior also its ``diagnostics()`` (R-hat
and ESS of every parameter). Formats as ``bayesmixed fit``: rich tables, one CSV or one
JSON. A file that is missing, not a saved fit, damaged or altered is one ``error: ...``
line and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .errors import existing_file, user_errors
from .fitting import reported_warnings
from .output import Format, show

__all__ = ["show_fit", "fit_method", "saved_tables"]


def fit_method(fit) -> str:
    """What made a fit: ``"OLS"``, ``"REML"``, ``"ML"``, ``"GLS (REML)"``, ``"NUTS"``...

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit_method(bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")).fit_reml())
    'OLS'
    """
    from ..ols.fit import OLSFit

    if hasattr(fit, "idata"):
        return "NUTS" if getattr(fit, "rd", None) is None else "NUTS (residual structure)"
    if isinstance(fit, OLSFit):
        return "OLS"
    method = "REML" if fit.reml else "ML"
    return f"GLS ({method})" if getattr(fit, "rd", None) is not None else method


def saved_tables(fit) -> tuple[dict, dict]:
    """(tables, titles) of a loaded fit: tidy, glance and, for a posterior, diagnostics.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> tables, titles = saved_tables(fit)
    >>> list(tables), titles["tidy"]
    (['tidy', 'glance'], 'REML estimates')
    """
    method = fit_method(fit)
    posterior = hasattr(fit, "idata")
    tables = {"tidy": fit.tidy(), "glance": fit.glance()}
    titles = {
        "tidy": "Posterior (NUTS)" if posterior else f"{method} estimates",
        "glance": "Posterior fit" if posterior else f"{method} fit",
    }
    if posterior:
        tables["diagnostics"] = fit.diagnostics()
        titles["diagnostics"] = "Sampling diagnostics (R-hat, ESS)"
    return tables, titles


def show_fit(
    path: Annotated[Path, typer.Argument(help="A saved fit (fit.save or bayesmixed fit --save).")],
    fmt: Annotated[
        Format, typer.Option("--format", help="Output: rich tables, one CSV, or one JSON.")
    ] = Format.table,
) -> None:
    """Read a saved fit (checked on load) and print its tables; for a posterior also its
    diagnostics."""
    from ..restore import load

    out, err = Console(), Console(stderr=True)
    with user_errors(), reported_warnings(err):
        fit = load(existing_file(path, "saved fit"))
        tables, titles = saved_tables(fit)
        formula, method = fit.design.spec.formula, fit_method(fit)
        if fmt is Format.table:
            out.print(
                f"{path}: {method} fit of {formula} (n = {fit.nobs})",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            out.print()
        show(tables, titles, fmt, out, formula=formula, method=method, nobs=fit.nobs)
