"""``python -m bayesmixed``: the ``bayesmixed`` command (see :mod:`bayesmixed.cli`)."""

from .cli import main

if __name__ == "__main__":
    main()
