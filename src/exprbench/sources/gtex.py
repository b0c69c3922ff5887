"""GTEx v8 bulk RNA-seq: gene TPMs of the 17,382 samples in the v8 RNA-seq freeze.

Three files (URLs, mirrors and MD5s in ``config/datasets/gtex_v8.yaml``):

* ``gene_tpm``: ``GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_tpm.gct.gz``, a
  gzipped GCT 1.2 table of 56,200 genes x 17,382 samples. Line 1 is ``#1.2``, line 2
  the dimensions ``<genes> <TAB> <samples>``, line 3 the header
  ``Name Description <sample ids...>``, then one gene per row: ``Name`` is the
  versioned Ensembl id (GENCODE v26), ``Description`` the gene symbol.
* ``sample_attributes``: ``SampleAttributesDS.txt``, one row per sample (``SAMPID``)
  with ``SMTS`` (broad tissue), ``SMTSD`` (detailed tissue) and ``SMAFRZE`` (the
  analysis freeze the sample belongs to).
* ``subject_phenotypes``: ``SubjectPhenotypesDS.txt``, one row per donor
  (``SUBJID``) with ``SEX`` coded 1 = male, 2 = female.

Samples kept: GCT columns whose ``SMAFRZE`` is ``RNASEQ``; columns that are absent
from the attributes or belong to another freeze are dropped and counted in the
provenance. Samples table:

* ``donor``: the first two dash-separated fields of the sample id
  (``GTEX-1117F-0226-SM-5GZZ7`` -> ``GTEX-1117F``).
* ``study``: the donor as well. GTEx is one study, and a donor gives many tissues,
  so splits must never put one donor's samples on both sides: study-wise splits
  are donor-wise here.
* labels ``tissue`` (``SMTS``, 31 classes in v8), ``tissue_detail`` (``SMTSD``) and
  ``sex`` ("male" for code 1, "female" for code 2; missing when the donor is not in
  the phenotypes file).

Values: the TPMs as distributed, float32, by default (param ``log_transform: false``;
Heil et al. used TPM unlogged); ``log_transform: true`` stores log2(TPM + 1) instead.
A log, when wanted, belongs to a task's ``preprocessing.log2``. Either way the
provenance says which (``values``).

The GCT is gene-major and the store sample-major, and the full float32 matrix is
about 3.9 GB, so it is never held in memory. The conversion streams in two passes:
gene blocks parsed from the gzip go into a scratch HDF5 file next to the output,
tiled so that the second pass can read all genes of a few hundred samples at once
and append them to the store. Peak memory depends on the block sizes only (a few
hundred MB), not on the number of genes times samples.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import h5py
import numpy as np
import pandas as pd

from ..atomic import scratch_folder
from ..store import stream_dataset
from . import DataSource

GCT_FILE = "gene_tpm"
ATTRIBUTES_FILE = "sample_attributes"
PHENOTYPES_FILE = "subject_phenotypes"
RNASEQ_FREEZE = "RNASEQ"
SEX_NAMES = {"1": "male", "2": "female"}
_GZIP_MAGIC = b"\x1f\x8b"


class GctFormatError(ValueError):
    """A GCT file does not follow the layout it declares; the message names the file."""


@dataclass(frozen=True)
class GctHeader:
    n_genes: int
    sample_ids: list[str]


@dataclass(frozen=True)
class GeneBlock:
    """Consecutive gene rows: ids, symbols and values (genes x all GCT samples)."""

    first_row: int
    gene_ids: list[str]
    symbols: list[str]
    values: np.ndarray


def donor_of(sample_id: str) -> str:
    """GTEx donor id: the first two dash-separated fields of a sample id."""
    return "-".join(sample_id.split("-")[:2])


def open_gct(path: Path) -> IO[bytes]:
    """The GCT as a binary stream, decompressed when it is gzipped."""
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def _damaged(path: Path, line_number: int, error: Exception) -> GctFormatError:
    return GctFormatError(f"{path}: cannot read file line {line_number}: {error}; the file is truncated or "
                          "corrupt, delete it and download it again")


def _decoded(raw: bytes, path: Path, line_number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise GctFormatError(f"{path}: file line {line_number} is not UTF-8 text (byte {raw[error.start]:#04x}); "
                             "is this the GTEx GCT file, undamaged?") from None


def _header_line(handle: IO[bytes], path: Path, line_number: int) -> str:
    try:
        raw = handle.readline()
    except (EOFError, OSError, zlib.error) as error:
        raise _damaged(path, line_number, error) from error
    return _decoded(raw, path, line_number)


def read_gct_header(handle: IO[bytes], path: Path) -> GctHeader:
    """Read and check the version, dimensions and header lines."""
    version = _header_line(handle, path, 1).lstrip("\ufeff").strip()  # a BOM is harmless
    if version != "#1.2":
        raise GctFormatError(f"{path}: not a GCT 1.2 file: line 1 is {version[:40]!r}, expected '#1.2'")
    dims = _header_line(handle, path, 2).split()
    if len(dims) != 2 or not all(d.isdigit() for d in dims):
        raise GctFormatError(f"{path}: line 2 should be '<genes> <samples>', found {' '.join(dims)[:60]!r}")
    n_genes, n_samples = int(dims[0]), int(dims[1])
    fields = _header_line(handle, path, 3).rstrip("\r\n").split("\t")
    if fields[:2] != ["Name", "Description"]:
        raise GctFormatError(f"{path}: line 3 should start with 'Name<TAB>Description', found {fields[:2]}")
    sample_ids = fields[2:]
    if len(sample_ids) != n_samples:
        raise GctFormatError(
            f"{path}: the dimensions line declares {n_samples} samples but the header names {len(sample_ids)}"
        )
    index = pd.Index(sample_ids)
    duplicated = index[index.duplicated()]
    if len(duplicated):
        raise GctFormatError(f"{path}: sample id {duplicated[0]!r} appears more than once in the header")
    if n_genes < 1 or n_samples < 1:
        raise GctFormatError(f"{path}: the dimensions line declares an empty matrix ({n_genes} x {n_samples})")
    return GctHeader(n_genes, sample_ids)


def iter_gene_blocks(handle: IO[bytes], path: Path, header: GctHeader, rows_per_block: int) -> Iterator[GeneBlock]:
    """Parse the gene rows after the header, ``rows_per_block`` at a time.

    pandas is slow on tables with thousands of columns, so the values of a block are
    parsed as one long column (tabs turned into newlines) and reshaped; each row's
    value count is checked first, so the reshape cannot shift values between rows.
    """
    n_samples = len(header.sample_ids)
    first_row, line_number = 0, 3
    while True:
        try:
            lines = list(itertools.islice(handle, rows_per_block))
        except (EOFError, OSError, zlib.error) as error:
            raise _damaged(path, line_number + 1, error) from error
        if not lines:
            return
        gene_ids, symbols, value_texts = [], [], []
        for line in lines:
            line_number += 1
            if not line.strip():
                continue  # a stray blank line, e.g. at the end of the file
            name, description, values = (line.split(b"\t", 2) + [b"", b""])[:3]
            found = values.count(b"\t") + 1 if values else 0
            if found != n_samples:
                raise GctFormatError(f"{path}: file line {line_number} has {found} values, the header names "
                                     f"{n_samples} samples")
            gene_ids.append(_decoded(name, path, line_number))
            symbols.append(_decoded(description, path, line_number))
            value_texts.append(values if values.endswith(b"\n") else values + b"\n")
        if not gene_ids:
            continue
        column = b"".join(value_texts).replace(b"\t", b"\n")
        del lines, value_texts
        try:
            parsed = pd.read_csv(io.BytesIO(column), header=None, dtype=np.float64, na_filter=False,
                                 skip_blank_lines=False, quoting=csv.QUOTE_NONE, engine="c")
        except (ValueError, pd.errors.ParserError) as error:
            raise GctFormatError(
                f"{path}: a value between file lines {line_number - len(gene_ids) + 1} and {line_number} is "
                f"missing or not a number: {error}"
            ) from error
        values = parsed[0].to_numpy().reshape(len(gene_ids), n_samples)
        if not np.isfinite(values).all():
            bad = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
            raise GctFormatError(f"{path}: gene row {first_row + bad + 1} ({gene_ids[bad]}) holds a NaN or "
                                 f"infinite value")
        yield GeneBlock(first_row, gene_ids, symbols, values)
        first_row += len(gene_ids)


def _read_tsv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    # Free-text columns of the GTEx annotations hold stray quotes, so quoting is off.
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, quoting=csv.QUOTE_NONE, keep_default_na=False,
                            usecols=lambda name: name in columns)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable tab-separated GTEx annotation file: {error}") from error
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: lacks column(s) {missing}; is this the right GTEx annotation file?")
    key = columns[0]
    duplicated = table[key][table[key].duplicated()]
    if len(duplicated):
        raise ValueError(f"{path}: {key} {duplicated.iloc[0]!r} appears more than once")
    return table.set_index(key)


def sample_table(gct_sample_ids: list[str], attributes_path: Path,
                 phenotypes_path: Path) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Samples kept from the GCT, in GCT order, with labels; their GCT column
    indices; and counts of what was dropped."""
    attributes = _read_tsv(attributes_path, ("SAMPID", "SMTS", "SMTSD", "SMAFRZE"))
    phenotypes = _read_tsv(phenotypes_path, ("SUBJID", "SEX"))
    unknown_codes = sorted(set(phenotypes["SEX"]) - set(SEX_NAMES) - {""})
    if unknown_codes:
        raise ValueError(f"{phenotypes_path}: unexpected SEX codes {unknown_codes}; expected 1 (male) or 2 (female)")

    ids = pd.Index(gct_sample_ids)
    in_attributes = ids.isin(attributes.index)
    freeze = attributes["SMAFRZE"].reindex(ids)
    keep = in_attributes & (freeze == RNASEQ_FREEZE).to_numpy()
    kept_ids = ids[keep]
    if len(kept_ids) == 0:
        raise ValueError(f"{attributes_path}: none of the {len(ids)} GCT samples has SMAFRZE == {RNASEQ_FREEZE}")

    donors = [donor_of(s) for s in kept_ids]
    sex_codes = phenotypes["SEX"].reindex(donors).fillna("")
    kept = attributes.reindex(kept_ids)
    samples = pd.DataFrame({
        "sample_id": list(kept_ids),
        "study": donors,
        "donor": donors,
        "tissue": [v or None for v in kept["SMTS"]],
        "tissue_detail": [v or None for v in kept["SMTSD"]],
        "sex": [SEX_NAMES.get(code) for code in sex_codes],
    })
    counts = {
        "gct_samples": len(ids),
        "kept": int(keep.sum()),
        "not_in_attributes": int((~in_attributes).sum()),
        "other_freeze": int((in_attributes & ~keep).sum()),
        "donors_without_phenotypes": int((sex_codes == "").sum()),
    }
    return samples, np.flatnonzero(keep), counts


class GTExV8(DataSource):
    name = "gtex"
    label_columns = ("tissue", "tissue_detail", "sex")
    defaults = {"log_transform": False}
    #: Values parsed per gene block (pass 1) and appended per sample block (pass 2);
    #: they bound peak memory, whatever the matrix size.
    parse_block_values = 4_000_000
    store_block_values = 16_000_000

    def write(self, out_path: Path, downloads: dict[str, Path]) -> None:
        missing = [n for n in (GCT_FILE, ATTRIBUTES_FILE, PHENOTYPES_FILE) if n not in downloads]
        if missing:
            raise ValueError(f"gtex: downloaded files lack {missing}; the dataset entry's files must name "
                             f"{GCT_FILE}, {ATTRIBUTES_FILE} and {PHENOTYPES_FILE}")
        out_path = Path(out_path)
        gct_path = Path(downloads[GCT_FILE])
        log_transform = bool(self.params["log_transform"])
        out_path.parent.mkdir(parents=True, exist_ok=True)

        with open_gct(gct_path) as handle:
            header = read_gct_header(handle, gct_path)
            samples, keep, counts = sample_table(header.sample_ids, Path(downloads[ATTRIBUTES_FILE]),
                                                 Path(downloads[PHENOTYPES_FILE]))
            with scratch_folder(out_path) as scratch_dir:
                scratch_path = scratch_dir / "gene_major.h5"
                with h5py.File(scratch_path, "w") as scratch:
                    genes = self._write_gene_major(handle, gct_path, header, keep, log_transform, scratch)
                    provenance = self._provenance(gct_path, downloads, header, counts, log_transform)
                    self._write_sample_major(scratch["values"], genes, samples, provenance, out_path)

    def _write_gene_major(self, handle, gct_path: Path, header: GctHeader, keep: np.ndarray,
                          log_transform: bool, scratch: h5py.File) -> pd.DataFrame:
        """Pass 1: parse gene blocks into a scratch genes x kept-samples matrix."""
        n_genes, n_gct_samples, n_kept = header.n_genes, len(header.sample_ids), len(keep)
        rows_per_block = max(1, self.parse_block_values // n_gct_samples)
        samples_per_block = self._samples_per_store_block(n_genes, n_kept)
        # Tiles as tall as a parse block and as wide as a store block: each pass
        # writes or reads whole tiles.
        values = scratch.create_dataset("values", shape=(n_genes, n_kept), dtype=np.float32,
                                        chunks=(min(rows_per_block, n_genes), samples_per_block))
        gene_ids: list[str] = []
        symbols: list[str] = []
        next_report = 0.1
        for block in iter_gene_blocks(handle, gct_path, header, rows_per_block):
            end = block.first_row + len(block.gene_ids)
            if end > n_genes:
                raise GctFormatError(f"{gct_path}: the dimensions line declares {n_genes} genes but the file "
                                     f"has more gene rows")
            kept = block.values[:, keep]
            if log_transform:
                if (kept < 0).any():
                    raise GctFormatError(f"{gct_path}: negative TPM values in gene rows {block.first_row + 1} to "
                                         f"{end}; is this a TPM table?")
                kept += 1.0
                np.log2(kept, out=kept)
            values[block.first_row:end, :] = kept.astype(np.float32)
            gene_ids += block.gene_ids
            symbols += block.symbols
            if end >= next_report * n_genes:
                print(f"gtex: parsed {end} of {n_genes} genes", file=sys.stderr)
                next_report = end / n_genes + 0.1
        if len(gene_ids) != n_genes:
            raise GctFormatError(f"{gct_path}: the dimensions line declares {n_genes} genes but the file has "
                                 f"{len(gene_ids)} gene rows")
        return pd.DataFrame({"gene_id": gene_ids, "symbol": symbols})

    def _write_sample_major(self, gene_major: h5py.Dataset, genes: pd.DataFrame, samples: pd.DataFrame,
                            provenance: dict, out_path: Path) -> None:
        """Pass 2: read all genes of a block of samples at a time and append it to the store."""
        n_genes, n_kept = gene_major.shape
        step = gene_major.chunks[1]
        with stream_dataset(out_path, genes, expected_samples=n_kept) as stream:
            for start in range(0, n_kept, step):
                stream.append(np.ascontiguousarray(gene_major[:, start:start + step].T))
            stream.finish(samples, provenance)
        print(f"gtex: wrote {n_kept} samples x {n_genes} genes to {out_path}", file=sys.stderr)

    def _samples_per_store_block(self, n_genes: int, n_samples: int) -> int:
        # A multiple of 16 rows: that lines blocks up with the store's row chunks
        # (4 to 16 rows) for real gene counts, 16,384 genes or more.
        rows = max(16, (self.store_block_values // max(n_genes, 1)) // 16 * 16)
        return min(rows, n_samples)

    def _provenance(self, gct_path: Path, downloads: dict, header: GctHeader, counts: dict,
                    log_transform: bool) -> dict:
        steps = [
            "gene TPM as distributed by GTEx (RNA-SeQC v1.1.9, GENCODE v26 genes)",
            f"kept the {counts['kept']} of {counts['gct_samples']} GCT samples with SMAFRZE == {RNASEQ_FREEZE} "
            f"({counts['other_freeze']} in another freeze, {counts['not_in_attributes']} absent from the "
            f"sample attributes)",
        ]
        if log_transform:
            steps.append("log2(TPM + 1), float32")
        return {
            "source": self.name,
            "source_version": f"GTEx v8 ({gct_path.name})",
            "preprocessing": steps,
            "values": "log2(TPM + 1)" if log_transform else "TPM",
            "files": {name: Path(path).name for name, path in sorted(downloads.items())},
            "gct_dimensions": [header.n_genes, len(header.sample_ids)],
            "sample_counts": counts,
            "sex_coding": "SubjectPhenotypesDS SEX: 1 = male, 2 = female",
            "donor": "first two dash-separated fields of SAMPID; study = donor, so study-wise splits are donor-wise",
            "params": dict(self.params),
        }
