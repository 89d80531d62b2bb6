"""A guided tour of the primer, printed and written to a self-contained HTML report.

Run it with ``python -m bayesmixed.views.report --out report`` (``make demo``). Each chapter is a
function that fits a few models and returns :class:`Section` objects (a title, some prose,
tables, preformatted summaries); :data:`CHAPTERS` lists them in order. Later chapters — the
Bayesian side, plots — are added by appending to that list: a section can carry any HTML
block, e.g. an inline ``<img>`` with a base64-encoded figure.

Chapters:

1. Ordinary least squares on sleepstudy: ``tidy``, ``glance``, ``anova``.
2. Random intercept: Dyestuff (and the singular Dyestuff2).
3. Random slopes: sleepstudy with ``(Days | Subject)`` and ``(Days || Subject)``.
4. ML vs REML, and a likelihood-ratio test of the slope variance (χ² and 50:50 mixture p).
5. Three-level nesting: Pastes, ``(1 | batch/cask)``.
6. Crossed random effects: Penicillin, ``(1 | plate) + (1 | sample)``.
7. Partial pooling, ICC and R²: shrinkage table and plots for sleepstudy.
8. The Bayesian side: the same model sampled with NUTS, side by side with REML.
"""

from __future__ import annotations

import argparse
import html
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from ... import datasets
from ..._version import __version__
from ...model import MixedModel

__all__ = [
    "Section",
    "Chapter",
    "DemoContext",
    "CHAPTERS",
    "lrt",
    "build_report",
    "render_html",
    "main",
]


# --------------------------------------------------------------------------- building blocks
@dataclass
class Section:
    """One titled part of a chapter: an ordered list of HTML blocks (and their text echo).

    Use :meth:`para`, :meth:`table`, :meth:`pre` and :meth:`raw` to add blocks.
    """

    title: str
    blocks: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def para(self, text: str) -> Section:
        """A paragraph of prose (plain text; escaped)."""
        self.blocks.append(f"<p>{html.escape(text)}</p>")
        self.text.append(text)
        return self

    def table(self, frame: pd.DataFrame, caption: str = "", index: bool = False) -> Section:
        """A table rendered with :meth:`pandas.DataFrame.to_html`."""
        body = frame.to_html(
            index=index,
            border=0,
            classes="table",
            float_format=_fmt,
            na_rep="",
            escape=True,
        )
        cap = f"<p class='caption'>{html.escape(caption)}</p>" if caption else ""
        self.blocks.append(f"{cap}{body}")
        shown = frame.to_string(index=index, float_format=_fmt, na_rep="")
        self.text.append((f"{caption}\n" if caption else "") + shown)
        return self

    def pre(self, text: str) -> Section:
        """Preformatted text, e.g. a model summary."""
        self.blocks.append(f"<pre>{html.escape(text)}</pre>")
        self.text.append(text)
        return self

    def raw(self, block: str, text: str = "") -> Section:
        """Any HTML block (a figure, a widget); ``text`` is what stdout shows for it."""
        self.blocks.append(block)
        if text:
            self.text.append(text)
        return self

    def to_html(self) -> str:
        """The section as an HTML ``<section>``."""
        return f"<section><h3>{html.escape(self.title)}</h3>{''.join(self.blocks)}</section>"


@dataclass
class Chapter:
    """A chapter of the tour: ``build(ctx)`` fits its models and returns its sections."""

    key: str
    title: str
    build: Callable[[DemoContext], list[Section]]
    intro: str = ""


@dataclass
class DemoContext:
    """Shared state for the chapters: data sets and fits are computed once and reused."""

    fits: dict[str, object] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)

    def fit(self, key: str, formula: str, data: str | pd.DataFrame, reml: bool = True):
        """Fit ``formula`` (REML or ML) once, remembering any warnings it raised."""
        if key not in self.fits:
            frame = datasets.load(data) if isinstance(data, str) else data
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.fits[key] = MixedModel(formula, frame).fit_reml(reml=reml)
            self.warnings[key] = [str(w.message) for w in caught]
        return self.fits[key]


def _fmt(x: float) -> str:
    if x is None or not np.isfinite(x):
        return ""
    ax = abs(x)
    if ax != 0 and (ax < 1e-4 or ax >= 1e7):
        return f"{x:.4g}"
    return f"{x:.6g}"


def _tidy_table(fit, **kwargs) -> pd.DataFrame:
    """``tidy()`` without the effect column, the fixed effects' empty group shown blank."""
    tab = fit.tidy(**kwargs).drop(columns=["effect"])
    tab["group"] = tab["group"].fillna("").astype(str)
    return tab


# --------------------------------------------------------------------------- statistics
def lrt(small, big) -> dict[str, float]:
    """Likelihood-ratio test of two nested ML fits, with the boundary-corrected p-value.

    When the models differ by variance parameters, the null value (a variance of zero) is on
    the boundary of the parameter space, and the LRT statistic follows a 50:50 mixture of
    χ²(df − 1) and χ²(df) rather than χ²(df) (Self & Liang 1987; Stram & Lee 1994). For one
    variance (df = 1) that halves the naive p-value.

    Parameters
    ----------
    small, big : REMLFit
        Nested fits by maximum likelihood (``reml=False``); ``small`` is the null model.

    Returns
    -------
    dict
        ``chisq``, ``df``, ``p_chisq`` (naive χ²(df)) and ``p_mixture`` (50:50 mixture).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> d = bm.datasets.load("sleepstudy")
    >>> m0 = bm.MixedModel("Reaction ~ Days + (1 | Subject)", d).fit_reml(reml=False)
    >>> m1 = bm.MixedModel("Reaction ~ Days + (Days || Subject)", d).fit_reml(reml=False)
    >>> round(lrt(m0, m1)["chisq"], 2)
    42.08
    """
    if small.reml or big.reml:
        raise ValueError("likelihood-ratio tests of variance components need ML fits (reml=False)")
    from ...quantities.lrt import anova

    row = anova(small, big).iloc[1]
    return {
        "chisq": float(row["statistic"]),
        "df": int(row["df"]),
        "p_chisq": float(row["p_value"]),
        "p_mixture": float(row["p_boundary"]),
    }


def _variance_shares(fit) -> pd.DataFrame:
    vc = fit.varcorr_table()
    vc = vc[vc["var2"].isna()].copy()
    total = vc["vcov"].sum()
    return pd.DataFrame(
        {
            "component": vc["grp"] + np.where(vc["var1"].isna(), "", " " + vc["var1"].fillna("")),
            "variance": vc["vcov"],
            "std_dev": vc["sdcor"],
            "share": vc["vcov"] / total,
        }
    )


def _notes(ctx: DemoContext, key: str) -> list[str]:
    return ctx.warnings.get(key, [])


# --------------------------------------------------------------------------- chapters
def chapter_ols(ctx: DemoContext) -> list[Section]:
    """Chapter 1: ordinary least squares on sleepstudy (no random effects)."""
    fit = ctx.fit("ols", "Reaction ~ Days", "sleepstudy")
    s = Section("Reaction ~ Days (ordinary least squares)")
    s.para(
        "Pooling all 180 observations ignores that they come from 18 subjects: the standard "
        "errors below treat every reaction time as independent."
    )
    s.table(_tidy_table(fit, conf_int=True), "tidy(): coefficients")
    s.table(fit.glance(), "glance(): model fit")
    s.table(fit.anova(), "anova(): sequential sums of squares")
    s.pre(str(fit.summary()))
    return [s]


def chapter_random_intercept(ctx: DemoContext) -> list[Section]:
    """Chapter 2: random intercept (Dyestuff; Dyestuff2 is singular)."""
    fit = ctx.fit("dyestuff", "Yield ~ 1 + (1 | Batch)", "Dyestuff")
    s = Section("Yield ~ 1 + (1 | Batch) — Dyestuff")
    s.para(
        "Six batches, five yields each. The batch-to-batch standard deviation (tau) and the "
        "within-batch residual SD (sigma) are estimated by REML; the intraclass correlation "
        "tau^2 / (tau^2 + sigma^2) is the share of variance between batches."
    )
    s.table(_tidy_table(fit), "tidy()")
    shares = _variance_shares(fit)
    icc = float(shares["share"].iloc[0])
    s.table(shares, f"variance components (ICC = {icc:.4f})")
    s.table(fit.ranef(), "ranef(): conditional modes (BLUPs) of the batch effects")
    s.pre(str(fit.summary()))
    fit2 = ctx.fit("dyestuff2", "Yield ~ 1 + (1 | Batch)", "Dyestuff2")
    s2 = Section("Yield ~ 1 + (1 | Batch) — Dyestuff2 (a singular fit)")
    s2.para(
        "Dyestuff2 was simulated without any batch effect: the REML estimate of tau is zero, "
        "on the boundary of the parameter space, and the fit is reported as singular."
    )
    s2.table(_tidy_table(fit2), "tidy()")
    for note in _notes(ctx, "dyestuff2"):
        s2.para(f"Warning: {note}")
    return [s, s2]


def chapter_random_slopes(ctx: DemoContext) -> list[Section]:
    """Chapter 3: random slopes on sleepstudy, correlated and uncorrelated."""
    corr = ctx.fit("slopes", "Reaction ~ Days + (Days | Subject)", "sleepstudy")
    uncorr = ctx.fit("slopes_uncorr", "Reaction ~ Days + (Days || Subject)", "sleepstudy")
    s = Section("Reaction ~ Days + (Days | Subject)")
    s.para(
        "Each subject gets an intercept and a slope; their SDs and correlation are estimated. "
        "Fixed-effect tests use Satterthwaite degrees of freedom (lmerTest)."
    )
    s.table(_tidy_table(corr, conf_int=True), "tidy()")
    s.table(corr.glance(), "glance()")
    s.pre(str(corr.summary()))
    s2 = Section("Reaction ~ Days + (Days || Subject)")
    s2.para(
        "The double bar drops the intercept-slope correlation: lme4 expands it to "
        "(1 | Subject) + (0 + Days | Subject), so the slope SD is reported in group "
        "'Subject.1'."
    )
    s2.table(_tidy_table(uncorr), "tidy()")
    s2.pre(str(uncorr.summary()))
    coefs = corr.coef()["Subject"].reset_index().rename(columns={"level": "Subject"})
    s3 = Section("Per-subject lines: coef()")
    s3.table(coefs, "fixed effects + conditional modes, (Days | Subject)")
    return [s, s2, s3]


def chapter_ml_reml(ctx: DemoContext) -> list[Section]:
    """Chapter 4: ML vs REML estimates and a likelihood-ratio test of the slope variance."""
    reml = ctx.fit("slopes", "Reaction ~ Days + (Days | Subject)", "sleepstudy")
    ml = ctx.fit("slopes_ml", "Reaction ~ Days + (Days | Subject)", "sleepstudy", reml=False)
    s = Section("ML vs REML")
    s.para(
        "Maximum likelihood does not account for the degrees of freedom spent on the fixed "
        "effects, so its variance estimates are biased downwards; REML corrects this. Fixed "
        "effects are the same here (a balanced design), their standard errors are not."
    )
    a = reml.tidy().set_index(["group", "term"])
    b = ml.tidy().set_index(["group", "term"])
    both = pd.DataFrame(
        {
            "REML": a["estimate"],
            "ML": b["estimate"],
            "REML std_error": a["std_error"],
            "ML std_error": b["std_error"],
        }
    ).reset_index()
    both["group"] = both["group"].fillna("")
    s.table(both, "estimates by REML and by ML")
    crit = pd.DataFrame(
        [
            {"fit": "REML", "logLik": reml.loglik, "AIC": reml.aic, "BIC": reml.bic},
            {"fit": "ML", "logLik": ml.loglik, "AIC": ml.aic, "BIC": ml.bic},
        ]
    )
    s.table(crit, "criteria (REML logLik is the restricted likelihood: not comparable with ML)")

    m0 = ctx.fit("intercept_ml", "Reaction ~ Days + (1 | Subject)", "sleepstudy", reml=False)
    m1 = ctx.fit("uncorr_ml", "Reaction ~ Days + (Days || Subject)", "sleepstudy", reml=False)
    rows = []
    for label, small, big in [
        ("(1 | Subject) vs (Days || Subject): slope variance", m0, m1),
        ("(1 | Subject) vs (Days | Subject): slope variance and correlation", m0, ml),
    ]:
        t = lrt(small, big)
        rows.append(
            {
                "comparison": label,
                "logLik null": small.loglik,
                "logLik alt": big.loglik,
                "chisq": t["chisq"],
                "df": t["df"],
                "p (chi-square)": t["p_chisq"],
                "p (50:50 mixture)": t["p_mixture"],
            }
        )
    s2 = Section("Likelihood-ratio test of the slope variance")
    s2.para(
        "Both models are fitted by ML. The statistic is 2 (logLik_alt - logLik_null). Testing "
        "that a variance is zero puts the null on the boundary, so the reference distribution "
        "is a 50:50 mixture of chi-square(df - 1) and chi-square(df): the naive chi-square "
        "p-value is conservative (for one variance it is exactly twice the mixture p)."
    )
    s2.table(pd.DataFrame(rows), "likelihood-ratio tests")
    return [s, s2]


def chapter_nested(ctx: DemoContext) -> list[Section]:
    """Chapter 5: three-level nesting (Pastes: samples within casks within batches)."""
    fit = ctx.fit("pastes", "strength ~ 1 + (1 | batch/cask)", "Pastes")
    s = Section("strength ~ 1 + (1 | batch/cask) — Pastes")
    s.para(
        "Two assays per cask, three casks per batch, ten batches. batch/cask expands to "
        "(1 | cask:batch) + (1 | batch): the cask term is named 'cask:batch' because cask "
        "labels a, b, c repeat across batches."
    )
    s.table(_tidy_table(fit), "tidy()")
    s.table(_variance_shares(fit), "variance decomposition")
    s.pre(str(fit.summary()))
    return [s]


def chapter_crossed(ctx: DemoContext) -> list[Section]:
    """Chapter 6: crossed random effects (Penicillin: 24 plates × 6 samples)."""
    fit = ctx.fit("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin")
    s = Section("diameter ~ 1 + (1 | plate) + (1 | sample) — Penicillin")
    s.para(
        "Every sample is tested on every plate: plate and sample are crossed, not nested, and "
        "each gets its own variance component."
    )
    s.table(_tidy_table(fit), "tidy()")
    s.table(_variance_shares(fit), "variance decomposition")
    s.pre(str(fit.summary()))
    return [s]


def _figure(fig) -> str:
    """A matplotlib figure as an inline PNG ``<img>`` (the report stays one file)."""
    import base64
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<img alt='figure' style='max-width:100%' src='data:image/png;base64,{data}'>"


def chapter_pooling(ctx: DemoContext) -> list[Section]:
    """Chapter 7: partial pooling, ICC and R² (sleepstudy)."""
    import matplotlib

    matplotlib.use("Agg")
    from .. import plots

    fit = ctx.fit("slopes", "Reaction ~ Days + (Days | Subject)", "sleepstudy")
    ri = ctx.fit("intercept_reml", "Reaction ~ Days + (1 | Subject)", "sleepstudy")
    s = Section("Partial pooling: Reaction ~ Days + (1 | Subject)")
    s.para(
        "Each subject's intercept is a weighted average of its own mean (no pooling) and the "
        "population line (complete pooling), with weight lambda_j = (n_j/sigma^2) / "
        "(n_j/sigma^2 + 1/tau00^2)."
    )
    s.table(ri.shrinkage().head(8), "shrinkage(): first subjects")
    s.raw(_figure(plots.pooling(ri).figure), "[figure: no / partial / complete pooling]")
    s2 = Section("ICC and R² (Nakagawa & Schielzeth; Johnson's extension for slopes)")
    icc = fit.icc()
    r2 = fit.r2()
    s2.table(
        pd.DataFrame(
            [
                {
                    "ICC adjusted": icc["adjusted"],
                    "ICC conditional": icc["conditional"],
                    "R2 marginal": r2["marginal"],
                    "R2 conditional": r2["conditional"],
                }
            ]
        ),
        "Reaction ~ Days + (Days | Subject)",
    )
    s2.raw(_figure(plots.caterpillar(fit)[0].figure), "[figure: caterpillar of BLUPs]")
    return [s, s2]


def chapter_bayes(ctx: DemoContext) -> list[Section]:
    """Chapter 8: the same model sampled with NUTS, side by side with REML."""
    import matplotlib

    matplotlib.use("Agg")
    from .. import plots
    from ...quantities.comparison import compare

    fit = ctx.fit("slopes", "Reaction ~ Days + (Days | Subject)", "sleepstudy")
    model = MixedModel("Reaction ~ Days + (Days | Subject)", datasets.load("sleepstudy"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post = model.sample(draws=1000, tune=1000, chains=4, random_seed=1, progressbar=False)
    g = post.glance().iloc[0]
    s = Section("Reaction ~ Days + (Days | Subject), sampled with NUTS")
    s.para(
        f"Parameterization '{post.parameterization}' (random effects integrated out, then drawn "
        f"exactly from their conditional posterior), sampler {post.sampler}: "
        f"{post.nchains} chains x {post.ndraws} draws in {post.seconds:.1f} s, "
        f"{int(g['divergences'])} divergences, max R-hat {g['max_rhat']:.3f}, "
        f"min bulk ESS {g['min_ess_bulk']:.0f}."
    )
    for w in caught:
        s.para(f"Warning: {w.message}")
    table = compare(post, fit)
    s.table(table, "bm.compare(post, fit): REML beside the posterior")
    s.raw(_figure(plots.compare(table).figure), "[figure: forest plot, REML vs posterior]")
    s.table(post.prior_summary(), "priors (defaults scaled to the data)")
    s2 = Section("Posteriors of the primer's quantities")
    icc, r2 = post.icc(), post.r2()
    s2.table(
        pd.DataFrame(
            [
                {"quantity": "ICC adjusted", "REML": fit.icc()["adjusted"], "posterior mean": float(icc["adjusted"]), "2.5%": icc["adjusted"].conf_low, "97.5%": icc["adjusted"].conf_high},
                {"quantity": "R2 marginal", "REML": fit.r2()["marginal"], "posterior mean": float(r2["marginal"]), "2.5%": r2["marginal"].conf_low, "97.5%": r2["marginal"].conf_high},
                {"quantity": "R2 conditional", "REML": fit.r2()["conditional"], "posterior mean": float(r2["conditional"]), "2.5%": r2["conditional"].conf_low, "97.5%": r2["conditional"].conf_high},
            ]
        ),
        "ICC and R²: REML point estimate and posterior",
    )  # fmt: skip
    s2.raw(_figure(plots.icc_r2_posteriors(post, fit).figure), "[figure: ICC / R² posteriors]")
    return [s, s2]


CHAPTERS: list[Chapter] = [
    Chapter("ols", "1. Ordinary least squares", chapter_ols),
    Chapter("intercept", "2. Random intercepts", chapter_random_intercept),
    Chapter("slopes", "3. Random slopes", chapter_random_slopes),
    Chapter("ml_reml", "4. ML, REML and likelihood-ratio tests", chapter_ml_reml),
    Chapter("nested", "5. Three-level nesting", chapter_nested),
    Chapter("crossed", "6. Crossed random effects", chapter_crossed),
    Chapter("pooling", "7. Partial pooling, ICC and R²", chapter_pooling),
    Chapter("bayes", "8. The Bayesian side: NUTS next to REML", chapter_bayes),
]


# --------------------------------------------------------------------------- rendering
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:62em;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:0.2em} h2{margin-top:2em;border-bottom:2px solid #ddd;padding-bottom:0.2em}
h3{margin-top:1.5em;color:#333}
table.table{border-collapse:collapse;margin:0.4em 0 1.2em 0;font-size:0.9em}
table.table th,table.table td{padding:0.2em 0.7em;text-align:right;border-bottom:1px solid #eee}
table.table th{background:#f5f5f5;border-bottom:1px solid #bbb}
pre{background:#f8f8f8;padding:0.8em;overflow-x:auto;font-size:0.85em;border:1px solid #eee}
.caption{font-weight:600;margin-bottom:0.1em} nav li{margin:0.15em 0}
.meta{color:#666;font-size:0.9em}
"""


def render_html(rendered: Sequence[tuple[Chapter, list[Section]]], seconds: float) -> str:
    """The whole report as one self-contained HTML page (inline CSS, no external files)."""
    toc = "".join(f"<li><a href='#{c.key}'>{html.escape(c.title)}</a></li>" for c, _ in rendered)
    body = []
    for chapter, sections in rendered:
        intro = f"<p>{html.escape(chapter.intro)}</p>" if chapter.intro else ""
        body.append(
            f"<h2 id='{chapter.key}'>{html.escape(chapter.title)}</h2>{intro}"
            + "".join(s.to_html() for s in sections)
        )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>bayesmixed — the primer</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>bayesmixed — the primer, REML and Bayes side by side</h1>"
        f"<p class='meta'>bayesmixed {__version__}; generated {time.strftime('%Y-%m-%d %H:%M')} "
        f"in {seconds:.1f} s. Estimates match lme4 / lmerTest / broom.mixed.</p>"
        f"<nav><ol>{toc}</ol></nav>{''.join(body)}</body></html>"
    )


def build_report(
    out: str | Path,
    chapters: Sequence[Chapter] | None = None,
    stream: TextIO | None = sys.stdout,
) -> Path:
    """Run the chapters, echo them to ``stream`` and write ``out/index.html``.

    Parameters
    ----------
    out : str or Path
        Output directory (created if needed).
    chapters : sequence of Chapter, optional
        Defaults to :data:`CHAPTERS`.
    stream : file-like or None
        Where to print the summaries; ``None`` for silence.

    Returns
    -------
    Path
        The written ``index.html``.

    Examples
    --------
    >>> import tempfile
    >>> path = build_report(tempfile.mkdtemp(), chapters=CHAPTERS[:1], stream=None)
    >>> path.name
    'index.html'
    """
    chapters = list(CHAPTERS if chapters is None else chapters)
    ctx = DemoContext()
    t0 = time.perf_counter()
    rendered = []
    for chapter in chapters:
        sections = chapter.build(ctx)
        rendered.append((chapter, sections))
        if stream is not None:
            bar = "=" * len(chapter.title)
            print(f"\n{bar}\n{chapter.title}\n{bar}", file=stream)
            for s in sections:
                print(f"\n--- {s.title} ---", file=stream)
                for t in s.text:
                    print(f"\n{t}", file=stream)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(render_html(rendered, time.perf_counter() - t0), encoding="utf-8")
    if stream is not None:
        print(f"\nWrote {path}", file=stream)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m bayesmixed.views.report --out report [--quiet] [--chapter KEY]``."""
    parser = argparse.ArgumentParser(
        prog="python -m bayesmixed.views.report",
        description="Walk through the primer (REML and Bayes) and write an HTML report.",
    )
    parser.add_argument("--out", default="report", help="output directory (default: report)")
    parser.add_argument("--quiet", action="store_true", help="do not print to stdout")
    parser.add_argument(
        "--chapter",
        action="append",
        choices=[c.key for c in CHAPTERS],
        help="run only this chapter (repeatable)",
    )
    args = parser.parse_args(argv)
    chapters = [c for c in CHAPTERS if not args.chapter or c.key in args.chapter]
    build_report(args.out, chapters, stream=None if args.quiet else sys.stdout)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
