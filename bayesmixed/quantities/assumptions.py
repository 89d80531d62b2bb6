"""Checks of the OLS assumptions (§1.7): independence, constant variance, normality.

:func:`assumption_checks` returns one tidy table with a plain-language reading of each test:

* **Durbin-Watson** (independence): DW = Σ(e_t − e_{t−1})² / Σe_t² of the residuals in data
  order (or ``order_by``); about 2 without autocorrelation, below 2 with positive
  autocorrelation, as residuals of clustered or repeated measurements sorted by cluster
  usually show. The p value is that of ``lmtest::dwtest``: exact (the distribution of a
  ratio of quadratic forms in normal variables, integrated numerically with Imhof's 1961
  formula over the eigenvalues of M A, M = I − X(X'X)⁻¹X') for n < 100 and the normal
  approximation with the exact mean and variance of DW (Durbin & Watson 1971) otherwise.
* **Breusch-Pagan** (constant variance): Koenker's studentized version, n·R² of the
  regression of e² on the model's predictors, χ² with (rank − 1) df, as
  ``lmtest::bptest`` (default) and ``statsmodels`` ``het_breuschpagan(robust=True)``.
* **Shapiro-Wilk** (normality of residuals): ``scipy.stats.shapiro``, as R's
  ``shapiro.test``.

They are tests of an ordinary regression. For a mixed-model fit they run on the conditional
residuals y − Xγ̂ − Zb̂ (and the fixed-effects design) and are only a rough screen; the
residual plots of :func:`bayesmixed.views.plots.diagnostics` tell more.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import integrate, stats
from statsmodels.stats.diagnostic import het_breuschpagan
from statsmodels.stats.stattools import durbin_watson as _sm_durbin_watson

from ..errors import ArgumentError, ColumnError

__all__ = ["assumption_checks", "durbin_watson_test", "breusch_pagan_test", "ASSUMPTION_COLUMNS"]

ASSUMPTION_COLUMNS = ["test", "statistic", "p_value", "interpretation"]


def _dw_matrix_products(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A X (A the DW difference matrix) and (X'X)⁻¹."""
    AX = 2.0 * X
    AX[1:] -= X[:-1]
    AX[:-1] -= X[1:]
    AX[0] = X[0] - X[1]
    AX[-1] = X[-1] - X[-2]
    return AX, np.linalg.pinv(X.T @ X)


def _imhof_cdf0(lam: np.ndarray) -> float:
    """P(Σ λ_j χ²_1 < 0) by Imhof's (1961) inversion formula."""

    def integrand(u: float) -> float:
        theta = 0.5 * np.arctan(lam * u).sum()
        # 1 / (u ρ(u)) on the log scale: ρ(u) = Π (1 + λ²u²)^¼ overflows for large u
        return np.sin(theta) * np.exp(-np.log(u) - 0.25 * np.log1p((lam * u) ** 2).sum())

    val, _ = integrate.quad(integrand, 0.0, np.inf, limit=500, epsabs=1e-12, epsrel=1e-10)
    return float(np.clip(0.5 - val / np.pi, 0.0, 1.0))


def durbin_watson_test(
    residuals: np.ndarray,
    X: np.ndarray,
    *,
    alternative: str = "greater",
    exact: bool | None = None,
) -> tuple[float, float]:
    """Durbin-Watson statistic and p value (``lmtest::dwtest``).

    Parameters
    ----------
    residuals : array (n,)
        OLS residuals in the order to test.
    X : array (n, p)
        The regression's model matrix (same order).
    alternative : {"greater", "two.sided", "less"}
        ``"greater"``: true autocorrelation > 0 (DW small), as dwtest's default.
    exact : bool, optional
        Exact p value (Imhof) or the normal approximation; default exact for n < 100.

    Returns
    -------
    (statistic, p_value)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> X = np.column_stack([np.ones(50), np.arange(50.0)])
    >>> e = rng.normal(size=50); e -= X @ np.linalg.lstsq(X, e, rcond=None)[0]
    >>> dw, p = durbin_watson_test(e, X)
    >>> 1.5 < dw < 2.5 and 0 < p < 1
    True
    """
    if alternative not in ("greater", "two.sided", "less"):
        raise ArgumentError(
            f"alternative must be 'greater', 'two.sided' or 'less', got {alternative!r}"
        )
    e = np.asarray(residuals, float).reshape(-1)
    X = np.asarray(X, float)
    n, k = X.shape
    dw = float(_sm_durbin_watson(e))
    if n < 3:
        return dw, np.nan
    if exact is None:
        exact = n < 100
    if exact:
        Q, _ = np.linalg.qr(X)
        A = 2.0 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
        A[0, 0] = A[-1, -1] = 1.0
        MAM = A - Q @ (Q.T @ A)
        MAM = MAM - (MAM @ Q) @ Q.T
        ev = np.sort(np.linalg.eigvalsh((MAM + MAM.T) / 2.0))[::-1][: n - k]
        ev = ev[ev > 1e-10]
        below = _imhof_cdf0(ev - dw)
    else:
        if n < max(5, k):
            return dw, np.nan
        AX, Q1 = _dw_matrix_products(X)
        XAXQ = X.T @ AX @ Q1
        P = 2.0 * (n - 1) - np.trace(XAXQ)
        Qv = 2.0 * (3 * n - 4) - 2.0 * np.trace(AX.T @ AX @ Q1) + np.trace(XAXQ @ XAXQ)
        mean = P / (n - k)
        var = 2.0 / ((n - k) * (n - k + 2)) * (Qv - P * mean)
        below = float(stats.norm.cdf(dw, loc=mean, scale=np.sqrt(var)))
    if alternative == "greater":
        p = below
    elif alternative == "less":
        p = 1.0 - below
    else:
        p = 2.0 * min(below, 1.0 - below)
    return dw, float(p)


def breusch_pagan_test(residuals: np.ndarray, X: np.ndarray) -> tuple[float, int, float]:
    """Koenker's studentized Breusch-Pagan test on the predictors ``X``.

    Returns
    -------
    (statistic, df, p_value)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> x = rng.uniform(1, 5, 200); X = np.column_stack([np.ones(200), x])
    >>> e = rng.normal(scale=x)            # spread grows with x
    >>> stat, df, p = breusch_pagan_test(e - e.mean(), X)
    >>> df, p < 0.01
    (1, True)
    """
    e = np.asarray(residuals, float).reshape(-1)
    X = np.asarray(X, float)
    if not np.any(np.all(np.isclose(X, X[:1]), axis=0)):
        # the auxiliary regression needs a constant (bptest keeps the model's intercept)
        X = np.column_stack([np.ones(len(e)), X])
    df = int(np.linalg.matrix_rank(X)) - 1
    if df < 1:
        return np.nan, 0, np.nan
    lm, lm_p, _, _ = het_breuschpagan(e, X, robust=True)
    return float(lm), df, float(lm_p)


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def assumption_checks(
    fit: object,
    *,
    order_by: str | np.ndarray | None = None,
    alternative: str = "greater",
    exact: bool | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Durbin-Watson, Breusch-Pagan and Shapiro-Wilk tests of a fit's residuals, as a table.

    Parameters
    ----------
    fit : OLSFit or REMLFit
        Anything with ``residuals()`` and ``design`` (for mixed fits, conditional residuals).
    order_by : str or array, optional
        Column of the model data (or values) giving the order for Durbin-Watson (e.g. time);
        default the data order.
    alternative : {"greater", "two.sided", "less"}
        Durbin-Watson alternative (``"greater"``: positive autocorrelation).
    exact : bool, optional
        Exact Durbin-Watson p value; default for n < 100, as lmtest.
    alpha : float
        Level used in the interpretation text.

    Returns
    -------
    DataFrame
        Columns test, statistic, p_value, interpretation; rows Durbin-Watson,
        Breusch-Pagan, Shapiro-Wilk.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Reaction ~ Days", bm.datasets.load("sleepstudy")).fit_reml()
    >>> assumption_checks(fit)["test"].tolist()
    ['Durbin-Watson', 'Breusch-Pagan', 'Shapiro-Wilk']
    """
    if not 0 < alpha < 1:
        raise ArgumentError(f"alpha must be between 0 and 1, got {alpha}")
    resid_fn = getattr(fit, "residuals", None)
    design = getattr(fit, "design", None)
    if not callable(resid_fn) or design is None:
        raise ArgumentError(
            f"fit must be a fitted model with residuals(), got {type(fit).__name__}"
        )
    e = np.asarray(resid_fn(), float).reshape(-1)
    X = design.X
    order = np.arange(len(e))
    if order_by is not None:
        if isinstance(order_by, str):
            if order_by not in design.frame.columns:
                raise ColumnError(
                    f"order_by={order_by!r} is not a column of the model data; choose one of "
                    f"{', '.join(map(str, design.frame.columns))}",
                    order_by,
                )
            key = design.frame[order_by].to_numpy()
        else:
            key = np.asarray(order_by).reshape(-1)
            if len(key) != len(e):
                raise ArgumentError(
                    f"order_by has {len(key)} values but the fit has {len(e)} observations"
                )
        order = np.argsort(key, kind="stable")
    dw, dw_p = durbin_watson_test(e[order], X[order], alternative=alternative, exact=exact)
    bp, bp_df, bp_p = breusch_pagan_test(e, X)
    if len(e) >= 3:
        sw, sw_p = stats.shapiro(e)
    else:
        sw, sw_p = np.nan, np.nan

    where = "in data order" if order_by is None else "in the given order"
    if np.isnan(dw_p):
        dw_txt = "too few observations for a p value"
    elif dw_p < alpha:
        direction = "positive" if dw < 2 else "negative"
        dw_txt = (
            f"DW = {dw:.2f}: {direction} autocorrelation of neighbouring residuals {where} "
            f"({_p_text(dw_p)}); observations are not independent — e.g. repeated measures "
            "or clusters; model the dependence (random effects)"
        )
    else:
        dw_txt = f"DW = {dw:.2f}: no evidence of autocorrelation {where} ({_p_text(dw_p)})"
    if np.isnan(bp_p):
        bp_txt = "no predictors besides the intercept: nothing to test against"
    elif bp_p < alpha:
        bp_txt = (
            f"residual variance changes with the predictors ({_p_text(bp_p)}, {bp_df} df): "
            "heteroscedasticity; consider a transformation, robust standard errors or "
            "modelling the variance"
        )
    else:
        bp_txt = (
            f"no evidence that the residual variance depends on the predictors ({_p_text(bp_p)})"
        )
    if np.isnan(sw_p):
        sw_txt = "too few observations"
    elif sw_p < alpha:
        sw_txt = (
            f"residuals depart from normality ({_p_text(sw_p)}); check the QQ plot — with "
            "large n small departures are flagged, and inference on γ is robust to them"
        )
    else:
        sw_txt = f"no evidence against normal residuals ({_p_text(sw_p)})"
    return pd.DataFrame(
        {
            "test": ["Durbin-Watson", "Breusch-Pagan", "Shapiro-Wilk"],
            "statistic": [dw, bp, float(sw)],
            "p_value": [dw_p, bp_p, float(sw_p)],
            "interpretation": [dw_txt, bp_txt, sw_txt],
        }
    )[ASSUMPTION_COLUMNS]
