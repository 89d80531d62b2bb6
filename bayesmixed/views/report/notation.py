"""A model written in the primer's notation: γ for fixed effects, u (v, w) for cluster
deviations with SDs τ, e for the residual with SD σ (or covariance matrix R).

:func:`equations` returns the lines twice, as HTML (``<sub>`` subscripts, escaped) and as
plain text with Unicode subscripts, so the page and its text echo say the same; no script
or external font is needed. :func:`estimates_line` adds the fitted values in that notation.
"""

from __future__ import annotations

import html

import numpy as np

__all__ = ["equations", "estimates_line", "RESIDUAL_FORMS"]

_SUB = str.maketrans("0123456789ijklt", "₀₁₂₃₄₅₆₇₈₉ᵢⱼₖₗₜ")
_CLUSTER = [("u", "j"), ("v", "k"), ("w", "l"), ("z", "m")]

#: the residual covariance of two visits s, t of one subject, by structure
RESIDUAL_FORMS = {
    "CS": "R_st = σ²·(ρ + (1 − ρ)·[s = t])",
    "CSH": "R_st = σ_s·σ_t·(ρ + (1 − ρ)·[s = t])",
    "AR1": "R_st = σ²·ρ^|s − t|",
    "ARH1": "R_st = σ_s·σ_t·ρ^|s − t|",
    "CAR1": "R_st = σ²·φ^|time_s − time_t|",
    "TOEP": "R_st = σ²·ρ_|s − t|  (one correlation per lag)",
    "TOEPH": "R_st = σ_s·σ_t·ρ_|s − t|",
    "AD": "R_st = σ_s·σ_t·ρ_s·ρ_(s+1)···ρ_(t−1)  (ante-dependence, s < t)",
    "UN": "R_st = σ_s·σ_t·ρ_st  (every variance and correlation free)",
}


def _sub_html(base: str, sub: str) -> str:
    return f"{html.escape(base)}<sub>{html.escape(sub)}</sub>"


def _sub_text(base: str, sub: str) -> str:
    return base + sub.translate(_SUB) if all(c in "0123456789ijklt" for c in sub) else base + sub


def _var(name: str) -> str:
    """A design column as it reads in an equation (``age:armtreatment`` → ``age·armtreatment``)."""
    return name.replace(":", "·")


def _cluster_letters(design) -> dict[tuple, tuple[str, str]]:
    """Each grouping factor (as a tuple of factors) → (symbol, index letter)."""
    out: dict[tuple, tuple[str, str]] = {}
    for t in design.terms:
        key = tuple(t.factors)
        if key not in out:
            out[key] = _CLUSTER[min(len(out), len(_CLUSTER) - 1)]
    return out


def equations(model) -> tuple[list[str], list[str]]:
    """The model's equations in the primer's notation, as (HTML lines, text lines).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("score ~ age + (1 | group)", bm.datasets.primer("groups"))
    >>> print("\\n".join(equations(m)[1]))
    score_i = γ₀ + γ₁·age_i + u₀ⱼ + e_i,  j = group of observation i
    u₀ⱼ ~ N(0, τ₀²)
    e_i ~ N(0, σ²), independent
    """
    d = model.design
    y = d.response_name
    letters = _cluster_letters(d)
    h_terms, t_terms = [], []
    for k, name in enumerate(d.xnames):
        g = (_sub_html("γ", str(k)), _sub_text("γ", str(k)))
        if name == "(Intercept)":
            h_terms.append(g[0])
            t_terms.append(g[1])
        else:
            h_terms.append(f"{g[0]}·{_sub_html(_var(name), 'i')}")
            t_terms.append(f"{g[1]}·{_var(name)}_i")
    dist_h, dist_t, index_h, index_t = [], [], [], []
    # one coefficient number per (grouping factor, column): u0j, u1j across || terms
    counters: dict[tuple, int] = {}
    for t in d.terms:
        sym, idx = letters[tuple(t.factors)]
        names_h, names_t, taus_h, taus_t = [], [], [], []
        for c in t.cnames:
            n = counters.get(tuple(t.factors), 0)
            counters[tuple(t.factors)] = n + 1
            uh, ut = _sub_html(sym, f"{n}{idx}"), _sub_text(sym, f"{n}{idx}")
            names_h.append(uh)
            names_t.append(ut)
            taus_h.append(_sub_html("τ", str(n)) + "<sup>2</sup>")
            taus_t.append(_sub_text("τ", str(n)) + "²")
            if c == "(Intercept)":
                h_terms.append(uh)
                t_terms.append(ut)
            else:
                h_terms.append(f"{uh}·{_sub_html(_var(c), 'i')}")
                t_terms.append(f"{ut}·{_var(c)}_i")
        if len(names_h) == 1:
            dist_h.append(f"{names_h[0]} ~ N(0, {taus_h[0]})")
            dist_t.append(f"{names_t[0]} ~ N(0, {taus_t[0]})")
        else:
            dist_h.append(
                f"({', '.join(names_h)}) ~ N(0, T), T with variances "
                f"{', '.join(taus_h)} and correlation{'s' if len(names_h) > 2 else ''} ρ"
            )
            dist_t.append(
                f"({', '.join(names_t)}) ~ N(0, T), T with variances "
                f"{', '.join(taus_t)} and correlation{'s' if len(names_t) > 2 else ''} ρ"
            )
        label = ":".join(t.factors[::-1]) if len(t.factors) > 1 else t.factors[0]
        what = f"{idx} = {label} of observation i"
        if what not in index_t:
            index_h.append(html.escape(what))
            index_t.append(what)
    h_terms.append(_sub_html("e", "i"))
    t_terms.append("e_i")
    where_h = f",&nbsp; {'; '.join(index_h)}" if index_h else ""
    where_t = f",  {'; '.join(index_t)}" if index_t else ""
    lines_h = [f"{_sub_html(html.escape(y), 'i')} = {' + '.join(h_terms)}{where_h}"] + dist_h
    lines_t = [f"{y}_i = {' + '.join(t_terms)}{where_t}"] + dist_t
    rd = getattr(model, "residual_design", None)
    if rd is None:
        lines_h.append(f"{_sub_html('e', 'i')} ~ N(0, σ<sup>2</sup>), independent")
        lines_t.append("e_i ~ N(0, σ²), independent")
    else:
        spec = rd.spec
        form = RESIDUAL_FORMS.get(spec.name, spec.name)
        text = (
            f"the residuals of one {spec.group} over {spec.time}: e ~ N(0, R), {spec.name}: {form}"
        )
        lines_h.append(html.escape(text))
        lines_t.append(text)
    return lines_h, lines_t


def estimates_line(fit, what: str = "REML") -> str:
    """The fitted values in the same notation: ``REML: γ̂₀ = 8.737, τ̂₀ = 1.053, σ̂ = 2.497``.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("score ~ 1 + (1 | group)", bm.datasets.primer("groups"))
    >>> estimates_line(m.fit_reml())
    'REML: γ̂₀ = 8.737;  τ̂₀(group) = 1.053;  σ̂ = 2.497'
    """
    from .page import format_number

    tab = fit.tidy()
    parts = []
    fixed = tab[tab["effect"] == "fixed"] if "effect" in tab else tab
    for k, est in enumerate(fixed["estimate"].to_numpy(float)):
        parts.append(f"{_sub_text('γ̂', str(k))} = {format_number(est)}")
    if "effect" in tab:
        ran = tab[tab["effect"] == "ran_pars"]
        counters: dict[str, int] = {}
        for g, term, est in zip(ran["group"], ran["term"], ran["estimate"], strict=True):
            est = float(est)
            if not np.isfinite(est):
                continue
            base = str(g).split(".")[0]
            if g == "Residual" and term == "sd__Observation":
                parts.append(f"σ̂ = {format_number(est)}")
            elif g == "Residual":
                parts.append(
                    f"{term.replace('sd__', 'σ̂ ').replace('cor__', 'ρ̂ ')} = {format_number(est)}"
                )
            elif term.startswith("sd__"):
                n = counters.get(base, 0)
                counters[base] = n + 1
                parts.append(f"{_sub_text('τ̂', str(n))}({base}) = {format_number(est)}")
            else:
                parts.append(f"ρ̂({base}) = {format_number(est)}")
    if not any(p.startswith("σ̂") for p in parts) and np.isfinite(getattr(fit, "sigma", np.nan)):
        parts.append(f"σ̂ = {format_number(float(fit.sigma))}")
    return f"{what}: " + ";  ".join(parts)
