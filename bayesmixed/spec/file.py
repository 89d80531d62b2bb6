"""Model specification files (``models/*.toml``): the schema and the reader.

A file names everything needed to fit one model and report it::

    description = "Patients in wards within hospitals (§5.1): a three-level random intercept."
    formula = "score ~ age + (1 | hospital/ward)"
    data = {primer = "wards", seed = 1}   # or {dataset = "sleepstudy"} or {csv = "x.csv"}
    residual = {structure = "UN", time = "visit", group = "id"}   # optional

    [priors]
    "sd__(Intercept)|ward:hospital" = {dist = "halfnormal", sigma = 5}

    [fit]
    reml = true
    save = "fits/three_level.bmfit"   # optional: the REML fit, and the posterior beside it

    [sample]
    draws = 1000
    tune = 1000
    chains = 4
    sampler = "nutpie"
    seed = 1

    [report]
    title = "Three levels"
    chapter = "5.1"
    quantities = ["icc", "r2", "shrinkage"]
    compare = true

``[fit].save`` (a path relative to the spec file) makes :func:`bayesmixed.load_spec`'s
settings save the REML/ML fit there after fitting (``fit.save``, read back by
:func:`bayesmixed.load` or ``bayesmixed show``) and the posterior, when one is sampled,
beside it as ``three_level.posterior.bmfit``; ``bayesmixed run`` does both.

:func:`read_model_file` checks the file against the schema (unknown keys are refused) and
returns a :class:`ModelFile` holding plain values; building the model from it is
:func:`bayesmixed.load_spec`'s job. Every problem is a :class:`~bayesmixed.errors.SpecError`
naming the file, the key as a dotted path and, for a choice, the valid values.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .. import datasets
from ..datasets.primer import KINDS
from ..errors import ArgumentError, SpecError
from . import residual as residual_specs

__all__ = ["ModelFile", "read_model_file", "QUANTITIES", "SAMPLERS"]

SAMPLERS = ("nutpie", "pymc", "numpyro")
#: what ``[report].quantities`` may ask for: methods of a fit, called without arguments
#: (``residual_cor``/``residual_cov``: for the first subject)
QUANTITIES = (
    "tidy",
    "glance",
    "ranef",
    "icc",
    "r2",
    "shrinkage",
    "anova",
    "residual_cor",
    "residual_cov",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DataSource(_Section):
    """``data = {...}``: exactly one of a bundled ``dataset``, a ``primer`` simulation (with
    its ``seed``) or a ``csv`` path relative to the spec file; ``categories`` orders factor
    levels (the first is the reference level), e.g. ``{visit = ["T0", "T3"]}``."""

    dataset: str | None = None
    primer: Literal[tuple(KINDS)] | None = None  # type: ignore[valid-type]
    seed: int = Field(default=1, ge=0)
    csv: str | None = None
    categories: dict[str, list[str | int]] = Field(default_factory=dict)

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, v: str | None) -> str | None:
        names = sorted(datasets.available())
        if v is not None and v not in names:
            raise ValueError(f"is not one of {', '.join(names)}")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> DataSource:
        given = [k for k in ("dataset", "primer", "csv") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one data source: dataset = <bundled name>, primer = <kind> "
                f"(with seed), or csv = <path>; got {', '.join(given) or 'none'}"
            )
        return self


class ResidualSection(_Section):
    """``residual = {structure, time, group, by}``: a ``bm.residual`` structure."""

    structure: Literal[residual_specs.STRUCTURE_NAMES]  # type: ignore[valid-type]
    time: str
    group: str
    by: str | None = None


class PriorEntry(BaseModel):
    """``"name" = {dist = "halfnormal", sigma = 5, on = "sd"}``: a family and its parameters,
    checked against the families when the model is built."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    dist: str
    on: Literal["sd", "variance"] = "sd"

    @model_validator(mode="after")
    def _numeric_params(self) -> PriorEntry:
        for k, v in (self.model_extra or {}).items():
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"parameter {k} = {v!r} must be a number")
        return self

    @property
    def params(self) -> dict[str, float]:
        """The family's parameters (every key but ``dist`` and ``on``)."""
        return dict(self.model_extra or {})


class FitSection(_Section):
    """``[fit]``: REML (default) or ML; ``save``, optional, a file (relative to the spec
    file) to save the fit to, the posterior going beside it as ``<name>.posterior.bmfit``."""

    reml: bool = True
    save: str | None = Field(default=None, min_length=1)

    @field_validator("save")
    @classmethod
    def _save_is_a_file(cls, v: str | None) -> str | None:
        if v is not None and v.rstrip().endswith(("/", "\\")):
            raise ValueError("names a folder; give a file name such as fits/model.bmfit")
        return v


class SampleSection(_Section):
    """``[sample]``: keyword arguments of :meth:`bayesmixed.MixedModel.sample`."""

    draws: int = Field(default=1000, gt=0)
    tune: int = Field(default=1000, ge=0)
    chains: int = Field(default=4, gt=0)
    cores: int | None = Field(default=None, gt=0)
    sampler: Literal[SAMPLERS] = "nutpie"  # type: ignore[valid-type]
    parameterization: Literal["auto", "marginal", "partial", "noncentered", "centered"] = "auto"
    target_accept: float = Field(default=0.8, gt=0, lt=1)
    seed: int | None = Field(default=None, ge=0)


class ReportSection(_Section):
    """``[report]``: the title and primer chapter, the quantities to show and whether to set
    the posterior beside the REML fit."""

    title: str | None = None
    chapter: str | None = None
    quantities: list[Literal[QUANTITIES]] = Field(default_factory=lambda: ["tidy"])  # type: ignore[valid-type]
    compare: bool = False

    @field_validator("chapter", mode="before")
    @classmethod
    def _chapter_text(cls, v: Any) -> Any:
        # chapter = 3 and chapter = "3.3" both read naturally in TOML
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


class ModelFile(_Section):
    """One checked specification file (plain values; see the module docstring)."""

    description: str = Field(min_length=1)
    formula: str = Field(min_length=1)
    data: DataSource
    residual: ResidualSection | None = None
    na_action: Literal["drop", "raise"] = "drop"
    priors: dict[str, PriorEntry] = Field(default_factory=dict)
    fit: FitSection = FitSection()
    sample: SampleSection = SampleSection()
    report: ReportSection = ReportSection()
    _path: Path = PrivateAttr(default=Path("spec.toml"))

    @property
    def path(self) -> Path:
        """The file read (relative CSV paths start from its folder)."""
        return self._path

    @property
    def name(self) -> str:
        """The file's stem: ``models/random_slope.toml`` → ``"random_slope"``."""
        return self.path.stem

    @property
    def save_path(self) -> Path | None:
        """Where ``[fit].save`` asks the fit to go (relative to the spec file), or None."""
        return None if self.fit.save is None else self.path.parent / self.fit.save

    @property
    def posterior_save_path(self) -> Path | None:
        """Where the posterior goes beside the fit: ``fits/x.bmfit`` → ``fits/x.posterior.bmfit``.

        Examples
        --------
        >>> spec = ModelFile.model_validate({"description": "d", "formula": "y ~ 1",
        ...     "data": {"dataset": "Dyestuff"}, "fit": {"save": "fits/x.bmfit"}})
        >>> spec.posterior_save_path.as_posix()
        'fits/x.posterior.bmfit'
        """
        p = self.save_path
        return None if p is None else p.with_name(f"{p.stem}.posterior{p.suffix or '.bmfit'}")

    def load_data(self) -> pd.DataFrame:
        """The data frame the file names (a bundled set, a primer simulation or a CSV)."""
        src = self.data
        if src.dataset is not None:
            frame = datasets.load(src.dataset)
        elif src.primer is not None:
            frame = datasets.primer(src.primer, seed=src.seed)
        else:
            csv = (self.path.parent / src.csv).resolve()
            if not csv.is_file():
                raise SpecError(f"{self.path}: [data].csv = {src.csv!r}: no such file {csv}")
            frame = pd.read_csv(csv)
        for col, levels in src.categories.items():
            if col not in frame.columns:
                raise SpecError(
                    f"{self.path}: [data].categories.{col}: no column {col!r}; the data have "
                    f"{', '.join(map(str, frame.columns))}"
                )
            unknown = set(frame[col].dropna().unique()) - set(levels)
            if unknown:
                raise SpecError(
                    f"{self.path}: [data].categories.{col} misses the values "
                    f"{', '.join(sorted(map(str, unknown)))} of column {col!r}"
                )
            frame[col] = pd.Categorical(frame[col], categories=levels)
        return frame

    def residual_spec(self) -> residual_specs.ResidualSpec | None:
        """The ``bm.residual`` structure object, or None."""
        r = self.residual
        if r is None:
            return None
        cls = getattr(residual_specs, r.structure)
        try:
            return cls(time=r.time, group=r.group, by=r.by)
        except ArgumentError as e:
            raise SpecError(f"{self.path}: [residual]: {e}") from e


# --------------------------------------------------------------------------- errors
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(part: object) -> str:
    s = str(part)
    return s if _BARE_KEY.match(s) else '"' + s.replace('"', '\\"') + '"'


def _dotted(loc: tuple) -> str:
    """``("sample", "sampler")`` → ``[sample].sampler``; ``("formula",)`` → ``formula``."""
    out = f"[{_key(loc[0])}]" if len(loc) > 1 else _key(loc[0])
    for p in loc[1:]:
        # list positions as [i]; keys joined by dots
        out += f"[{p}]" if isinstance(p, int) else "." + _key(p)
    return out


def _section_at(loc: tuple) -> type[BaseModel] | None:
    """The schema class that holds the key at ``loc`` (None inside free-form tables)."""
    cls: type[BaseModel] = ModelFile
    i = 0
    while i < len(loc) - 1:
        field = cls.model_fields.get(str(loc[i]))
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        if getattr(ann, "__origin__", None) is dict:
            ann, i = args[1], i + 1  # skip the table's own key (a prior's name)
        else:
            ann = next((a for a in (ann, *args) if isinstance(a, type)), ann)
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        cls, i = ann, i + 1
    return cls


def _describe(err: dict) -> str:
    loc = tuple(err["loc"])
    path = _dotted(loc) if loc else "the file"
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        cls = _section_at(loc)
        valid = list(cls.model_fields) if cls else []
        where = f"of [{_key(loc[0])}]" if len(loc) > 1 else "at the top level"
        return f"unknown key {path}; valid keys {where} are: {', '.join(valid)}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", err.get("ctx", {}).get("expected", ""))
        return f"{path} = {value!r} is not one of {', '.join(choices)}"
    if kind == "missing":
        return f"{path} is missing (required)"
    msg = err["msg"].removeprefix("Value error, ")
    if kind == "value_error" and msg.startswith("is not one of"):
        return f"{path} = {value!r} {msg}"
    if isinstance(value, dict):
        return f"{path}: {msg}"
    return f"{path} = {value!r}: {msg}"


def read_model_file(path: str | Path) -> ModelFile:
    """Read and check one specification file.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    ModelFile

    Raises
    ------
    SpecError
        A missing file, a TOML syntax error (with its line), an unknown key or a bad value
        (with the key's dotted path and the valid choices).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ri.toml"
    >>> _ = p.write_text('description = "Random intercept"\\n'
    ...                  'formula = "Yield ~ 1 + (1 | Batch)"\\n'
    ...                  'data = {dataset = "Dyestuff"}\\n'
    ...                  '[sample]\\nsampler = "stan"\\n')
    >>> read_model_file(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bayesmixed.errors.SpecError: ...ri.toml: [sample].sampler = 'stan' is not one of nutpie, pymc, numpyro
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(f"{path}: cannot read the specification file ({e.strerror})") from e
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: TOML syntax error: {e}") from e
    try:
        spec = ModelFile.model_validate(raw)
    except ValidationError as e:
        lines = [_describe(err) for err in e.errors()]
        raise SpecError(f"{path}: " + "\n    ".join(lines)) from None
    spec._path = path
    return spec
