"""Residual structures in the Bayesian engine, without sampling: priors and the graph.

The PyMC model's marginal log-likelihood must equal the dense per-subject MvNormal density
built from the NumPy structures (bayesmixed.covariance.residual) at any parameter values,
for every structure, balanced and unbalanced data, numeric times, by= levels and a random
intercept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

import bayesmixed as bm
from bayesmixed.bayes.priors import Prior
from bayesmixed.bayes.residual import resolve_residual_priors
from bayesmixed.bayes.residual.graph import build_residual_model
from bayesmixed.errors import PriorError

DATA = Path(__file__).resolve().parents[1] / "reference" / "data"


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"longitudinal_{name}.csv")


def _model(structure: str, formula="y ~ visit * arm", data="balanced", by=None, time="visit"):
    spec = getattr(bm.residual, structure)(time=time, group="id", by=by)
    return bm.MixedModel(formula, _data(data), residual=spec)


def _values(model, point, names):
    import pymc as pm

    outs = model.replace_rvs_by_values([model[n] for n in names])
    fn = pm.pytensorf.compile(model.value_vars, outs, on_unused_input="ignore")
    return fn(*[point[v.name] for v in model.value_vars])


def _dense_loglik(m, g, vals) -> float:
    """Σ_i log N(r_i | 0, Z_i G Z_i' + R_i) from the NumPy structures."""
    design, rd, info = m.design, m.residual_design, g.info
    beta_c = np.array([vals[n] for n in info.fixed_rv])
    r = design.y - (design.X - info.xmeans) @ beta_c
    out = 0.0
    for s in rd.subjects:
        rows = rd.subject_rows(s)
        lay = g.layouts[int(rd.by_codes[rows[0]])]
        sds = np.array([vals[k] for k in lay.sd_keys])
        rhos = np.array([vals[k] for k in lay.rho_keys])
        cpcs = 2 * np.asarray(vals[lay.cor_key]) - 1 if lay.cor_key else np.zeros(0)
        pos = rd.times[rows] if rd.times is not None else rd.time_pos[rows]
        V = sds[0] ** 2 * lay.cov.matrix_at(lay.unconstrained(sds, rhos, cpcs), pos)
        for ti, t in enumerate(design.terms):
            sd = np.array([vals[n] for n in info.sd_rv[ti]])
            same = t.codes[rows][:, None] == t.codes[rows][None, :]
            V = V + same * (t.X[rows] @ np.diag(sd**2) @ t.X[rows].T)
        out += multivariate_normal(np.zeros(len(rows)), V).logpdf(r[rows])
    return float(out)


CASES = [
    ("CS", "y ~ visit * arm", "unbalanced", None, "visit"),
    ("CSH", "y ~ visit * arm", "balanced", None, "visit"),
    ("AR1", "y ~ visit * arm", "balanced", None, "visit"),
    ("ARH1", "y ~ visit * arm", "unbalanced", None, "visit"),
    ("TOEP", "y ~ visit * arm", "unbalanced", None, "visit"),
    ("TOEPH", "y ~ visit * arm", "balanced", None, "visit"),
    ("UN", "y ~ visit * arm", "unbalanced", "arm", "visit"),
    ("AD", "y ~ visit * arm", "unbalanced", None, "visit"),
    ("CAR1", "y ~ visit * arm", "times", None, "t"),
    ("AR1", "y ~ visit * arm", "times", None, "week"),
    ("AR1", "y ~ visit * arm + (1 | id)", "unbalanced", None, "visit"),
    ("CS", "y ~ visit + (1 | id)", "balanced", "arm", "visit"),
]


@pytest.mark.parametrize("structure, formula, data, by, time", CASES)
def test_graph_loglik_equals_dense_mvnormal(structure, formula, data, by, time):
    m = _model(structure, formula, data, by, time)
    ps = resolve_residual_priors(m.design, m.residual_design, None)
    model, g = build_residual_model(m.design, m.residual_design, ps)
    rng = np.random.default_rng(1)
    point = {
        k: v + 0.4 * rng.standard_normal(np.shape(v)) for k, v in model.initial_point().items()
    }
    lp = float(_values(model, point, ["marginal_loglik"])[0])
    vals = dict(zip(g.names, _values(model, point, g.names), strict=True))
    assert lp == pytest.approx(_dense_loglik(m, g, vals), rel=1e-10, abs=1e-8)


def test_pymc_model_names_the_residual_parameters():
    m = _model("UN")
    model = m.pymc_model()
    names = set(model.named_vars)
    assert {"sd__T0|Residual", "sd__T9|Residual", "cor|Residual", "marginal_loglik"} <= names
    m = _model("AR1", by="arm")
    names = set(m.pymc_model().named_vars)
    assert {"rho|Residual:arm=control", "rho|Residual:arm=treated"} <= names


# ---------------------------------------------------------------------- priors
def _priors(structure="AR1", priors=None, **kw):
    m = _model(structure, **kw)
    return resolve_residual_priors(m.design, m.residual_design, priors)


def test_default_priors_and_summary():
    tab = _priors("CS").table()
    rows = dict(zip(tab["parameter"], tab["prior"], strict=True))
    assert "sigma" not in rows
    assert rows["rho|Residual"] == "beta(alpha=2, beta=2) on (-0.3333, 1)"
    assert rows["sd__Observation|Residual"].startswith("halfstudentt(nu=3")
    car = _priors("CAR1", data="times", time="t")
    assert car.bounds["rho|Residual"] == (0.0, 1.0)
    un = _priors("UN").table()
    assert un.loc[un["parameter"] == "cor|Residual", "prior"].item() == "lkj(eta=2)"
    toep = _priors("TOEP")
    assert list(toep.bounds) == [
        "pacf__lag1|Residual",
        "pacf__lag2|Residual",
        "pacf__lag3|Residual",
    ]


def test_priors_overridable_by_name_and_class():
    ps = _priors(
        "UN",
        {
            "sd__T3|Residual": Prior("halfnormal", sigma=5.0),
            "sigma": Prior("halfnormal", sigma=3.0),
            "cor|Residual": Prior("lkj", eta=4.0),
        },
    )
    assert ps.residual["sd__T3|Residual"] == Prior("halfnormal", sigma=5.0)
    assert ps.residual["sd__T0|Residual"] == Prior("halfnormal", sigma=3.0)
    assert ps.source["sd__T3|Residual"] == "user"
    assert ps.source["sd__T0|Residual"] == "class 'sigma'"
    assert ps.residual["cor|Residual"].params["eta"] == 4.0
    ps = _priors("AR1", {"rho": Prior("uniform", lower=0.0, upper=1.0)})
    assert ps.residual["rho|Residual"].dist == "uniform"
    assert ps.source["rho|Residual"] == "class 'rho'"
    ps = _priors(
        "AR1",
        {"rho": Prior("beta", alpha=3, beta=3), "rho|Residual": Prior("beta", alpha=5, beta=5)},
    )
    assert ps.residual["rho|Residual"].params["alpha"] == 5
    ps = _priors("AR1", {"Intercept": Prior("normal", mu=20, sigma=5)}, formula="y ~ arm")
    assert ps.fixed["(Intercept)"] == Prior("normal", mu=20, sigma=5)
    tab = ps.table()
    assert tab.loc[tab["parameter"] == "(Intercept)", "source"].item() == "user"


def test_bad_prior_names_and_families_are_rejected():
    with pytest.raises(PriorError, match="valid names are: .*rho\\|Residual"):
        _priors("AR1", {"rho|Resid": Prior("beta", alpha=2, beta=2)})
    with pytest.raises(PriorError, match="sd__T0\\|Residual"):
        _priors("UN", {"sd__T7|Residual": Prior("halfnormal", sigma=1)})
    with pytest.raises(PriorError, match="correlation parameter"):
        _priors("AR1", {"rho|Residual": Prior("normal", mu=0, sigma=1)})
    with pytest.raises(PriorError, match="within"):
        _priors("CS", {"rho": Prior("uniform", lower=-1, upper=1)})
    with pytest.raises(PriorError, match="correlation matrix"):
        _priors("UN", {"cor|Residual": Prior("beta", alpha=2, beta=2)})
    with pytest.raises(PriorError, match="standard deviation"):
        _priors("UN", {"sd__T3|Residual": Prior("normal", mu=0, sigma=1)})
    with pytest.raises(PriorError, match="beta prior is only valid"):
        _priors("AR1", {"armtreated": Prior("beta", alpha=2, beta=2)}, formula="y ~ arm")
