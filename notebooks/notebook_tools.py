"""What the notebook builders share: the setup cell and the write-and-execute step.

Each ``build_*.py`` next to this file describes its notebooks as lists of cells; :func:`build`
executes them with nbclient from this directory (so ``../models/*.toml`` resolves as it does
for a reader) and writes them with their outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_notebook

HERE = Path(__file__).resolve().parent

_OPTIONAL = {
    "plt": "import matplotlib.pyplot as plt",
    "np": "import numpy as np",
}


def setup(*uses: str, plots: bool = True) -> str:
    """The first code cell: the imports a notebook uses (``"plt"``, ``"np"``) and display
    options; ``plots=False`` leaves out ``from bayesmixed import plots``."""
    lines = ["import warnings", ""]
    lines += [_OPTIONAL[u] for u in ("plt", "np") if u in uses]
    lines += ["import pandas as pd", "", "import bayesmixed as bm"]
    lines += ["from bayesmixed import plots"] if plots else []
    lines += ["", 'pd.set_option("display.precision", 4)', 'pd.set_option("display.width", 130)']
    return "\n".join(lines)


# Short posterior runs keep every notebook under a minute in the test suite; the text says
# where a real analysis would use more (4 chains × 1000).
QUICK = "draws=500, tune=500, chains=2"

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def build(notebooks: dict[str, Callable[[], list]], names: Iterable[str] | None = None) -> None:
    """Execute and write each ``name → cells()`` of ``notebooks`` (only ``names`` if given)."""
    wanted = set(names or [])
    for name, make in notebooks.items():
        if wanted and name not in wanted:
            continue
        nb = new_notebook(cells=make(), metadata={"kernelspec": KERNELSPEC})
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
        ).execute()
        nbformat.write(nb, HERE / name)
        print("wrote", HERE / name)
