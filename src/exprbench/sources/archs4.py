"""ARCHS4 human gene-level RNA-seq (Lachmann et al. 2018), one pinned HDF5 release.

The file (tens of GB) is never loaded whole. Samples are chosen from the metadata
first, then only their columns of ``data/expression`` (uint32 counts, genes x
samples) are read, in blocks of sorted column indices, and streamed into the store.

Sample selection, in this order:

1. Duplicate GSM accessions keep their first column.
2. Single-cell filter: samples with ``meta/samples/singlecellprobability`` at or
   above ``single_cell_threshold`` (0.5, as archs4py's ``remove_sc``) are dropped;
   ``null`` keeps everything.
3. Tissue filter: with ``tissues`` set, only samples whose tissue label (below) is
   one of them are kept.
4. ``max_samples``: a uniformly random subset of that size, drawn with ``seed``.
5. Samples whose selected counts sum to zero are dropped (CPM is undefined).

Values: ``log2(CPM + 1)``, counts per million over the sample's total count across
all genes in the file. The file carries no gene lengths, so no TPM. Genes sharing a
gene id (only possible in files without Ensembl ids, where the symbol is the id) are
summed first, as archs4py's ``aggregate_duplicate_genes`` does.

Tissue label (``tissue``): each field named in ``tissue_fields`` (default
``source_name_ch1`` then ``characteristics_ch1``) is lower-cased and every run of
characters other than letters and digits becomes one space; the same is done to the
keywords of ``tissue_keywords`` (tissue -> keywords). A keyword matches when it
occurs as whole words. The first field in which any tissue matches decides: exactly
one matching tissue gives the label; two or more make it ambiguous and the label is
missing. A sample no field matches has no tissue.

Grouping: ``study`` is the first GSE accession in ``series_id`` (a sample listed in
several series belongs to the first); ``donor`` is the GSM accession, since GEO
records no donor.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from ..download import read_manifest
from ..store import stream_dataset
from . import DataSource
from ._hdf5 import open_hdf5, read_strings, require_dataset

EXPRESSION_PATH = "data/expression"
SAMPLE_META = "meta/samples"
GENE_META = "meta/genes"
# Field names changed between releases; the first present one is used.
GENE_ID_FIELDS = ("ensembl_gene", "ensembl_gene_id")
SYMBOL_FIELDS = ("symbol", "gene_symbol")

DEFAULT_TISSUE_KEYWORDS = {
    "blood": ["blood", "pbmc", "pbmcs", "peripheral blood mononuclear cells", "whole blood", "leukocytes"],
    "brain": ["brain", "cortex", "cerebral cortex", "hippocampus", "cerebellum", "prefrontal cortex"],
    "liver": ["liver", "hepatocyte", "hepatocytes"],
    "lung": ["lung", "bronchial epithelium", "airway epithelium"],
    "heart": ["heart", "cardiac muscle", "cardiomyocytes", "myocardium", "left ventricle"],
    "kidney": ["kidney", "renal cortex", "glomeruli"],
    "skeletal_muscle": ["skeletal muscle", "vastus lateralis", "muscle biopsy"],
    "skin": ["skin", "epidermis", "keratinocytes", "dermal fibroblasts"],
    "breast": ["breast", "mammary"],
    "colon": ["colon", "colonic mucosa", "colorectal"],
    "adipose": ["adipose", "fat tissue", "adipocytes"],
    "pancreas": ["pancreas", "pancreatic islets", "islets"],
}

_NON_WORD = re.compile(r"[^0-9a-z]+")
_GSE = re.compile(r"GSE\d+")


class ArchsFormatError(ValueError):
    """The HDF5 file lacks something an ARCHS4 gene file always has."""


def normalise_text(text: str) -> str:
    """Lower case, every run of non-alphanumerics one space, padded for whole-word search."""
    return " " + _NON_WORD.sub(" ", str(text).lower()).strip() + " "


def tissue_labels(fields: list[np.ndarray], keywords: dict[str, list[str]]) -> list[str | None]:
    """The tissue of each sample by the module's rule; ``fields`` are in priority order."""
    patterns = {tissue: [normalise_text(k) for k in words] for tissue, words in keywords.items()}
    labels: list[str | None] = []
    for values in zip(*fields, strict=False):
        label = None
        for value in values:
            text = normalise_text(value)
            hits = {tissue for tissue, words in patterns.items() if any(w in text for w in words if w.strip())}
            if hits:
                label = hits.pop() if len(hits) == 1 else None
                break
        labels.append(label)
    return labels


def primary_series(series_id: str, fallback: str) -> str:
    found = _GSE.search(str(series_id))
    return found.group(0) if found else fallback


def read_sample_blocks(expression, columns: np.ndarray, block_size: int):
    """Yield ``(columns_block, counts)`` with counts genes x len(columns_block).

    ``columns`` must be sorted and unique. Each block asks HDF5 for exactly its
    columns (a slice when they are contiguous, else a list), so no other sample is
    read. Blocks end on the file's chunk boundaries, so every chunk is decompressed
    once even when the selected columns are scattered.
    """
    for block in _chunk_aligned_blocks(columns, block_size, _column_chunk_width(expression)):
        contiguous = block[-1] - block[0] + 1 == len(block)
        key = slice(int(block[0]), int(block[-1]) + 1) if contiguous else block.tolist()
        yield block, np.asarray(expression[:, key])


def _column_chunk_width(expression) -> int:
    chunks = getattr(expression, "chunks", None)
    return int(chunks[1]) if chunks else 1


def _chunk_aligned_blocks(columns: np.ndarray, block_size: int, chunk_width: int):
    """Split sorted columns into blocks of about ``block_size`` that never split a chunk."""
    start = 0
    while start < len(columns):
        stop = min(start + block_size, len(columns))
        # Extend to the end of the chunk holding the block's last column.
        chunk_end = (int(columns[stop - 1]) // chunk_width + 1) * chunk_width
        stop = int(np.searchsorted(columns, chunk_end, side="left"))
        yield columns[start:stop]
        start = stop


def log_cpm(counts: np.ndarray) -> np.ndarray:
    """log2(counts per million + 1) of a genes x samples count block, as samples x genes."""
    counts = counts.astype(np.float64)
    totals = counts.sum(axis=0)
    return np.log2(counts / totals * 1e6 + 1.0).T.astype(np.float32)


class Archs4(DataSource):
    name = "archs4"
    label_columns = ("tissue",)
    defaults = {
        "single_cell_threshold": 0.5,
        "max_samples": None,
        "seed": 0,
        "tissues": None,
        "tissue_fields": ["source_name_ch1", "characteristics_ch1"],
        "tissue_keywords": DEFAULT_TISSUE_KEYWORDS,
        "block_samples": 500,
    }

    def write(self, out_path: Path, downloads: dict[str, Path]) -> None:
        if "expression" not in downloads:
            raise ArchsFormatError("archs4: the dataset needs a file named 'expression' (the ARCHS4 gene HDF5)")
        path = Path(downloads["expression"])
        with open_hdf5(path, ArchsFormatError, "HDF5", rdcc_nbytes=256 << 20) as h5:
            expression = _require(h5, EXPRESSION_PATH, path)
            genes, gene_groups = self._genes(h5, path)
            if expression.shape[0] != len(gene_groups.inverse):
                raise ArchsFormatError(f"archs4: {path}: {EXPRESSION_PATH} has {expression.shape[0]} rows "
                                       f"but {GENE_META} lists {len(gene_groups.inverse)} genes")
            table, counts = self._select_samples(h5, path, expression.shape[1])
            self._stream(out_path, path, h5, expression, genes, gene_groups, table, counts)

    # ---------------------------------------------------------------- selection

    def _select_samples(self, h5, path, n_columns: int) -> tuple[pd.DataFrame, dict]:
        p = self.params
        accession = _strings(_require(h5, f"{SAMPLE_META}/geo_accession", path))
        if len(accession) != n_columns:
            raise ArchsFormatError(f"archs4: {path}: {SAMPLE_META}/geo_accession has {len(accession)} entries "
                                   f"for {n_columns} expression columns")
        keep = ~pd.Series(accession).duplicated().to_numpy()
        counts = {"samples_in_file": n_columns, "duplicate_accessions_dropped": int((~keep).sum())}

        if p["single_cell_threshold"] is not None:
            probability = _require(h5, f"{SAMPLE_META}/singlecellprobability", path)[...].astype(np.float64)
            single_cell = keep & (probability >= float(p["single_cell_threshold"]))
            keep &= ~single_cell
            counts["single_cell_dropped"] = int(single_cell.sum())

        fields = [_strings(_require(h5, f"{SAMPLE_META}/{name}", path)) for name in p["tissue_fields"]]
        tissue = np.array(tissue_labels(fields, p["tissue_keywords"]), dtype=object)
        if p["tissues"] is not None:
            unknown = sorted(set(p["tissues"]) - set(p["tissue_keywords"]))
            if unknown:
                raise ValueError(f"archs4: tissues {unknown} have no entry in tissue_keywords "
                                 f"(known: {sorted(p['tissue_keywords'])})")
            wanted = keep & np.isin(tissue, list(p["tissues"]))
            counts["tissue_filter_dropped"] = int(keep.sum() - wanted.sum())
            keep = wanted

        columns = np.flatnonzero(keep)
        if p["max_samples"] is not None and len(columns) > int(p["max_samples"]):
            rng = np.random.default_rng(int(p["seed"]))
            columns = np.sort(rng.choice(columns, size=int(p["max_samples"]), replace=False))
        counts["samples_selected"] = len(columns)
        if len(columns) == 0:
            raise ValueError(f"archs4: no sample of {path} passes the filters ({counts})")

        series = _strings(_require(h5, f"{SAMPLE_META}/series_id", path))
        table = pd.DataFrame({
            "column": columns,
            "sample_id": accession[columns],
            "study": [primary_series(series[c], accession[c]) for c in columns],
            "donor": accession[columns],
            "tissue": tissue[columns],
        })
        return table, counts

    # ---------------------------------------------------------------- genes

    def _genes(self, h5, path):
        present = lambda names: [n for n in names if f"{GENE_META}/{n}" in h5]  # noqa: E731
        id_fields, symbol_fields = present(GENE_ID_FIELDS), present(SYMBOL_FIELDS)
        if not id_fields and not symbol_fields:
            tried = ", ".join(f"{GENE_META}/{n}" for n in GENE_ID_FIELDS + SYMBOL_FIELDS)
            raise ArchsFormatError(f"archs4: {path} has none of the gene name datasets {tried}")
        symbols = _strings(h5[f"{GENE_META}/{symbol_fields[0]}"]) if symbol_fields else None
        ids = _strings(h5[f"{GENE_META}/{id_fields[0]}"]) if id_fields else symbols
        symbols = ids if symbols is None else symbols
        groups = _GeneGroups(ids)
        genes = pd.DataFrame({"gene_id": ids[groups.first], "symbol": symbols[groups.first]})
        self._gene_fields = {"gene_id_field": (id_fields or symbol_fields)[0],
                             "symbol_field": (symbol_fields or id_fields)[0],
                             "duplicate_gene_rows_summed": len(ids) - len(groups.first)}
        return genes, groups

    # ---------------------------------------------------------------- streaming

    def _stream(self, out_path, path, h5, expression, genes, gene_groups, table, counts) -> None:
        kept_rows = []
        with stream_dataset(out_path, genes, expected_samples=len(table)) as stream:
            columns = table["column"].to_numpy()
            offset = 0
            for block, raw in read_sample_blocks(expression, columns, int(self.params["block_samples"])):
                summed = gene_groups.sum(raw)
                nonzero = summed.sum(axis=0) > 0
                if nonzero.any():
                    stream.append(log_cpm(summed[:, nonzero]))
                kept_rows.extend(offset + np.flatnonzero(nonzero))
                offset += len(block)
            samples = table.iloc[kept_rows].drop(columns="column")
            counts["zero_count_samples_dropped"] = len(table) - len(samples)
            stream.finish(samples, self._provenance(path, h5, counts))

    def _provenance(self, path: Path, h5, counts: dict) -> dict:
        version = _info(h5, "version") or path.stem
        p = self.params
        return {
            "source": self.name,
            "source_version": f"ARCHS4 human gene {version}",
            "preprocessing": [
                "duplicate GSM accessions: first column kept",
                (f"single-cell filter: singlecellprobability >= {p['single_cell_threshold']} dropped"
                 if p["single_cell_threshold"] is not None else "no single-cell filter"),
                (f"tissue filter: {sorted(p['tissues'])}" if p["tissues"] is not None else "no tissue filter"),
                (f"random subset of {p['max_samples']} samples (seed {p['seed']})"
                 if p["max_samples"] is not None else "all remaining samples"),
                "samples with zero total count dropped",
                "rows sharing a gene id summed",
                "log2(CPM + 1), CPM over each sample's total count in the file",
            ],
            "file": path.name,
            "file_sha256": read_manifest(path.parent).get(path.name, {}).get("sha256"),
            "creation_date": _info(h5, "creation-date"),
            "value_transform": "log2(CPM+1)",
            "tissue_rule": ("first of tissue_fields with a whole-word keyword match decides; "
                            "one tissue -> label, several -> missing; no match -> missing"),
            "tissue_fields": list(p["tissue_fields"]),
            "tissue_keywords": p["tissue_keywords"],
            "study_rule": "first GSE accession in series_id",
            "params": {k: p[k] for k in ("single_cell_threshold", "max_samples", "seed", "tissues")},
            **counts,
            **self._gene_fields,
        }


class _GeneGroups:
    """Rows of the count matrix that share a gene id, summed in first-seen order."""

    def __init__(self, ids: np.ndarray):
        _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        order = np.argsort(first)  # groups in the order their first row appears
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        self.first = first[order]
        self.inverse = rank[inverse]
        self.has_duplicates = len(first) < len(ids)

    def sum(self, counts: np.ndarray) -> np.ndarray:
        if not self.has_duplicates:
            return counts
        order = np.argsort(self.inverse, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(self.inverse[order]) != 0])
        return np.add.reduceat(counts[order].astype(np.uint64), starts, axis=0)


def _require(h5: h5py.File, name: str, path: Path):
    return require_dataset(h5, name, path, ArchsFormatError, "is it an ARCHS4 v2 gene file?")


def _strings(dataset) -> np.ndarray:
    return read_strings(dataset)


def _info(h5, name: str) -> str | None:
    key = f"meta/info/{name}"
    if key not in h5:
        return None
    value = h5[key][()]
    if isinstance(value, np.ndarray):
        value = value.ravel()[0] if value.size else ""
    return value.decode() if isinstance(value, bytes) else str(value)
