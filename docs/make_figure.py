"""Draw the README's figure: partial pooling on the primer's small-cluster data, REML and
posterior side by side (``.venv/bin/python docs/make_figure.py`` writes docs/pooling.png)."""

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import bayesmixed as bm  # noqa: E402

warnings.simplefilter("ignore", bm.BayesMixedWarning)
data = bm.datasets.primer("groups", seed=1)
model = bm.MixedModel("score ~ 1 + (1 | group)", data)
fit = model.fit_reml()
post = model.sample(draws=1000, tune=1000, chains=2, random_seed=1, progressbar=False)
fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), constrained_layout=True)
bm.plots.pooling(fit, ax=axes[0])
axes[0].set_title("Partial pooling: 9 clusters (REML)")
bm.plots.compare(bm.compare(post, fit), ax=axes[1])
axes[1].set_title("REML and posterior, side by side")
out = Path(__file__).with_name("pooling.png")
fig.savefig(out, dpi=110)
print(out)
