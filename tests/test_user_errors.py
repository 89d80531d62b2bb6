"""The audit of user-reachable entries: each bad input raises a ``BayesMixedError`` naming the
argument, column, term or key at fault (and, where there is one, the fix) — never a bare
``ValueError``/``KeyError``/``LinAlgError`` or a sampler's internal error.

One row per (entry, bad input, expected error class, a fragment the message must contain).
Marginal means, sensitivity grids, models/ specs and the command line get their rows when
they exist.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.bayes import Prior
from bayesmixed.errors import (
    ArgumentError,
    ColumnError,
    DataError,
    FormulaError,
    IdentifiabilityError,
    PriorError,
    SamplerError,
    StorageError,
)

SLEEP = bm.datasets.load("sleepstudy")
F = "Reaction ~ Days + (Days | Subject)"


def _with(**cols):
    d = SLEEP.copy()
    d["Days"] = d["Days"].astype(float)
    for k, v in cols.items():
        if callable(v):
            v(d)
        else:
            d[k] = v
    return d


def _set(row, col, value):
    def f(d):
        d.loc[row, col] = value

    return f


def _long():
    from conftest import load_data

    return load_data("longitudinal_unbalanced")


def _long_dup():
    d = _long()
    return pd.concat([d, d.iloc[[0]]])


def _long_one_visit():
    return _long().assign(visit="T0").drop_duplicates(["id"])


def _long_two_subjects():
    d = _long()
    return d[d["id"].isin(d["id"].unique()[:2])]


def _model():
    return bm.MixedModel(F, SLEEP)


def _fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _model().fit_reml()


CASES = [
    # MixedModel: formula, data
    ("formula not a string", lambda: bm.MixedModel(3, SLEEP), FormulaError, "must be a string"),
    ("formula without ~", lambda: bm.MixedModel("Reaction", SLEEP), FormulaError, "'~'"),
    ("unclosed bar", lambda: bm.MixedModel("Reaction ~ (1 |", SLEEP), FormulaError, "unmatched"),
    ("data an array", lambda: bm.MixedModel(F, SLEEP.values), DataError, "pandas DataFrame"),
    ("data empty", lambda: bm.MixedModel(F, SLEEP.iloc[:0]), DataError, "no rows"),
    ("misspelt column", lambda: bm.MixedModel("Reaction ~ Dayz", SLEEP), ColumnError, "'Days'"),
    (
        "misspelt group",
        lambda: bm.MixedModel("Reaction ~ Days + (1 | Subj)", SLEEP),
        ColumnError,
        "'Subject'",
    ),
    (
        "infinite response",
        lambda: bm.MixedModel(F, _with(Reaction=_set(3, "Reaction", np.inf))),
        DataError,
        "'Reaction'",
    ),
    (
        "infinite predictor",
        lambda: bm.MixedModel(F, _with(Days=_set(3, "Days", np.inf))),
        DataError,
        "'Days'",
    ),
    (
        "all responses missing",
        lambda: bm.MixedModel(F, _with(Reaction=np.nan)),
        DataError,
        "no complete rows",
    ),
    (
        "single-level grouping factor",
        lambda: bm.MixedModel(F, _with(Subject="a")),
        IdentifiabilityError,
        "only 1 level",
    ),
    ("na_action unknown", lambda: bm.MixedModel(F, SLEEP, na_action="omit"), DataError, "'drop'"),
    # residual structures
    (
        "residual structure given as text",
        lambda: bm.MixedModel(F, SLEEP, residual="AR1"),
        ArgumentError,
        "bm.residual.AR1",
    ),
    (
        "residual structure class not called",
        lambda: bm.MixedModel(F, SLEEP, residual=bm.residual.UN),
        ArgumentError,
        "call it with the columns",
    ),
    (
        "structure column not a name",
        lambda: bm.residual.UN(time=3, group="id"),
        ArgumentError,
        "time",
    ),
    (
        "structure group misspelt",
        lambda: bm.MixedModel(F, SLEEP, residual=bm.residual.AR1(time="Days", group="Subjec")),
        ColumnError,
        "'Subject'",
    ),
    (
        "time repeated within a subject",
        lambda: bm.MixedModel(
            "y ~ visit", _long_dup(), residual=bm.residual.UN(time="visit", group="id")
        ),
        DataError,
        "more than once",
    ),
    (
        "time with one level",
        lambda: bm.MixedModel(
            "y ~ arm", _long_one_visit(), residual=bm.residual.AR1(time="visit", group="id")
        ),
        DataError,
        "one level",
    ),
    (
        "CAR1 on a categorical time",
        lambda: bm.MixedModel(
            "y ~ visit", _long(), residual=bm.residual.CAR1(time="visit", group="id")
        ),
        ColumnError,
        "numeric time",
    ),
    (
        "UN with more parameters than data",
        lambda: bm.MixedModel(
            "y ~ 1", _long_two_subjects(), residual=bm.residual.UN(time="visit", group="id")
        ).fit_reml(),
        IdentifiabilityError,
        "fewer parameters",
    ),
    # fit_reml
    ("reml not a bool", lambda: _model().fit_reml(reml="yes"), ArgumentError, "reml must be"),
    # sample: arguments and sampler settings
    ("draws zero", lambda: _model().sample(draws=0), ArgumentError, "draws"),
    ("draws fractional", lambda: _model().sample(draws=10.5), ArgumentError, "draws"),
    ("chains negative", lambda: _model().sample(chains=-1), ArgumentError, "chains"),
    ("cores zero", lambda: _model().sample(cores=0), ArgumentError, "cores"),
    ("target_accept above 1", lambda: _model().sample(target_accept=1.5), ArgumentError, "target"),
    ("random_seed text", lambda: _model().sample(random_seed="a"), ArgumentError, "random_seed"),
    ("unknown sampler", lambda: _model().sample(sampler="stan"), SamplerError, "nutpie"),
    (
        "unknown parameterization",
        lambda: _model().sample(parameterization="weird"),
        ArgumentError,
        "parameterization",
    ),
    ("misspelt keyword", lambda: _model().sample(draw=100), ArgumentError, "did you mean 'draws'"),
    ("nutpie's seed name", lambda: _model().sample(seed=1), ArgumentError, "random_seed"),
    (
        "PyMC's keyword for nutpie",
        lambda: _model().sample(max_treedepth=5),
        ArgumentError,
        "'maxdepth'",
    ),
    (
        "misspelt PyMC keyword",
        lambda: _model().sample(sampler="pymc", max_treedeph=5),
        ArgumentError,
        "'max_treedepth'",
    ),
    # priors
    ("prior family unknown", lambda: Prior("halfnorm", sigma=1), PriorError, "unknown prior"),
    ("prior parameter unknown", lambda: Prior("halfnormal", mu=1), PriorError, "no parameter"),
    ("prior scale negative", lambda: Prior("halfnormal", sigma=-1), PriorError, "must be > 0"),
    ("prior scale zero", lambda: Prior("exponential", lam=0), PriorError, "must be > 0"),
    ("prior scale NaN", lambda: Prior("normal", sigma=np.nan), PriorError, "finite"),
    ("prior scale text", lambda: Prior("normal", sigma="a"), PriorError, "finite"),
    ("uniform reversed", lambda: Prior("uniform", lower=2, upper=1), PriorError, "below"),
    ("gamma both forms", lambda: Prior("gamma", alpha=1, mu=1), PriorError, "either"),
    ("priors not a dict", lambda: _model().sample(priors=[1]), PriorError, "dict"),
    (
        "prior for no parameter",
        lambda: _model().sample(priors={"sd__Dayz|Subject": Prior("halfnormal", sigma=1)}),
        PriorError,
        "sd__Days|Subject",
    ),
    (
        "Normal prior on an SD",
        lambda: _model().sample(priors={"sd__Days|Subject": Prior("normal", sigma=1)}),
        PriorError,
        "standard deviation",
    ),
    ("prior not a Prior", lambda: _model().sample(priors={"sigma": 3}), PriorError, "Prior("),
    # tables and predictions of a fit
    ("tidy effects unknown", lambda: _fit().tidy(effects="foo"), ArgumentError, "effects"),
    (
        "tidy conf_level above 1",
        lambda: _fit().tidy(conf_int=True, conf_level=1.5),
        ArgumentError,
        "conf_level",
    ),
    ("ddf unknown", lambda: _fit().tidy(ddf="KR2"), ArgumentError, "Kenward-Roger"),
    ("icc ci above 1", lambda: _fit().icc(ci=2), ArgumentError, "ci"),
    (
        "predict without a column",
        lambda: _fit().predict(SLEEP.drop(columns="Days")),
        ColumnError,
        "'Days'",
    ),
    ("predict on a list", lambda: _fit().predict([1, 2]), DataError, "DataFrame"),
    ("contrast of wrong width", lambda: _fit().contest([1, 2, 3]), ArgumentError, "2 columns"),
    ("anova type 2", lambda: _fit().anova(type=2), ArgumentError, "type=2"),
    # model comparison
    ("anova of one fit", lambda: bm.anova(_fit()), ArgumentError, "two or more"),
    ("anova of a number", lambda: bm.anova(_fit(), 3), ArgumentError, "not a fit"),
    ("compare in the wrong order", lambda: bm.compare(_fit(), _fit()), ArgumentError, "BayesFit"),
    # data sets, save and load
    ("unknown data set", lambda: bm.datasets.load("sleep"), ArgumentError, "sleepstudy"),
    ("save to a number", lambda: _fit().save(3), ArgumentError, "path"),
    ("load a missing file", lambda: bm.load("/nonexistent/x.bmfit"), StorageError, "no saved fit"),
]


@pytest.mark.parametrize("entry,call,error,fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_named(entry, call, error, fragment):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.BayesMixedWarning)
        with pytest.raises(error) as info:
            call()
    assert isinstance(info.value, bm.BayesMixedError) and isinstance(info.value, ValueError)
    assert fragment in str(info.value)


def test_every_warning_is_a_bayesmixed_warning():
    import inspect

    from bayesmixed import errors

    warns = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, Warning)]
    assert warns and all(issubclass(c, bm.BayesMixedWarning) for c in warns)


def _trial_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trial = bm.datasets.primer("longitudinal", seed=1)
        return bm.MixedModel("score ~ visit * arm + age + (1 | id)", trial).fit_reml()


def _dyestuff():
    return bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))


HALF = Prior("halfnormal", sigma=1)

MORE_CASES = [
    # marginal means and contrasts
    (
        "emmeans of an unknown factor",
        lambda: _trial_fit().emmeans("vist"),
        ArgumentError,
        "arm, visit",
    ),
    ("emmeans of a covariate", lambda: _trial_fit().emmeans("age"), ArgumentError, "numeric"),
    (
        "custom contrast of the wrong length",
        lambda: _trial_fit().contrast("visit", method={"x": [1, -1]}),
        ArgumentError,
        "one coefficient per mean",
    ),
    (
        "unknown contrast method",
        lambda: _trial_fit().contrast("visit", method="pairwse"),
        ArgumentError,
        "pairwise",
    ),
    (
        "unknown adjustment",
        lambda: _trial_fit().contrast("visit", adjust="tukye"),
        ArgumentError,
        "tukey",
    ),
    (
        "unknown emmeans ddf",
        lambda: _trial_fit().emmeans("visit", ddf="kr2"),
        ArgumentError,
        "kenward",
    ),
    (
        "unknown confint method",
        lambda: _trial_fit().confint(method="wald2"),
        ArgumentError,
        "profile",
    ),
    # sensitivity grids, calibration, power, bootstrap
    (
        "grid prior for no parameter",
        lambda: bm.sensitivity(_dyestuff(), priors={"sd__x|Batch": [HALF]}),
        PriorError,
        "sd__(Intercept)|Batch",
    ),
    ("empty grid", lambda: bm.sensitivity(_dyestuff(), priors={}), ArgumentError, "non-empty"),
    (
        "Normal prior on an SD in a grid",
        lambda: bm.sensitivity(
            _dyestuff(), priors={"sd__(Intercept)|Batch": [Prior("normal", sigma=1)]}
        ),
        PriorError,
        "standard deviation",
    ),
    (
        "client of the wrong type",
        lambda: bm.sensitivity(_dyestuff(), priors={"sd__(Intercept)|Batch": [HALF]}, client=3),
        ArgumentError,
        "distributed.Client",
    ),
    ("SBC without simulations", lambda: bm.sbc(_dyestuff(), n_sims=0), ArgumentError, "n_sims"),
    (
        "power cell with one cluster",
        lambda: bm.power(
            "y ~ x + (1 | g)",
            design={"x": ("observation", "normal")},
            effects={"x": 1},
            tau=1,
            sigma=1,
            n_clusters=[1],
            cluster_size=[5],
        ),
        ArgumentError,
        "at least 2 clusters",
    ),
    (
        "bootstrap of fits to different data",
        lambda: bm.anova(_fit(), _dyestuff().fit_reml(), bootstrap=10),
        ArgumentError,
        "same observations",
    ),
]


@pytest.mark.parametrize("entry,call,error,fragment", MORE_CASES, ids=[c[0] for c in MORE_CASES])
def test_bad_input_is_named_beyond_fitting(entry, call, error, fragment):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.BayesMixedWarning)
        with pytest.raises(error) as info:
            call()
    assert isinstance(info.value, bm.BayesMixedError)
    assert fragment in str(info.value)


def test_bad_model_spec_names_file_and_key(tmp_path):
    from bayesmixed.errors import SpecError

    path = tmp_path / "bad.toml"
    path.write_text(
        'description = "x"\nformula = "Reaction ~ 1"\ndata = {dataset = "sleepstudy"}\n'
        '[sample]\nsampler = "stan"\n'
    )
    with pytest.raises(SpecError, match=r"bad.toml.*sampler.*nutpie"):
        bm.load_spec(path)
