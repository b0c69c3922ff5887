"""Per-gene statistics of a whole dataset store, for ``preprocessing.fit_on: all``.

Heil et al. min-max scaled every gene and chose the 5,000 most variable genes over
the whole compendium (all samples of Recount3 or GTEx), not over one task's
samples. A task's fit job reads only its own samples, so the compendium's
statistics are computed once per dataset, streamed over the store's row blocks
(memory holds one block, never the 17,382 x 56,200 GTEx matrix), and written
atomically beside the store. :meth:`GenePreprocessor.fit_stats` builds the
preprocessor from them.

Both the values as stored and their log2(x + 1) are summarised in the same pass,
so one file serves tasks with either ``preprocessing.log2`` setting. Moments are
accumulated in float64 and merged block by block (Chan et al.'s pairwise update),
so the result does not depend on the block size beyond rounding.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .store import DatasetReader

#: Bytes of one float64 block; bounds memory whatever the number of genes.
BLOCK_BYTES = 16 << 20
SCALES = ("raw", "log2")


class _Moments:
    """Running per-gene count, min, max, mean and sum of squared deviations."""

    def __init__(self, n_genes: int):
        self.n = 0
        self.minimum = np.full(n_genes, np.inf)
        self.maximum = np.full(n_genes, -np.inf)
        self.mean = np.zeros(n_genes)
        self.squares = np.zeros(n_genes)

    def add(self, block: np.ndarray) -> None:
        n_block = block.shape[0]
        if not n_block:
            return
        block_mean = block.mean(axis=0)
        block_squares = ((block - block_mean) ** 2).sum(axis=0)
        total = self.n + n_block
        delta = block_mean - self.mean
        self.mean = self.mean + delta * (n_block / total)
        self.squares = self.squares + block_squares + delta ** 2 * (self.n * n_block / total)
        self.n = total
        np.minimum(self.minimum, block.min(axis=0), out=self.minimum)
        np.maximum(self.maximum, block.max(axis=0), out=self.maximum)

    def result(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}_min": self.minimum, f"{prefix}_max": self.maximum, f"{prefix}_mean": self.mean,
                f"{prefix}_var": self.squares / max(self.n, 1)}


def compendium_stats(reader: DatasetReader, block_rows: int | None = None) -> dict[str, np.ndarray]:
    """Per-gene min, max, mean and (population) variance of every sample in the store,
    of the stored values (``raw_*``) and of log2(x + 1) (``log2_*``; absent when the
    store holds negative values, which have no log2(x + 1))."""
    n_samples, n_genes = reader.shape
    if n_samples == 0:
        raise ValueError(f"{reader.path}: the store holds no samples; rerun its prepare step")
    block_rows = block_rows or max(1, BLOCK_BYTES // (8 * max(n_genes, 1)))
    raw, logged = _Moments(n_genes), _Moments(n_genes)
    loggable = True
    for block in reader.row_blocks(block_rows):
        block = block.astype(np.float64)
        raw.add(block)
        if loggable and block.size and block.min() < 0:
            loggable = False
        if loggable:
            logged.add(np.log2(block + 1))
    stats = {"n_samples": np.array(n_samples), **raw.result("raw")}
    if loggable:
        stats.update(logged.result("log2"))
    return stats


def write_stats(path, stats: dict[str, np.ndarray], dataset_file) -> None:
    info = {"dataset_file": str(dataset_file), "scales": [s for s in SCALES if f"{s}_var" in stats]}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, info=np.array(json.dumps(info)), **stats)


def read_stats(path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: compendium statistics not found; the workflow's compendium_stats rule "
                                f"writes them (exprbench compendium-stats)")
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files if name != "info"}


def manifest_stats(manifest: dict) -> dict[str, np.ndarray]:
    """The compendium statistics a task's manifest points to (``preprocessing.fit_on: all``)."""
    path = manifest.get("compendium_stats")
    if not path:
        raise ValueError(f"task {manifest['task']}: preprocessing.fit_on is 'all' but its manifest names no "
                         f"compendium statistics; rebuild the manifest with the workflow (or `exprbench manifest "
                         f"--compendium-stats`)")
    return read_stats(path)
