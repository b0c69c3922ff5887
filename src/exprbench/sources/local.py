"""Your own data: a matrix file and a samples table named in the config.

::

    datasets:
      mine:
        source: local
        params:
          expression: path/to/matrix.tsv.gz   # .tsv/.csv (gz ok), .parquet, .h5ad, or an exprbench .h5 store
          orientation: genes_by_samples       # or samples_by_genes; not needed for .h5ad/.h5
          samples: path/to/samples.tsv        # sample id column first, label columns after
          study_column: study                 # optional
          donor_column: donor                 # optional
          gene_id_column: null                # optional, for tables with annotation columns

Relative paths resolve against the run's working directory (where Snakemake
runs, or its ``--directory``). The files are inputs of the prepare rule, so the
store is rebuilt when one changes.

* Matrix. Text tables: the first column holds the row ids (gene ids for
  ``genes_by_samples``, sample ids for ``samples_by_genes``), the header the
  column ids. With ``gene_id_column`` (genes x samples tables only), that column
  holds the gene ids, columns that are sample ids of the samples table hold values
  and the rest are annotation (a ``symbol``/``gene_name``/``Description`` column
  gives the gene symbols). ``.h5ad``: X is samples (obs) x genes (var); var's index
  is the gene id unless ``gene_id_column`` names a var column. ``.h5``: a store
  this package wrote, e.g. for new labels or a new study column.
* Samples table (.tsv/.csv): the first column is the sample id, every other column
  a label tasks may use. ``study_column`` and ``donor_column`` name the grouping
  columns; without them a column called ``study`` (``donor``) is used if there is
  one, else each sample is its own study (donor). For .h5ad the table is obs, for
  .h5 the store's own; a ``samples`` file given as well replaces it.
* Checks (each a one-line error naming the file, the line or column, and the fix):
  sample ids of matrix and table must be the same set; no repeated sample or gene
  id; every cell a finite number; no label column empty; no ragged line. Fewer
  genes than samples gives a warning: the orientation may be swapped.

The matrix is streamed: ``samples_by_genes`` blocks go straight into the store;
``genes_by_samples`` blocks are written transposed into a scratch HDF5 file next
to the output, then copied in blocks of sample rows. Nothing appears under the
final name unless every check passed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from ..atomic import scratch_folder
from ..store import REQUIRED_SAMPLE_COLUMNS, stream_dataset
from . import DataSource, file_sha256
from ._local_inputs import (
    MISSING_TOKENS,
    ORIENTATIONS,
    H5adMatrix,
    LocalInputError,
    StoreMatrix,
    TableMatrix,
    check_unique,
    delimited_header,
    format_of,
    separator_of,
)

_EXAMPLES = 5


def _resolve(value, key: str) -> Path:
    path = Path(str(value))
    if not path.exists():
        raise LocalInputError(f"{path}: params.{key}: file not found (relative paths resolve against the run's "
                              f"working directory, {os.getcwd()}); fix the path")
    return path


def _examples(ids) -> str:
    ids = list(ids)
    shown = ", ".join(repr(i) for i in ids[:_EXAMPLES])
    return shown + (", ..." if len(ids) > _EXAMPLES else "")


def _read_samples_file(path: Path) -> pd.DataFrame:
    if format_of(path) != "delimited":
        raise LocalInputError(f"{path}: params.samples must be a .tsv or .csv table (optionally .gz)")
    header = delimited_header(path)
    check_unique(header, path, "column names", "give every column its own name")
    try:
        table = pd.read_csv(path, sep=separator_of(path), dtype=str, keep_default_na=False, na_values=MISSING_TOKENS,
                            index_col=False)
    except pd.errors.ParserError as err:
        detail = " ".join(str(err).split())
        raise LocalInputError(f"{path}: {detail} "
                              "(a ragged table: every line needs one field per header column)") from None
    return table.rename(columns={header[0]: "_index"})


class LocalSource(DataSource):
    name = "local"
    defaults = {"expression": None, "orientation": None, "samples": None, "study_column": None,
                "donor_column": None, "gene_id_column": None}

    #: Rows parsed per block (at most; fewer for wide rows, see ``_block_rows``) and sample
    #: rows copied per block; tests use small values.
    rows_per_block = 1024
    samples_per_block = 256
    #: Cells parsed per block: pandas parses to float64, so about 32 MB a block.
    cells_per_block = 1 << 22

    # ------------------------------------------------------------------ config time

    @classmethod
    def labels_for(cls, params: dict) -> tuple[str, ...]:
        """Every column of the samples table but the id, study and donor columns (header only)."""
        try:
            columns = cls._table_columns(params)
            grouping = cls._grouping_columns(params, columns)
        except LocalInputError as err:  # read while the config is checked: report it as a config error
            from ..config import ConfigError

            error = ConfigError(params.get("samples") or params.get("expression"), "params", str(err))
            error.args = (str(err),)
            raise error from None
        return tuple(c for c in columns[1:] if c not in grouping.values() and c not in REQUIRED_SAMPLE_COLUMNS)

    @staticmethod
    def _table_columns(params: dict) -> list[str]:
        if params.get("samples"):
            return delimited_header(_resolve(params["samples"], "samples"))
        if not params.get("expression"):
            raise LocalInputError("params.expression: the local source needs the path of the matrix file")
        path = _resolve(params["expression"], "expression")
        kind = format_of(path)
        if kind == "h5ad":
            from ..h5ad import frame_columns

            return ["_index", *frame_columns(path)[0]]
        if kind == "store":
            from ..store import StoreError, open_dataset

            try:
                with open_dataset(path) as reader:
                    return list(reader.samples.columns)
            except StoreError as err:
                raise LocalInputError(str(err)) from None
        raise LocalInputError(f"{path}: a text or Parquet matrix needs params.samples, a table with the sample id "
                              "column first and label columns after")

    @staticmethod
    def _grouping_columns(params: dict, columns: list[str], path=None) -> dict[str, str | None]:
        chosen = {}
        table = path or params.get("samples") or params.get("expression")
        for role in ("study", "donor"):
            named = params.get(f"{role}_column")
            if named is not None and named not in columns[1:]:
                raise LocalInputError(f"{table}: params.{role}_column: {named!r} is not a column of the samples table "
                                      f"(columns: {columns[1:]}); name one of them or leave it out")
            chosen[role] = named if named is not None else (role if role in columns[1:] else None)
        return chosen

    def required_inputs(self) -> list[str]:
        return [str(self.params[k]) for k in ("expression", "samples") if self.params.get(k)]

    # ------------------------------------------------------------------ prepare

    def write(self, out_path: Path, downloads: dict[str, Path]) -> None:
        if not self.params["expression"]:
            raise LocalInputError("params.expression: the local source needs the path of the matrix file")
        expression = _resolve(self.params["expression"], "expression")
        samples_path = _resolve(self.params["samples"], "samples") if self.params["samples"] else None
        table = _read_samples_file(samples_path) if samples_path else None
        matrix = self._open_matrix(expression, table)
        try:
            if table is None:
                table = matrix.embedded_samples
            table_file = samples_path or expression
            samples = self._samples_table(table, table_file)
            out_path = Path(out_path)
            if matrix.orientation == "samples_by_genes":
                self._write_sample_rows(matrix, samples, table_file, out_path, expression, samples_path)
            else:
                self._write_gene_rows(matrix, samples, table_file, out_path, expression, samples_path)
        finally:
            matrix.close()

    def _open_matrix(self, path: Path, table: pd.DataFrame | None):
        kind = format_of(path)
        orientation = self.params["orientation"]
        if kind in ("h5ad", "store"):
            if kind == "store":
                if self.params["gene_id_column"]:
                    raise LocalInputError(f"{path}: params.gene_id_column does not apply to an exprbench store; "
                                          "remove it")
                return StoreMatrix(path)
            return H5adMatrix(path, self.params["gene_id_column"])
        if orientation not in ORIENTATIONS:
            raise LocalInputError(f"{path}: params.orientation is {orientation!r}; set it to genes_by_samples "
                                  "(rows are genes, columns samples) or samples_by_genes")
        if table is None:
            raise LocalInputError(f"{path}: a text or Parquet matrix needs params.samples, a table with the "
                                  "sample id column first and label columns after")
        id_column = self.params["gene_id_column"]
        if id_column and orientation != "genes_by_samples":
            raise LocalInputError(f"{path}: params.gene_id_column applies to genes_by_samples tables; remove it")
        values = set(table["_index"].astype(str)) if id_column else None
        return TableMatrix(path, orientation, id_column, values)

    def _samples_table(self, table: pd.DataFrame, path: Path) -> pd.DataFrame:
        columns = list(table.columns)
        ids = table["_index"]
        if ids.isna().any():
            row = int(np.flatnonzero(ids.isna().to_numpy())[0])
            raise LocalInputError(f"{path}: samples table row {row + 1} has no sample id in its first column; "
                                  "give every sample an id")
        ids = ids.astype(str)
        check_unique(ids, path, "sample ids of the samples table", "give every sample one row")
        grouping = self._grouping_columns(self.params, columns, path)
        self._grouping = grouping
        samples = pd.DataFrame({"sample_id": ids.to_numpy()})
        for role, column in grouping.items():
            if column is None:
                samples[role] = samples["sample_id"]
                continue
            values = table[column]
            if values.isna().any():
                first = ids.iloc[int(np.flatnonzero(values.isna().to_numpy())[0])]
                raise LocalInputError(f"{path}: {role} column {column!r} is empty for {int(values.isna().sum())} "
                                      f"samples (first: {first!r}); fill it in every row")
            samples[role] = values.astype(str).to_numpy()
        for column in columns[1:]:
            if column in grouping.values() or column in REQUIRED_SAMPLE_COLUMNS:
                continue
            values = table[column]
            if values.isna().all():
                raise LocalInputError(f"{path}: label column {column!r} is empty in every row; fill it or remove "
                                      "the column")
            samples[column] = values.astype(object).where(values.notna(), pd.NA).map(
                lambda v: v if pd.isna(v) else str(v)).to_numpy()
        return samples

    # ------------------------------------------------------------------ sample ids

    @staticmethod
    def _mismatch(matrix, matrix_ids, table_ids: list, table_path: Path, other_axis_ids) -> LocalInputError:
        known = set(table_ids)
        only_matrix = [i for i in matrix_ids if i not in known]
        matrix_set = set(matrix_ids)
        only_table = [i for i in table_ids if i not in matrix_set]
        parts = []
        if only_matrix:
            parts.append(f"{len(only_matrix)} matrix sample ids are not in {table_path} "
                         f"(e.g. {_examples(only_matrix)})")
        if only_table:
            parts.append(f"{len(only_table)} ids of {table_path} are not in the matrix (e.g. {_examples(only_table)})")
        fix = "the samples table needs exactly one row per matrix sample, with the same ids"
        if known & set(other_axis_ids):
            swapped = "samples_by_genes" if matrix.orientation == "genes_by_samples" else "genes_by_samples"
            fix = f"the other axis holds the sample ids: set params.orientation: {swapped}"
        return LocalInputError(f"{matrix.path}: {'; '.join(parts)}; {fix}")

    @staticmethod
    def _check_finite(matrix, block, ids, names, column_ids) -> None:
        bad = ~np.isfinite(block)
        if bad.any():
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            column = int(np.flatnonzero(bad[row])[0])
            raise LocalInputError(f"{matrix.path}: {names[row]} (id {ids[row]!r}), column {column_ids[column]!r}: "
                                  f"{block[row, column]} is not finite; remove or impute NaN and infinite values "
                                  "before the data enter the store")

    @staticmethod
    def _genes_table(path: Path, gene_ids, symbols, where) -> pd.DataFrame:
        ids = [str(g) for g in gene_ids]
        first_seen: dict[str, int] = {}
        for i, gene in enumerate(ids):
            if gene in first_seen:
                raise LocalInputError(f"{path}: gene id {gene!r} at {where(i)} repeats {where(first_seen[gene])}; "
                                      "give every gene one row, e.g. sum or drop the repeats")
            first_seen[gene] = i
        symbols = ids if symbols is None else ["" if s is None or pd.isna(s) else str(s) for s in symbols]
        return pd.DataFrame({"gene_id": ids, "symbol": symbols})

    def _warn_orientation(self, path: Path, n_genes: int, n_samples: int, notes: list[str]) -> None:
        if n_genes < n_samples:
            fix = ("change params.orientation" if format_of(path) in ("delimited", "parquet")
                   else "transpose X so that its rows are samples")
            note = f"{path}: {n_genes} genes but {n_samples} samples; if genes and samples are swapped, {fix}"
            print(f"warning: {note}", file=sys.stderr)
            notes.append(note)

    # ------------------------------------------------------------------ writing

    def _block_rows(self, column_ids) -> int:
        return max(1, min(self.rows_per_block, self.cells_per_block // max(len(column_ids), 1)))

    def _write_sample_rows(self, matrix, samples, table_path, out_path, expression, samples_path) -> None:
        column_ids = matrix.column_ids
        embedded = getattr(matrix, "embedded_genes", None)
        genes = self._genes_table(matrix.path, column_ids, None if embedded is None else embedded["symbol"],
                                  matrix.column_name)
        table_ids = samples["sample_id"].tolist()
        known = set(table_ids)
        seen: dict[str, str] = {}
        order, unknown = [], []
        notes: list[str] = []
        with stream_dataset(out_path, genes, expected_samples=len(samples)) as stream:
            for ids, block, names, _ in matrix.blocks(self._block_rows(column_ids)):
                for sample, name in zip(ids, names, strict=False):
                    if sample in seen:
                        raise LocalInputError(f"{matrix.path}: sample id {sample!r} at {name} repeats {seen[sample]}; "
                                              "give every sample one row")
                    seen[sample] = name
                missing = [i for i in ids if i not in known]
                if missing and not order and len(missing) == len(ids):
                    raise self._mismatch(matrix, ids, table_ids, table_path, column_ids)
                unknown.extend(missing)
                self._check_finite(matrix, block, ids, names, column_ids)
                stream.append(block)
                order.extend(ids)
            if unknown or len(order) != len(table_ids):
                raise self._mismatch(matrix, order, table_ids, table_path, column_ids)
            self._warn_orientation(matrix.path, len(genes), len(order), notes)
            ordered = samples.set_index("sample_id").loc[order].reset_index()
            stream.finish(ordered, self._provenance(matrix, expression, samples_path, ordered, genes, notes))

    def _write_gene_rows(self, matrix, samples, table_path, out_path, expression, samples_path) -> None:
        sample_ids = matrix.column_ids
        check_unique(sample_ids, matrix.path, "sample ids of the header", "give every sample one column")
        table_ids = samples["sample_id"].tolist()
        if set(sample_ids) != set(table_ids):
            first_rows = next(iter(matrix.blocks(self._block_rows(sample_ids))), ([], None, None, None))[0]
            raise self._mismatch(matrix, sample_ids, table_ids, table_path, first_rows)
        n_samples = len(sample_ids)
        gene_ids, symbols, where = [], [], []
        with scratch_folder(out_path) as scratch:
            rows = min(n_samples, self.samples_per_block)
            block_rows = self._block_rows(sample_ids)
            cache = 2 * (-(-n_samples // rows)) * rows * block_rows * 4
            with h5py.File(scratch / "samples_by_genes.h5", "w", rdcc_nbytes=cache) as h5:
                transposed = h5.create_dataset("matrix", shape=(n_samples, 0), maxshape=(n_samples, None),
                                               dtype=np.float32, chunks=(rows, block_rows))
                for ids, block, names, block_symbols in matrix.blocks(block_rows):
                    self._check_finite(matrix, block, ids, names, sample_ids)
                    start = transposed.shape[1]
                    transposed.resize(start + block.shape[0], axis=1)
                    transposed[:, start:] = block.T
                    gene_ids.extend(ids)
                    where.extend(names)
                    symbols.extend(block_symbols if block_symbols is not None else ids)
                if not gene_ids:
                    raise LocalInputError(f"{matrix.path}: no gene rows below the header")
                genes = self._genes_table(matrix.path, gene_ids, symbols, lambda i: where[i])
                notes: list[str] = []
                self._warn_orientation(matrix.path, len(genes), n_samples, notes)
                ordered = samples.set_index("sample_id").loc[sample_ids].reset_index()
                with stream_dataset(out_path, genes, expected_samples=n_samples) as stream:
                    for start in range(0, n_samples, self.samples_per_block):
                        stream.append(transposed[start:start + self.samples_per_block, :])
                    stream.finish(ordered, self._provenance(matrix, expression, samples_path, ordered, genes, notes,
                                                            transposed=True))

    def _provenance(self, matrix, expression, samples_path, samples, genes, notes, transposed=False) -> dict:
        inherited = getattr(matrix, "input_provenance", None) or {}
        steps = list(inherited.get("preprocessing", []))
        steps.append(f"values as given in {expression.name} (no transform applied)")
        if transposed:
            steps.append("transposed from genes x samples to samples x genes")
        files = {"expression": {"file": str(expression.resolve()), "sha256": file_sha256(expression),
                                "size": expression.stat().st_size}}
        if samples_path:
            files["samples"] = {"file": str(samples_path.resolve()), "sha256": file_sha256(samples_path),
                                "size": samples_path.stat().st_size}
        grouping = self._grouping
        provenance = {
            "source": self.name,
            "source_version": f"{expression.name} sha256 {files['expression']['sha256']}",
            "preprocessing": steps,
            "params": {k: v for k, v in self.params.items() if v is not None},
            "files": files,
            **{role: f"column {column!r} of the samples table" if column else f"each sample its own {role}"
               for role, column in grouping.items()},
        }
        if notes:
            provenance["warnings"] = notes
        if inherited:
            provenance["input_provenance"] = inherited
        return provenance
