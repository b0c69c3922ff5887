"""scikit-learn's spectral biclustering (Kluger et al. 2003), a standard baseline
for checkerboard structure: row and column clusters of their own sizes. The matrix
is shifted to be non-negative first (its bistochastic normalisation needs it)."""

from __future__ import annotations

from sklearn.cluster import SpectralBiclustering

from . import register
from ._base import BiclusterMethod, check_matrix, non_negative


@register
class SpectralBiclusteringMethod(BiclusterMethod):
    name = "spectral_biclustering"

    def __init__(self, n_row_clusters: int = 3, n_column_clusters: int = 3, method: str = "bistochastic",
                 n_init: int = 10, random_state: int = 0):
        self.n_row_clusters = n_row_clusters
        self.n_column_clusters = n_column_clusters
        self.method = method
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None):
        X = check_matrix(X)
        self._check_counts(X)
        model = SpectralBiclustering((self.n_row_clusters, self.n_column_clusters), method=self.method,
                                     n_init=self.n_init, random_state=self.random_state).fit(non_negative(X))
        self.row_labels_, self.column_labels_ = model.row_labels_, model.column_labels_
        self.n_iter_ = 0
        return self
