"""D-GEX cross-platform data: GTEx and 1000 Genomes RPKM on the GEO quantiles.

D-GEX (Chen et al. 2016) tested its GEO-trained models on RNA-seq profiles mapped
onto the GEO data's quantiles (``GTEx_reqnorm.py``, ``1000G_reqnorm.py``). This
source does the same for one platform (param ``platform``):

* ``gtex``: ``GTEx_RNASeq_RPKM_n2921x55993.gctx``, pre-v8 GTEx RPKM. GCTX is HDF5:
  ``/0/DATA/0/matrix`` stored samples x genes, ``/0/META/ROW/id`` the genes
  (versioned Ensembl ids), ``/0/META/COL/id`` the sample ids.
* ``1000g``: ``GD462.GeneQuantRPKM.50FN.samplename.resk10.txt.gz`` (Geuvadis, 462
  1000 Genomes lymphoblastoid samples), a gzipped tab-separated table with columns
  ``TargetID`` (versioned Ensembl id), ``Gene_Symbol``, ``Chr``, ``Coord``, then one
  column per sample, genes in rows.

Both use the D-GEX gene maps (``landmarks``: ``map_lm.txt``, ``targets``:
``map_tg.txt``) and the prepared ``dgex_geo`` store (param ``reference_store``,
default ``data/dgex_geo.h5``), which :meth:`DgexRnaseq.required_inputs` names so
the workflow prepares it first. Steps:

1. The GEO store's genes (landmarks first, then targets) are looked up in the
   RNA-seq file by unversioned Ensembl id; the first row wins when the file lists
   one id twice (e.g. PAR copies on chrY). Genes the file lacks are an error,
   unless ``drop_missing_genes: true`` leaves them out (recorded in provenance).
2. Each sample's RPKM profile over those genes is mapped onto the GEO reference
   quantiles (the store's array ``reference_quantiles``) by its rank among the
   sample's distinct values, with
   :func:`exprbench.quantile.map_to_reference_quantiles`. RPKM is not
   log-transformed first: the mapping depends on ranks only.

D-GEX's per-gene z-scoring is a model-side step and is left to the benchmark.

The store has the GEO store's gene ids, symbols and order, float32 values, and
the landmark ids in provenance (``landmark_genes``); the landmarks are the first
``n_landmarks`` genes. Samples: for 1000 Genomes ``study`` = ``donor`` = sample
id; for GTEx ``donor`` is the first two dash-separated fields of the sample id
(``GTEX-1117F-0226-SM-5GZZ7`` -> ``GTEX-1117F``) and ``study`` the donor, so
study-wise splits keep a donor's tissues together. No class labels.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..download import read_manifest
from ..quantile import map_to_reference_quantiles
from ..store import StoreError, open_dataset, stream_dataset
from . import DataSource
from ._hdf5 import open_hdf5, read_strings, require_dataset
from .dgex_geo import COL_IDS_PATH, MATRIX_PATH, REFERENCE_ARRAY, ROW_IDS_PATH, read_gene_map

PLATFORMS = ("gtex", "1000g")
GD462_ID_COLUMNS = ["TargetID", "Gene_Symbol", "Chr", "Coord"]
#: Missing gene ids listed in messages and provenance; the rest are counted.
SHOWN_MISSING = 50


class RnaseqFormatError(ValueError):
    """An RNA-seq input or the GEO reference store is not what this source expects."""


def unversioned(gene_id: str) -> str:
    """``ENSG00000223972.5`` (or ``ENSG00000182378.14_PAR_Y``) -> ``ENSG00000223972``."""
    return str(gene_id).split(".", 1)[0].strip()


class GeoReference:
    """Genes, landmark ids and reference quantiles read from the prepared dgex_geo store."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.exists():
            raise RnaseqFormatError(f"dgex_rnaseq: the GEO reference store {self.path} does not exist; "
                                    f"prepare dgex_geo first (or point the reference_store param at it)")
        try:
            with open_dataset(self.path) as reader:
                provenance = reader.provenance
                if provenance["source"] != "dgex_geo":
                    raise RnaseqFormatError(f"dgex_rnaseq: {self.path} was made by source "
                                            f"{provenance['source']!r}, not dgex_geo")
                if REFERENCE_ARRAY not in reader.array_names():
                    raise RnaseqFormatError(
                        f"dgex_rnaseq: {self.path} has no array {REFERENCE_ARRAY!r}; prepare dgex_geo first "
                        f"(again, if this store predates stored reference quantiles)")
                self.quantiles = np.asarray(reader.array(REFERENCE_ARRAY), dtype=np.float64)
                self.genes = reader.genes
        except StoreError as err:
            raise RnaseqFormatError(f"dgex_rnaseq: cannot read the GEO reference store: {err}; "
                                    f"prepare dgex_geo first") from err
        self.landmark_genes = list(provenance.get("landmark_genes", []))
        self.source_version = provenance["source_version"]
        if self.quantiles.ndim != 1 or self.quantiles.size == 0 or np.any(np.diff(self.quantiles) < 0):
            raise RnaseqFormatError(f"dgex_rnaseq: {self.path}: array {REFERENCE_ARRAY!r} is not a non-empty "
                                    f"ascending vector; prepare dgex_geo again")


class GtexGctx:
    """The GTEx RPKM GCTX, read a block of samples at a time."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._h5 = open_hdf5(self.path, RnaseqFormatError, "GCTX/HDF5")
        try:
            self._matrix = self._require(MATRIX_PATH)
            self.gene_ids = read_strings(self._require(ROW_IDS_PATH), strip=True)
            self.sample_ids = read_strings(self._require(COL_IDS_PATH), strip=True)
            if self._matrix.shape != (len(self.sample_ids), len(self.gene_ids)):
                raise RnaseqFormatError(
                    f"dgex_rnaseq: {self.path}: {MATRIX_PATH} has shape {self._matrix.shape}, expected "
                    f"({len(self.sample_ids)} samples, {len(self.gene_ids)} genes) from {COL_IDS_PATH} "
                    f"and {ROW_IDS_PATH}")
        except Exception:
            self._h5.close()
            raise

    def _require(self, name: str):
        return require_dataset(self._h5, name, self.path, RnaseqFormatError, "is it the GTEx RPKM GCTX?")

    def blocks(self, columns: np.ndarray, block_samples: int):
        """Yield samples x selected-genes blocks, reading whole sample rows."""
        for start in range(0, len(self.sample_ids), block_samples):
            rows = np.asarray(self._matrix[start:start + block_samples, :], dtype=np.float32)
            yield rows[:, columns].astype(np.float64)

    def samples(self) -> pd.DataFrame:
        ids = list(self.sample_ids)
        donors = ["-".join(s.split("-")[:2]) for s in ids]
        return pd.DataFrame({"sample_id": ids, "study": donors, "donor": donors})

    def close(self) -> None:
        self._h5.close()


class Gd462Table:
    """The Geuvadis GD462 RPKM table (genes in rows), held in memory (~90 MB as float64)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            table = pd.read_csv(self.path, sep="\t", compression="gzip", dtype={c: str for c in GD462_ID_COLUMNS})
        except (OSError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError,
                pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise RnaseqFormatError(f"dgex_rnaseq: {self.path} is not a readable gzipped tab-separated "
                                    f"GD462 table ({type(err).__name__}: {err})") from err
        if list(table.columns[:4]) != GD462_ID_COLUMNS or table.shape[1] < 5:
            raise RnaseqFormatError(f"dgex_rnaseq: {self.path}: expected columns {GD462_ID_COLUMNS} then one "
                                    f"column per sample, got {list(table.columns[:6])}")
        values = table.iloc[:, 4:].apply(pd.to_numeric, errors="coerce")
        bad = values.isna().any(axis=1)
        if bad.any():
            raise RnaseqFormatError(f"dgex_rnaseq: {self.path}: {int(bad.sum())} gene rows have missing or "
                                    f"non-numeric values, e.g. {table['TargetID'][bad].iloc[0]}")
        self.gene_ids = table["TargetID"].to_numpy(dtype=object)
        self.sample_ids = np.array([str(c).strip() for c in table.columns[4:]], dtype=object)
        self._values = values.to_numpy(dtype=np.float64)  # genes x samples

    def blocks(self, columns: np.ndarray, block_samples: int):
        selected = self._values[columns, :].T
        for start in range(0, selected.shape[0], block_samples):
            yield selected[start:start + block_samples]

    def samples(self) -> pd.DataFrame:
        ids = list(self.sample_ids)
        return pd.DataFrame({"sample_id": ids, "study": ids, "donor": ids})

    def close(self) -> None:
        pass


READERS = {"gtex": GtexGctx, "1000g": Gd462Table}
PLATFORM_NAMES = {"gtex": "GTEx (pre-v8) RPKM", "1000g": "1000 Genomes (Geuvadis GD462) RPKM"}


class DgexRnaseq(DataSource):
    name = "dgex_rnaseq"
    label_columns = ()
    defaults = {
        "platform": None,
        "reference_store": "data/dgex_geo.h5",
        "drop_missing_genes": False,
        "block_samples": 500,
    }

    def __init__(self, files: dict | None = None, **params):
        super().__init__(files, **params)
        if self.params["platform"] not in PLATFORMS:
            raise ValueError(f"source 'dgex_rnaseq': param platform must be one of {list(PLATFORMS)}, "
                             f"got {self.params['platform']!r}")

    def required_inputs(self) -> list[str]:
        return [str(self.params["reference_store"])]

    def write(self, out_path: Path, downloads: dict[str, Path]) -> None:
        missing = [n for n in ("expression", "landmarks", "targets") if n not in downloads]
        if missing:
            raise RnaseqFormatError(f"dgex_rnaseq: the dataset needs files named {missing} "
                                    f"(the {PLATFORM_NAMES[self.platform]} file, map_lm.txt and map_tg.txt)")
        reference = GeoReference(Path(self.params["reference_store"]))
        landmarks = read_gene_map(downloads["landmarks"])
        targets = read_gene_map(downloads["targets"])
        self._check_maps_match(reference, landmarks, targets)

        path = Path(downloads["expression"])
        data = READERS[self.platform](path)
        try:
            columns, genes, absent, repeated = self._align(reference, data)
            with stream_dataset(out_path, genes, expected_samples=len(data.sample_ids)) as stream:
                for block in data.blocks(columns, int(self.params["block_samples"])):
                    if not np.isfinite(block).all():
                        raise RnaseqFormatError(f"dgex_rnaseq: {path} has NaN or infinite values")
                    stream.append(map_to_reference_quantiles(block, reference.quantiles))
                samples = data.samples()
                if samples["sample_id"].duplicated().any():
                    twice = samples["sample_id"][samples["sample_id"].duplicated()].iloc[0]
                    raise RnaseqFormatError(f"dgex_rnaseq: {path} lists sample {twice} more than once")
                kept = set(genes["gene_id"])
                landmark_genes = [g for g in reference.landmark_genes if g in kept]
                stream.finish(samples, self._provenance(path, reference, data, landmark_genes,
                                                        len(genes), absent, repeated))
        finally:
            data.close()

    @property
    def platform(self) -> str:
        return self.params["platform"]

    def _check_maps_match(self, reference: GeoReference, landmarks: pd.DataFrame, targets: pd.DataFrame) -> None:
        """The gene maps must be the ones the GEO store was built from, or the gene order means nothing."""
        from_maps = [unversioned(g) for g in pd.concat([landmarks, targets])["gene_id"]]
        in_store = [unversioned(g) for g in reference.genes["gene_id"]]
        if from_maps != in_store or [unversioned(g) for g in landmarks["gene_id"]] != \
                [unversioned(g) for g in reference.landmark_genes]:
            raise RnaseqFormatError(
                f"dgex_rnaseq: the gene maps ({len(landmarks)} landmarks + {len(targets)} targets) differ from "
                f"the genes of {reference.path} ({len(in_store)} genes, {len(reference.landmark_genes)} "
                f"landmarks); prepare dgex_geo again with the same map_lm.txt and map_tg.txt")

    def _align(self, reference: GeoReference, data):
        """Column of each GEO gene in the RNA-seq data (first occurrence of its unversioned id)."""
        position: dict[str, int] = {}
        repeated = 0
        for i, gene_id in enumerate(data.gene_ids):
            key = unversioned(gene_id)
            if key in position:
                repeated += 1
            else:
                position[key] = i
        wanted = [unversioned(g) for g in reference.genes["gene_id"]]
        absent = [g for g in wanted if g not in position]
        if absent and not self.params["drop_missing_genes"]:
            shown = ", ".join(absent[:SHOWN_MISSING]) + (" ..." if len(absent) > SHOWN_MISSING else "")
            raise RnaseqFormatError(
                f"dgex_rnaseq: {len(absent)} of the {len(wanted)} D-GEX genes are not in {data.path}: {shown}; "
                f"set drop_missing_genes: true to leave them out")
        keep = np.array([g in position for g in wanted])
        columns = np.array([position[g] for g in np.asarray(wanted)[keep]], dtype=np.int64)
        genes = reference.genes[keep].reset_index(drop=True)
        if genes.empty:
            raise RnaseqFormatError(f"dgex_rnaseq: none of the D-GEX genes is in {data.path}")
        return columns, genes, absent, repeated

    def _provenance(self, path, reference, data, landmark_genes, n_genes, absent, repeated) -> dict:
        script = "GTEx_reqnorm.py" if self.platform == "gtex" else "1000G_reqnorm.py"
        return {
            "source": self.name,
            "source_version": f"D-GEX {self.platform} {path.name}",
            "preprocessing": [
                f"{PLATFORM_NAMES[self.platform]} as distributed in {path.name}",
                ("genes matched by unversioned Ensembl id to the dgex_geo store's genes, in its order "
                 "(landmarks first); first row kept for ids the file lists twice"),
                (f"{len(absent)} D-GEX genes absent from the file left out" if absent
                 else "all D-GEX genes present"),
                (f"each sample mapped onto the GEO reference quantiles by rank among its distinct values "
                 f"(D-GEX {script})"),
            ],
            "platform": self.platform,
            "file": path.name,
            "file_sha256": read_manifest(path.parent).get(path.name, {}).get("sha256"),
            "reference_store": str(reference.path),
            "reference_source_version": reference.source_version,
            "n_reference_quantiles": int(reference.quantiles.size),
            "landmark_genes": landmark_genes,
            "n_landmarks": len(landmark_genes),
            "n_targets": n_genes - len(landmark_genes),
            "landmark_note": ("the genes table has only gene_id and symbol: landmarks are the first "
                              "n_landmarks genes and are listed in landmark_genes"),
            "missing_genes": len(absent),
            # A full list could outgrow an HDF5 attribute.
            "missing_genes_shown": absent[:SHOWN_MISSING],
            "repeated_gene_ids_in_file": repeated,
            "samples_in_file": len(data.sample_ids),
            "genes_in_file": len(data.gene_ids),
            "params": dict(self.params),
        }
