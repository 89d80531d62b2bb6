"""How the command reports a user's mistake: one line on stderr and exit code 2.

A mistake the user can fix — any :class:`~bayesmixed.errors.BayesMixedError` (a bad formula, a
missing column, a bad ``--residual``), a file that is not there, a CSV pandas cannot read —
is one ``error: ...`` line, never a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer

from ..errors import ArgumentError, BayesMixedError, FormulaError

__all__ = ["USER_ERROR", "one_line", "user_errors", "existing_file"]

#: Exit code of a user error (as click's own usage errors).
USER_ERROR = 2


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (a formula error's caret becomes a position).

    Examples
    --------
    >>> one_line(FormulaError("unmatched '('", formula="y ~ (x", position=4))
    "unmatched '(' (at character 5 of 'y ~ (x')"
    >>> one_line(ArgumentError("first\\nsecond"))
    'first second'
    """
    if isinstance(exc, FormulaError) and exc.formula is not None:
        head = str(exc).split("\n", 1)[0]
        if exc.position is not None:
            return f"{head} (at character {exc.position + 1} of {exc.formula!r})"
        return f"{head} (in {exc.formula!r})"
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"no such file: {exc.filename}"
    text = str(exc) or type(exc).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _user_error_types() -> tuple[type[BaseException], ...]:
    import pandas as pd

    return (
        BayesMixedError,
        FileNotFoundError,
        IsADirectoryError,
        PermissionError,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
    )


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a user's mistake raised inside the block into ``error: ...`` and exit 2.

    Examples
    --------
    >>> try:
    ...     with user_errors():
    ...         raise ArgumentError("--draws must be positive")
    ... except typer.Exit as e:
    ...     e.exit_code
    2
    """
    try:
        yield
    except _user_error_types() as exc:
        typer.echo(f"error: {one_line(exc)}", err=True)
        raise typer.Exit(USER_ERROR) from None


def existing_file(path: Path, what: str = "file") -> Path:
    """``path`` if it is a readable file, else an :class:`ArgumentError` naming it.

    Examples
    --------
    >>> existing_file(Path("no/such.csv"), "data file")
    Traceback (most recent call last):
    ...
    bayesmixed.errors.ArgumentError: no such data file: no/such.csv
    """
    if not path.exists():
        raise ArgumentError(f"no such {what}: {path}")
    if not path.is_file():
        raise ArgumentError(f"{what} {path} is a directory, not a file")
    return path
