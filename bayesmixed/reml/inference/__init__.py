"""Inference for fixed effects of REML fits: Satterthwaite and Kenward-Roger df, F tables."""
