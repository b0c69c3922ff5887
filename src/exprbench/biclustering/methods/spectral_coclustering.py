"""scikit-learn's spectral co-clustering (Dhillon 2001), a standard baseline.

It pairs each row cluster with one column cluster, so one ``n_clusters`` serves
both: the larger of the two requested counts. The matrix is shifted to be
non-negative first (it normalises by row and column sums)."""

from __future__ import annotations

from sklearn.cluster import SpectralCoclustering

from . import register
from ._base import BiclusterMethod, check_matrix, non_negative


@register
class SpectralCoclusteringMethod(BiclusterMethod):
    name = "spectral_coclustering"

    def __init__(self, n_row_clusters: int = 3, n_column_clusters: int = 3, n_init: int = 10, random_state: int = 0):
        self.n_row_clusters = n_row_clusters
        self.n_column_clusters = n_column_clusters
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None):
        X = check_matrix(X)
        self._check_counts(X)
        model = SpectralCoclustering(max(self.n_row_clusters, self.n_column_clusters), n_init=self.n_init,
                                     random_state=self.random_state).fit(non_negative(X))
        self.row_labels_, self.column_labels_ = model.row_labels_, model.column_labels_
        self.n_iter_ = 0
        return self
