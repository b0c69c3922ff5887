"""Biclustering of expression matrices: Sparse Convex Biclustering (SpaCoBi, Jiang
et al.) against convex (COBRA), spectral and k-means biclustering, on planted
checkerboards with noise features and on stored datasets (docs/biclustering.md).

Orientation: X is rows x columns = samples x features (genes), as in the store and
scikit-learn; row clusters group samples, column clusters group features, and a
column label of -1 marks a feature set aside as noise.
"""

from ..family import Family

FAMILY = Family(name="biclustering", title="biclustering", order=60)
