"""What a fit is, whichever engine made it: variance components, their shares (ICC, R²,
pooling), parameter names and posterior summaries."""

from .components import Components, RanPar, ran_par_labels

__all__ = ["Components", "RanPar", "ran_par_labels"]
