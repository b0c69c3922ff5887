"""Naive baseline: k-means on the rows and, independently, on the columns."""

from __future__ import annotations

from sklearn.cluster import KMeans

from . import register
from ._base import BiclusterMethod, check_matrix


@register
class KMeansRowsCols(BiclusterMethod):
    name = "kmeans_rows_cols"

    def __init__(self, n_row_clusters: int = 3, n_column_clusters: int = 3, n_init: int = 10, random_state: int = 0):
        self.n_row_clusters = n_row_clusters
        self.n_column_clusters = n_column_clusters
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None):
        X = check_matrix(X)
        self._check_counts(X)
        rows = KMeans(self.n_row_clusters, n_init=self.n_init, random_state=self.random_state).fit(X)
        columns = KMeans(self.n_column_clusters, n_init=self.n_init, random_state=self.random_state).fit(X.T)
        self.row_labels_, self.column_labels_ = rows.labels_, columns.labels_
        self.n_iter_ = int(rows.n_iter_ + columns.n_iter_)
        return self
