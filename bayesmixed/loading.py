"""``bm.load_spec``: a ``models/*.toml`` specification turned into a model and its settings.

:mod:`bayesmixed.spec.file` checks the file and returns plain values; here they become a
:class:`~bayesmixed.MixedModel` (the data loaded, the formula parsed, the residual structure
built) and a :class:`SpecSettings` (sampler keywords, :class:`~bayesmixed.Prior` objects,
report options). Everything that can be checked without fitting is checked on load — the
formula against the data and the prior names against the model — so a bad file fails at once,
naming the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bayes.priors import Prior
from .errors import BayesMixedError, PriorError, SpecError
from .model import MixedModel
from .spec.file import ModelFile, ReportSection, read_model_file

__all__ = ["SpecSettings", "load_spec", "QUICK"]

#: ``quick=True`` caps the sampler at these (draws, tune, chains): enough to run, not to trust
QUICK = {"draws": 100, "tune": 100, "chains": 2}


@dataclass(frozen=True)
class SpecSettings:
    """What a specification says besides the model.

    Attributes
    ----------
    name, description : str
        The file's stem and its description paragraph.
    path : pathlib.Path
    reml : bool
        ``fit_reml(reml=...)``: REML (True) or ML.
    sample : dict
        Keyword arguments of :meth:`~bayesmixed.MixedModel.sample` (``draws``, ``tune``,
        ``chains``, ``sampler``, ``parameterization``, ``target_accept``, ``random_seed``,
        and ``cores`` when given), without the priors.
    priors : dict of str to Prior
        The file's ``[priors]``, by parameter name or class (empty: the defaults).
    report : ReportSection
        ``title``, ``chapter``, ``quantities``, ``compare``.
    file : ModelFile
        The checked file itself.
    save : pathlib.Path or None
        ``[fit].save`` resolved against the spec's folder: :meth:`fit` saves the fit there
        and :meth:`posterior` the posterior beside it (``posterior_save``).
    posterior_save : pathlib.Path or None
        ``<name>.posterior.bmfit`` beside ``save``.
    """

    name: str
    description: str
    path: Path
    reml: bool
    sample: dict[str, Any]
    priors: dict[str, Prior] = field(default_factory=dict)
    report: ReportSection = field(default_factory=ReportSection)
    file: ModelFile | None = None
    save: Path | None = None
    posterior_save: Path | None = None

    def fit(self, model: MixedModel):
        """``model.fit_reml(reml=self.reml)``, saved to :attr:`save` when the spec says so."""
        fit = model.fit_reml(reml=self.reml)
        _save(fit, self.save)
        return fit

    def posterior(self, model: MixedModel, **overrides):
        """``model.sample(priors=self.priors, **self.sample)``; ``overrides`` replace keywords
        (e.g. ``progressbar=False``). Saved to :attr:`posterior_save` when the spec says so."""
        kwargs = {**self.sample, "priors": self.priors or None, **overrides}
        post = model.sample(**kwargs)
        _save(post, self.posterior_save)
        return post


def _save(fit, path: Path | None) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fit.save(path)


def _sample_kwargs(spec: ModelFile, quick: bool | int) -> dict[str, Any]:
    s = spec.sample
    out: dict[str, Any] = {
        "draws": s.draws,
        "tune": s.tune,
        "chains": s.chains,
        "sampler": s.sampler,
        "parameterization": s.parameterization,
        "target_accept": s.target_accept,
        "random_seed": s.seed,
    }
    if s.cores is not None:
        out["cores"] = s.cores
    if quick:
        # True: the preview settings; a number N: at most N draws and N tuning steps, 2 chains
        cap = QUICK if quick is True else {"draws": int(quick), "tune": int(quick), "chains": 2}
        out.update({k: min(out[k], v) for k, v in cap.items()})
    return out


def _priors(spec: ModelFile, model: MixedModel) -> dict[str, Prior]:
    out = {}
    for name, entry in spec.priors.items():
        try:
            out[name] = Prior(entry.dist, on=entry.on, **entry.params)
        except PriorError as e:
            raise SpecError(f'{spec.path}: [priors]."{name}": {e}') from e
    if not out:
        return out
    try:  # the names against this model's parameters (the message lists the valid ones)
        if model.residual_design is not None:
            from .bayes.residual.priors import resolve_residual_priors

            resolve_residual_priors(model.design, model.residual_design, out)
        else:
            from .bayes.priors import resolve_priors

            resolve_priors(model.design, out)
    except PriorError as e:
        raise SpecError(f"{spec.path}: [priors]: {e}") from e
    return out


def load_spec(path: str | Path, quick: bool | int = False) -> tuple[MixedModel, SpecSettings]:
    """Read a ``models/*.toml`` specification: the model, ready to fit, and its settings.

    Parameters
    ----------
    path : str or pathlib.Path
        The TOML file (see :mod:`bayesmixed.spec.file` for its keys).
    quick : bool or int
        ``True`` caps the sampler settings at ``draws=100, tune=100, chains=2`` (for tests
        and previews); a number N caps draws and tuning steps at N with 2 chains (the demo
        uses 500).

    Returns
    -------
    (MixedModel, SpecSettings)

    Raises
    ------
    SpecError
        An unreadable or invalid file, a formula that does not fit the data, or a prior
        whose name or family is wrong; the message names the file and the key.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import bayesmixed as bm
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ri.toml"
    >>> _ = p.write_text('description = "Six batches of dyestuff."\\n'
    ...                  'formula = "Yield ~ 1 + (1 | Batch)"\\n'
    ...                  'data = {dataset = "Dyestuff"}\\n'
    ...                  '[priors]\\n"sd__(Intercept)|Batch" = {dist = "halfnormal", sigma = 100}\\n'
    ...                  '[sample]\\ndraws = 2000\\nseed = 1\\n')
    >>> model, settings = bm.load_spec(p, quick=True)
    >>> settings.sample["draws"], settings.sample["random_seed"]
    (100, 1)
    >>> settings.priors
    {'sd__(Intercept)|Batch': Prior('halfnormal', sigma=100)}
    >>> round(settings.fit(model).sigma, 2)
    49.51

    With ``[fit] save = "fits/ri.bmfit"`` the fit is saved beside the spec after fitting:

    >>> _ = p.write_text(p.read_text().replace("[sample]", '[fit]\\nsave = "fits/ri.bmfit"\\n[sample]'))
    >>> model, settings = bm.load_spec(p)
    >>> fit = settings.fit(model)
    >>> bm.load(p.parent / "fits" / "ri.bmfit").tidy().equals(fit.tidy())
    True
    >>> settings.posterior_save.name
    'ri.posterior.bmfit'
    """
    spec = read_model_file(path)
    data = spec.load_data()
    residual = spec.residual_spec()
    try:
        model = MixedModel(spec.formula, data, residual=residual, na_action=spec.na_action)
    except BayesMixedError as e:
        # the formula, the residual columns or the data: the engine's message says which
        raise SpecError(f"{spec.path}: formula = {spec.formula!r}: {e}") from e
    settings = SpecSettings(
        name=spec.name,
        description=spec.description.strip(),
        path=spec.path,
        reml=spec.fit.reml,
        sample=_sample_kwargs(spec, quick),
        priors=_priors(spec, model),
        report=spec.report,
        file=spec,
        save=spec.save_path,
        posterior_save=spec.posterior_save_path,
    )
    return model, settings
