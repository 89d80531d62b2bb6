"""The sampler's diagnostics reach the user: ``BayesFit.glance()`` reports divergences, R-hat,
bulk ESS and the number of Pareto k values above 0.7, and ``BayesFit.check()`` warns about each
with its remedy (``SamplingWarning`` for the sampler's run, ``LooWarning`` for PSIS-LOO).

Each case is built to trigger one diagnostic with a short run: a handful of draws (low ESS,
chains that disagree), the centred parameterization of a model whose between-group SD is near
zero (Dyestuff2: the funnel gives divergences), and sleepstudy, some of whose observations have
Pareto k above 0.7 under the conditional log-likelihood.
"""

from __future__ import annotations

import warnings

import pytest

import bayesmixed as bm
from bayesmixed.errors import LooWarning, SamplingWarning

pytestmark = pytest.mark.slow


def _sample(data: str, formula: str, **kwargs):
    model = bm.MixedModel(formula, bm.datasets.load(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.sample(progressbar=False, **kwargs)


def _check(post):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        msgs = post.check()
    return msgs, [(w.category, str(w.message)) for w in caught]


@pytest.fixture(scope="module")
def short_run():
    return _sample(
        "sleepstudy",
        "Reaction ~ Days + (Days | Subject)",
        draws=20,
        tune=20,
        chains=2,
        random_seed=3,
    )


def test_few_draws_low_ess_and_rhat(short_run):
    g = short_run.glance().iloc[0]
    assert g["min_ess_bulk"] < 400
    msgs, caught = _check(short_run)
    ess = [m for c, m in caught if c is SamplingWarning and "bulk ESS below 400" in m]
    assert ess and "increase draws" in ess[0]
    # 20 draws per chain: the chains have not mixed (max R-hat 1.12 with this seed)
    assert g["max_rhat"] > 1.01
    rhat = [m for c, m in caught if c is SamplingWarning and "R-hat above 1.01" in m]
    assert rhat and "draw more" in rhat[0]
    assert sorted(msgs) == sorted(m for _, m in caught)


def test_centred_small_tau_diverges():
    post = _sample(
        "Dyestuff2",
        "Yield ~ 1 + (1 | Batch)",
        draws=300,
        tune=300,
        chains=2,
        parameterization="centered",
        random_seed=1,
    )
    assert post.parameterization == "centered"
    g = post.glance().iloc[0]
    assert g["divergences"] > 0
    _, caught = _check(post)
    div = [m for c, m in caught if c is SamplingWarning and "divergent transitions" in m]
    assert div and "parameterization='noncentered'" in div[0] and "target_accept" in div[0]
    assert div[0].startswith(f"{int(g['divergences'])} divergent")


def test_sleepstudy_pareto_k_warns_loo():
    post = _sample(
        "sleepstudy",
        "Reaction ~ Days + (Days | Subject)",
        draws=500,
        tune=500,
        chains=2,
        random_seed=1,
    )
    g = post.glance().iloc[0]
    assert g["pareto_k_high"] > 0
    _, caught = _check(post)
    loo = [m for c, m in caught if c is LooWarning]
    assert len(loo) == 1
    assert f"{int(g['pareto_k_high'])} of 180 Pareto k values are above 0.7" in loo[0]
    assert "k-fold cross-validation" in loo[0]
    # the LOO warning is about the model and data, not the sampler: no SamplingWarning for it
    assert not [m for c, m in caught if c is SamplingWarning and "Pareto" in m]
