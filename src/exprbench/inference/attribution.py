"""Relevance of landmark genes to clusters of target genes, by gradient x input.

Deep-LSMTL's visualisation (Fig. 6) relates landmark genes to 20 clusters of
target genes with layer-wise relevance propagation. A simpler attribution stands
in here: for each target cluster ``c`` and sample ``x``, the gradient of the sum
of the cluster's predicted targets with respect to the landmarks, times the
landmarks; relevance[c, l] is its absolute value averaged over samples. Target
genes are clustered (k-means) by their training profiles, landmarks likewise
into ``n_landmark_groups`` groups so the heat map can be ordered by group.
"""

from __future__ import annotations

import numpy as np
import torch


def gene_clusters(profiles: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """k-means labels of the *columns* of ``profiles`` (samples x genes), ordered by size."""
    from sklearn.cluster import KMeans

    n_clusters = max(1, min(int(n_clusters), profiles.shape[1]))
    labels = KMeans(n_clusters=n_clusters, n_init=4, random_state=seed).fit_predict(profiles.T.astype(np.float64))
    # Relabel so cluster 0 is the largest: stable, readable figure rows.
    order = np.argsort(-np.bincount(labels, minlength=n_clusters), kind="stable")
    return np.argsort(order)[labels]


def gradient_times_input(network: torch.nn.Module, X: np.ndarray, target_clusters: np.ndarray) -> np.ndarray:
    """Mean |d(sum of a cluster's outputs)/dx * x| over samples: clusters x landmarks."""
    device = next(network.parameters()).device
    network = network.eval()
    x = torch.as_tensor(np.asarray(X, np.float32), device=device).requires_grad_(True)
    outputs = network(x)
    n_clusters = int(target_clusters.max()) + 1
    membership = torch.zeros(outputs.shape[1], n_clusters, device=device)
    membership[torch.arange(outputs.shape[1]), torch.as_tensor(target_clusters, device=device)] = 1.0
    per_cluster = outputs @ membership  # samples x clusters
    relevance = np.zeros((n_clusters, x.shape[1]))
    for c in range(n_clusters):
        (gradient,) = torch.autograd.grad(per_cluster[:, c].sum(), x, retain_graph=c < n_clusters - 1)
        relevance[c] = (gradient * x).abs().mean(dim=0).detach().cpu().numpy()
    return relevance
