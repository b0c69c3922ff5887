"""D-GEX GEO expression (Chen et al. 2016, ``uci-cbcl/D-GEX``) for landmark -> target inference.

Inputs:

* ``expression``: ``bgedv2_QNORM.gctx``, GEO Affymetrix HG-U133A profiles, already
  quantile-normalised per probe by its producers. GCTX is HDF5: ``/0/DATA/0/matrix``
  stored samples x probes, ``/0/META/ROW/id`` the probe ids, ``/0/META/COL/id`` the
  sample ids.
* ``landmarks`` / ``targets``: D-GEX's ``map_lm.txt`` (943 of the 978 L1000
  landmarks, those that map across GEO, GTEx and 1000 Genomes) and ``map_tg.txt``
  (9,520 targets), lines ``SYMBOL<TAB>ENSG<TAB>probe[,probe...]``.

Preprocessing, following D-GEX's scripts, streamed over the file in passes so only
one block of samples (and one k-means cluster in step 2) is in memory at a time:

1. Optional seeded subset of ``max_samples`` profiles (not in D-GEX).
2. Near-duplicate removal (``kmeans.py``, ``nodup_idx.py``): MiniBatchKMeans with
   ``duplicate_clusters`` (100) clusters on the probe-level profiles; within each
   cluster, a profile is dropped when an earlier profile (file order) lies within
   Euclidean distance ``duplicate_distance`` (1.0). D-GEX ran 10 k-means iterations
   over the data in memory; here the clusters come from one streamed
   ``partial_fit`` pass, seeded. The clusters only decide which pairs are compared.
3. Probes averaged per gene (``bgedv2.py``): landmarks first, then targets, in file
   order (D-GEX shuffled both with an unseeded permutation).
4. Quantile normalisation over genes (``bgedv2_reqnorm.py``): the reference is the
   mean sorted profile of the kept samples; see :mod:`exprbench.quantile`.

D-GEX's per-gene z-scoring and its positional train/validation/test split are
model-side steps and are left to the benchmark's own preprocessing and splits.

Genes: ``gene_id`` is the Ensembl id, ``symbol`` the symbol. The store's genes
table has no room for a landmark flag, so the landmark gene ids are listed in
provenance (``landmark_genes``) and the landmarks are the first
``n_landmarks`` genes. GEO records no study or donor in this file, so ``study``
and ``donor`` are the sample id. The dataset has no class labels.

The reference quantiles of step 4 (the mean sorted profile, one value per
quantile rank, ascending) are stored with the data as the array
``reference_quantiles`` (``DatasetReader.array``). The ``dgex_rnaseq`` source
maps GTEx and 1000 Genomes RPKM onto them with
:func:`exprbench.quantile.map_to_reference_quantiles` and aligns its genes to
this store's gene order (the genes table: landmarks in ``map_lm.txt`` order,
then targets in ``map_tg.txt`` order).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from scipy import sparse

from ..download import read_manifest
from ..quantile import QuantileAccumulator, normalise_to_reference
from ..store import stream_dataset
from . import DataSource
from ._hdf5 import open_hdf5, read_strings, require_dataset

MATRIX_PATH = "0/DATA/0/matrix"
ROW_IDS_PATH = "0/META/ROW/id"
COL_IDS_PATH = "0/META/COL/id"
#: Name of the stored array of GEO reference quantiles (one value per quantile rank).
REFERENCE_ARRAY = "reference_quantiles"


class GctxFormatError(ValueError):
    """A GCTX or gene-map file does not have the layout D-GEX's files have."""


def read_gene_map(path: Path) -> pd.DataFrame:
    """A D-GEX map file as columns symbol, gene_id, probes (list of probe ids)."""
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise GctxFormatError(f"dgex_geo: {path}, line {number}: expected SYMBOL<TAB>ENSG<TAB>probe[,probe...], "
                                  f"got {line[:80]!r}")
        symbol, gene_id, probes = (p.strip() for p in parts)
        rows.append({"symbol": symbol, "gene_id": gene_id, "probes": probes.split(",")})
    if not rows:
        raise GctxFormatError(f"dgex_geo: {path} lists no genes")
    return pd.DataFrame(rows)


def probe_averaging_matrix(gene_map: pd.DataFrame, probe_ids: np.ndarray, source: Path) -> sparse.csr_matrix:
    """Sparse (n_probes x n_genes) matrix whose product with a profile averages each gene's probes."""
    position = {probe: i for i, probe in enumerate(probe_ids)}
    rows, cols, weights = [], [], []
    for gene, probes in enumerate(gene_map["probes"]):
        missing = [p for p in probes if p not in position]
        if missing:
            raise GctxFormatError(f"dgex_geo: probes {missing[:5]} of gene {gene_map['gene_id'].iloc[gene]} "
                                  f"are not in {ROW_IDS_PATH} of {source}")
        for probe in probes:
            rows.append(position[probe])
            cols.append(gene)
            weights.append(1.0 / len(probes))
    return sparse.csr_matrix((weights, (rows, cols)), shape=(len(probe_ids), len(gene_map)))


def read_row_blocks(matrix, rows: np.ndarray, block_size: int):
    """Yield ``(rows_block, values)`` for sorted unique ``rows``, reading only those rows."""
    for start in range(0, len(rows), block_size):
        block = rows[start:start + block_size]
        contiguous = block[-1] - block[0] + 1 == len(block)
        key = slice(int(block[0]), int(block[-1]) + 1) if contiguous else block.tolist()
        yield block, np.asarray(matrix[key, :], dtype=np.float64)


def near_duplicates(profiles: np.ndarray, distance: float, chunk: int = 1024) -> np.ndarray:
    """Mask of rows lying within ``distance`` of any earlier row (D-GEX's ``keep``)."""
    n = profiles.shape[0]
    dropped = np.zeros(n, dtype=bool)
    norms = np.einsum("ij,ij->i", profiles, profiles)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        squared = norms[start:stop, None] + norms[None, :stop] - 2.0 * profiles[start:stop] @ profiles[:stop].T
        close = squared < distance ** 2
        # Only earlier rows count: column j < row i.
        earlier = np.arange(stop)[None, :] < np.arange(start, stop)[:, None]
        dropped[start:stop] = (close & earlier).any(axis=1)
    return dropped


class DgexGeo(DataSource):
    name = "dgex_geo"
    label_columns = ()
    defaults = {
        "max_samples": None,
        "seed": 0,
        "deduplicate": True,
        "duplicate_clusters": 100,
        "duplicate_distance": 1.0,
        "block_samples": 1000,
    }

    def write(self, out_path: Path, downloads: dict[str, Path]) -> None:
        missing = [n for n in ("expression", "landmarks", "targets") if n not in downloads]
        if missing:
            raise GctxFormatError(f"dgex_geo: the dataset needs files named {missing} "
                                  f"(the GEO GCTX, map_lm.txt and map_tg.txt)")
        path = Path(downloads["expression"])
        landmarks = read_gene_map(downloads["landmarks"])
        targets = read_gene_map(downloads["targets"])
        gene_map = pd.concat([landmarks, targets], ignore_index=True)
        if gene_map["gene_id"].duplicated().any():
            repeated = sorted(gene_map["gene_id"][gene_map["gene_id"].duplicated()].unique())[:5]
            raise GctxFormatError(f"dgex_geo: genes {repeated} appear more than once in the landmark/target maps")
        with open_hdf5(path, GctxFormatError, "GCTX/HDF5", rdcc_nbytes=256 << 20) as h5:
            matrix = _require(h5, MATRIX_PATH, path)
            probe_ids = _strings(_require(h5, ROW_IDS_PATH, path))
            sample_ids = _strings(_require(h5, COL_IDS_PATH, path))
            if matrix.shape != (len(sample_ids), len(probe_ids)):
                raise GctxFormatError(
                    f"dgex_geo: {path}: {MATRIX_PATH} has shape {matrix.shape}, expected "
                    f"({len(sample_ids)} samples, {len(probe_ids)} probes) from {COL_IDS_PATH} and {ROW_IDS_PATH}")
            averaging = probe_averaging_matrix(gene_map, probe_ids, path)
            rows, counts = self._rows(matrix, path)
            reference = self._reference(matrix, rows, averaging)
            genes = gene_map[["gene_id", "symbol"]]
            with stream_dataset(out_path, genes, expected_samples=len(rows)) as stream:
                for _, values in read_row_blocks(matrix, rows, self._block):
                    stream.append(normalise_to_reference(values @ averaging, reference))
                stream.add_array(REFERENCE_ARRAY, reference)
                ids = sample_ids[rows]
                samples = pd.DataFrame({"sample_id": ids, "study": ids, "donor": ids})
                stream.finish(samples, self._provenance(path, landmarks, targets, reference, counts))

    @property
    def _block(self) -> int:
        return int(self.params["block_samples"])

    def _rows(self, matrix, path: Path) -> tuple[np.ndarray, dict]:
        p = self.params
        rows = np.arange(matrix.shape[0])
        counts = {"samples_in_file": len(rows)}
        if p["max_samples"] is not None and len(rows) > int(p["max_samples"]):
            rng = np.random.default_rng(int(p["seed"]))
            rows = np.sort(rng.choice(rows, size=int(p["max_samples"]), replace=False))
        counts["samples_subset"] = len(rows)
        if p["deduplicate"]:
            rows = rows[~self._duplicates(matrix, rows)]
        counts["near_duplicates_dropped"] = counts["samples_subset"] - len(rows)
        counts["samples_kept"] = len(rows)
        if len(rows) == 0:
            raise ValueError(f"dgex_geo: no profile of {path} is left after subsetting and de-duplication")
        return rows, counts

    def _duplicates(self, matrix, rows: np.ndarray) -> np.ndarray:
        from sklearn.cluster import MiniBatchKMeans

        p = self.params
        n_clusters = min(int(p["duplicate_clusters"]), len(rows))
        kmeans = MiniBatchKMeans(n_clusters=n_clusters, batch_size=1000, random_state=int(p["seed"]),
                                 n_init=1, compute_labels=False)
        # partial_fit needs at least n_clusters profiles in its first call.
        block = max(self._block, n_clusters)
        rng = np.random.default_rng(int(p["seed"]))
        for _, values in read_row_blocks(matrix, rows, block):
            kmeans.partial_fit(values[rng.permutation(len(values))])
        labels = np.concatenate([kmeans.predict(values) for _, values in read_row_blocks(matrix, rows, block)])

        dropped = np.zeros(len(rows), dtype=bool)
        for cluster in np.unique(labels):
            members = np.flatnonzero(labels == cluster)
            profiles = np.concatenate([v for _, v in read_row_blocks(matrix, rows[members], block)])
            dropped[members] = near_duplicates(profiles, float(p["duplicate_distance"]))
        return dropped

    def _reference(self, matrix, rows: np.ndarray, averaging) -> np.ndarray:
        accumulator = QuantileAccumulator(averaging.shape[1])
        for _, values in read_row_blocks(matrix, rows, self._block):
            accumulator.add(values @ averaging)
        return accumulator.reference()

    def _provenance(self, path, landmarks, targets, reference, counts) -> dict:
        p = self.params
        return {
            "source": self.name,
            "source_version": f"D-GEX GEO {path.name}",
            "preprocessing": [
                "GEO profiles as distributed (bgedv2_QNORM: quantile-normalised per probe)",
                (f"random subset of {p['max_samples']} profiles (seed {p['seed']})"
                 if p["max_samples"] is not None else "all profiles"),
                (f"near-duplicates dropped: distance < {p['duplicate_distance']} to an earlier profile "
                 f"in the same of {p['duplicate_clusters']} MiniBatchKMeans clusters (seed {p['seed']})"
                 if p["deduplicate"] else "no de-duplication"),
                "probes averaged per gene (D-GEX map_lm.txt, map_tg.txt); landmarks first",
                "quantile normalisation over genes onto the kept samples' mean quantiles (D-GEX bgedv2_reqnorm)",
            ],
            "file": path.name,
            "file_sha256": read_manifest(path.parent).get(path.name, {}).get("sha256"),
            "landmark_genes": landmarks["gene_id"].tolist(),
            "n_landmarks": len(landmarks),
            "n_targets": len(targets),
            "landmark_note": ("the genes table has only gene_id and symbol: landmarks are the first "
                              "n_landmarks genes and are listed in landmark_genes"),
            "reference_quantiles": (f"stored as the array {REFERENCE_ARRAY!r}: {len(reference)} values, "
                                    "one per quantile rank, ascending"),
            "reference_quantile_range": [float(reference[0]), float(reference[-1])],
            "gene_order": ("landmarks in map_lm.txt order, then targets in map_tg.txt order; "
                           "the genes table lists them"),
            "params": dict(p),
            **counts,
        }


def _require(h5: h5py.File, name: str, path: Path):
    return require_dataset(h5, name, path, GctxFormatError, "is it a GCTX file?")


def _strings(dataset) -> np.ndarray:
    return read_strings(dataset, strip=True)
