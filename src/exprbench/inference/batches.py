"""Mini-batches of (landmarks, targets), z-scored, streamed from the HDF5 store.

The paper-scale GEO matrix (111k x 10.5k float32, ~4.6 GB) never has to sit in
memory: :class:`StoreBatches` reads the split's rows in chunks of consecutive
rows (a contiguous slice of the file each), visits the chunks in a seeded random
order every epoch and shuffles the rows within each chunk. When the split's
matrix is below ``max_in_memory_mb`` it is read once and shuffled whole instead.
:class:`ArrayBatches` gives the same interface over arrays already in memory.
"""

from __future__ import annotations

import queue
import threading

import h5py
import numpy as np

from ..seeding import make_rng
from .data import zscore

DEFAULT_CHUNK_ROWS = 4096
PREFETCH_CHUNKS = 2
_DONE = object()


def prefetched(items, depth: int = PREFETCH_CHUNKS):
    """Iterate ``items`` produced by a background thread, up to ``depth`` ahead.

    Reading and decompressing the next chunk overlaps with training on the current
    one (torch releases the GIL); errors in the reader are raised here.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce():
        try:
            for item in items:
                if stop.is_set():
                    return
                buffer.put(item)
            buffer.put(_DONE)
        except BaseException as error:  # handed to the consumer
            buffer.put(error)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


class ArrayBatches:
    """Batches over in-memory ``X`` (samples x landmarks) and ``Y`` (samples x targets)."""

    def __init__(self, X, Y, batch_size: int = 200, seed: int = 0):
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.Y = np.ascontiguousarray(Y, dtype=np.float32)
        if self.X.ndim != 2 or self.Y.ndim != 2 or len(self.X) != len(self.Y):
            raise ValueError(f"X and Y must be 2-D with one row per sample, got {self.X.shape} and {self.Y.shape}")
        self.batch_size = int(batch_size)
        self.seed = int(seed)

    @property
    def n_samples(self) -> int:
        return len(self.X)

    @property
    def n_inputs(self) -> int:
        return self.X.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.Y.shape[1]

    def rebatched(self, batch_size: int, seed: int) -> ArrayBatches:
        return ArrayBatches(self.X, self.Y, batch_size, seed)

    def epoch(self, epoch: int):
        order = make_rng(self.seed, "batches", epoch).permutation(self.n_samples)
        for start in range(0, self.n_samples, self.batch_size):
            rows = order[start:start + self.batch_size]
            yield self.X[rows], self.Y[rows]

    def in_order(self, batch_size: int | None = None):
        size = batch_size or self.batch_size
        for start in range(0, self.n_samples, size):
            yield self.X[start:start + size], self.Y[start:start + size]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X, self.Y

    def subset(self, n: int, key: str = "subset") -> tuple[np.ndarray, np.ndarray]:
        """A fixed, seeded subset of at most ``n`` samples (D-GEX monitors 5,000 training samples)."""
        if n >= self.n_samples:
            return self.X, self.Y
        rows = np.sort(make_rng(self.seed, key).choice(self.n_samples, size=n, replace=False))
        return self.X[rows], self.Y[rows]


class StoreBatches:
    """Batches of one split read from a store; see the module docstring."""

    def __init__(self, path, rows, x_columns, y_columns, mean, std, batch_size: int = 200, seed: int = 0,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS, max_in_memory_mb: float = 1024.0):
        self.path = str(path)
        self.rows = np.sort(np.asarray(rows, dtype=np.int64))
        self.columns = np.concatenate([np.asarray(x_columns), np.asarray(y_columns)]).astype(np.int64)
        self._n_inputs = len(x_columns)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        if self.mean.shape != (len(self.columns),) or self.std.shape != (len(self.columns),):
            raise ValueError(f"z-score statistics need one value per landmark and target ({len(self.columns)})")
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.chunk_rows = max(int(chunk_rows), self.batch_size)
        self.max_in_memory_mb = float(max_in_memory_mb)
        self._memory: ArrayBatches | None = None
        self._subsets: dict = {}
        if self.matrix_mb <= self.max_in_memory_mb:
            X, Y = self._read_all()
            self._memory = ArrayBatches(X, Y, self.batch_size, self.seed)

    @property
    def matrix_mb(self) -> float:
        return len(self.rows) * len(self.columns) * 4 / 2 ** 20

    @property
    def in_memory(self) -> bool:
        return self._memory is not None

    @property
    def n_samples(self) -> int:
        return len(self.rows)

    @property
    def n_inputs(self) -> int:
        return self._n_inputs

    @property
    def n_outputs(self) -> int:
        return len(self.columns) - self._n_inputs

    def rebatched(self, batch_size: int, seed: int):
        if self._memory is not None:
            return self._memory.rebatched(batch_size, seed)
        return StoreBatches(self.path, self.rows, self.columns[:self._n_inputs], self.columns[self._n_inputs:],
                            self.mean, self.std, batch_size, seed, self.chunk_rows, self.max_in_memory_mb)

    def _chunks(self) -> list[np.ndarray]:
        return [self.rows[i:i + self.chunk_rows] for i in range(0, len(self.rows), self.chunk_rows)]

    def _read(self, matrix, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        first, last = int(chunk[0]), int(chunk[-1]) + 1
        if last - first <= 4 * len(chunk):
            # One contiguous slice is far faster in HDF5 than a scattered row selection.
            block = matrix[first:last][chunk - first]
        else:
            block = matrix[chunk.tolist()]
        values = zscore(block[:, self.columns], self.mean, self.std)
        return values[:, :self._n_inputs], values[:, self._n_inputs:]

    def _read_all(self) -> tuple[np.ndarray, np.ndarray]:
        parts = list(self._read_chunks(self._chunks()))
        if not parts:
            return (np.empty((0, self.n_inputs), np.float32), np.empty((0, self.n_outputs), np.float32))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _read_chunks(self, chunks):
        # The store keeps its matrix as the HDF5 dataset "expression" (exprbench.store).
        with h5py.File(self.path, "r") as h5:
            matrix = h5["expression"]
            for chunk in chunks:
                yield self._read(matrix, chunk)

    def epoch(self, epoch: int):
        if self._memory is not None:
            yield from self._memory.epoch(epoch)
            return
        rng = make_rng(self.seed, "batches", epoch)
        chunks = self._chunks()
        order = rng.permutation(len(chunks))
        for X, Y in prefetched(self._read_chunks([chunks[i] for i in order])):
            rows = rng.permutation(len(X))
            for start in range(0, len(X), self.batch_size):
                pick = rows[start:start + self.batch_size]
                yield X[pick], Y[pick]

    def in_order(self, batch_size: int | None = None):
        if self._memory is not None:
            yield from self._memory.in_order(batch_size)
            return
        size = batch_size or self.batch_size
        for X, Y in prefetched(self._read_chunks(self._chunks())):
            for start in range(0, len(X), size):
                yield X[start:start + size], Y[start:start + size]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole split in memory (for the shallow models that need it)."""
        if self._memory is not None:
            return self._memory.arrays()
        return self._read_all()

    def subset(self, n: int, key: str = "subset") -> tuple[np.ndarray, np.ndarray]:
        if self._memory is not None:
            return self._memory.subset(n, key)
        if n >= self.n_samples:
            return self._read_all()
        # Cached: D-GEX scores the same monitoring subset after every epoch.
        if (n, key) not in self._subsets:
            picked = np.sort(make_rng(self.seed, key).choice(self.rows, size=n, replace=False))
            with h5py.File(self.path, "r") as h5:
                self._subsets[(n, key)] = self._read(h5["expression"], picked)
        return self._subsets[(n, key)]


def as_batches(X, Y=None, batch_size: int = 200, seed: int = 0):
    """A batch source from arrays, or the given source with this batch size and seed."""
    if Y is None:
        if not hasattr(X, "epoch"):
            raise ValueError("fit needs Y, or X must be a batch source (ArrayBatches or StoreBatches)")
        return X.rebatched(batch_size, seed)
    return ArrayBatches(X, Y, batch_size, seed)
