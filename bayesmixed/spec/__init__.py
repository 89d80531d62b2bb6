"""The model specification: lme4 formula syntax parsed into a :class:`ModelSpec`."""

from .formula import ModelSpec, RandomTerm, parse_formula

__all__ = ["ModelSpec", "RandomTerm", "parse_formula"]
