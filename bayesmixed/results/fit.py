"""``Fit``: what every fitted model offers, whichever engine made it.

REMLFit, OLSFit and BayesFit inherit from :class:`Fit`. The base class computes, from the
engine's :meth:`Fit.components` (point estimates, or posterior draws along a leading axis):

* ``fitted()``, ``residuals()`` and ``predict(newdata, re=)`` through the one linear predictor
  (:mod:`bayesmixed.results.predictor`; posterior means for draws);
* ``icc()``, ``r2()`` (:mod:`bayesmixed.results.variance`) and ``shrinkage()``
  (:mod:`bayesmixed.results.pooling`);
* ``aic`` and ``bic`` from the engine's ``loglik`` and ``nparams`` (engines with a likelihood);
* ``refit(formula, reml=)`` through the engine's injected ``refitter`` — a callable
  ``(design, reml=) -> Fit`` — so that this layer never imports an engine.

Engines supply the hooks: ``components()`` (required), ``vcov()``, ``loglik``, ``nparams``,
``reml``, ``refitter``, and their own tables (``tidy``, ``glance``, ``ranef``) built with
:mod:`bayesmixed.results.frames`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..design.build import Design, build_design
from ..errors import ArgumentError
from ..spec.formula import parse_formula
from .components import Components
from .predictor import point_components, predict_components

__all__ = ["Fit"]


class Fit:
    """Base class of the fitted models (REML/ML, OLS and Bayesian).

    Subclasses are dataclasses with a ``design`` field and implement :meth:`components`.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
    ...                     bm.datasets.load("sleepstudy")).fit_reml()
    >>> isinstance(fit, Fit), fit.nobs
    (True, 180)
    """

    design: Design
    # (design, reml=) -> Fit, injected by whoever made the fit (the model layer, or an
    # engine's own fit function); None: this fit cannot be refitted
    refitter: Callable | None = None

    # ------------------------------------------------------------------ engine hooks
    def components(self) -> Components:
        """The fit in the primer's terms: estimates, or draws along a leading axis."""
        raise NotImplementedError(f"{type(self).__name__} does not define components()")

    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed-effect estimates (engines with one)."""
        raise NotImplementedError(f"{type(self).__name__} has no covariance matrix of β̂")

    def _saved_state(self) -> tuple[str, dict, dict, object]:
        """What :meth:`save` writes: (kind, JSON-able state, numeric arrays, InferenceData or
        None). Each engine says what reproduces it."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def _lincomb_cov(self, L: np.ndarray, ddf: str) -> tuple[np.ndarray, np.ndarray]:
        """Covariance (r × r) and denominator df (r,) of L β̂ for the rows of ``L`` (r × p).

        ``ddf`` is one of :data:`bayesmixed.results.emmeans.DDF_CHOICES`; engines with
        a frequentist covariance of β̂ implement it (REML/ML: Kenward–Roger, Satterthwaite or
        asymptotic; OLS: the residual df)."""
        raise NotImplementedError(f"{type(self).__name__} has no covariance of linear functions")

    # ------------------------------------------------------------------ marginal means
    def emmeans(self, specs, by=None, at=None, ddf: str = "kenward-roger", level: float = 0.95):
        """Estimated marginal means, as emmeans' ``emmeans(fit, specs, by=)``.

        The means of the ``specs`` factor(s) on emmeans' reference grid: averaged over the
        other factors with equal weights, numeric covariates at their means (see
        :mod:`bayesmixed.results.emmeans`).

        Parameters
        ----------
        specs : str or list of str
            Factor(s) of the fixed part.
        by : str or list of str, optional
            Factor(s) within whose levels the means are given.
        at : dict, optional
            ``{covariate: value}`` fixes a covariate; ``{factor: [levels]}`` restricts a factor.
        ddf : {"kenward-roger", "satterthwaite", "asymptotic"}
            Degrees-of-freedom method (emmeans' ``lmer.df``). Kenward–Roger also uses the
            adjusted covariance of β̂; it needs a REML fit (ML fits use Satterthwaite, with a
            warning). OLS fits use the residual df (∞ with ``"asymptotic"``).
        level : float
            Confidence level of the t intervals.

        Returns
        -------
        pandas.DataFrame
            The ``specs`` and ``by`` columns, estimate, std_error, df, conf_low, conf_high.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> data = bm.datasets.load("Orthodont")
        >>> fit = bm.MixedModel("distance ~ age + Sex + (1 | Subject)", data).fit_reml()
        >>> fit.emmeans("Sex").round(2).values.tolist()
        [['Male', 24.97, 0.49, 25.0, 23.97, 25.97], ['Female', 22.65, 0.59, 25.0, 21.44, 23.85]]
        """
        from .emmeans import emmeans_table

        return emmeans_table(self, specs, by, at, ddf, level)

    def contrast(
        self,
        specs,
        method="pairwise",
        by=None,
        ref=None,
        adjust: str | None = None,
        ddf: str = "kenward-roger",
        level: float = 0.95,
        at=None,
    ):
        """Contrasts of marginal means with t tests, as emmeans' ``contrast(emm, method)``.

        Parameters
        ----------
        specs, by, at, ddf, level
            As :meth:`emmeans`.
        method : str or dict
            ``"pairwise"``, ``"revpairwise"``, ``"trt.vs.ctrl"``, ``"consec"``, ``"poly"``,
            ``"eff"``, or ``{label: coefficients}`` (one coefficient per mean, in the order
            of :meth:`emmeans`'s rows within a ``by`` group).
        ref : str, optional
            Control level of ``"trt.vs.ctrl"`` (default: the first level).
        adjust : str, optional
            ``"tukey"``, ``"holm"``, ``"bonferroni"``, ``"sidak"``, ``"fdr"``, ``"dunnettx"``,
            ``"mvt"`` or ``"none"``; default emmeans' default of the method (see
            :mod:`bayesmixed.results.contrasts`). Intervals are adjusted alike.

        Returns
        -------
        pandas.DataFrame
            contrast, the ``by`` columns, estimate, std_error, df, statistic, p_value,
            conf_low, conf_high; ``attrs["adjust"]`` names the adjustment applied.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> data = bm.datasets.load("Orthodont")
        >>> fit = bm.MixedModel("distance ~ age + Sex + (1 | Subject)", data).fit_reml()
        >>> fit.contrast("Sex")[["contrast", "estimate"]].round(2).values.tolist()
        [['Male - Female', 2.32]]
        """
        from .contrasts import contrast_table

        return contrast_table(self, specs, method, by, ref, adjust, ddf, level, at)

    # ------------------------------------------------------------------ saving
    def save(self, path) -> Path:
        """Save the fit to one file that :func:`bayesmixed.load` reads back, in any process.

        The file is a zip archive of JSON (formula, engine state, metadata), the data as CSV,
        NumPy arrays and, for Bayesian fits, the InferenceData as netCDF — no pickle (see
        :mod:`bayesmixed.results.archive`). Loading recomputes the fit from the saved data
        and refuses a file whose numbers do not reproduce.

        Parameters
        ----------
        path : str or Path
            Where to write (conventionally ending in ``.bmfit``).

        Returns
        -------
        Path

        Examples
        --------
        >>> import bayesmixed as bm, tempfile, os
        >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
        ...                     bm.datasets.load("sleepstudy")).fit_reml()
        >>> path = fit.save(os.path.join(tempfile.mkdtemp(), "sleep.bmfit"))
        >>> bm.load(path).tidy().equals(fit.tidy())
        True
        """
        from .archive import write_archive

        if not isinstance(path, (str, Path)):
            raise ArgumentError(
                f"path must be a file name (str or Path), got {type(path).__name__}"
            )
        kind, state, arrays, idata = self._saved_state()
        return write_archive(
            path, kind, self.design.spec.formula, self.design.frame, state, arrays, idata
        )

    # ------------------------------------------------------------------ sizes
    @property
    def nobs(self) -> int:
        """Number of observations used by the fit."""
        return self.design.n

    @property
    def n(self) -> int:
        """Number of observations."""
        return self.design.n

    # ------------------------------------------------------------------ estimates
    def _point(self) -> Components:
        """Point estimates (posterior means for draws)."""
        return point_components(self.components())

    def fixef(self) -> pd.Series:
        """Fixed-effect estimates (posterior means for draws), named as R names them."""
        return pd.Series(
            np.asarray(self._point().beta, float), index=self.design.xnames, name="estimate"
        )

    # ------------------------------------------------------------------ predictions
    def fitted(self) -> np.ndarray:
        """Fitted values X β̂ + Z b̂ (posterior means for draws)."""
        return predict_components(self._point(), None, re=True)

    def residuals(self) -> np.ndarray:
        """Response minus fitted values."""
        return self.design.y - self.fitted()

    def predict(self, newdata: pd.DataFrame | None = None, re: bool = True) -> np.ndarray:
        """Predictions; levels unseen in the fit are predicted at the population level.

        Parameters
        ----------
        newdata : DataFrame, optional
            Defaults to the fitting data.
        re : bool
            Include the random effects (``re.form=NULL``) or not (``re.form=NA``).

        Examples
        --------
        >>> import bayesmixed as bm, pandas as pd
        >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
        ...                     bm.datasets.load("sleepstudy")).fit_reml()
        >>> new = pd.DataFrame({"Days": [0, 5], "Subject": [308, 999]})
        >>> fit.predict(new).round(1).tolist()
        [253.7, 303.7]
        """
        return predict_components(self._point(), newdata, re=re)

    def _predict_draws(self, newdata: pd.DataFrame | None = None, re: bool = True) -> np.ndarray:
        """Predictions for every draw (S, rows); point fits give one draw."""
        return predict_components(self.components().as_draws(), newdata, re=re)

    # ------------------------------------------------------------------ primer quantities
    def icc(self, **kwargs):
        """Intraclass correlations (see :func:`bayesmixed.results.variance.icc`)."""
        from .variance import icc

        return icc(self, **kwargs)

    def r2(self, **kwargs):
        """Marginal and conditional R² (see :func:`bayesmixed.results.variance.r2`)."""
        from .variance import r2

        return r2(self, **kwargs)

    def shrinkage(self, **kwargs):
        """Partial-pooling table (see :func:`bayesmixed.results.pooling.shrinkage`)."""
        from .pooling import shrinkage

        return shrinkage(self, **kwargs)

    # ------------------------------------------------------------------ likelihood
    @property
    def aic(self) -> float:
        """Akaike information criterion, −2 logLik + 2 nparams."""
        return -2.0 * self.loglik + 2.0 * self.nparams

    @property
    def bic(self) -> float:
        """Bayesian information criterion, −2 logLik + log(n) nparams."""
        return -2.0 * self.loglik + np.log(self.nobs) * self.nparams

    # ------------------------------------------------------------------ refits
    def refit(
        self,
        formula: str | None = None,
        *,
        reml: bool | None = None,
        data: pd.DataFrame | None = None,
    ) -> Fit:
        """The same kind of fit to another formula, criterion or data.

        Parameters
        ----------
        formula : str, optional
            lme4 formula of the new model (default: this fit's).
        reml : bool, optional
            REML (True) or ML (False); default: as this fit.
        data : DataFrame, optional
            Default: this fit's model frame (rows kept after NA handling).

        Returns
        -------
        Fit
            From the refitter injected when this fit was made: for fits of
            :meth:`bayesmixed.MixedModel.fit_reml`, a REMLFit with random terms and an OLSFit
            without.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
        ...                     bm.datasets.load("sleepstudy")).fit_reml()
        >>> round(float(fit.refit(reml=False).loglik), 2)
        -875.97
        >>> type(fit.refit("Reaction ~ Days")).__name__
        'OLSFit'
        """
        if self.refitter is None:
            raise ArgumentError(
                f"this {type(self).__name__} cannot be refitted here: make a new MixedModel "
                "and fit it"
            )
        if reml is None:
            reml = bool(getattr(self, "reml", False))
        if formula is None and data is None:
            design = self.design
        else:
            spec = self.design.spec if formula is None else parse_formula(formula)
            design = build_design(spec, self.design.frame if data is None else data)
        return self.refitter(design, reml=reml)
