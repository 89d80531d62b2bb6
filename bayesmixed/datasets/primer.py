"""The primer's working example, simulated: patients' SQUARE test scores.

The primer follows one outcome through every chapter: the score on the SQUARE test, an
integer from 0 to 20, of patients described by their age and treatment arm, first on their
own (§1), then in groups (§2–3), in hospitals (§3.3), in wards within hospitals (§5.1) and
over four visits (§6–7); §5.2 swaps to students in schools crossed with neighbourhoods. The
primer's own data are not public, so :func:`primer` simulates frames with the same columns
and similar magnitudes; the numbers of the primer's tables are not reproduced, their shape is.

Every score is ``round(mean + noise)`` clipped to 0–20, so the tables' integer outcome and its
floor and ceiling are kept; means stay well inside the range, so the clipping is rare.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ArgumentError

__all__ = ["primer", "KINDS"]

#: kind → (section of the primer, what the frame holds)
KINDS: dict[str, tuple[str, str]] = {
    "square": ("§1", "64 patients: patient, age, age_group, arm, score"),
    "groups": ("§2–3", "9 groups of patients: patient, group, age, score"),
    "hospitals": (
        "§3.3",
        "patients in 20 hospitals of two types: patient, hospital, type, age, agem, agec, score",
    ),
    "wards": ("§5.1", "4 wards in each of 12 hospitals: patient, hospital, ward, age, score"),
    "schools": (
        "§5.2",
        "students in 30 schools crossed with 20 neighbourhoods: student, school, "
        "neighbourhood, ses, score",
    ),
    "longitudinal": (
        "§6–7",
        "80 patients in two arms at T0, T3, T6, T9: id, arm, visit, month, age, score",
    ),
}


def _score(mean: np.ndarray, rng: np.random.Generator, sd: float) -> np.ndarray:
    """The SQUARE score: an integer 0–20 around ``mean``."""
    y = np.asarray(mean, float) + rng.normal(0.0, sd, size=np.shape(mean))
    return np.clip(np.rint(y), 0, 20).astype("int64")


def _ages(rng: np.random.Generator, n: int, mean: float = 50.0, sd: float = 12.0) -> np.ndarray:
    return np.clip(np.rint(rng.normal(mean, sd, n)), 18, 90).astype("int64")


def _square(rng: np.random.Generator) -> pd.DataFrame:
    """§1 (tables 1.1–1.6): one patient per row, no clustering; ordinary regression."""
    n = 64
    age = _ages(rng, n, 50, 12)
    treated = rng.permutation(np.repeat([0, 1], n // 2))
    mean = 7.0 + 0.08 * (age - 50) + 3.0 * treated + 0.06 * (age - 50) * treated
    older = age >= np.median(age)
    return pd.DataFrame(
        {
            "patient": np.arange(1, n + 1),
            "age": age,
            "age_group": pd.Categorical(
                np.where(older, "older", "younger"), categories=["younger", "older"]
            ),
            "arm": pd.Categorical(
                np.where(treated == 1, "treatment", "control"), categories=["control", "treatment"]
            ),
            "score": _score(mean, rng, 2.5),
        }
    )


def _groups(rng: np.random.Generator) -> pd.DataFrame:
    """§2–3 (tables 2.1–3.2): patients in 9 groups that differ in level."""
    sizes = rng.integers(8, 17, size=9)
    group = np.repeat([f"G{j + 1}" for j in range(9)], sizes)
    u = rng.normal(0.0, 2.0, size=9)
    n = int(sizes.sum())
    age = _ages(rng, n, 50, 12)
    mean = 9.0 + 0.07 * (age - 50) + np.repeat(u, sizes)
    return pd.DataFrame(
        {
            "patient": np.arange(1, n + 1),
            "group": group,
            "age": age,
            "score": _score(mean, rng, 2.5),
        }
    )


def _hospitals(rng: np.random.Generator) -> pd.DataFrame:
    """§3.3 (tables 3.3–4.3): a hospital-level predictor (type) and age split into the
    hospital mean ``agem`` and the deviation from it ``agec`` (as :func:`bayesmixed.center`
    names them); the within- and between-hospital effects of age differ, and the age effect
    varies between hospitals (random slope)."""
    m = 20
    sizes = rng.integers(12, 31, size=m)
    academic = np.arange(m) % 2
    mean_age = np.where(academic == 1, 48.0, 54.0) + rng.normal(0.0, 7.0, m)
    idx = np.repeat(np.arange(m), sizes)
    age = np.clip(np.rint(mean_age[idx] + rng.normal(0.0, 10.0, idx.size)), 18, 90)
    frame = pd.DataFrame({"hospital": [f"H{j + 1:02d}" for j in idx], "age": age.astype("int64")})
    agem = frame.groupby("hospital")["age"].transform("mean").to_numpy()
    agec = frame["age"].to_numpy() - agem
    u0 = rng.normal(0.0, 1.5, m)
    u1 = rng.normal(0.0, 0.1, m)
    mean = 9.0 + 0.06 * agec + 0.25 * (agem - 50) + 1.5 * academic[idx] + u0[idx] + u1[idx] * agec
    frame.insert(0, "patient", np.arange(1, idx.size + 1))
    frame.insert(
        2,
        "type",
        pd.Categorical(
            np.where(academic[idx] == 1, "academic", "general"), categories=["general", "academic"]
        ),
    )
    frame["agem"] = agem
    frame["agec"] = agec
    frame["score"] = _score(mean, rng, 2.5)
    return frame


def _wards(rng: np.random.Generator) -> pd.DataFrame:
    """§5.1 (tables 5.1–5.2): three levels; ward labels W1–W4 repeat in every hospital, so the
    nesting is written ``(1 | hospital/ward)``."""
    n_h, n_w = 12, 4
    sizes = rng.integers(8, 15, size=n_h * n_w)
    cell = np.repeat(np.arange(n_h * n_w), sizes)
    hosp, ward = cell // n_w, cell % n_w
    u = rng.normal(0.0, 1.5, n_h)
    v = rng.normal(0.0, 1.0, n_h * n_w)
    age = _ages(rng, cell.size, 50, 12)
    mean = 10.0 + 0.06 * (age - 50) + u[hosp] + v[cell]
    return pd.DataFrame(
        {
            "patient": np.arange(1, cell.size + 1),
            "hospital": [f"H{h + 1:02d}" for h in hosp],
            "ward": [f"W{w + 1}" for w in ward],
            "age": age,
            "score": _score(mean, rng, 2.5),
        }
    )


def _schools(rng: np.random.Generator) -> pd.DataFrame:
    """§5.2 (tables 5.3–5.4): students belong to a school and, separately, to a neighbourhood;
    each school draws mostly from a few neighbourhoods, so the factors are crossed but not
    balanced. The effect of socio-economic status (``ses``, standardised) varies by school."""
    n_s, n_n, n = 30, 20, 600
    school = rng.integers(0, n_s, size=n)
    # a school's catchment: three nearby neighbourhoods, plus anyone from elsewhere
    near = (school[:, None] * 2 // 3 + np.arange(3)[None, :]) % n_n
    pick = near[np.arange(n), rng.integers(0, 3, size=n)]
    neigh = np.where(rng.uniform(size=n) < 0.8, pick, rng.integers(0, n_n, size=n))
    ses = rng.normal(0.0, 1.0, n).round(2)
    u0 = rng.normal(0.0, 1.5, n_s)
    u1 = rng.normal(0.0, 0.4, n_s)
    v = rng.normal(0.0, 1.0, n_n)
    mean = 11.0 + 1.2 * ses + u0[school] + u1[school] * ses + v[neigh]
    return pd.DataFrame(
        {
            "student": np.arange(1, n + 1),
            "school": [f"S{s + 1:02d}" for s in school],
            "neighbourhood": [f"N{k + 1:02d}" for k in neigh],
            "ses": ses,
            "score": _score(mean, rng, 2.5),
        }
    )


def _longitudinal(rng: np.random.Generator) -> pd.DataFrame:
    """§6–7 (tables 6.1–7.4): a two-arm trial measured at months 0, 3, 6 and 9. Each patient
    has their own level and rate of change, and the residuals of one patient are correlated
    (decaying with the distance between visits) with SDs growing over time, so both random
    slopes (§6) and residual structures over categorical time (§7) have something to find."""
    n, months = 80, np.array([0, 3, 6, 9])
    visits = [f"T{m}" for m in months]
    treated = np.repeat([0, 1], n // 2)
    means = np.array([[9.0, 9.4, 9.8, 10.0], [9.0, 10.8, 12.0, 12.8]])
    u0 = rng.normal(0.0, 1.5, n)
    u1 = rng.normal(0.0, 0.12, n)
    sd = np.array([1.6, 1.8, 2.0, 2.3])
    lag = np.abs(np.subtract.outer(np.arange(4), np.arange(4)))
    cov = (0.6**lag) * np.outer(sd, sd)
    e = rng.standard_normal((n, 4)) @ np.linalg.cholesky(cov).T
    mean = means[treated] + u0[:, None] + u1[:, None] * months[None, :] + e
    score = np.clip(np.rint(mean), 0, 20).astype("int64")
    age = _ages(rng, n, 50, 12)
    return pd.DataFrame(
        {
            "id": np.repeat([f"P{i + 1:03d}" for i in range(n)], 4),
            "arm": pd.Categorical(
                np.repeat(np.where(treated == 1, "treatment", "control"), 4),
                categories=["control", "treatment"],
            ),
            "visit": pd.Categorical(visits * n, categories=visits),
            "month": np.tile(months, n),
            "age": np.repeat(age, 4),
            "score": score.ravel(),
        }
    )


_SIMULATORS = {
    "square": _square,
    "groups": _groups,
    "hospitals": _hospitals,
    "wards": _wards,
    "schools": _schools,
    "longitudinal": _longitudinal,
}


def primer(kind: str, seed: int = 1) -> pd.DataFrame:
    """Simulate one of the primer's data sets (same columns, similar magnitudes).

    ======================  =======  ==========================================================
    kind                    primer   frame
    ======================  =======  ==========================================================
    ``"square"``            §1       64 patients: ``patient``, ``age``, ``age_group``
                                     (younger/older, split at the median age), ``arm``
                                     (control/treatment), ``score``
    ``"groups"``            §2–3     about 110 patients in 9 groups ``G1``–``G9``: ``patient``,
                                     ``group``, ``age``, ``score``
    ``"hospitals"``         §3.3     about 410 patients in 20 hospitals: ``patient``,
                                     ``hospital``, ``type`` (general/academic, a hospital-level
                                     predictor), ``age``, ``agem`` (hospital mean age),
                                     ``agec`` (age minus it), ``score``
    ``"wards"``             §5.1     about 520 patients, wards ``W1``–``W4`` in each of 12
                                     hospitals: ``patient``, ``hospital``, ``ward``, ``age``,
                                     ``score``
    ``"schools"``           §5.2     600 students, 30 schools crossed with 20 neighbourhoods:
                                     ``student``, ``school``, ``neighbourhood``, ``ses``,
                                     ``score``
    ``"longitudinal"``      §6–7     80 patients (40 per arm) at ``T0``, ``T3``, ``T6``, ``T9``:
                                     ``id``, ``arm``, ``visit`` (categorical, in time order),
                                     ``month`` (0, 3, 6, 9), ``age``, ``score``
    ======================  =======  ==========================================================

    ``score`` is the SQUARE test: an integer from 0 to 20. Factors used as predictors
    (``age_group``, ``arm``, ``type``, ``visit``) are Categoricals whose first level is the
    reference level; grouping factors are text.

    Parameters
    ----------
    kind : str
        One of the kinds above.
    seed : int
        Seed of the random generator: the same seed gives the identical frame.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import bayesmixed as bm
    >>> d = bm.datasets.primer("square", seed=1)
    >>> d.shape, list(d.columns)
    ((64, 5), ['patient', 'age', 'age_group', 'arm', 'score'])
    >>> bool(d["score"].between(0, 20).all())
    True
    >>> bm.datasets.primer("longitudinal")["visit"].cat.categories.tolist()
    ['T0', 'T3', 'T6', 'T9']
    """
    if not isinstance(kind, str) or kind not in _SIMULATORS:
        raise ArgumentError(
            f"unknown primer data set kind={kind!r}; choose one of: {', '.join(_SIMULATORS)}"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ArgumentError(f"primer(): seed must be a non-negative integer, got {seed!r}")
    return _SIMULATORS[kind](np.random.default_rng(int(seed)))
