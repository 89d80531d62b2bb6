"""The ``bayesmixed`` command (typer + rich): ``fit``, ``run``, ``primer`` and ``show``.

* ``bayesmixed fit DATA.csv "FORMULA"`` — REML/ML and the posterior of one model, side by side
  (:mod:`.fitting`);
* ``bayesmixed run models/X.toml --out DIR`` — one declarative model spec, fitted and sampled,
  its report written to ``DIR`` (:mod:`.specs`);
* ``bayesmixed primer --out DIR`` — every spec of ``models/`` and the primer report;
* ``bayesmixed show FIT.bmfit`` — the tables of a saved fit, checked on load (:mod:`.show_fit`).

A user's mistake is one ``error: ...`` line on stderr and exit code 2 (:mod:`.errors`).
``python -m bayesmixed`` runs the same command.

Examples
--------
>>> from typer.testing import CliRunner
>>> result = CliRunner().invoke(app, ["--help"])
>>> result.exit_code, "fit" in result.output
(0, True)
"""

from __future__ import annotations

import typer

from .fitting import fit
from .show_fit import show_fit
from .specs import primer, run

__all__ = ["app", "main"]

app = typer.Typer(
    name="bayesmixed",
    help="Mixed models in lme4 syntax: lme4-exact REML/ML and PyMC/NUTS, side by side.",
    no_args_is_help=True,
    add_completion=False,
    # a traceback is for bugs; never print every local (data frames, designs) in it
    pretty_exceptions_show_locals=False,
)
app.command()(fit)
app.command()(run)
app.command()(primer)
app.command("show")(show_fit)


def _print_version(value: bool) -> None:
    if value:
        from .._version import __version__

        typer.echo(f"bayesmixed {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print the version."
    ),
) -> None:
    """Mixed models in lme4 syntax: lme4-exact REML/ML and PyMC/NUTS, side by side."""


def main() -> None:
    """Entry point of the ``bayesmixed`` console script."""
    app(prog_name="bayesmixed")
