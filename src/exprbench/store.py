"""The HDF5 expression store: the only module that opens dataset files.

Layout of one file (one dataset):

    /expression          float32 [n_samples, n_genes], chunked by sample rows, gzip
    /samples/<column>    UTF-8 strings, one dataset per column; "" means missing
    /genes/gene_id       UTF-8 strings; Ensembl ids lose their version (see genes.py)
    /genes/symbol        UTF-8 strings
    /arrays/<name>       optional numeric arrays that belong with the data (e.g. reference quantiles)
    attributes on /      format_version, source, source_version, preprocessing (JSON),
                         exprbench_version, sample_columns (JSON list), all_finite
                         (set by the writer, which refuses NaN and infinite values)

Every samples table has ``sample_id``, ``study`` and ``donor`` columns; every other
column is a label that tasks may use.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from . import __version__
from .atomic import atomic_path
from .genes import unversioned

FORMAT_VERSION = 1
REQUIRED_SAMPLE_COLUMNS = ("sample_id", "study", "donor")
_TARGET_CHUNK_BYTES = 1 << 20


class StoreError(ValueError):
    """A dataset file or its contents do not follow the store layout."""


@dataclass
class ExpressionData:
    """An in-memory dataset: samples x genes matrix with its two tables."""

    expression: np.ndarray
    samples: pd.DataFrame
    genes: pd.DataFrame
    provenance: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)

    def __post_init__(self):
        self.expression = np.asarray(self.expression, dtype=np.float32)
        self.samples = self.samples.reset_index(drop=True)
        self.genes = self.genes.reset_index(drop=True)
        self.check_tables(self.samples, self.genes, self.expression.shape)

    @staticmethod
    def check_tables(samples: pd.DataFrame, genes: pd.DataFrame, shape: tuple[int, int]) -> None:
        n_samples, n_genes = shape
        missing = [c for c in REQUIRED_SAMPLE_COLUMNS if c not in samples.columns]
        if missing:
            raise StoreError(f"samples table lacks required columns {missing}")
        if len(samples) != n_samples:
            raise StoreError(f"{len(samples)} sample rows for {n_samples} matrix rows")
        if list(genes.columns[:2]) != ["gene_id", "symbol"] or len(genes) != n_genes:
            raise StoreError("genes table must have columns gene_id, symbol and one row per matrix column")
        if samples["sample_id"].duplicated().any():
            raise StoreError("sample ids must be unique")


def _chunk_shape(n_samples: int, n_genes: int) -> tuple[int, int]:
    # Whole rows when they fit: reading a subset of samples then touches only their chunks.
    genes_per_chunk = min(n_genes, max(1, _TARGET_CHUNK_BYTES // 4))
    rows = max(1, min(n_samples, _TARGET_CHUNK_BYTES // (4 * genes_per_chunk)))
    return rows, genes_per_chunk


def first_non_finite(block: np.ndarray) -> tuple[int, int] | None:
    """(row, column) of the first NaN or infinite cell of a 2-D block, or None."""
    bad = ~np.isfinite(block)
    if not bad.any():
        return None
    row = int(np.flatnonzero(bad.any(axis=1))[0])
    return row, int(np.flatnonzero(bad[row])[0])


def non_finite_error(path, row: int, column: int, value, sample_id=None, gene_id=None) -> StoreError:
    sample = f" (sample {sample_id})" if sample_id is not None else ""
    gene = f" (gene {gene_id})" if gene_id is not None else ""
    return StoreError(
        f"{path}: expression value {value} at sample row {row}{sample}, gene column {column}{gene} is not finite; "
        "remove or impute NaN and infinite values before the data enter the store "
        "(for a prepared store: delete it so that the prepare step rebuilds it)"
    )


def _as_strings(values: pd.Series) -> np.ndarray:
    return np.array(["" if pd.isna(v) else str(v) for v in values], dtype=object)


class DatasetStream:
    """Writes a dataset block by block, so large inputs never sit in memory whole.

    Use through :func:`stream_dataset`; the file appears under its final name only
    after :meth:`finish`.
    """

    def __init__(self, h5: h5py.File, genes: pd.DataFrame, expected_samples: int | None, path=None):
        self._h5 = h5
        self._path = path
        self.genes = genes.reset_index(drop=True).copy()
        self.genes["gene_id"] = unversioned(self.genes["gene_id"])
        n_genes = len(self.genes)
        rows_hint = expected_samples or _TARGET_CHUNK_BYTES // (4 * max(n_genes, 1))
        self._matrix = h5.create_dataset(
            "expression", shape=(0, n_genes), maxshape=(None, n_genes), dtype=np.float32,
            chunks=_chunk_shape(max(rows_hint, 1), n_genes), compression="gzip", compression_opts=4, shuffle=True,
        )
        self.n_samples = 0
        self.finished = False

    def append(self, block) -> None:
        """Add rows (samples x genes) to the matrix."""
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 2 or block.shape[1] != self._matrix.shape[1]:
            raise StoreError(f"block of shape {block.shape} does not have {self._matrix.shape[1]} gene columns")
        start = self.n_samples
        bad = first_non_finite(block)
        if bad is not None:
            row, column = bad
            raise non_finite_error(self._path, start + row, column, block[row, column],
                                   gene_id=self.genes["gene_id"].iloc[column])
        self._matrix.resize(start + block.shape[0], axis=0)
        self._matrix[start:, :] = block
        self.n_samples += block.shape[0]

    def add_array(self, name: str, values) -> None:
        """Store a numeric array that belongs with the data, read back with ``DatasetReader.array``."""
        self._h5.require_group("arrays").create_dataset(name, data=np.asarray(values))

    def finish(self, samples: pd.DataFrame, provenance: dict) -> None:
        """Write the tables and provenance; checks they match the matrix."""
        ExpressionData.check_tables(samples, self.genes, (self.n_samples, len(self.genes)))
        text = h5py.string_dtype("utf-8")
        group = self._h5.create_group("samples")
        for column in samples.columns:
            group.create_dataset(column, data=_as_strings(samples[column]), dtype=text)
        genes = self._h5.create_group("genes")
        for column in ("gene_id", "symbol"):
            genes.create_dataset(column, data=_as_strings(self.genes[column]), dtype=text)
        provenance = dict(provenance)
        attrs = self._h5.attrs
        attrs["format_version"] = FORMAT_VERSION
        attrs["source"] = str(provenance.pop("source", "unknown"))
        attrs["source_version"] = str(provenance.pop("source_version", "unknown"))
        attrs["preprocessing"] = json.dumps(provenance.pop("preprocessing", []))
        attrs["extra"] = json.dumps(provenance, sort_keys=True, default=str)
        attrs["exprbench_version"] = __version__
        attrs["sample_columns"] = json.dumps(list(samples.columns))
        attrs["all_finite"] = True  # every block passed append's check
        self.finished = True


@contextlib.contextmanager
def stream_dataset(path: str | Path, genes: pd.DataFrame, expected_samples: int | None = None):
    """Open a :class:`DatasetStream`; the file is renamed into place only if
    ``finish`` was called and no error occurred."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            stream = DatasetStream(h5, genes, expected_samples, path=path)
            yield stream
        if not stream.finished:
            raise StoreError(f"{path}: dataset stream closed without finish(); nothing was written")


def write_dataset(path: str | Path, data: ExpressionData) -> None:
    """Write an in-memory dataset to ``path`` atomically."""
    with stream_dataset(path, data.genes, expected_samples=data.expression.shape[0]) as stream:
        stream.append(data.expression)
        for name, values in data.arrays.items():
            stream.add_array(name, values)
        stream.finish(data.samples, data.provenance)


class DatasetReader:
    """Read-only access to one dataset file; the matrix is read lazily by rows."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise StoreError(f"{self.path}: dataset file not found; run the workflow's prepare step first")
        try:
            self._h5 = h5py.File(self.path, "r")
        except OSError as err:
            raise StoreError(f"{self.path}: not a readable HDF5 file ({err})") from err
        if self._h5.attrs.get("format_version") != FORMAT_VERSION or "expression" not in self._h5:
            self._h5.close()
            raise StoreError(f"{self.path}: not an exprbench dataset (format_version {FORMAT_VERSION} expected)")
        self._samples: pd.DataFrame | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self._h5.close()

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self._h5["expression"].shape)

    @property
    def samples(self) -> pd.DataFrame:
        if self._samples is None:
            columns = json.loads(self._h5.attrs["sample_columns"])
            table = {c: self._h5["samples"][c].asstr()[...] for c in columns}
            frame = pd.DataFrame(table, dtype=object)
            self._samples = frame.replace("", pd.NA)
        return self._samples

    @property
    def genes(self) -> pd.DataFrame:
        return pd.DataFrame({c: self._h5["genes"][c].asstr()[...] for c in ("gene_id", "symbol")})

    @property
    def provenance(self) -> dict:
        attrs = self._h5.attrs
        return {
            "source": attrs["source"],
            "source_version": attrs["source_version"],
            "preprocessing": json.loads(attrs["preprocessing"]),
            "exprbench_version": attrs["exprbench_version"],
            **json.loads(attrs.get("extra", "{}")),
        }

    def array_names(self) -> list[str]:
        return sorted(self._h5["arrays"]) if "arrays" in self._h5 else []

    def array(self, name: str) -> np.ndarray:
        if name not in self.array_names():
            raise StoreError(f"{self.path}: no stored array {name!r} (has: {', '.join(self.array_names()) or 'none'})")
        return self._h5["arrays"][name][...]

    def check_finite(self, block_rows: int = 1024) -> None:
        """Raise a :class:`StoreError` naming the first NaN or infinite cell.

        A store this package wrote is finite by construction and is not read
        again; one from elsewhere (or an older writer) is scanned block by block.
        """
        if self._h5.attrs.get("all_finite", False):
            return
        n_samples = self.shape[0]
        for start in range(0, n_samples, block_rows):
            stop = min(start + block_rows, n_samples)
            self._finite(self._h5["expression"][start:stop], np.arange(start, stop))

    def read_expression(self, rows=None, columns=None, block_rows: int = 1024) -> np.ndarray:
        """Return the float32 matrix for the given sample rows (all rows when None).

        Only the chunks holding the requested rows are read from disk. With
        ``columns`` (gene indices), rows are read ``block_rows`` at a time and cut
        to those genes, so memory holds one block of full rows, not all of them.
        """
        if columns is not None:
            return self._read_columns(rows, np.asarray(columns, dtype=np.int64), block_rows)
        dataset = self._h5["expression"]
        if rows is None:
            return self._finite(dataset[...], np.arange(dataset.shape[0]))
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.empty((0, dataset.shape[1]), dtype=np.float32)
        if rows.min() < 0 or rows.max() >= dataset.shape[0]:
            raise IndexError(f"{self.path}: sample row out of range 0..{dataset.shape[0] - 1}")
        order = np.argsort(rows, kind="stable")
        unique_sorted, inverse = np.unique(rows[order], return_inverse=True)
        block = self._finite(dataset[unique_sorted, :], unique_sorted)
        out = np.empty((rows.size, dataset.shape[1]), dtype=np.float32)
        out[order] = block[inverse]
        return out

    def _finite(self, block: np.ndarray, store_rows: np.ndarray) -> np.ndarray:
        """``block`` unchanged, or a clear error where a store was altered to hold NaN or inf."""
        bad = first_non_finite(block)
        if bad is not None:
            row, column = bad
            store_row = int(store_rows[row])
            raise non_finite_error(self.path, store_row, column, block[row, column],
                                   self.samples["sample_id"].iloc[store_row], self.genes["gene_id"].iloc[column])
        return block

    def row_blocks(self, block_rows: int = 1024):
        """Yield the whole matrix as consecutive blocks of at most ``block_rows`` sample rows."""
        dataset = self._h5["expression"]
        for start in range(0, dataset.shape[0], block_rows):
            yield dataset[start:start + block_rows]

    def _read_columns(self, rows, columns: np.ndarray, block_rows: int) -> np.ndarray:
        n_samples, n_genes = self.shape
        if columns.size and (columns.min() < 0 or columns.max() >= n_genes):
            raise IndexError(f"{self.path}: gene column out of range 0..{n_genes - 1}")
        rows = np.arange(n_samples) if rows is None else np.asarray(rows, dtype=np.int64)
        out = np.empty((rows.size, columns.size), dtype=np.float32)
        for start in range(0, rows.size, block_rows):
            out[start:start + block_rows] = self.read_expression(rows[start:start + block_rows])[:, columns]
        return out


def open_dataset(path: str | Path) -> DatasetReader:
    return DatasetReader(path)
