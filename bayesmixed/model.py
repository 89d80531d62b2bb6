"""``MixedModel``: the user's entry point — one specification, two engines."""

from __future__ import annotations

import pandas as pd

from .design import Design, build_design
from .errors import ArgumentError
from .spec import ModelSpec, parse_formula

__all__ = ["MixedModel"]


class MixedModel:
    """A linear mixed model in lme4 syntax, fitted by REML/ML or sampled with NUTS.

    Validation happens here: the formula is parsed and the design (model matrices, grouping
    factors) is built, so errors surface before any fitting.

    Parameters
    ----------
    formula : str
        lme4 syntax: ``"y ~ x + (x | g)"``, ``"(x || g)"``, ``"(1 | a/b)"``, ``"(1 | a:b)"``,
        crossed terms as several bars. With no bar, the model is an ordinary regression.
    data : pandas.DataFrame
        One row per observation.
    residual : None
        Residual covariance structure (reserved; only independent residuals for now).
    na_action : {"drop", "raise"}
        Drop incomplete rows of the used columns with a warning (default) or refuse them.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> model = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    >>> fit = model.fit_reml()
    >>> fit.fixef().round(2).tolist()
    [251.41, 10.47]
    """

    def __init__(
        self,
        formula: str,
        data: pd.DataFrame,
        residual: object | None = None,
        na_action: str = "drop",
    ):
        if residual is not None:
            raise ArgumentError(
                "residual covariance structures are not available in this version; "
                "pass residual=None (independent residuals)"
            )
        self.formula = formula
        self.spec: ModelSpec = parse_formula(formula)
        self.design: Design = build_design(self.spec, data, na_action=na_action)
        self.residual = residual

    @property
    def has_random(self) -> bool:
        """True when the model has random effects."""
        return bool(self.design.terms)

    def fit_reml(self, reml: bool = True, control=None):
        """Fit by REML (default) or ML; with no random term, by ordinary least squares.

        Parameters
        ----------
        reml : bool
            REML (True) or maximum likelihood (False). Ignored for OLS.
        control : bayesmixed.reml.OptControl, optional

        Returns
        -------
        REMLFit or OLSFit
        """
        if not self.has_random:
            from .ols import fit_ols

            return fit_ols(self.design)
        from .reml.fit import fit_lmm

        return fit_lmm(self.design, reml=reml, control=control)

    def __repr__(self) -> str:
        d = self.design
        groups = ", ".join(f"{t.name} ({t.m})" for t in d.terms) or "none"
        return (
            f"MixedModel({self.formula!r}): {d.n} observations, {d.p} fixed effects, "
            f"random terms: {groups}"
        )
