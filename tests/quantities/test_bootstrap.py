"""Parametric bootstrap of bm.anova (quantities/bootstrap.py): nesting, seeds, local = Dask."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayesmixed as bm
from bayesmixed.errors import ArgumentError
from bayesmixed.quantities.bootstrap import check_nested, lrt_bootstrap


@pytest.fixture(scope="module")
def dyestuff():
    d = bm.datasets.load("Dyestuff")
    m0 = bm.MixedModel("Yield ~ 1", d).fit_reml()
    m1 = bm.MixedModel("Yield ~ 1 + (1 | Batch)", d).fit_reml(reml=False)
    return m0, m1


def _anova(*fits, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bm.anova(*fits, **kw)


def test_p_value_formula_and_seed(dyestuff):
    m0, m1 = dyestuff
    tab = _anova(m0, m1, bootstrap=40, random_seed=3)
    p, se = tab["p_bootstrap"].iloc[1], tab["p_bootstrap_se"].iloc[1]
    # (1 + #extremes) / (N + 1) takes values k / 41
    assert (p * 41) == pytest.approx(round(p * 41))
    assert se == pytest.approx(np.sqrt(p * (1 - p) / 40))
    again = _anova(m0, m1, bootstrap=40, random_seed=3)
    assert again["p_bootstrap"].iloc[1] == p
    assert np.isnan(tab["p_bootstrap"].iloc[0])
    # the tests' own columns are unchanged by the bootstrap
    plain = _anova(m0, m1)
    assert "p_bootstrap" not in plain
    np.testing.assert_array_equal(plain["statistic"], tab["statistic"])


def test_extreme_statistic_gives_smallest_p():
    d = bm.datasets.load("sleepstudy")
    m0 = bm.MixedModel("Reaction ~ 1 + (1 | Subject)", d).fit_reml(reml=False)
    m1 = bm.MixedModel("Reaction ~ Days + (1 | Subject)", d).fit_reml(reml=False)
    p, se, n = lrt_bootstrap(m0, m1, 2 * (m1.loglik - m0.loglik), 20, random_seed=1)
    assert n == 20 and p == pytest.approx(1 / 21)


def test_not_nested_is_refused(dyestuff):
    d = bm.datasets.load("sleepstudy")
    a = bm.MixedModel("Reaction ~ Days + (1 | Subject)", d).fit_reml()
    b = bm.MixedModel("Reaction ~ 1 + (Days | Subject)", d).fit_reml()
    with pytest.raises(ArgumentError, match="nested models.*lacks Days"):
        _anova(a, b, bootstrap=10)
    other = d.assign(Reaction=d["Reaction"] + 1.0)
    c = bm.MixedModel("Reaction ~ Days + (Days | Subject)", other).fit_reml()
    with pytest.raises(ArgumentError, match="different responses"):
        check_nested(a, c)
    m0, m1 = dyestuff
    with pytest.raises(ArgumentError, match=r"lacks \(\(Intercept\) \| Batch\)"):
        check_nested(m1, m0)
    with pytest.raises(ArgumentError, match="bootstrap must be"):
        _anova(m0, m1, bootstrap=0)


@pytest.mark.slow  # starts a Dask LocalCluster
def test_same_seed_same_p_locally_and_on_dask(dyestuff):
    distributed = pytest.importorskip("distributed")
    m0, m1 = dyestuff
    local = _anova(m0, m1, bootstrap=30, random_seed=9)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        dask = _anova(m0, m1, bootstrap=30, random_seed=9, client=client)
    assert dask["p_bootstrap"].iloc[1] == local["p_bootstrap"].iloc[1]
