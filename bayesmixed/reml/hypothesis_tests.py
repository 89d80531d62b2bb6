"""The REML fit's tests: lmerTest's ``contest``, ``anova`` and ``ranova``, with Satterthwaite
or Kenward–Roger denominator df.

:class:`HypothesisTests` is a mixin of :class:`~bayesmixed.reml.result.REMLFit`; it needs the
fit's ``deviance_fn``, ``theta``, ``sigma``, ``reml``, ``beta``, ``vcov()`` and ``design``.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from .inference.kenward_roger import ml_fallback
from .inference.satterthwaite import Satterthwaite

__all__ = ["HypothesisTests"]

_ANOVA_TYPES = {3: 3, "3": 3, "III": 3, 1: 1, "1": 1, "I": 1}


class HypothesisTests:
    """Satterthwaite and Kenward–Roger tests of the fixed effects, and ``ranova``."""

    @cached_property
    def satterthwaite(self) -> Satterthwaite:
        """lmerTest's Satterthwaite machinery (computed on first use)."""
        with self.deviance_fn.blas_limit(self.blas_threads):
            return self._satterthwaite()

    def _satterthwaite(self) -> Satterthwaite:
        return Satterthwaite.compute(
            self.deviance_fn,
            self.theta,
            self.sigma,
            self.reml,
            self.beta,
            self.vcov().to_numpy(),
        )

    @cached_property
    def kenward_roger(self):
        """Kenward–Roger adjusted covariance and tests (pbkrtest; computed on first use)."""
        from .inference.kenward_roger import KenwardRoger

        return KenwardRoger(self)

    def _tester(self, ddf: str):
        key = str(ddf).lower().replace("_", "-")
        if key in ("satterthwaite", "s"):
            return self.satterthwaite
        if key in ("kenward-roger", "kr", "kenward-roger's"):
            return self.kenward_roger
        raise ArgumentError(
            f"ddf={ddf!r} is not available: use 'Satterthwaite' (default) or 'Kenward-Roger'"
        )

    def _fixed_se_df(self, ddf: str) -> tuple[np.ndarray, np.ndarray]:
        """Standard errors and denominator df of every fixed effect (tidy's columns)."""
        p = self.design.p
        s = self._tester(ddf)
        if s is self.satterthwaite:
            se = np.sqrt(np.diag(self.vcov().to_numpy()))
            df = np.array([s.df_1d(np.eye(p)[j]) for j in range(p)])
            return se, df
        rows = [s.test_1d(np.eye(p)[j]) for j in range(p)]
        return np.array([r["std_error"] for r in rows]), np.array([r["df"] for r in rows])

    def _lincomb_cov(self, L: np.ndarray, ddf: str) -> tuple[np.ndarray, np.ndarray]:
        """Covariance and df of L β̂ (the Fit hook of emmeans and contrasts).

        ``ddf`` is ``"kenward-roger"`` (pbkrtest's adjusted covariance and per-row df; ML
        fits fall back to Satterthwaite with a warning), ``"satterthwaite"`` (lmerTest) or
        ``"asymptotic"`` (infinite df).
        """
        L = np.atleast_2d(np.asarray(L, float))
        ddf = ml_fallback(ddf, self.reml)
        if ddf == "kenward-roger":
            kr = self.kenward_roger
            df = np.array([kr._ddf(row[None, :], 1) for row in L])
            return L @ kr.PhiA @ L.T, df
        cov = L @ self.vcov().to_numpy() @ L.T
        if ddf == "asymptotic":
            return cov, np.full(L.shape[0], np.inf)
        s = self.satterthwaite
        return cov, np.array([s.df_1d(row) for row in L])

    def contest(self, L, joint: bool = True, ddf: str = "Satterthwaite") -> pd.DataFrame:
        """Test linear contrasts of the fixed effects, as lmerTest's ``contest``.

        Parameters
        ----------
        L : array-like, shape (p,) or (r, p)
            Contrast vector or matrix over ``fit.fixef()``.
        joint : bool
            For a matrix: one F test (True) or a t test per row (False).
        ddf : {"Satterthwaite", "Kenward-Roger"}
            Denominator df method. Kenward–Roger (REML fits only) also uses the adjusted
            covariance of β̂ (pbkrtest's ``vcovAdj``) for the SE and F.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
        ...                     bm.datasets.load("sleepstudy")).fit_reml()
        >>> print(f"{fit.contest([0, 1])['df'].iloc[0]:.3f}")
        17.000
        """
        L = np.asarray(L, dtype=float)
        p = self.design.p
        if L.shape[-1] != p:
            raise ArgumentError(f"contrast L must have {p} columns (one per fixed effect)")
        s = self._tester(ddf)
        if L.ndim == 1:
            return pd.DataFrame([s.test_1d(L)])
        if joint:
            return pd.DataFrame([s.test_md(L)])
        return pd.DataFrame([s.test_1d(row) for row in L])

    def ranova(self) -> pd.DataFrame:
        """Likelihood-ratio tests of the random-effect terms (lmerTest's ``ranova``).

        See :func:`bayesmixed.reml.ranova.ranova`.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> fit = bm.MixedModel("diameter ~ 1 + (1 | plate) + (1 | sample)",
        ...                     bm.datasets.load("Penicillin")).fit_reml()
        >>> fit.ranova()["term"].tolist()
        ['<none>', '(1 | plate)', '(1 | sample)']
        """
        from .ranova import ranova

        return ranova(self)

    def anova(self, type: int | str = 3, ddf: str = "Satterthwaite") -> pd.DataFrame:
        """F tests of the fixed-effect terms with Satterthwaite df, as lmerTest's ``anova(fit)``.

        Parameters
        ----------
        type : {3, 1, "III", "I"}
            Type III (default, as lmerTest; SAS's Goodnight hypotheses) or type I
            (sequential). See :mod:`bayesmixed.reml.hypotheses`.
        ddf : {"Satterthwaite", "Kenward-Roger"}
            Denominator df method (lmerTest's ``ddf``); Kenward–Roger needs a REML fit.

        Returns
        -------
        pandas.DataFrame
            One row per term: ``term``, ``sum_sq``, ``mean_sq``, ``num_df``, ``den_df``,
            ``statistic`` (F), ``p_value`` (lmerTest's Sum Sq, Mean Sq, NumDF, DenDF,
            F value, Pr(>F)). For a likelihood-ratio comparison of models use
            :func:`bayesmixed.anova`.

        Examples
        --------
        >>> import bayesmixed as bm
        >>> fit = bm.MixedModel("Reaction ~ Days + (Days | Subject)",
        ...                     bm.datasets.load("sleepstudy")).fit_reml()
        >>> print(f"{fit.anova()['statistic'].iloc[0]:.3f}")
        45.853
        """
        from .inference.hypotheses import anova_table

        if type not in _ANOVA_TYPES:
            raise ArgumentError(
                f"type={type!r} is not available: use 3 ('III', the default) or 1 ('I', sequential)"
            )
        self._tester(ddf)  # validate before the work
        return anova_table(self, _ANOVA_TYPES[type], ddf=ddf)
