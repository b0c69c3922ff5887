"""Per-class multivariate normal in a PCA space: the simple baseline.

PCA is fitted on all training samples; each class gets its mean and a Ledoit-Wolf
shrunk covariance of its PCA scores (shrinkage keeps a class with fewer samples
than components well conditioned). A sample is a draw of scores mapped back to
genes, plus independent per-gene noise with the residual variance PCA leaves out,
so per-gene variances match the training data and not only the top components.
"""

from __future__ import annotations

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA

from . import register
from ._base import Generator


@register
class GaussianClass(Generator):
    name = "gaussian_class"

    def __init__(self, n_components: int = 20, residual_noise: bool = True, random_state: int = 0):
        self.n_components = n_components
        self.residual_noise = residual_noise
        self.random_state = random_state

    def fit(self, X, y):
        X, y = self._start_fit(X, y)
        k = max(1, min(self.n_components, X.shape[0] - 1, X.shape[1]))
        self.pca_ = PCA(n_components=k, random_state=0).fit(X)
        scores = self.pca_.transform(X)
        self.means_, self.covariances_ = {}, {}
        within = np.zeros((k, k))
        for c in self.classes_:
            part = scores[y == c]
            self.means_[c] = part.mean(axis=0)
            if len(part) > 1:
                within += (part - self.means_[c]).T @ (part - self.means_[c])
        n_within = len(y) - len(self.classes_)
        pooled = within / n_within if n_within > 0 else np.atleast_2d(np.cov(scores, rowvar=False))
        for c in self.classes_:
            part = scores[y == c]
            # A class of one or two samples borrows the pooled within-class covariance.
            self.covariances_[c] = LedoitWolf().fit(part).covariance_ if len(part) > 2 else pooled
        residual = X - self.pca_.inverse_transform(scores)
        self.residual_sd_ = residual.std(axis=0) if self.residual_noise else np.zeros(X.shape[1])
        return self

    def sample(self, y) -> np.ndarray:
        y = self._check_sample(y)
        rng = self._rng("sample", len(y))
        k = self.pca_.n_components_
        scores = np.empty((len(y), k))
        for c in np.unique(y):
            rows = np.flatnonzero(y == c)
            scores[rows] = rng.multivariate_normal(self.means_[c], self.covariances_[c], size=len(rows),
                                                   method="eigh")
        X = self.pca_.inverse_transform(scores)
        return X + rng.standard_normal(X.shape) * self.residual_sd_
