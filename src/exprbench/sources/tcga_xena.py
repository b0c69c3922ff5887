"""TCGA pan-cancer RNA-seq from the UCSC Xena PanCanAtlas hub, with cancer-type labels.

Files (dataset definition ``config/datasets/tcga_pancan.yaml``):

* ``expression``: ``EB++AdjustPANCAN_IlluminaHiSeq_RNASeqV2.geneExp.xena.gz``, a gzipped
  tab-separated genes x samples matrix (about 20,500 genes x 11,000 samples). The first
  header field is ``sample``, the others are TCGA sample barcodes
  (``TCGA-XX-XXXX-01``); each row starts with a HUGO symbol, or the Entrez ID where the
  gene has none. Values are ``log2(norm_count + 1)`` of the PanCanAtlas EB++
  batch-adjusted RSEM counts. They are stored as distributed: no transform is applied.
* ``clinical``: ``Survival_SupplementalTable_S1_20171025_xena_sp``, a TSV keyed by
  ``sample`` with ``cancer type abbreviation`` (the 33 TCGA study codes) and ``gender``.

Samples kept: the sample-type code is the first two characters of the barcode's fourth
field (``TCGA-XX-XXXX-01A`` -> ``01``). By default ``01`` (primary solid tumour) and
``03`` (primary blood-derived cancer, the primary tumour of LAML) are kept; normals
(``11``), metastases (``06``) and recurrences (``02``) are not. Param ``sample_types``
changes the list.

Genes kept: the hub writes ``NA`` where the adjusted value is missing. A gene with a
missing value in any kept sample is dropped; the count is in the provenance.

Labels:
  * ``cancer_type``: ``cancer type abbreviation`` of the sample (BRCA, LUAD, ...), or of
    its participant when the exact sample is not in the table.
  * ``sex``: "female" / "male" from ``gender``.
  Samples the table does not cover keep a missing label (tasks drop them and report it).

Grouping: donor = participant (first three barcode fields, ``TCGA-XX-XXXX``); study =
tissue source site (the second field, ``XX``), the collection centre and the batch-like
grouping commonly used for TCGA. A site contributes to one or a few cancer types, so
study-wise folds still hold every cancer type; grouping by project would put each
cancer type in a single fold.

The matrix is streamed: gene rows are parsed in blocks, written transposed into a
temporary HDF5 file next to the output (about 4 bytes x genes x samples of disk), then
copied into the store in blocks of sample rows. On a synthetic file of the real size
(20,531 genes x 11,000 samples, 0.9 GB as a dense float32 matrix) the peak resident
memory was about 310 MiB, mostly the parser's buffers for one block of 512 rows.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from ..atomic import scratch_folder
from ..download import read_manifest
from ..store import stream_dataset
from . import DataSource

#: Fourth field: two-digit sample type, then an optional vial letter; longer aliquot
#: barcodes may follow.
_BARCODE = re.compile(r"^TCGA-([A-Z0-9]{2})-([A-Z0-9]{4})-(\d{2})[A-Z]?(-.*)?$")
_SEX_NAMES = {"FEMALE": "female", "MALE": "male"}
_MISSING_TOKENS = ["", "NA", "NaN", "nan", "N/A", "#N/A", "null"]
_CANCER_TYPE_COLUMN = "cancer type abbreviation"
_SEX_COLUMN = "gender"


class TcgaXena(DataSource):
    name = "tcga_xena"
    label_columns = ("cancer_type", "sex")
    defaults = {"sample_types": ["01", "03"]}

    #: Rows (genes) parsed per block and sample rows copied per block; small values in
    #: tests exercise the block boundaries.
    genes_per_block = 512
    samples_per_block = 256

    def write(self, out_path: Path, downloads: dict[str, Path]) -> None:
        expression_path, clinical_path = _required(downloads, ("expression", "clinical"))
        allowed = {str(code).zfill(2) for code in self.params["sample_types"]}

        header = _read_header(expression_path)
        barcodes = header[1:]
        types = [_sample_type(b, expression_path) for b in barcodes]
        kept_columns = [i + 1 for i, t in enumerate(types) if t in allowed]
        kept = [barcodes[i - 1] for i in kept_columns]
        if not kept:
            raise ValueError(
                f"{expression_path}: no sample has a sample-type code in {sorted(allowed)} "
                f"(codes present: {sorted(set(types))})"
            )
        samples, label_counts = _samples_table(kept, _read_clinical(clinical_path))

        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with scratch_folder(out_path) as scratch:
            transposed = scratch / "samples_by_genes.h5"
            with h5py.File(transposed, "w", rdcc_nbytes=self._column_of_chunks_bytes(len(kept))) as h5:
                symbols, counts = self._transpose_complete_genes(expression_path, header, kept_columns, h5)
                genes = _genes_table(symbols)
                provenance = self._provenance(downloads, len(barcodes), len(kept), allowed, counts, label_counts,
                                              genes)
                matrix = h5["matrix"]
                with stream_dataset(out_path, genes, expected_samples=len(kept)) as stream:
                    for start in range(0, len(kept), self.samples_per_block):
                        stream.append(matrix[start:start + self.samples_per_block, :])
                    stream.finish(samples, provenance)

    def _column_of_chunks_bytes(self, n_samples: int) -> int:
        # Room for every chunk of one block of genes, so each chunk is written once.
        rows = min(n_samples, self.samples_per_block)
        n_row_chunks = -(-n_samples // rows)
        return 2 * n_row_chunks * rows * self.genes_per_block * 4

    def _transpose_complete_genes(self, path: Path, header: list[str], columns: list[int], h5: h5py.File):
        """Parse gene rows block by block; write the complete ones as columns of /matrix."""
        n_samples = len(columns)
        matrix = h5.create_dataset(
            "matrix", shape=(n_samples, 0), maxshape=(n_samples, None), dtype=np.float32,
            chunks=(min(n_samples, self.samples_per_block), self.genes_per_block),
        )
        symbols: list[str] = []
        counts = {"genes_in_file": 0, "genes_dropped_missing": 0}
        for names, values in _gene_blocks(path, header, columns, self.genes_per_block):
            complete = ~np.isnan(values).any(axis=1)
            counts["genes_in_file"] += len(names)
            counts["genes_dropped_missing"] += int((~complete).sum())
            if not complete.any():
                continue
            start = matrix.shape[1]
            matrix.resize(start + int(complete.sum()), axis=1)
            matrix[:, start:] = values[complete].T
            symbols.extend(names[complete])
        if not symbols:
            raise ValueError(
                f"{path}: every one of {counts['genes_in_file']} gene rows has a missing value (NA) "
                f"in the kept samples; nothing left to store"
            )
        return symbols, counts

    def _provenance(self, downloads, n_in_file, n_kept, allowed, counts, label_counts, genes) -> dict:
        n_genes = len(genes)
        n_renamed = int((genes["gene_id"] != genes["symbol"]).sum())
        steps = [
            "values as distributed by the Xena hub: log2(norm_count+1) of PanCanAtlas EB++ batch-adjusted "
            "RSEM counts (no transform applied)",
            f"kept {n_kept} of {n_in_file} samples whose barcode sample-type code is in {sorted(allowed)}",
            f"dropped {counts['genes_dropped_missing']} of {counts['genes_in_file']} genes with a missing "
            f"value (NA) in a kept sample; {n_genes} genes left",
        ]
        if n_renamed:
            steps.append(f"{n_renamed} repeated gene symbols given a '.2', '.3', ... suffix in gene_id")
        return {
            "source": self.name,
            "source_version": "TCGA PanCanAtlas EB++AdjustPANCAN_IlluminaHiSeq_RNASeqV2 (UCSC Xena pancan hub)",
            "preprocessing": steps,
            "params": {"sample_types": sorted(allowed)},
            "study": "tissue source site (second barcode field)",
            "donor": "participant (first three barcode fields)",
            "samples_in_file": n_in_file,
            "genes_in_file": counts["genes_in_file"],
            "genes_dropped_missing": counts["genes_dropped_missing"],
            **label_counts,
            "files": _file_records(downloads),
        }


# ----------------------------------------------------------------------------- expression file


def _required(downloads: dict[str, Path], names: tuple[str, ...]) -> list[Path]:
    missing = [n for n in names if n not in downloads]
    if missing:
        raise ValueError(f"tcga_xena: no downloaded file named {missing[0]!r} (got {sorted(downloads)}); "
                         f"the dataset entry's files need {' and '.join(map(repr, names))}")
    paths = [Path(downloads[n]) for n in names]
    for name, path in zip(names, paths, strict=False):
        if not path.is_file():
            raise ValueError(f"tcga_xena: {name} file {path} not found; rerun the download step")
    return paths


def _read_header(path: Path) -> list[str]:
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            line = handle.readline()
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable gzipped Xena matrix ({error})") from error
    header = line.rstrip("\r\n").split("\t")
    if len(header) < 2 or header[0] != "sample":
        raise ValueError(f"{path}: the header must start with 'sample' then sample barcodes, tab-separated; "
                         f"it starts {line[:60]!r}")
    repeated = sorted(b for b, n in Counter(header[1:]).items() if n > 1)
    if repeated:
        raise ValueError(f"{path}: repeated sample barcodes in the header: {repeated[:5]}")
    return header


def _sample_type(barcode: str, path: Path) -> str:
    match = _BARCODE.match(barcode)
    if not match:
        raise ValueError(f"{path}: header field {barcode!r} is not a TCGA sample barcode (TCGA-XX-XXXX-NN...)")
    return match.group(3)


def _gene_blocks(path: Path, header: list[str], columns: list[int], rows_per_block: int):
    """Yield float32 arrays of ``rows_per_block`` gene rows (kept columns only) with their symbols.

    Every column is parsed, not only the kept ones, so that a row with extra fields is
    an error rather than silently shifted; a short row reads as missing values.
    """
    dtypes = {header[0]: str, **{name: np.float32 for name in header[1:]}}
    kept = np.asarray(columns) - 1
    try:
        reader = pd.read_csv(
            path, sep="\t", compression="gzip", header=0, index_col=0, dtype=dtypes,
            keep_default_na=False, na_values=_MISSING_TOKENS, chunksize=rows_per_block, engine="c",
        )
        with reader:
            for block in reader:
                if block.index.isna().any() or (block.index == "").any():
                    raise ValueError("a gene row has no gene name in its first field")
                yield block.index.to_numpy(), block.to_numpy(dtype=np.float32)[:, kept]
    except (pd.errors.ParserError, ValueError, OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: malformed Xena matrix: {error}") from error


def _genes_table(symbols: list[str]) -> pd.DataFrame:
    """gene_id is the symbol, made unique with a suffix where the file repeats a symbol."""
    seen: dict[str, int] = {}
    ids = []
    for symbol in symbols:
        seen[symbol] = seen.get(symbol, 0) + 1
        ids.append(symbol if seen[symbol] == 1 else f"{symbol}.{seen[symbol]}")
    return pd.DataFrame({"gene_id": ids, "symbol": symbols})


# ----------------------------------------------------------------------------- labels


def _read_clinical(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=_MISSING_TOKENS)
    except (pd.errors.ParserError, ValueError, OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable tab-separated clinical table ({error})") from error
    needed = ["sample", _CANCER_TYPE_COLUMN, _SEX_COLUMN]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: clinical table lacks columns {missing}; it has {list(table.columns)[:12]}")
    table = table[needed].dropna(subset=["sample"])
    sexes = table[_SEX_COLUMN].dropna().str.upper()
    unknown = sorted(set(sexes) - set(_SEX_NAMES))
    if unknown:
        raise ValueError(f"{path}: unexpected {_SEX_COLUMN!r} values {unknown}; expected FEMALE or MALE")
    return pd.DataFrame({
        "sample": table["sample"].str.strip(),
        "cancer_type": table[_CANCER_TYPE_COLUMN].str.strip(),
        "sex": table[_SEX_COLUMN].str.upper().map(_SEX_NAMES),
    })


def _samples_table(barcodes: list[str], clinical: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Samples table for the kept barcodes; labels by exact sample, else by participant."""
    by_sample = clinical.drop_duplicates("sample").set_index("sample")
    clinical = clinical.assign(participant=clinical["sample"].str[:12])
    by_participant = {
        column: clinical.dropna(subset=[column]).drop_duplicates("participant").set_index("participant")[column]
        for column in ("cancer_type", "sex")
    }
    participants = [b[:12] for b in barcodes]
    labels = {}
    for column in ("cancer_type", "sex"):
        exact = by_sample[column].reindex(barcodes).to_numpy()
        fallback = by_participant[column].reindex(participants).to_numpy()
        labels[column] = np.where(pd.isna(exact), fallback, exact)
    samples = pd.DataFrame({
        "sample_id": barcodes,
        "study": [b[5:7] for b in barcodes],
        "donor": participants,
        "cancer_type": labels["cancer_type"],
        "sex": labels["sex"],
    })
    counts = {
        "samples_without_cancer_type": int(samples["cancer_type"].isna().sum()),
        "samples_without_sex": int(samples["sex"].isna().sum()),
    }
    return samples, counts


def _file_records(downloads: dict[str, Path]) -> dict:
    """URL and SHA-256 of each input, from the download manifest when there is one."""
    records = {}
    for name, path in sorted(downloads.items()):
        entry = read_manifest(Path(path).parent).get(Path(path).name, {})
        records[name] = {"file": Path(path).name, **{k: entry[k] for k in ("url", "sha256") if k in entry}}
    return records
