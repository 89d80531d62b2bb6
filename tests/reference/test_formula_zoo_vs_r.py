"""Formula syntax beyond the main fixtures, against lme4 + lmerTest (tests/reference/
make_formula_zoo.R): factor × numeric interactions, ``g:h``, ``h/g``, ``scale()``, ``I(x^2)``,
``log()``, ``0 + f``, a factor inside a bar and ``||`` beside a crossed term, by REML and ML;
and nlme's Orthodont and BodyWeight as bundled (BodyWeight's ``Diet`` is a factor predictor).

What is computed and where an optimizer stops are tested apart. The statistics are computed at
lme4's own θ (stored in the fixture), with tolerances a decade above the largest relative
difference measured there (``TOL``; see tests/reference/README.md). Whether both optimizers
found the same optimum is ``test_optimum_matches_lme4`` (see ``conftest.assert_same_optimum``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_close, assert_same_optimum, fit_at_theta, load_data, load_fixture

import bayesmixed as bm

FITS = load_fixture("formula_zoo")["fits"]
IDS = [f"{r['data']}:{r['formula']}|{'REML' if r['REML'] else 'ML'}" for r in FITS]

# the largest relative difference measured at lme4's θ (BM_MEASURE=1) × 10, rounded up
TOL = {
    "estimate": 1e-10,  # measured 2.0e-12 (relative to the largest |estimate|)
    "std_error": 1e-10,  # 2.6e-12
    "df": 1e-5,  # 3.4e-7: lmerTest's numerical derivatives
    "sdcor": 1e-10,  # 1.9e-12
    "loglik": 1e-11,  # 5.7e-13
}


@pytest.mark.parametrize("ref", FITS, ids=IDS)
def test_formula_matches_lme4(ref):
    fit = fit_at_theta(ref["formula"], ref["data"], ref["theta"], ref["REML"])
    fixed = fit.tidy(effects="fixed")
    assert fixed["term"].tolist() == ref["term"]
    est = np.asarray(ref["estimate"], dtype=float)
    assert_close("zoo.estimate", fixed["estimate"], est, TOL["estimate"], np.abs(est).max())
    assert_close("zoo.std_error", fixed["std_error"], ref["std_error"], TOL["std_error"])
    assert_close("zoo.df", fixed["df"], ref["df"], TOL["df"])
    ours = np.sort(fit.tidy(effects="ran_pars")["estimate"].to_numpy())
    # SDs and correlations together: relative to 1 at least (a correlation's scale)
    assert_close("zoo.sdcor", ours, np.sort(ref["sdcor"]), TOL["sdcor"], 1.0)
    assert_close("zoo.loglik", fit.glance()["logLik"].iloc[0], ref["logLik"], TOL["loglik"])


@pytest.mark.parametrize("ref", FITS, ids=IDS)
def test_optimum_matches_lme4(ref):
    """Our optimizer against lme4's bobyqa (rhoend = 1e-12)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bm.MixedModel(ref["formula"], load_data(ref["data"])).fit_reml(reml=ref["REML"])
    assert_same_optimum(fit, ref["theta"])
