"""``ResidualBayesFit``: the posterior of a model with a residual structure.

A :class:`~bayesmixed.bayes.result.BayesFit` whose ``ran_pars`` are the random terms' SDs and
correlations followed by the structure's parameters in group ``Residual``
(``Residual:<by>=<level>``), named as the REML fit names them — so ``bm.compare(post, fit)``
pairs them row for row. ``glance()``'s elpd_loo leaves out one subject at a time (the
log-likelihood is per subject).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...design.residual import ResidualDesign
from ...errors import ArgumentError
from ...results.components import TIDY_COLUMNS, cov_to_sd_cor, ran_par_labels
from ...results.frames import check_effects
from ..result import BayesFit, _interval

__all__ = ["ResidualBayesFit"]


@dataclass(repr=False)
class ResidualBayesFit(BayesFit):
    """Posterior of a residual-structure model (see the module notes).

    Attributes
    ----------
    rd : ResidualDesign
    residual_labels : list of (group, term)
    residual_values : ndarray (chain, draw, K)
        Draws of the structure's reported parameters, in ``residual_labels`` order.
    """

    rd: ResidualDesign | None = field(default=None, repr=False)
    residual_labels: list = field(default_factory=list)
    residual_values: np.ndarray | None = field(default=None, repr=False)
    # per by-level: the structure's parameters (S, n_params) and first-visit SD (S,)
    residual_params: list = field(default_factory=list, repr=False)
    residual_scale: list = field(default_factory=list, repr=False)

    def _param_draws(self) -> tuple[list[dict], np.ndarray]:
        comp = self.components_
        rows = [{"effect": "fixed", "group": None, "term": n} for n in self.design.xnames]
        cols = [np.asarray(comp.beta, float)[:, j] for j in range(self.design.p)]
        sds_cors = [cov_to_sd_cor(cv) for cv in comp.cov]
        for rp in ran_par_labels(self.design):
            if rp.term_index < 0:
                continue  # the structure's rows replace sd__Observation
            sd, cor = sds_cors[rp.term_index]
            rows.append({"effect": "ran_pars", "group": rp.group, "term": rp.term})
            cols.append(sd[:, rp.i] if rp.kind == "sd" else cor[:, rp.i, rp.j])
        flat = self.residual_values.reshape(-1, self.residual_values.shape[-1])
        for k, (group, term) in enumerate(self.residual_labels):
            rows.append({"effect": "ran_pars", "group": group, "term": term})
            cols.append(flat[:, k])
        return rows, np.stack(cols, axis=-1).reshape(self.nchains, self.ndraws, -1)

    def tidy(self, effects: str = "all", interval: float = 0.95) -> pd.DataFrame:
        """Posterior summary: the REML fit's rows and columns, plus conf_low, conf_high
        (equal-tailed ``interval``), rhat, ess_bulk, ess_tail.

        ``estimate`` is the posterior mean and ``std_error`` the posterior SD; statistic, df
        and p_value are NaN.
        """
        check_effects(effects)
        if not (isinstance(interval, (int, float)) and 0 < interval < 1):
            raise ArgumentError(f"interval must be between 0 and 1 (e.g. 0.95), got {interval!r}")
        rows, draws = self._param_draws()
        flat = draws.reshape(-1, draws.shape[-1])
        lo, hi = _interval(flat, interval)
        diag = self._diagnostics
        df = pd.DataFrame(
            {
                "effect": [r["effect"] for r in rows],
                # None (not NaN) for the fixed rows, as the REML fit's table has it
                "group": pd.Series([r["group"] for r in rows], dtype=object),
                "term": [r["term"] for r in rows],
            }
        )
        df["estimate"] = flat.mean(axis=0)
        df["std_error"] = flat.std(axis=0, ddof=1)
        for c in ("statistic", "df", "p_value"):
            df[c] = np.nan
        df["conf_low"], df["conf_high"] = lo, hi
        for c in ("rhat", "ess_bulk", "ess_tail"):
            df[c] = diag[c].to_numpy()
        if effects != "all":
            df = df[df["effect"] == effects].reset_index(drop=True)
        return df[TIDY_COLUMNS + ["conf_low", "conf_high", "rhat", "ess_bulk", "ess_tail"]]

    def residual_cor(self, subject) -> pd.DataFrame:
        """Posterior mean of the residual correlation matrix at one subject's visits."""
        cov = self.residual_cov(subject).to_numpy()
        sd = np.sqrt(np.diag(cov))
        lab = self.rd.row_labels(self.rd.subject_rows(subject))
        return pd.DataFrame(cov / np.outer(sd, sd), index=lab, columns=lab)

    def residual_cov(self, subject) -> pd.DataFrame:
        """Posterior mean of the residual covariance matrix at one subject's visits (rows
        and columns labelled by the visits)."""
        from .layout import level_layouts

        rd = self.rd
        rows = rd.subject_rows(subject)
        lv = int(rd.by_codes[rows[0]])
        cov = level_layouts(rd)[lv].cov
        pos = rd.times[rows] if rd.times is not None else rd.time_pos[rows]
        u, sd0 = self.residual_params[lv], self.residual_scale[lv]
        acc = sum(sd0[i] ** 2 * cov.matrix_at(u[i], pos) for i in range(len(sd0)))
        lab = rd.row_labels(rows)
        return pd.DataFrame(acc / len(sd0), index=lab, columns=lab)

    # ------------------------------------------------------------------ saving
    def _saved_state(self) -> tuple[str, dict, dict, object]:
        """The structure, priors, sampler settings, draws and InferenceData (see
        :mod:`bayesmixed.bayes.residual.saving`)."""
        from .saving import saved_state

        return saved_state(self)

    def save(self, path) -> Path:
        """Save the posterior to one file that :func:`bayesmixed.load` reads back, in any
        process (as :meth:`bayesmixed.results.fit.Fit.save`; the data include the
        structure's subject, visit and by columns, and loading recomputes the per-subject
        log-likelihood from the saved draws).

        Examples
        --------
        >>> import numpy as np, pandas as pd, bayesmixed as bm, tempfile, os
        >>> rng = np.random.default_rng(8)
        >>> d = pd.DataFrame({"id": np.repeat(np.arange(20), 3), "visit": ["a", "b", "c"] * 20})
        >>> d["y"] = rng.normal(size=60)
        >>> m = bm.MixedModel("y ~ 1", d, residual=bm.residual.AR1(time="visit", group="id"))
        >>> post = m.sample(draws=20, tune=20, chains=1, random_seed=1, progressbar=False,
        ...                 check=False)
        >>> back = bm.load(post.save(os.path.join(tempfile.mkdtemp(), "ar1.posterior.bmfit")))
        >>> back.tidy().equals(post.tidy())
        True
        """
        from ...results.archive import write_archive
        from .saving import saved_frame

        if not isinstance(path, (str, Path)):
            raise ArgumentError(
                f"path must be a file name (str or Path), got {type(path).__name__}"
            )
        kind, state, arrays, idata = self._saved_state()
        return write_archive(
            path, kind, self.design.spec.formula, saved_frame(self), state, arrays, idata
        )
