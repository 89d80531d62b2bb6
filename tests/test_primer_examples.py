"""The docstring examples of the primer modules run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import matplotlib
import pytest

matplotlib.use("Agg")

MODULES = [
    "bayesmixed._draws",
    "bayesmixed.variance",
    "bayesmixed.clustering",
    "bayesmixed.pooling",
    "bayesmixed.effects",
    "bayesmixed.assumptions",
    "bayesmixed.plots.data",
    "bayesmixed.plots.pooling",
    "bayesmixed.plots.checks",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    import matplotlib.pyplot as plt

    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    plt.close("all")
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
    assert result.attempted > 0
