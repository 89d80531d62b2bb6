"""``residual=`` objects: which covariance the residuals of one subject follow over time.

Each class names a structure (nlme/mmrm vocabulary) and the columns it reads:

* ``time`` — the visit column: categorical (its category order, else the levels sorted as R
  sorts a factor's, is the visit order) or, for :class:`AR1` and :class:`CAR1`, numeric;
* ``group`` — the subject column: residuals of different subjects are independent;
* ``by`` — optional factor whose levels get separate parameters (mmrm's
  ``us(visit | arm / id)``).

The objects hold only names; :mod:`bayesmixed.design.residual` checks them against the data
and :mod:`bayesmixed.covariance.residual` holds the matrices.

Examples
--------
>>> import bayesmixed as bm
>>> s = bm.residual.UN(time="visit", group="id")
>>> s
UN(time='visit', group='id')
>>> s.name, s.by
('UN', None)
>>> bm.residual.AR1(time="visit", group="id", by="arm")
AR1(time='visit', group='id', by='arm')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import ArgumentError

__all__ = [
    "ResidualSpec",
    "CS",
    "CSH",
    "AR1",
    "ARH1",
    "TOEP",
    "TOEPH",
    "UN",
    "AD",
    "CAR1",
    "STRUCTURE_NAMES",
    "check_residual",
]


@dataclass(frozen=True)
class ResidualSpec:
    """Base of the residual structures: ``Structure(time=..., group=..., by=None)``."""

    time: str
    group: str
    by: str | None = None

    #: Short name of the structure (``"UN"``, ``"AR1"``...).
    name: ClassVar[str] = ""
    #: Whether a numeric ``time`` column is read as numbers (AR1: integer steps, CAR1).
    numeric_time: ClassVar[bool] = False
    #: One-line description for summaries.
    description: ClassVar[str] = ""

    def __post_init__(self):
        if type(self) is ResidualSpec:
            raise ArgumentError(
                f"ResidualSpec is the base class; use one of {', '.join(STRUCTURE_NAMES)}"
            )
        for arg in ("time", "group"):
            v = getattr(self, arg)
            if not isinstance(v, str) or not v:
                raise ArgumentError(
                    f"{self.name}(): {arg} must be a column name (a non-empty str), got {v!r}"
                )
        if self.by is not None and (not isinstance(self.by, str) or not self.by):
            raise ArgumentError(
                f"{self.name}(): by must be None or a column name (a non-empty str), "
                f"got {self.by!r}"
            )
        used = [self.time, self.group] + ([self.by] if self.by else [])
        if len(set(used)) < len(used):
            raise ArgumentError(
                f"{self.name}(): time, group and by must be different columns, got "
                f"time={self.time!r}, group={self.group!r}, by={self.by!r}"
            )

    def __repr__(self) -> str:
        by = f", by={self.by!r}" if self.by is not None else ""
        return f"{self.name}(time={self.time!r}, group={self.group!r}{by})"

    @property
    def columns(self) -> list[str]:
        """The data columns the structure reads."""
        return [self.group, self.time] + ([self.by] if self.by else [])


@dataclass(frozen=True, repr=False)
class CS(ResidualSpec):
    """Compound symmetry: one variance, one correlation ρ between any two visits."""

    name: ClassVar[str] = "CS"
    description: ClassVar[str] = "compound symmetry"


@dataclass(frozen=True, repr=False)
class CSH(ResidualSpec):
    """Heterogeneous compound symmetry: one correlation ρ, one SD per visit."""

    name: ClassVar[str] = "CSH"
    description: ClassVar[str] = "heterogeneous compound symmetry"


@dataclass(frozen=True, repr=False)
class AR1(ResidualSpec):
    """First-order autoregressive: corr ρ^|i−j| (visit positions, or integer numeric times)."""

    name: ClassVar[str] = "AR1"
    numeric_time: ClassVar[bool] = True
    description: ClassVar[str] = "first-order autoregressive"


@dataclass(frozen=True, repr=False)
class ARH1(ResidualSpec):
    """Heterogeneous AR(1): AR(1) correlation, one SD per visit."""

    name: ClassVar[str] = "ARH1"
    description: ClassVar[str] = "heterogeneous first-order autoregressive"


@dataclass(frozen=True, repr=False)
class TOEP(ResidualSpec):
    """Toeplitz: the correlation depends only on the lag between visits."""

    name: ClassVar[str] = "TOEP"
    description: ClassVar[str] = "Toeplitz"


@dataclass(frozen=True, repr=False)
class TOEPH(ResidualSpec):
    """Heterogeneous Toeplitz: Toeplitz correlation, one SD per visit."""

    name: ClassVar[str] = "TOEPH"
    description: ClassVar[str] = "heterogeneous Toeplitz"


@dataclass(frozen=True, repr=False)
class UN(ResidualSpec):
    """Unstructured: every variance and correlation free."""

    name: ClassVar[str] = "UN"
    description: ClassVar[str] = "unstructured"


@dataclass(frozen=True, repr=False)
class AD(ResidualSpec):
    """First-order ante-dependence (SAS ANTE(1), mmrm's ``adh``): corr Π ρ_k, one SD per visit."""

    name: ClassVar[str] = "AD"
    description: ClassVar[str] = "first-order ante-dependence"


@dataclass(frozen=True, repr=False)
class CAR1(ResidualSpec):
    """Continuous-time AR(1) (nlme's corCAR1): corr φ^|t−t'| for a numeric time, φ in (0, 1)."""

    name: ClassVar[str] = "CAR1"
    numeric_time: ClassVar[bool] = True
    description: ClassVar[str] = "continuous-time first-order autoregressive"


STRUCTURE_NAMES = ("CS", "CSH", "AR1", "ARH1", "TOEP", "TOEPH", "UN", "AD", "CAR1")


def check_residual(residual: object) -> ResidualSpec | None:
    """Validate a ``residual=`` argument: None or one of the structure objects.

    Examples
    --------
    >>> check_residual(None) is None
    True
    >>> check_residual("AR1")
    Traceback (most recent call last):
    ...
    bayesmixed.errors.ArgumentError: residual='AR1' is a string; give a structure object such as bm.residual.AR1(time="visit", group="id") (one of CS, CSH, AR1, ARH1, TOEP, TOEPH, UN, AD, CAR1)
    """
    if residual is None or isinstance(residual, ResidualSpec):
        return residual
    names = ", ".join(STRUCTURE_NAMES)
    if isinstance(residual, str):
        cls = residual.upper() if residual.upper() in STRUCTURE_NAMES else "AR1"
        raise ArgumentError(
            f"residual={residual!r} is a string; give a structure object such as "
            f'bm.residual.{cls}(time="visit", group="id") (one of {names})'
        )
    if isinstance(residual, type) and issubclass(residual, ResidualSpec):
        raise ArgumentError(
            f"residual={residual.__name__} is a class; call it with the columns, e.g. "
            f'bm.residual.{residual.__name__}(time="visit", group="id")'
        )
    raise ArgumentError(
        f"residual must be None or a bm.residual structure ({names}), got {type(residual).__name__}"
    )
