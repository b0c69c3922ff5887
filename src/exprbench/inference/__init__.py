"""Landmark -> target gene expression inference (D-GEX, Deep-LSMTL and baselines)."""

from ..family import Family

FAMILY = Family(name="inference", title="gene inference", order=30)
