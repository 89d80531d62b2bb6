"""The design: model frame, fixed-effect matrix X and random-effect terms, built from a
:class:`~bayesmixed.spec.ModelSpec` and a data frame."""

from .build import Design, build_design
from .naming import r_column_name, term_label
from .reterm import ReTerm

__all__ = ["Design", "ReTerm", "build_design", "r_column_name", "term_label"]
