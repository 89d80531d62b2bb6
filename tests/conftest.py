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


def central_differences(f, beta, sigma, Ls, beta_step: float):
    """Central differences of ℓ = f(β, σ, [L_t]) for checking an analytic gradient.

    Yields (what, h, difference quotient) with ``what`` one of ``("beta", j)``, ``("sigma",)``
    or ``("Sigma", t, a, b)`` (a ≤ b: Σ_t[a, b] and Σ_t[b, a] moved together, so the quotient is
    dℓ/dΣ_ab · 2 off the diagonal). Steps: ``beta_step``·max(1, |β_j|), 1e-5·σ and
    1e-5·√(Σ_aa Σ_bb).
    """
    import numpy as np

    p = len(beta)
    for j in range(p):
        h = beta_step * max(1.0, abs(beta[j]))
        e = np.eye(p)[j] * h
        yield ("beta", j), h, (f(beta + e, sigma, Ls) - f(beta - e, sigma, Ls)) / (2 * h)
    h = 1e-5 * sigma
    yield ("sigma",), h, (f(beta, sigma + h, Ls) - f(beta, sigma - h, Ls)) / (2 * h)
    for ti, L in enumerate(Ls):
        S = L @ L.T
        for a in range(S.shape[0]):
            for b in range(a, S.shape[0]):
                E = np.zeros_like(S)
                E[a, b] = E[b, a] = 1.0
                h = 1e-5 * np.sqrt(S[a, a] * S[b, b])
                Lp = [np.linalg.cholesky(S + h * E) if i == ti else x for i, x in enumerate(Ls)]
                Lm = [np.linalg.cholesky(S - h * E) if i == ti else x for i, x in enumerate(Ls)]
                yield ("Sigma", ti, a, b), h, (f(beta, sigma, Lp) - f(beta, sigma, Lm)) / (2 * h)
