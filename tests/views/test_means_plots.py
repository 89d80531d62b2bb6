"""Marginal-means and contrast plots render for REML, posterior and both tables (with and
without ``by``), are saved to tests/_artifacts/*.png, and refuse tables of another kind."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from draws_stub import perturbed_draws  # noqa: E402

import bayesmixed as bm  # noqa: E402
from bayesmixed.errors import ArgumentError  # noqa: E402
from bayesmixed.results.contrasts import posterior_contrast_table  # noqa: E402
from bayesmixed.results.emmeans import posterior_emmeans_table  # noqa: E402

VISITS = ["T0", "T3", "T6", "T9"]


def _data(seed=6, n_id=20):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_id):
        u = rng.normal(0, 3)
        arm = "treated" if i % 2 else "control"
        for j, t in enumerate(VISITS):
            y = 20 + 1.4 * j + (arm == "treated") * 0.8 * j + u + rng.normal(0, 2)
            rows.append({"id": f"s{i:02d}", "time": t, "arm": arm, "y": y})
    d = pd.DataFrame(rows)
    d["time"] = pd.Categorical(d["time"], VISITS)
    return d


class _Post:
    """Posterior-like draws around the REML fit, with the chains post.emmeans expects."""

    def __init__(self, fit):
        stub = perturbed_draws(fit, 400, seed=2)
        self.design, self.components, self.nchains = stub.design, stub.components, 2


@pytest.fixture(scope="module")
def fit():
    return bm.MixedModel("y ~ time * arm + (1 | id)", _data()).fit_reml()


@pytest.fixture(scope="module")
def post(fit):
    return _Post(fit)


def save(ax, artifacts, name):
    path = artifacts / f"{name}.png"
    ax.figure.savefig(path, dpi=80)
    plt.close(ax.figure)
    assert path.stat().st_size > 5_000
    return path


def _points(ax):
    """(x, y) of every series of estimates (circles, squares; not the error-bar caps)."""
    return [line.get_xydata() for line in ax.get_lines() if line.get_marker() in ("o", "s")]


def test_emmeans_reml_posterior_and_both_by_arm(artifacts, fit, post):
    reml = fit.emmeans("time", by="arm")
    bayes = posterior_emmeans_table(post, "time", by="arm")
    ax = bm.plots.emmeans(reml)
    assert [t.get_text() for t in ax.get_xticklabels()] == VISITS
    assert ax.get_xlabel() == "time" and "REML" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["control", "treated"]
    series = _points(ax)
    assert len(series) == 2
    np.testing.assert_allclose(series[0][:, 1], reml["estimate"][:4])
    save(ax, artifacts, "emmeans_reml_by")
    ax = bm.plots.emmeans(bayes)
    assert "posterior" in ax.get_title()
    save(ax, artifacts, "emmeans_post_by")
    ax = bm.plots.emmeans([reml, bayes])
    series = _points(ax)
    assert len(series) == 4
    # a small dodge: each series sits next to its visit, none on top of another
    xs = np.array([s[:, 0] for s in series])
    assert np.all(np.abs(xs - np.arange(4)) < 0.3)
    assert len(np.unique(xs[:, 0].round(6))) == 4
    legends = [c for c in ax.get_children() if isinstance(c, matplotlib.legend.Legend)]
    texts = {t.get_text() for leg in legends for t in leg.get_texts()}
    assert {"REML", "posterior", "control", "treated"} <= texts
    save(ax, artifacts, "emmeans_both_by")


def test_emmeans_without_by_and_x_choice(artifacts, fit, post):
    reml, bayes = fit.emmeans("time"), posterior_emmeans_table(post, "time")
    ax = bm.plots.emmeans(reml)
    assert ax.get_legend() is None
    save(ax, artifacts, "emmeans_reml")
    save(bm.plots.emmeans(bayes), artifacts, "emmeans_post")
    ax = bm.plots.emmeans([reml, bayes], labels=["REML (KR)", "NUTS"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["REML (KR)", "NUTS"]
    save(ax, artifacts, "emmeans_both")
    # arm along x, one line per visit, drawn on a given Axes
    _, given = plt.subplots()
    ax = bm.plots.emmeans(fit.emmeans("time", by="arm"), x="arm", by="time", ax=given)
    assert ax is given
    assert [t.get_text() for t in ax.get_xticklabels()] == ["control", "treated"]
    assert len(_points(ax)) == 4
    save(ax, artifacts, "emmeans_arm_by_time")


def test_contrasts_reml_posterior_and_both(artifacts, fit, post):
    reml = fit.contrast("time", method="trt.vs.ctrl", by="arm")
    bayes = posterior_contrast_table(post, "time", method="trt.vs.ctrl", by="arm")
    ax = bm.plots.contrasts(reml)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [
        "arm = control",
        *reml["contrast"][:3],
        "arm = treated",
        *reml["contrast"][3:],
    ]
    bold = [t.get_fontweight() for t in ax.get_yticklabels()]
    assert bold[0] == "bold" and bold[1] != "bold"
    assert "dunnettx" in ax.get_xlabel()
    save(ax, artifacts, "contrasts_reml_by")
    save(bm.plots.contrasts(bayes), artifacts, "contrasts_post_by")
    ax = bm.plots.contrasts([reml, bayes])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["REML", "posterior"]
    # the zero line
    assert any(np.allclose(line.get_xdata(), 0.0) for line in ax.get_lines())
    save(ax, artifacts, "contrasts_both_by")


def test_contrasts_without_by(artifacts, fit, post):
    custom = {"T9 - (T6+T3)/2": [0, -0.5, -0.5, 1]}
    reml = fit.contrast("time", method="pairwise")
    bayes = posterior_contrast_table(post, "time", method="pairwise")
    ax = bm.plots.contrasts(reml)
    assert [t.get_text() for t in ax.get_yticklabels()] == reml["contrast"].tolist()
    save(ax, artifacts, "contrasts_reml")
    save(bm.plots.contrasts(bayes), artifacts, "contrasts_post")
    ax = bm.plots.contrasts([bayes, reml])  # either order
    series = _points(ax)
    np.testing.assert_allclose(series[1][:, 0], reml["estimate"])
    save(ax, artifacts, "contrasts_both")
    ax = bm.plots.contrasts([fit.contrast("time", method=custom), posterior_contrast_table(
        post, "time", method=custom)])  # fmt: skip
    assert [t.get_text() for t in ax.get_yticklabels()] == ["T9 - (T6+T3)/2"]
    save(ax, artifacts, "contrasts_custom_both")


def test_bad_tables(fit, post):
    emm, con = fit.emmeans("time"), fit.contrast("time")
    with pytest.raises(ArgumentError, match="is a contrast table: use plots.contrasts"):
        bm.plots.emmeans(con)
    with pytest.raises(ArgumentError, match="no contrast column: use plots.emmeans"):
        bm.plots.contrasts(emm)
    for not_means in (fit.tidy(conf_int=True), emm.drop(columns="df"), emm.set_index("time")):
        with pytest.raises(ArgumentError, match="factor columns, then"):
            bm.plots.emmeans(not_means)
    with pytest.raises(ArgumentError, match="this table has the columns"):
        bm.plots.contrasts(con.drop(columns="p_value"))
    with pytest.raises(ArgumentError, match="must be the DataFrame"):
        bm.plots.emmeans("time")
    with pytest.raises(ArgumentError, match="must be the DataFrame"):
        bm.plots.emmeans([emm, emm, emm])
    with pytest.raises(ArgumentError, match="every table must be a DataFrame"):
        bm.plots.contrasts([con, None])
    with pytest.raises(ArgumentError, match="same rows"):
        bm.plots.emmeans([emm, posterior_emmeans_table(post, "time", by="arm")])
    with pytest.raises(ArgumentError, match="same rows"):
        bm.plots.contrasts([con, posterior_contrast_table(post, "time", method="consec")])
    with pytest.raises(ArgumentError, match="x='visit'"):
        bm.plots.emmeans(emm, x="visit")
    with pytest.raises(ArgumentError, match="by='arm'"):
        bm.plots.emmeans(emm, by="arm")
    with pytest.raises(ArgumentError, match="labels"):
        bm.plots.emmeans(emm, labels=["a", "b"])
    with pytest.raises(ArgumentError, match="empty"):
        bm.plots.emmeans(emm.iloc[:0])
    plt.close("all")
