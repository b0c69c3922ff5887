"""Landmark -> target gene expression inference (D-GEX, Deep-LSMTL and baselines)."""
