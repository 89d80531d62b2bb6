"""ModelSpec + DataFrame → :class:`Design`: the matrices both engines work from.

The design holds

* the model frame (rows kept after NA handling, :mod:`.frame`) and the response ``y``;
* the dense fixed-effects matrix ``X`` with R's column names, aliased columns dropped
  (:mod:`.fixed`);
* one :class:`~bayesmixed.design.reterm.ReTerm` per random-effects term (group codes, level
  names, raw columns, Z, level sums), ordered as lme4 orders them (decreasing number of
  levels, stable), each with its covariance structure (``term.cov``), through which the
  design lays out θ for the engines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp
from formulaic import model_matrix

from ..errors import FormulaError, IdentifiabilityError
from ..spec import ModelSpec
from . import fixed as _fixed
from .fixed import fixed_part
from .frame import FORMULAIC_CONTEXT, model_frame, response_vector
from .reterm import ReTerm, build_term

__all__ = ["Design", "build_design"]


@dataclass
class Design:
    """Everything the engines need, built once from a ModelSpec and a DataFrame.

    Use :func:`build_design` to construct one.
    """

    spec: ModelSpec
    frame: pd.DataFrame
    y: np.ndarray
    X: np.ndarray
    xnames: list[str]
    terms: list[ReTerm]
    dropped: list[str] = field(default_factory=list)
    nrows_dropped: int = 0
    fixed_spec: object = field(default=None, repr=False)
    fixed_keep: np.ndarray | None = field(default=None, repr=False)
    fixed_term_of_column: list[str] = field(default_factory=list)
    response_name: str = ""

    # ----------------------------------------------------------------- sizes
    @property
    def n(self) -> int:
        """Number of observations used."""
        return self.y.shape[0]

    @property
    def p(self) -> int:
        """Number of fixed-effects columns (after dropping aliased ones)."""
        return self.X.shape[1]

    @property
    def q(self) -> int:
        """Total number of random effects."""
        return sum(t.q for t in self.terms)

    @property
    def has_intercept(self) -> bool:
        """Whether the fixed part has an intercept column."""
        return "(Intercept)" in self.xnames

    # ----------------------------------------------------------------- θ layout
    # θ is the concatenation of the terms' covariance parameters, in term order.
    @cached_property
    def theta_slices(self) -> list[slice]:
        """Slice of the full θ vector belonging to each term."""
        out, start = [], 0
        for t in self.terms:
            out.append(slice(start, start + t.cov.ntheta))
            start += t.cov.ntheta
        return out

    @property
    def ntheta(self) -> int:
        """Length of θ."""
        return sum(t.cov.ntheta for t in self.terms)

    @property
    def theta0(self) -> np.ndarray:
        """Starting θ (identity relative factors)."""
        return np.concatenate([t.cov.theta0 for t in self.terms]) if self.terms else np.zeros(0)

    @property
    def lower(self) -> np.ndarray:
        """Lower bounds of θ."""
        return np.concatenate([t.cov.lower for t in self.terms]) if self.terms else np.zeros(0)

    @cached_property
    def theta_names(self) -> list[str]:
        """lme4's names for θ, e.g. ``Subject.(Intercept)``, ``Subject.Days.(Intercept)``."""
        return [name for t in self.terms for name in t.cov.theta_names]

    @cached_property
    def term_offsets(self) -> np.ndarray:
        """Start of each term's block of columns in Z (and one past the end)."""
        return np.concatenate([[0], np.cumsum([t.q for t in self.terms])]).astype(int)

    def factors(self, theta: np.ndarray) -> list[np.ndarray]:
        """Per-term k×k relative covariance factors T_i(θ)."""
        return [t.cov.factor(theta[s]) for t, s in zip(self.terms, self.theta_slices, strict=True)]

    # ----------------------------------------------------------------- matrices
    @cached_property
    def Z(self) -> sp.csc_matrix:
        """Sparse n × q random-effects model matrix (terms in ``self.terms`` order)."""
        if not self.terms:
            return sp.csc_matrix((self.n, 0))
        return sp.hstack([t.Z for t in self.terms], format="csc")

    # ----------------------------------------------------------------- new data
    def fixed_model_spec(self):
        """formulaic ModelSpec of the fixed part (built on first use for simple formulas)."""
        if self.fixed_spec is None:
            self.fixed_spec = model_matrix(
                self.spec.fixed, self.frame, na_action="ignore", context=FORMULAIC_CONTEXT
            ).model_spec
        return self.fixed_spec

    def term_model_spec(self, t: ReTerm):
        """formulaic ModelSpec of a random term's columns (built on first use if simple)."""
        if t.model_spec is None:
            t.model_spec = model_matrix(
                t.expr, self.frame, na_action="ignore", context=FORMULAIC_CONTEXT
            ).model_spec
        return t.model_spec

    def new_matrices(
        self, newdata: pd.DataFrame, re: bool = True
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Fixed matrix and per-term (codes, columns) for new data.

        Levels not seen in the fitting data get code -1 (population-level prediction).
        """
        return _fixed.new_matrices(self, newdata, re=re)


def build_design(spec: ModelSpec, data: pd.DataFrame, na_action: str = "drop") -> Design:
    """Build the :class:`Design` for ``spec`` on ``data``.

    Parameters
    ----------
    spec : ModelSpec
        Parsed formula (:func:`bayesmixed.spec.parse_formula`).
    data : pandas.DataFrame
        One row per observation.
    na_action : {"drop", "raise"}
        ``"drop"`` removes incomplete rows of the columns the model uses and warns with the
        count; ``"raise"`` refuses data with missing values.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> from bayesmixed.spec import parse_formula
    >>> d = build_design(parse_formula("Reaction ~ Days + (Days | Subject)"),
    ...                  bm.datasets.load("sleepstudy"))
    >>> d.n, d.p, d.q, d.ntheta
    (180, 2, 36, 3)
    """
    # warnings point at the caller of MixedModel(...): build_design ← model ← user
    mf = model_frame(spec, data, na_action, stacklevel=4)
    y = response_vector(spec.response, mf)
    fx = fixed_part(spec.fixed, mf.frame, stacklevel=4)

    n = len(y)
    terms = [build_term(t, mf.frame, mf.raw, n, mf.text_codes) for t in spec.random]
    order = sorted(range(len(terms)), key=lambda i: -terms[i].m)
    terms = [terms[i] for i in order]
    seen: dict[str, int] = {}
    for t in terms:
        if t.group in seen:
            t.name = f"{t.group}.{seen[t.group]}"
            seen[t.group] += 1
        else:
            seen[t.group] = 1
            t.name = t.group

    design = Design(
        spec=spec,
        frame=mf.frame,
        y=y,
        X=fx.X,
        xnames=fx.names,
        terms=terms,
        dropped=fx.dropped,
        nrows_dropped=mf.nrows_dropped,
        fixed_spec=fx.model_spec,
        fixed_keep=fx.keep,
        fixed_term_of_column=fx.terms,
        response_name=spec.response,
    )
    _check_identifiable(design)
    return design


def _check_identifiable(d: Design) -> None:
    n = d.n
    if d.p == 0 and not d.terms:
        raise FormulaError("the model has no fixed effects and no random effects to estimate")
    for t in d.terms:
        label = f"({t.expr} | {t.group})"
        if t.m < 2:
            raise IdentifiabilityError(
                f"grouping factor {t.group!r} of term {label} has only {t.m} level in the data: "
                "a variance cannot be estimated from one group; drop the term or fit "
                "the factor as a fixed effect"
            )
        if t.m >= n:
            raise IdentifiabilityError(
                f"grouping factor {t.group!r} has {t.m} levels for {n} observations: "
                "the number of levels of each grouping factor must be less than the number "
                "of observations; remove the term (it is confounded with the residual)"
            )
        if t.q >= n:
            raise IdentifiabilityError(
                f"term {label} has {t.q} random effects ({t.m} levels × {t.k} columns) for "
                f"{n} observations: the random effects and the residual variance are "
                "unidentifiable; simplify the term, e.g. use '||' or fewer slopes"
            )
    if d.n <= d.p:
        raise IdentifiabilityError(
            f"{n} observations cannot estimate {d.p} fixed effects; simplify the fixed part"
        )
