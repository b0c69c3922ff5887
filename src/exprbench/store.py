"""The HDF5 expression store: the only module that opens dataset files.

Layout of one file (one dataset):

    /expression          float32 [n_samples, n_genes], chunked by sample rows, gzip
    /samples/<column>    UTF-8 strings, one dataset per column; "" means missing
    /genes/gene_id       UTF-8 strings
    /genes/symbol        UTF-8 strings
    attributes on /      format_version, source, source_version, preprocessing (JSON),
                         exprbench_version, sample_columns (JSON list)

Every samples table has ``sample_id``, ``study`` and ``donor`` columns; every other
column is a label that tasks may use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from . import __version__
from .atomic import atomic_path

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

    def __post_init__(self):
        self.expression = np.asarray(self.expression, dtype=np.float32)
        self.samples = self.samples.reset_index(drop=True)
        self.genes = self.genes.reset_index(drop=True)
        n_samples, n_genes = self.expression.shape
        missing = [c for c in REQUIRED_SAMPLE_COLUMNS if c not in self.samples.columns]
        if missing:
            raise StoreError(f"samples table lacks required columns {missing}")
        if len(self.samples) != n_samples:
            raise StoreError(f"{len(self.samples)} sample rows for {n_samples} matrix rows")
        if list(self.genes.columns[:2]) != ["gene_id", "symbol"] or len(self.genes) != n_genes:
            raise StoreError("genes table must have columns gene_id, symbol and one row per matrix column")
        if self.samples["sample_id"].duplicated().any():
            raise StoreError("sample ids must be unique")


def _chunk_shape(n_samples: int, n_genes: int) -> tuple[int, int]:
    # Whole rows when they fit: reading a subset of samples then touches only their chunks.
    genes_per_chunk = min(n_genes, max(1, _TARGET_CHUNK_BYTES // 4))
    rows = max(1, min(n_samples, _TARGET_CHUNK_BYTES // (4 * genes_per_chunk)))
    return rows, genes_per_chunk


def _as_strings(values: pd.Series) -> np.ndarray:
    return np.array(["" if pd.isna(v) else str(v) for v in values], dtype=object)


def write_dataset(path: str | Path, data: ExpressionData) -> None:
    """Write ``data`` to ``path`` atomically."""
    n_samples, n_genes = data.expression.shape
    text = h5py.string_dtype("utf-8")
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.create_dataset(
                "expression",
                data=data.expression,
                chunks=_chunk_shape(n_samples, n_genes),
                compression="gzip",
                compression_opts=4,
                shuffle=True,
            )
            samples = h5.create_group("samples")
            for column in data.samples.columns:
                samples.create_dataset(column, data=_as_strings(data.samples[column]), dtype=text)
            genes = h5.create_group("genes")
            for column in ("gene_id", "symbol"):
                genes.create_dataset(column, data=_as_strings(data.genes[column]), dtype=text)
            provenance = dict(data.provenance)
            h5.attrs["format_version"] = FORMAT_VERSION
            h5.attrs["source"] = str(provenance.pop("source", "unknown"))
            h5.attrs["source_version"] = str(provenance.pop("source_version", "unknown"))
            h5.attrs["preprocessing"] = json.dumps(provenance.pop("preprocessing", []))
            h5.attrs["extra"] = json.dumps(provenance, sort_keys=True, default=str)
            h5.attrs["exprbench_version"] = __version__
            h5.attrs["sample_columns"] = json.dumps(list(data.samples.columns))


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

    def read_expression(self, rows=None) -> np.ndarray:
        """Return the float32 matrix for the given sample rows (all rows when None).

        Only the chunks holding the requested rows are read from disk.
        """
        dataset = self._h5["expression"]
        if rows is None:
            return dataset[...]
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.empty((0, dataset.shape[1]), dtype=np.float32)
        if rows.min() < 0 or rows.max() >= dataset.shape[0]:
            raise IndexError(f"{self.path}: sample row out of range 0..{dataset.shape[0] - 1}")
        order = np.argsort(rows, kind="stable")
        unique_sorted, inverse = np.unique(rows[order], return_inverse=True)
        block = dataset[unique_sorted, :]
        out = np.empty((rows.size, dataset.shape[1]), dtype=np.float32)
        out[order] = block[inverse]
        return out


def open_dataset(path: str | Path) -> DatasetReader:
    return DatasetReader(path)
