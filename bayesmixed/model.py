"""``MixedModel``: the user's entry point — one specification, two engines."""

from __future__ import annotations

import pandas as pd

from .design.build import Design, build_design
from .errors import ArgumentError
from .spec.formula import ModelSpec, parse_formula
from .spec.residual import check_residual

__all__ = ["MixedModel", "fit_design"]


def fit_design(design: Design, reml: bool = True):
    """Fit a design with the engine it needs: REML/ML with random terms, OLS without.

    The refitter injected into the fits of :meth:`MixedModel.fit_reml`, so that a fit can
    refit a reduced model that has lost its random terms.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy"))
    >>> type(fit_design(m.design)).__name__
    'OLSFit'
    """
    if design.terms:
        from .reml.optimize import fit_lmm

        fit = fit_lmm(design, reml=reml)
    else:
        from .ols.fit import fit_ols

        fit = fit_ols(design)
    fit.refitter = fit_design
    return fit


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
    residual : bayesmixed.residual structure, optional
        Residual covariance over each subject's visits, e.g.
        ``bm.residual.UN(time="visit", group="id")`` (None: independent residuals).
        Random terms, if any, must be grouped by the subject or nested in it.
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
        residual = check_residual(residual)
        self.formula = formula
        self.spec: ModelSpec = parse_formula(formula)
        self.residual = residual
        self.residual_design = None
        if residual is None:
            self.design: Design = build_design(self.spec, data, na_action=na_action)
        else:
            from .design.residual import build_residual_design

            self.design, self.residual_design = build_residual_design(
                self.spec, data, residual, na_action=na_action
            )

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
        REMLFit, OLSFit or GLSFit
            Its ``refit()`` (and ranova, reduced models, ML refits) fits any design with
            the engine it needs: REML/ML with random terms, least squares without; with
            ``residual=``, a :class:`~bayesmixed.reml.gls.GLSFit` (with or without random
            terms; ``control`` is then a :class:`~bayesmixed.reml.gls.GLSControl`).
        """
        if self.residual_design is not None:
            from .reml.gls import fit_gls

            return fit_gls(self.design, self.residual_design, reml=reml, control=control)
        if not self.has_random:
            from .ols.fit import fit_ols

            fit = fit_ols(self.design)
        else:
            from .reml.optimize import fit_lmm

            fit = fit_lmm(self.design, reml=reml, control=control)
        fit.refitter = fit_design
        return fit

    def _bayes_guard(self, what: str) -> None:
        if self.residual is not None:
            raise ArgumentError(
                f"{what} does not support residual= structures yet; fit the model with "
                "fit_reml(), or drop residual= to sample it"
            )

    def pymc_model(self, priors: dict | None = None, parameterization: str = "auto"):
        """The PyMC model with partial-pooling priors, for power users to modify and sample.

        Parameters
        ----------
        priors : dict, optional
            Overrides by parameter name or class (see :mod:`bayesmixed.bayes.priors`).
        parameterization : {"auto", "marginal", "noncentered", "centered"}

        Returns
        -------
        pymc.Model
            Named dims and coords: ``fixed``, ``<term>__level``, ``<term>__coef``, ``obs``.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> m = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
        >>> pm_model = m.pymc_model(parameterization="noncentered")
        >>> sorted(pm_model.coords)[:3]
        ['Subject__coef', 'Subject__cpc', 'Subject__level']
        """
        if self.residual_design is not None:
            # a residual structure: the marginal MvNormal graph of bayes.residual
            from .bayes.residual import build_residual_model, resolve_residual_priors

            rd = self.residual_design
            ps = resolve_residual_priors(self.design, rd, priors)
            return build_residual_model(self.design, rd, ps)[0]
        from .bayes.graph import build_model
        from .bayes.priors import resolve_priors

        model, _ = build_model(self.design, resolve_priors(self.design, priors), parameterization)
        return model

    def sample_prior_predictive(
        self, draws: int = 500, priors: dict | None = None, random_seed: int | None = None
    ):
        """Draws from the prior and the prior predictive distribution (no MCMC).

        Parameters
        ----------
        draws : int
        priors : dict, optional
            Overrides, as for :meth:`sample`.
        random_seed : int, optional

        Returns
        -------
        arviz.InferenceData
            Groups ``prior`` (beta, sigma, sd_*, cor_*, b_*), ``prior_predictive`` (y) and
            ``observed_data``.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
        >>> m.sample_prior_predictive(100, random_seed=1).prior_predictive["y"].shape
        (1, 100, 30)
        """
        self._bayes_guard("sample_prior_predictive()")
        from .bayes.pipeline import prior_predictive

        return prior_predictive(self.design, draws, priors, random_seed)

    def sample(
        self,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        cores: int | None = None,
        sampler: str = "nutpie",
        priors: dict | None = None,
        parameterization: str = "auto",
        target_accept: float = 0.8,
        random_seed: int | None = None,
        progressbar: bool = True,
        **kwargs,
    ):
        """Sample the posterior with NUTS.

        Parameters
        ----------
        draws, tune, chains : int
            Kept draws, tuning draws and chains.
        cores : int, optional
            Chains run in parallel (default min(chains, 2)).
        sampler : {"nutpie", "pymc", "numpyro"}
            ``"nutpie"`` (default) is fastest: with the marginal and partial
            parameterizations it calls a compiled log density with an exact gradient as a C
            function, one chain per core, without building a PyMC graph.
        priors : dict, optional
            Overrides of the default priors by name (``"sd__(Intercept)|Subject"``,
            ``"cor|Subject"``, ``"sigma"``, ``"(Intercept)"``, ``"Days"``) or class
            (``"fixed"``, ``"sd"``, ``"cor"``), with :class:`bayesmixed.bayes.Prior` values.
            With ``residual=``: also ``"rho|Residual"``, ``"sd__T3|Residual"``,
            ``"cor|Residual"`` and the class ``"rho"`` (see
            :mod:`bayesmixed.bayes.residual.priors`).
        parameterization : {"auto", "marginal", "partial", "noncentered", "centered"}
            ``"auto"`` integrates the random effects out when that is cheap; for crossed
            terms too wide for that (students × lecturers), ``"partial"`` samples the effects
            of the data-rich terms — centred or non-centred per term — and integrates the rest
            out given them. ``post.parameterization.terms`` says what each term got.
        target_accept : float
        random_seed : int, optional
            Same seed → identical draws.
        progressbar : bool
        **kwargs
            Passed to the sampler.

        Returns
        -------
        BayesFit
            With ``residual=``, a :class:`~bayesmixed.bayes.residual.ResidualBayesFit`: the
            random effects are integrated out (one multivariate normal per subject).

        Examples
        --------
        >>> import bayesmixed as bm
        >>> m = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
        >>> post = m.sample(draws=1000, tune=1000, chains=2, random_seed=1, progressbar=False)
        >>> post.parameterization
        'marginal' (Subject: marginal)
        """
        args = dict(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            sampler=sampler,
            priors=priors,
            parameterization=parameterization,
            target_accept=target_accept,
            random_seed=random_seed,
            progressbar=progressbar,
            **kwargs,
        )
        if self.residual_design is not None:
            from .bayes.residual import sample_residual_design

            return sample_residual_design(self.design, self.residual_design, **args)
        from .bayes.pipeline import sample_design

        start = self._reml_start if self.has_random else None
        return sample_design(self.design, start=start, **args)

    def _reml_start(self):
        """REML estimates (β, σ, covariances) that centre the chains' starting points."""
        from .reml.optimize import OptControl, fit_lmm

        fit = fit_lmm(self.design, reml=True, control=OptControl(check_conv=False))
        return fit.beta.copy(), fit.sigma, fit.covs

    def __repr__(self) -> str:
        d = self.design
        groups = ", ".join(f"{t.name} ({t.m})" for t in d.terms) or "none"
        return (
            f"MixedModel({self.formula!r}): {d.n} observations, {d.p} fixed effects, "
            f"random terms: {groups}"
        )
