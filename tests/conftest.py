"""Shared test helpers: R fixtures and the data they were computed on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

REF = Path(__file__).parent / "reference"
FIXTURES = REF / "fixtures"
ARTIFACTS = Path(__file__).parent / "_artifacts"

os.environ.setdefault("PYTENSOR_FLAGS", "")


def load_fixture(name: str) -> dict:
    with open(FIXTURES / f"{name}.json") as fh:
        return json.load(fh)


def fixture_names(kind: str) -> list[str]:
    out = []
    for p in sorted(FIXTURES.glob("*.json")):
        with open(p) as fh:
            if json.load(fh).get("kind") == kind:
                out.append(p.stem)
    return out


def load_data(name: str) -> pd.DataFrame:
    import bayesmixed as bm

    path = REF / "data" / f"{name}.csv"
    if path.exists():
        return pd.read_csv(path)
    return bm.datasets.load(name)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def sleepstudy() -> pd.DataFrame:
    import bayesmixed as bm

    return bm.datasets.load("sleepstudy")
