"""AnnData ``.h5ad`` files, read and written with h5py alone.

The layout follows the AnnData on-disk specification (``encoding-type`` and
``encoding-version`` attributes on every element), so files written here open with
``anndata.read_h5ad`` and files anndata writes are read here. h5py does the work
rather than the ``anndata`` package because anndata's releases require pandas < 3,
which this project pins; the ``anndata`` extra installs it for users who want the
in-memory object, and tests check the two agree when it is importable.

Export (store -> h5ad): ``X`` float32 samples x genes, copied in blocks of sample
rows; ``obs`` the samples table (index ``sample_id``, every other column
categorical, so a missing value stays missing); ``var`` the genes table (index
``gene_id``, column ``symbol``); ``uns/provenance`` the store's provenance as nested
mappings, and ``uns/exprbench_provenance_json`` the same as one JSON string, which
the ``local`` source reads back exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from .atomic import atomic_path
from .store import _chunk_shape, open_dataset

PROVENANCE_JSON_KEY = "exprbench_provenance_json"
_TEXT = h5py.string_dtype("utf-8")


class H5adError(ValueError):
    """An .h5ad file that does not follow the AnnData layout this module reads."""


# ----------------------------------------------------------------------------- writing


def _encode(node, kind: str, version: str) -> None:
    node.attrs["encoding-type"] = kind
    node.attrs["encoding-version"] = version


def _write_strings(group: h5py.Group, name: str, values) -> None:
    data = np.array(["" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v) for v in values],
                    dtype=object)
    _encode(group.create_dataset(name, data=data, dtype=_TEXT), "string-array", "0.2.0")


def _write_categorical(group: h5py.Group, name: str, values: pd.Series) -> None:
    """Strings as codes into sorted categories; a missing value has code -1."""
    present = values[values.notna()].astype(str)
    categories = np.array(sorted(set(present)), dtype=object)
    lookup = {c: i for i, c in enumerate(categories)}
    codes = np.array([-1 if pd.isna(v) else lookup[str(v)] for v in values], dtype=np.int32)
    column = group.create_group(name)
    _encode(column, "categorical", "0.2.0")
    column.attrs["ordered"] = False
    column.create_dataset("codes", data=codes)
    _write_strings(column, "categories", categories)


def _write_frame(parent: h5py.Group, name: str, index_name: str, index, columns: dict) -> None:
    group = parent.create_group(name)
    _encode(group, "dataframe", "0.2.0")
    group.attrs["_index"] = index_name
    group.attrs["column-order"] = np.array(list(columns), dtype=object) if columns else np.array([], dtype="float64")
    _write_strings(group, index_name, index)
    for column, (kind, values) in columns.items():
        if kind == "categorical":
            _write_categorical(group, column, values)
        else:
            _write_strings(group, column, values)


def _write_value(parent: h5py.Group, name: str, value) -> None:
    """One provenance entry as the nearest AnnData element; anything else as JSON text."""
    if isinstance(value, dict):
        group = parent.create_group(name)
        _encode(group, "dict", "0.1.0")
        for key, item in value.items():
            _write_value(group, str(key), item)
    elif isinstance(value, str):
        _encode(parent.create_dataset(name, data=value, dtype=_TEXT), "string", "0.2.0")
    elif isinstance(value, (bool, int, float, np.integer, np.floating)):
        _encode(parent.create_dataset(name, data=value), "numeric-scalar", "0.2.0")
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        _write_strings(parent, name, value)
    else:
        _encode(parent.create_dataset(name, data=json.dumps(value, default=str), dtype=_TEXT), "string", "0.2.0")


def _empty_mapping(parent: h5py.Group, name: str) -> h5py.Group:
    group = parent.create_group(name)
    _encode(group, "dict", "0.1.0")
    return group


def export_h5ad(store_path: str | Path, out_path: str | Path, block_cells: int = 1 << 22) -> tuple[int, int]:
    """Write the store at ``store_path`` as AnnData at ``out_path`` (atomically);
    returns (samples, genes). The matrix is copied in blocks of about ``block_cells`` values."""
    with open_dataset(store_path) as reader, atomic_path(out_path) as tmp:
        n_samples, n_genes = reader.shape
        samples, genes, provenance = reader.samples, reader.genes, reader.provenance
        block_rows = max(1, block_cells // max(n_genes, 1))
        with h5py.File(tmp, "w") as h5:
            _encode(h5, "anndata", "0.1.0")
            # The store's chunking: whole rows of about 1 MB, so reading some samples stays cheap.
            chunks = _chunk_shape(n_samples, n_genes) if n_samples and n_genes else None
            matrix = h5.create_dataset("X", shape=(n_samples, n_genes), dtype=np.float32, chunks=chunks,
                                       compression="gzip" if chunks else None)
            _encode(matrix, "array", "0.2.0")
            for start, block in zip(range(0, n_samples, block_rows), reader.row_blocks(block_rows), strict=False):
                matrix[start:start + block.shape[0]] = block
            labels = {c: ("categorical", samples[c]) for c in samples.columns if c != "sample_id"}
            _write_frame(h5, "obs", "sample_id", samples["sample_id"], labels)
            _write_frame(h5, "var", "gene_id", genes["gene_id"], {"symbol": ("strings", genes["symbol"])})
            uns = _empty_mapping(h5, "uns")
            _write_value(uns, "provenance", provenance)
            _encode(uns.create_dataset(PROVENANCE_JSON_KEY, data=json.dumps(provenance, sort_keys=True, default=str),
                                       dtype=_TEXT), "string", "0.2.0")
            for name in ("obsm", "varm", "obsp", "varp", "layers"):
                _empty_mapping(h5, name)
    return n_samples, n_genes


# ----------------------------------------------------------------------------- reading


def _kind(node) -> str:
    kind = node.attrs.get("encoding-type", "")
    return kind.decode() if isinstance(kind, bytes) else str(kind)


def _strings(dataset: h5py.Dataset) -> np.ndarray:
    if dataset.dtype.kind in ("S", "O", "U"):
        return np.array(dataset.asstr()[...], dtype=object)
    return dataset[...]


def _column(path, frame_name: str, name: str, node) -> np.ndarray:
    if isinstance(node, h5py.Dataset):
        return _strings(node)
    kind = _kind(node)
    if kind == "categorical":
        codes = node["codes"][...]
        categories = _strings(node["categories"])
        values = np.empty(len(codes), dtype=object)
        values[:] = pd.NA
        present = codes >= 0
        values[present] = categories[codes[present]]
        return values
    if kind in ("nullable-integer", "nullable-boolean", "nullable-string-array"):
        values = _strings(node["values"]).astype(object)
        values[node["mask"][...].astype(bool)] = pd.NA
        return values
    raise H5adError(f"{path}: {frame_name} column {name!r} has encoding {kind!r}, which is not read here; "
                    "store it as strings, numbers or a categorical (anndata does so by default)")


def read_frame(h5: h5py.File, name: str, path) -> pd.DataFrame:
    """``obs`` or ``var`` as a DataFrame: the index as column ``"_index"`` first, then the columns in order."""
    if name not in h5:
        raise H5adError(f"{path}: no {name} group; not an AnnData file")
    group = h5[name]
    if _kind(group) != "dataframe" or "_index" not in group.attrs:
        raise H5adError(f"{path}: {name} is not an AnnData dataframe (written by anndata older than 0.7?); "
                        "read it with a current anndata and write it again")
    index_name = group.attrs["_index"]
    index_name = index_name.decode() if isinstance(index_name, bytes) else str(index_name)
    order = [c.decode() if isinstance(c, bytes) else str(c) for c in np.atleast_1d(group.attrs.get("column-order", []))]
    table = {"_index": _strings(group[index_name]).astype(str)}
    for column in order:
        table[column] = _column(path, name, column, group[column])
    return pd.DataFrame(table)


def frame_columns(path) -> tuple[list[str], list[str]]:
    """Column names of ``obs`` and of ``var``, read from the attributes only."""
    with open_h5ad(path) as h5:
        names = []
        for frame in ("obs", "var"):
            order = np.atleast_1d(h5[frame].attrs.get("column-order", [])) if frame in h5 else []
            names.append([c.decode() if isinstance(c, bytes) else str(c) for c in order])
    return names[0], names[1]


def open_h5ad(path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise H5adError(f"{path}: not a readable .h5ad (HDF5) file ({err})") from err


def read_provenance(h5: h5py.File) -> dict | None:
    """The provenance an exprbench export wrote, or None for other AnnData files."""
    if "uns" in h5 and PROVENANCE_JSON_KEY in h5["uns"]:
        return json.loads(h5["uns"][PROVENANCE_JSON_KEY].asstr()[()])
    return None


class MatrixX:
    """``X`` of an open .h5ad file, dense or sparse, read in blocks.

    ``orientation`` says which blocks are cheap: ``samples_by_genes`` (dense, CSR)
    yields sample rows, ``genes_by_samples`` (CSC) yields gene columns as rows.
    """

    def __init__(self, h5: h5py.File, path):
        if "X" not in h5:
            raise H5adError(f"{path}: has no X matrix; write the expression values into X")
        self.node, self.path = h5["X"], path
        if isinstance(self.node, h5py.Dataset):
            self.kind = "dense"
            self.shape = tuple(self.node.shape)
        else:
            self.kind = _kind(self.node)
            if self.kind not in ("csr_matrix", "csc_matrix"):
                raise H5adError(f"{path}: X has encoding {self.kind!r}; "
                                "expected a dense array, csr_matrix or csc_matrix")
            self.shape = tuple(int(n) for n in self.node.attrs["shape"])
        if len(self.shape) != 2:
            raise H5adError(f"{path}: X has shape {self.shape}; expected samples x genes")
        self.orientation = "genes_by_samples" if self.kind == "csc_matrix" else "samples_by_genes"

    def blocks(self, block_rows: int):
        """Yield (start, dense float32 block) along the cheap axis."""
        n_major = self.shape[0] if self.orientation == "samples_by_genes" else self.shape[1]
        n_minor = self.shape[1] if self.orientation == "samples_by_genes" else self.shape[0]
        for start in range(0, n_major, block_rows):
            stop = min(start + block_rows, n_major)
            if self.kind == "dense":
                yield start, np.asarray(self.node[start:stop], dtype=np.float32)
                continue
            indptr = self.node["indptr"][start:stop + 1].astype(np.int64)
            data = self.node["data"][indptr[0]:indptr[-1]]
            indices = self.node["indices"][indptr[0]:indptr[-1]]
            block = np.zeros((stop - start, n_minor), dtype=np.float32)
            rows = np.repeat(np.arange(stop - start), np.diff(indptr))
            block[rows, indices] = data
            yield start, block
