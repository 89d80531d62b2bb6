"""Tests and linear functions of the fixed effects of a :class:`GLSFit`: denominator df
(residual n − p as nlme, Satterthwaite as lmerTest, Kenward–Roger as mmrm) and the Fit hook
``_lincomb_cov`` behind ``emmeans`` and ``contrast``.

With ``ddf="kenward-roger"`` (REML fits) the standard errors are those of the adjusted
covariance Φ_A (:mod:`~bayesmixed.reml.gls.kenward_roger`), in ``tidy``, ``summary``,
``emmeans`` and ``contrast``, as mmrm's ``vcov`` and lmerTest's summary with Kenward–Roger.

emmeans' default for ``gls`` models is Satterthwaite's df (``mode = "auto"``: Satterthwaite
whenever nlme's ``apVar`` exists), so :meth:`FixedEffectInference.emmeans` and
:meth:`FixedEffectInference.contrast` default to ``ddf="satterthwaite"``. emmeans'
``mode = "df.error"`` (n − p minus the number of covariance parameters) has no counterpart:
``ddf="residual"`` is nlme's n − p, in ``tidy`` and ``summary``.

:class:`FixedEffectInference` is a mixin of :class:`~bayesmixed.reml.gls.result.GLSFit`; it
needs the fit's ``criterion_fn``, ``phi``, ``sigma``, ``reml``, ``vcov()``, ``design`` and ``n``.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ..._threads import limit_blas
from ...errors import ArgumentError
from ..inference.kenward_roger import ml_fallback

__all__ = ["DDF_METHODS", "FixedEffectInference"]

DDF_METHODS = ("residual", "satterthwaite", "kenward-roger")


class FixedEffectInference:
    """Denominator df and covariances of linear functions of β̂ (mixin of GLSFit)."""

    @cached_property
    def _satterthwaite_parts(self):
        from .inference import vcov_jacobian

        with limit_blas(1):
            return vcov_jacobian(self)

    def _satterthwaite_df(self, L: np.ndarray) -> np.ndarray:
        from .inference import satterthwaite_df

        return satterthwaite_df(self, L, parts=self._satterthwaite_parts)

    @cached_property
    def _satterthwaite(self):
        return self._satterthwaite_df(np.eye(self.design.p))

    @cached_property
    def kenward_roger(self):
        """Kenward–Roger adjusted covariance, df and tests (REML fits; computed on first use).

        See :class:`~bayesmixed.reml.gls.kenward_roger.GLSKenwardRoger`.
        """
        from .kenward_roger import GLSKenwardRoger

        return GLSKenwardRoger(self)

    @staticmethod
    def _ddf_key(ddf: str) -> str:
        key = str(ddf).lower().replace("_", "-")
        key = {"kr": "kenward-roger", "kenward-roger's": "kenward-roger"}.get(key, key)
        if key not in DDF_METHODS:
            raise ArgumentError(f"ddf must be one of {', '.join(DDF_METHODS)}, got {ddf!r}")
        return key

    def fixed_df(self, ddf: str = "residual") -> np.ndarray:
        """Denominator df of each fixed effect's t test.

        ``"residual"``: n − p, as nlme's ``gls``; ``"satterthwaite"``: from the asymptotic
        covariance of the covariance parameters (Hessian of the criterion), as lmerTest;
        ``"kenward-roger"``: Kenward & Roger (1997) as mmrm (REML fits only).
        """
        key = self._ddf_key(ddf)
        if key == "residual":
            return np.full(self.design.p, float(self.n - self.design.p))
        if key == "satterthwaite":
            return self._satterthwaite
        return self.kenward_roger.df()

    def _fixed_se_df(self, ddf: str) -> tuple[np.ndarray, np.ndarray]:
        """Standard errors and df of every fixed effect (tidy's columns): Kenward–Roger's
        from the adjusted covariance, the others from ``vcov()``."""
        df = self.fixed_df(ddf)
        if self._ddf_key(ddf) == "kenward-roger":
            return self.kenward_roger.std_errors(), df
        return np.sqrt(np.diag(self.vcov().to_numpy())), df

    def _lincomb_cov(self, L: np.ndarray, ddf: str) -> tuple[np.ndarray, np.ndarray]:
        """Covariance and df of L β̂ (the Fit hook of emmeans and contrasts).

        ``"satterthwaite"`` (emmeans' default for gls, its ``mode = "satterthwaite"``),
        ``"kenward-roger"`` (adjusted covariance and per-row df; ML fits fall back to
        Satterthwaite with a warning, as for lmer fits), ``"residual"`` (n − p, as nlme's
        t tests) or ``"asymptotic"`` (infinite df).
        """
        L = np.atleast_2d(np.asarray(L, float))
        ddf = ml_fallback(ddf, self.reml)
        if ddf == "kenward-roger":
            kr = self.kenward_roger
            return L @ kr.PhiA @ L.T, kr.df(L)
        cov = L @ self.vcov().to_numpy() @ L.T
        if ddf == "asymptotic":
            return cov, np.full(L.shape[0], np.inf)
        if ddf == "residual":
            return cov, np.full(L.shape[0], float(self.n - self.design.p))
        return cov, self._satterthwaite_df(L)

    def emmeans(self, specs, by=None, at=None, ddf: str = "satterthwaite", level: float = 0.95):
        """Estimated marginal means (see :meth:`bayesmixed.results.fit.Fit.emmeans`); the
        default df are Satterthwaite's, as emmeans' default for ``gls`` models.

        Examples
        --------
        >>> import numpy as np, pandas as pd, bayesmixed as bm
        >>> rng = np.random.default_rng(7)
        >>> d = pd.DataFrame({"id": np.repeat(np.arange(30), 3), "visit": ["a", "b", "c"] * 30})
        >>> d["y"] = rng.normal(size=90)
        >>> fit = bm.MixedModel("y ~ visit", d, residual=bm.residual.AR1(time="visit",
        ...                     group="id")).fit_reml()
        >>> fit.emmeans("visit")["visit"].tolist()
        ['a', 'b', 'c']
        """
        return super().emmeans(specs, by=by, at=at, ddf=ddf, level=level)

    def contrast(
        self,
        specs,
        method="pairwise",
        by=None,
        ref=None,
        adjust: str | None = None,
        ddf: str = "satterthwaite",
        level: float = 0.95,
        at=None,
    ):
        """Contrasts of marginal means (see :meth:`bayesmixed.results.fit.Fit.contrast`);
        Satterthwaite df by default, as emmeans for ``gls`` models.

        Examples
        --------
        >>> import numpy as np, pandas as pd, bayesmixed as bm
        >>> rng = np.random.default_rng(7)
        >>> d = pd.DataFrame({"id": np.repeat(np.arange(30), 3), "visit": ["a", "b", "c"] * 30})
        >>> d["y"] = rng.normal(size=90)
        >>> fit = bm.MixedModel("y ~ visit", d, residual=bm.residual.AR1(time="visit",
        ...                     group="id")).fit_reml()
        >>> fit.contrast("visit", "trt.vs.ctrl")["contrast"].tolist()
        ['b - a', 'c - a']
        """
        return super().contrast(specs, method, by, ref, adjust, ddf, level, at)
