"""Formula syntax beyond the main fixtures, against lme4 + lmerTest (tests/reference/
make_formula_zoo.R): factor × numeric interactions, ``g:h``, ``h/g``, ``scale()``, ``I(x^2)``,
``log()``, ``0 + f``, a factor inside a bar and ``||`` beside a crossed term, by REML and ML;
and nlme's Orthodont and BodyWeight as bundled (BodyWeight's ``Diet`` is a factor predictor).

Tolerances (DEVELOPERS.md): fixed effects and standard errors 1e-5 relative, Satterthwaite df,
θ and SDs/correlations 1e-4 relative (absolute 1e-6 near zero), logLik 1e-4 absolute. The R
fits are converged tightly (see the R script), so these compare the statistics, not two
optimizers' stopping points.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import load_data, load_fixture

import bayesmixed as bm

FITS = load_fixture("formula_zoo")["fits"]


@pytest.mark.parametrize(
    "ref", FITS, ids=[f"{r['data']}:{r['formula']}|{'REML' if r['REML'] else 'ML'}" for r in FITS]
)
def test_formula_matches_lme4(ref):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bm.MixedModel(ref["formula"], load_data(ref["data"])).fit_reml(reml=ref["REML"])
    fixed = fit.tidy(effects="fixed")
    assert fixed["term"].tolist() == ref["term"]
    np.testing.assert_allclose(fixed["estimate"], ref["estimate"], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(fixed["std_error"], ref["std_error"], rtol=1e-5)
    np.testing.assert_allclose(fixed["df"], ref["df"], rtol=1e-4)
    np.testing.assert_allclose(fit.theta, ref["theta"], rtol=1e-4, atol=1e-6)
    ours = np.sort(fit.tidy(effects="ran_pars")["estimate"].to_numpy())
    np.testing.assert_allclose(ours, np.sort(ref["sdcor"]), rtol=1e-4, atol=1e-6)
    assert abs(fit.glance()["logLik"].iloc[0] - ref["logLik"]) < 1e-4
