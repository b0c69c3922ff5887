"""Readers for the ``local`` source: one matrix file, read block by block.

Each reader exposes the same few things: ``orientation`` (which axis its rows
are), ``column_ids`` (the header: sample ids or gene ids), ``blocks(n)`` yielding
``(row_ids, float32 values, row_names)`` for ``n`` rows at a time, where
``row_names`` say where each row is in the file ("line 7", "row 7") for error
messages, and optionally a samples table, a genes table and provenance embedded in
the file (.h5ad, exprbench .h5). Every problem is a :class:`LocalInputError` that
names the file, the line or column, and the fix.
"""

from __future__ import annotations

import csv
import gzip
import io
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

ORIENTATIONS = ("genes_by_samples", "samples_by_genes")
MISSING_TOKENS = ["", "NA", "NaN", "nan", "N/A", "#N/A", "null", "NULL"]
#: var / annotation columns taken as the gene symbol, in this order of preference.
SYMBOL_COLUMNS = ("symbol", "gene_symbol", "gene_name", "feature_name", "Description")
DELIMITED_SUFFIXES = {".tsv": "\t", ".txt": "\t", ".tab": "\t", ".csv": ","}
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zip")


class LocalInputError(ValueError):
    """A user-supplied file the ``local`` source cannot use as it is."""


def format_of(path: Path) -> str:
    """'delimited', 'parquet', 'h5ad' or 'store' from the file name."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSED_SUFFIXES:
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in DELIMITED_SUFFIXES:
        return "delimited"
    if last in (".parquet", ".pq"):
        return "parquet"
    if last == ".h5ad":
        return "h5ad"
    if last in (".h5", ".hdf5"):
        return "store"
    raise LocalInputError(f"{path}: unknown file type {''.join(path.suffixes) or '(no suffix)'}; name it .tsv, .csv "
                          f"(optionally .gz), .parquet, .h5ad or .h5 (an exprbench store)")


def separator_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSED_SUFFIXES:
        suffixes = suffixes[:-1]
    return DELIMITED_SUFFIXES[suffixes[-1]]


def _text_handle(path: Path):
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def delimited_header(path: Path) -> list[str]:
    """The first line's fields, as written (pandas would rename repeated names)."""
    try:
        with _text_handle(path) as handle:
            line = handle.readline()
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise LocalInputError(f"{path}: cannot read the header line ({err}); expected UTF-8 text, "
                              "optionally gzipped") from err
    if not line.strip():
        raise LocalInputError(f"{path}: the first line is empty; it must hold the column names")
    return next(csv.reader(io.StringIO(line), delimiter=separator_of(path)))


def check_unique(ids, path, what: str, fix: str) -> None:
    repeated = [(i, n) for i, n in Counter(ids).items() if n > 1]
    if repeated:
        shown = ", ".join(f"{i!r} ({n} times)" for i, n in repeated[:5])
        raise LocalInputError(f"{path}: {len(repeated)} {what} appear more than once: {shown}; {fix}")


def _raw_line(path: Path, number: int) -> str:
    with _text_handle(path) as handle:
        for i, line in enumerate(handle, start=1):
            if i == number:
                return line.rstrip("\r\n")
    return ""


def first_non_numeric(frame: pd.DataFrame):
    """(row position, column name, cell) of the first cell that is not a number, or None."""
    first = None
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            continue
        coerced = pd.to_numeric(series, errors="coerce")
        bad = np.flatnonzero((coerced.isna() & series.notna()).to_numpy())
        if bad.size and (first is None or bad[0] < first[0]):
            first = (int(bad[0]), column, series.iloc[bad[0]])
    return first


class TableMatrix:
    """A delimited text or Parquet table: an id column, value columns, maybe annotation columns."""

    def __init__(self, path: Path, orientation: str, id_column: str | None, value_columns=None):
        self.path, self.orientation = path, orientation
        self.kind = format_of(path)
        self.header = delimited_header(path) if self.kind == "delimited" else self._parquet_schema_names()
        check_unique(self.header, path, "column names", "give every column its own name")
        if id_column is not None and id_column not in self.header:
            raise LocalInputError(f"{path}: params.gene_id_column {id_column!r} is not a column "
                                  f"(columns start {self.header[:6]}); name one of its columns")
        self.id_column = id_column or self.header[0]
        others = [c for c in self.header if c != self.id_column]
        self.column_ids = [c for c in others if value_columns is None or c in value_columns]
        self.annotation_columns = [c for c in others if c not in self.column_ids]
        self.symbol_column = next((c for c in SYMBOL_COLUMNS if c in self.annotation_columns), None)
        if not self.column_ids:
            raise LocalInputError(f"{path}: no value columns besides the id column {self.id_column!r}")

    # -- Parquet

    def _parquet(self):
        try:
            import pyarrow.parquet as pq
        except ImportError as err:  # the reason too: a broken install reads differently from a missing one
            raise LocalInputError(f"{self.path}: reading .parquet needs pyarrow ({err}); install it with "
                                  "pip install 'exprbench[parquet]' or convert the file to .tsv.gz") from None
        try:
            return pq.ParquetFile(self.path)
        except Exception as err:  # pyarrow raises its own error types
            raise LocalInputError(f"{self.path}: not a readable Parquet file ({err})") from err

    def _parquet_schema_names(self) -> list[str]:
        return [str(name) for name in self._parquet().schema_arrow.names]

    def _frames(self, block_rows: int):
        """(first data row, DataFrame of all columns) per block."""
        if self.kind == "parquet":
            start = 0
            for batch in self._parquet().iter_batches(batch_size=block_rows):
                frame = batch.to_pandas()
                frame[self.id_column] = frame[self.id_column].astype(object).where(frame[self.id_column].notna(), None)
                yield start, frame
                start += len(frame)
            return
        dtypes = {c: str for c in [self.id_column, *self.annotation_columns]}
        try:
            with warnings.catch_warnings():
                # A first data row longer than the header is otherwise cut silently.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                reader = pd.read_csv(self.path, sep=separator_of(self.path), header=0, index_col=False, dtype=dtypes,
                                     keep_default_na=False, na_values=MISSING_TOKENS, skip_blank_lines=False,
                                     chunksize=block_rows, engine="c")
                start = 0
                with reader:
                    for frame in reader:
                        yield start, frame
                        start += len(frame)
        except pd.errors.ParserWarning:
            raise LocalInputError(f"{self.path}: line 2 has more fields than the header's {len(self.header)}; "
                                  "every line needs one field per header column (a ragged table)") from None
        except pd.errors.ParserError as err:
            detail = " ".join(str(err).split())
            raise LocalInputError(f"{self.path}: {detail} (a ragged table: every line needs one field per header "
                                  f"column, {len(self.header)} here)") from None
        except (UnicodeDecodeError, EOFError, OSError) as err:
            raise LocalInputError(f"{self.path}: cannot read the table ({err})") from err

    def column_name(self, position: int) -> str:
        return f"column {self.header.index(self.column_ids[position]) + 1}"

    def row_name(self, position: int) -> str:
        return f"line {position + 2}" if self.kind == "delimited" else f"row {position + 1}"

    def blocks(self, block_rows: int):
        for start, frame in self._frames(block_rows):
            ids = frame[self.id_column]
            if ids.isna().any():
                row = int(np.flatnonzero(ids.isna().to_numpy())[0])
                self._explain_missing(start + row, self.id_column)
                raise LocalInputError(f"{self.path}: {self.row_name(start + row)} has no id in column "
                                      f"{self.id_column!r}; give every row an id")
            values = frame[self.column_ids]
            bad = first_non_numeric(values)
            if bad is not None:
                row, column, cell = bad
                raise LocalInputError(f"{self.path}: {self.row_name(start + row)} (id {ids.iloc[row]!r}), column "
                                      f"{column!r}: {cell!r} is not a number; expression cells must be numbers "
                                      f"(missing values are not allowed either)")
            matrix = values.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32)
            missing = np.isnan(matrix)
            if missing.any():
                row = int(np.flatnonzero(missing.any(axis=1))[0])
                self._explain_missing(start + row, self.column_ids[int(np.flatnonzero(missing[row])[0])])
            symbols = (frame[self.symbol_column].astype(object).tolist() if self.symbol_column else None)
            names = [self.row_name(start + i) for i in range(len(frame))]
            yield ids.astype(str).tolist(), matrix, names, symbols

    def _explain_missing(self, position: int, column: str) -> None:
        """A missing cell is a short (ragged) line, or a missing value; say which."""
        if self.kind == "delimited":
            line = _raw_line(self.path, position + 2)
            n_fields = len(next(csv.reader(io.StringIO(line), delimiter=separator_of(self.path)))) if line else 0
            if n_fields != len(self.header):
                raise LocalInputError(f"{self.path}: line {position + 2} has {n_fields} fields, the header "
                                      f"{len(self.header)}; every line needs one field per header column "
                                      "(a ragged table)")
        raise LocalInputError(f"{self.path}: {self.row_name(position)}, column {column!r} is missing (NaN/NA); "
                              "remove or impute missing values before the data enter the store")

    def close(self) -> None:
        pass


class H5adMatrix:
    """An AnnData file: X with obs (samples) and var (genes) tables."""

    def __init__(self, path: Path, gene_id_column: str | None):
        from ..h5ad import MatrixX, open_h5ad, read_frame, read_provenance

        self.path = path
        self._h5 = open_h5ad(path)
        try:
            self._x = MatrixX(self._h5, path)
            obs = read_frame(self._h5, "obs", path)
            var = read_frame(self._h5, "var", path)
            self.input_provenance = read_provenance(self._h5)
        except Exception:
            self._h5.close()
            raise
        if self._x.shape != (len(obs), len(var)):
            self._h5.close()
            raise LocalInputError(f"{path}: X has shape {self._x.shape} but obs has {len(obs)} rows and var "
                                  f"{len(var)}; X must be samples (obs) x genes (var)")
        self.embedded_samples = obs
        if gene_id_column is not None and gene_id_column not in var.columns:
            self._h5.close()
            raise LocalInputError(f"{path}: params.gene_id_column {gene_id_column!r} is not a var column "
                                  f"(var has {list(var.columns[1:])}); name one of them, or leave it null for "
                                  "the var index")
        gene_ids = var[gene_id_column or "_index"].astype(str).tolist()
        symbol = next((c for c in SYMBOL_COLUMNS if c in var.columns and c != gene_id_column), None)
        symbols = var[symbol].tolist() if symbol else gene_ids
        self.embedded_genes = pd.DataFrame({"gene_id": gene_ids, "symbol": symbols})
        self.orientation = self._x.orientation
        sample_ids = obs["_index"].astype(str).tolist()
        self.column_ids = gene_ids if self.orientation == "samples_by_genes" else sample_ids
        self._row_ids = sample_ids if self.orientation == "samples_by_genes" else gene_ids
        self._row_symbols = None if self.orientation == "samples_by_genes" else list(symbols)
        self._axis = "obs" if self.orientation == "samples_by_genes" else "var"

    def column_name(self, position: int) -> str:
        return f"{'var' if self.orientation == 'samples_by_genes' else 'obs'} row {position}"

    def blocks(self, block_rows: int):
        for start, block in self._x.blocks(block_rows):
            stop = start + block.shape[0]
            names = [f"{self._axis} row {i}" for i in range(start, stop)]
            symbols = self._row_symbols[start:stop] if self._row_symbols is not None else None
            yield self._row_ids[start:stop], block, names, symbols

    def close(self) -> None:
        self._h5.close()


class StoreMatrix:
    """An exprbench HDF5 store (e.g. one prepared by another run)."""

    orientation = "samples_by_genes"

    def __init__(self, path: Path):
        from ..store import StoreError, open_dataset

        self.path = path
        try:
            self._reader = open_dataset(path)
        except StoreError as err:
            raise LocalInputError(f"{err}; a .h5 input must be an exprbench store (or name the file .h5ad "
                                  "if it is AnnData)") from None
        self.embedded_samples = self._reader.samples.rename(columns={"sample_id": "_index"})
        self.embedded_genes = self._reader.genes
        self.input_provenance = self._reader.provenance
        self.column_ids = self.embedded_genes["gene_id"].tolist()
        self._ids = self._reader.samples["sample_id"].astype(str).tolist()

    def column_name(self, position: int) -> str:
        return f"gene column {position}"

    def blocks(self, block_rows: int):
        for start, block in zip(range(0, len(self._ids), block_rows), self._reader.row_blocks(block_rows),
                                strict=False):
            stop = start + block.shape[0]
            yield self._ids[start:stop], block, [f"sample row {i}" for i in range(start, stop)], None

    def close(self) -> None:
        self._reader.close()
