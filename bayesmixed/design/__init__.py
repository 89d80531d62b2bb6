"""The design: model frame, fixed-effect matrix X and random-effect terms, built from a
:class:`~bayesmixed.spec.ModelSpec` and a data frame."""

from .build import Design, ReTerm, build_design

__all__ = ["Design", "ReTerm", "build_design"]
