"""The primer's chapters, in order (:data:`CHAPTERS`), each built from the ``models/`` specs
whose ``[report].chapter`` names it:

1. Regression (§1), 2. Dependent data (§2), 3. Random intercept and partial pooling (§3,
3.3), 4. Random slopes (§4), 5. Nesting and crossing, ML vs REML, tests of a variance (§5.1,
5.2), 6. Longitudinal data and contrasts (§6), 7. Covariance structures (§7), 8. Effect sizes
(§8, from the fits of the other chapters), then the Bayesian side and prior sensitivity.

Every number comes from the library (fit methods, ``bm.anova``, ``bm.compare``, the effect
sizes); a chapter only chooses what to show. A new chapter is a function of a
:class:`~bayesmixed.views.report.context.ReportContext` appended to :data:`CHAPTERS`.
"""

from __future__ import annotations

from .chapters_bayes import chapter_bayes, chapter_priors
from .chapters_models import (
    chapter_effects,
    chapter_longitudinal,
    chapter_nesting,
    chapter_structures,
)
from .chapters_pooling import (
    chapter_dependent,
    chapter_intercept,
    chapter_regression,
    chapter_slopes,
)
from .page import Chapter

__all__ = ["CHAPTERS"]

CHAPTERS: list[Chapter] = [
    Chapter("regression", "1. Regression", chapter_regression,
            "One observation per patient: the linear model in the primer's notation."),
    Chapter("dependent", "2. Dependent data", chapter_dependent,
            "Patients in groups: observations of one group are alike."),
    Chapter("intercept", "3. Random intercept and partial pooling", chapter_intercept,
            "Groups as a sample from a population of groups: u₀ⱼ ~ N(0, τ₀²)."),
    Chapter("slopes", "4. Random slopes", chapter_slopes,
            "Each cluster its own slope, pooled towards the average."),
    Chapter("nesting", "5. Nesting and crossing; ML, REML and tests of a variance",
            chapter_nesting, "Three levels, crossed classifications, and testing τ² = 0."),
    Chapter("longitudinal", "6. Longitudinal data and contrasts", chapter_longitudinal,
            "Repeated visits of one patient: growth curves, marginal means, contrasts."),
    Chapter("structures", "7. Covariance structures", chapter_structures,
            "The correlation of one patient's visits modelled directly, in R."),
    Chapter("effects", "8. Effect sizes", chapter_effects,
            "How large is an effect? f², PCV and standardized effects."),
    Chapter("bayes", "9. The Bayesian side: diagnostics", chapter_bayes,
            "NUTS beside REML: is the posterior to be trusted?"),
    Chapter("priors", "10. Priors and their influence", chapter_priors,
            "What the priors say before the data, and whether they matter after."),
]  # fmt: skip
