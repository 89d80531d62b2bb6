"""One model's report page: its tables and the figures that apply, through the report's page.

:func:`model_sections` describes a fitted model (and its posterior, when sampled) as report
:class:`~bayesmixed.views.report.page.Section` blocks — the REML/ML table and summary, the
quantities asked for (ICC, R², shrinkage), the posterior and the side-by-side table, and the
figures that apply to this kind of model; :func:`write_model_page` writes them as one HTML page
with the report's own renderer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ArgumentError, BayesMixedError
from ..spec.file import QUANTITIES  # tidy() and glance() always go to "Estimates"
from ..views.report.page import Chapter, Section, figure_html, render_page

__all__ = ["QUANTITIES", "quantity_table", "model_sections", "write_model_page"]


def _flat(result: dict) -> dict[str, object]:
    """A quantity's dict with its Series spread out as ``key[label]`` (tables left out)."""
    out: dict[str, object] = {}
    for key, value in result.items():
        if isinstance(value, pd.Series):
            out.update({f"{key}[{label}]": v for label, v in value.items()})
        elif not isinstance(value, (pd.DataFrame, np.ndarray, dict)):
            out[key] = value
    return out


def quantity_table(name: str, fit, post=None) -> pd.DataFrame:
    """``fit.icc()`` or ``fit.r2()`` as rows: the REML value, and the posterior's beside it.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> fit = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff")).fit_reml()
    >>> quantity_table("r2", fit)["quantity"].tolist()
    ['r2 marginal', 'r2 conditional']
    """
    rows = {
        k: {"quantity": f"{name} {k}", "reml": v} for k, v in _flat(getattr(fit, name)()).items()
    }
    if post is not None:
        for k, v in _flat(getattr(post, name)()).items():
            row = rows.setdefault(k, {"quantity": f"{name} {k}", "reml": np.nan})
            row["post_mean"] = float(getattr(v, "mean", v))
            row["conf_low"] = float(getattr(v, "conf_low", np.nan))
            row["conf_high"] = float(getattr(v, "conf_high", np.nan))
    frame = pd.DataFrame(list(rows.values()))
    frame["reml"] = pd.to_numeric(frame["reml"], errors="coerce")
    return frame


def _fullest_subject(fit):
    """The subject seen at the most visits (whose residual matrix is the whole one)."""
    rd = fit.rd
    counts = np.bincount(rd.subject_codes, minlength=len(rd.subjects))
    return rd.subjects[int(np.argmax(counts))]


def _quantity_section(name: str, fit, post) -> Section:
    """The section of one quantity; a note when it does not apply to this model."""
    s = Section(name)
    try:
        if name in ("icc", "r2"):
            s.table(quantity_table(name, fit, post), f"{name}()")
        elif name == "shrinkage":
            s.table(fit.shrinkage(), "shrinkage(): no, partial and complete pooling")
        elif name == "ranef":
            s.table(fit.ranef(), "ranef(): conditional modes (BLUPs) and their SDs")
        elif name == "anova":
            s.table(fit.anova(), "anova(): F tests of the fixed-effect terms")
        elif name in ("residual_cor", "residual_cov"):
            if getattr(fit, "rd", None) is None:
                raise ArgumentError(f"{name}() needs a residual= structure")
            subject = _fullest_subject(fit)
            s.table(getattr(fit, name)(subject), f"{name}({subject!r})", index=True)
        else:
            raise ArgumentError(f"unknown quantity {name!r}; use one of {', '.join(QUANTITIES)}")
    except (BayesMixedError, AttributeError, NotImplementedError) as e:
        s.para(f"{name}() does not apply to this model: {e}")
    return s


def _figures(fit, post, table) -> list[tuple[str, object]]:
    """(caption, drawing function) of every figure that may apply to this model."""
    from ..views import plots

    figs = [("Residuals: diagnostics", lambda: plots.diagnostics(fit))]
    if getattr(fit, "rd", None) is not None:
        figs.append(
            ("Residual correlation: fitted and empirical", lambda: plots.residual_correlation(fit))
        )
    if fit.design.terms:
        figs.append(("Random effects (caterpillar)", lambda: plots.caterpillar(fit)))
        if len(fit.design.terms) == 1:
            figs.append(("No, partial and complete pooling", lambda: plots.pooling(fit)))
    if table is not None:
        figs.append(("REML beside the posterior", lambda: plots.compare(table)))
    return figs


def _figure(draw) -> str | None:
    """The figure ``draw()`` makes as inline HTML, or None when it does not apply."""
    import matplotlib

    matplotlib.use("Agg")  # the page embeds PNGs; no window
    try:
        # a smoother over tied fitted values divides by zero here and there: not the reader's
        # concern on a figure
        with np.errstate(invalid="ignore", divide="ignore"):
            drawn = draw()
    except (BayesMixedError, NotImplementedError, AttributeError):
        return None
    ax = drawn[0] if isinstance(drawn, (list, tuple, np.ndarray)) else drawn
    ax = np.ravel(ax)[0] if isinstance(ax, np.ndarray) else ax
    return figure_html(ax.figure)


def model_sections(
    model,
    fit,
    post=None,
    quantities: Sequence[str] | None = None,
    description: str = "",
    figures: bool = True,
) -> list[Section]:
    """The report sections of one fitted model (and its posterior).

    Parameters
    ----------
    model : MixedModel
    fit : REMLFit, GLSFit or OLSFit
        ``model.fit_reml()``.
    post : BayesFit, optional
        ``model.sample()``: adds the posterior, the side-by-side table and its forest plot.
    quantities : sequence of str, optional
        Names of :data:`QUANTITIES`. Default: ICC, R² and shrinkage with random effects,
        R² without.
    description : str
    figures : bool

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"))
    >>> [s.title for s in model_sections(m, m.fit_reml(), figures=False)]
    ['Model', 'Estimates', 'icc', 'r2', 'shrinkage']
    """
    from ..quantities.comparison import compare

    if quantities is None:
        quantities = ("icc", "r2", "shrinkage") if model.has_random else ("r2",)
    head = Section("Model")
    if description:
        head.para(description)
    head.para(repr(model))
    est = Section("Estimates").table(fit.tidy(), "tidy()").table(fit.glance(), "glance()")
    est.pre(str(fit.summary()))
    sections = [head, est]
    sections += [_quantity_section(q, fit, post) for q in quantities if q not in ("tidy", "glance")]
    table = None
    if post is not None:
        table = compare(post, fit)
        bayes = Section("Posterior").table(post.tidy(), "posterior tidy()")
        bayes.table(table, "bm.compare(post, fit): REML beside the posterior")
        sections.append(bayes)
    if figures:
        shown = Section("Figures")
        for caption, draw in _figures(fit, post, table):
            img = _figure(draw)
            if img is not None:
                shown.para(caption).raw(img, f"[figure: {caption}]")
        if shown.blocks:
            sections.append(shown)
    return sections


def write_model_page(
    path: str | Path, key: str, title: str, sections: list[Section], seconds: float, intro: str = ""
) -> Path:
    """Write ``sections`` as one self-contained HTML page (the report's renderer) at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    chapter = Chapter(key, title, lambda ctx: sections, intro)
    path.write_text(render_page([(chapter, sections)], seconds), encoding="utf-8")
    return path


def elapsed(t0: float) -> float:
    """Seconds since ``t0`` (``time.perf_counter``)."""
    return time.perf_counter() - t0
