"""What a job reads: landmark and target genes, the split, and the z-scoring.

* Genes. ``landmarks: {from: provenance}`` takes the landmarks a D-GEX store
  lists (the first ``provenance["n_landmarks"]`` genes, ids in
  ``provenance["landmark_genes"]``) and every other gene as a target.
  ``landmarks: {count: N, seed: S}`` draws a seeded random subset of the genes,
  ``landmarks: {file: path}`` reads gene ids, one a line (``#`` starts a comment),
  and ``targets: {count: M, select: variance|random}`` picks the targets among the
  rest (``count: null``: all of them); ``variance`` ranks genes on the training
  rows only, so no validation or test value shapes the choice.
* Split. ``fractions: [train, val, test]`` permutes the samples with ``seed``;
  ``by_column: split`` reads the roles from a sample column (values ``train``,
  ``validation``, ``test``: the ``dgex_npy`` store); cross-platform splits name
  ``validation`` and ``test`` datasets that are used whole, with training rows
  the training part of ``fractions`` on the task's own dataset (D-GEX: GEO train,
  1000 Genomes validation, GTEx test). Genes are found by id in every dataset.
* Z-score. Per gene and per dataset, as D-GEX did (``*_norm.py``): mean and
  standard deviation (+1e-3) over all of that dataset's samples
  (``zscore_fit_on: all``), or over the training rows only, applied to every
  dataset (``zscore_fit_on: train``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..genes import unversioned
from ..seeding import make_rng
from ..store import open_dataset

ROLES = ("train", "validation", "test")
#: D-GEX adds this to every standard deviation so constant genes do not divide by zero.
STD_OFFSET = 1e-3
STAT_BLOCK_ROWS = 2048


def zscore_statistics(blocks) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and population standard deviation (+ ``STD_OFFSET``) over row blocks."""
    count, total, squares, shift = 0, None, None, None
    for block in blocks:
        block = np.asarray(block, dtype=np.float64)
        if block.shape[0] == 0:
            continue
        if shift is None:
            shift = block[0].copy()
            total = np.zeros(block.shape[1])
            squares = np.zeros(block.shape[1])
        centred = block - shift
        total += centred.sum(axis=0)
        squares += (centred ** 2).sum(axis=0)
        count += block.shape[0]
    if count == 0:
        raise ValueError("z-score statistics need at least one sample")
    mean = total / count
    variance = np.maximum(squares / count - mean ** 2, 0.0)
    return mean + shift, np.sqrt(variance) + STD_OFFSET


def zscore(X, mean, std) -> np.ndarray:
    """``(X - mean) / std`` per column, float32."""
    return ((np.asarray(X, dtype=np.float64) - mean) / std).astype(np.float32)


def row_blocks(path, rows: np.ndarray, columns: np.ndarray, block_rows: int = STAT_BLOCK_ROWS):
    """Yield the given rows of a store (sorted), restricted to ``columns``, block by block."""
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    with open_dataset(path) as reader:
        for start in range(0, len(rows), block_rows):
            yield reader.read_expression(rows[start:start + block_rows])[:, columns]


@dataclass
class GeneChoice:
    landmark_ids: list[str]
    target_ids: list[str]


def choose_genes(path, landmarks: dict, targets: dict, seed_key: str = "", train_rows=None) -> GeneChoice:
    """Landmark and target gene ids of a task (see the module docstring); ``select:
    variance`` ranks on ``train_rows`` of the store (all rows when None)."""
    with open_dataset(path) as reader:
        gene_ids = reader.genes["gene_id"].tolist()
        provenance = reader.provenance
        n_samples = reader.shape[0]
    if landmarks.get("from") == "provenance":
        if "n_landmarks" not in provenance:
            raise ValueError(f"{path}: the store records no landmarks (provenance n_landmarks); "
                             f"use landmarks: {{count: N, seed: S}} for this dataset")
        n = int(provenance["n_landmarks"])
        landmark_ids = gene_ids[:n]
        listed = provenance.get("landmark_genes")
        if listed is not None and list(unversioned(listed)) != list(landmark_ids):
            raise ValueError(f"{path}: the first {n} genes are not the landmark_genes of its provenance")
    elif "file" in landmarks:
        landmark_ids = _listed_genes(landmarks["file"], gene_ids, path)
    else:
        count = int(landmarks["count"])
        if count >= len(gene_ids):
            raise ValueError(f"{path}: landmarks.count {count} leaves no target among its {len(gene_ids)} genes")
        chosen = make_rng(int(landmarks["seed"]), "inference-landmarks", seed_key).choice(
            len(gene_ids), size=count, replace=False)
        landmark_ids = [gene_ids[i] for i in np.sort(chosen)]
    taken = set(landmark_ids)
    rest = np.array([i for i, g in enumerate(gene_ids) if g not in taken])
    count = targets.get("count")
    if count is None or count >= len(rest):
        picked = rest
    elif targets.get("select", "variance") == "variance":
        rows = np.arange(n_samples) if train_rows is None else train_rows
        _, std = zscore_statistics(row_blocks(path, rows, rest))
        picked = np.sort(rest[np.argsort(-std, kind="stable")[:int(count)]])
    else:
        seed = int(targets.get("seed", landmarks.get("seed", 0)))
        picked = np.sort(make_rng(seed, "inference-targets", seed_key).choice(rest, size=int(count), replace=False))
    return GeneChoice(landmark_ids, [gene_ids[i] for i in picked])


def _listed_genes(list_path, gene_ids: list[str], store_path) -> list[str]:
    """Gene ids of a landmark list file, in its order, each checked against the store."""
    lines = [line.split("#", 1)[0].strip() for line in open(list_path, encoding="utf-8")]
    listed = list(unversioned([line for line in lines if line]))
    repeated = sorted({g for g in listed if listed.count(g) > 1})
    if repeated:
        raise ValueError(f"{list_path}: landmark genes listed more than once: {', '.join(repeated[:5])}; "
                         "list each once")
    known = set(gene_ids)
    missing = [g for g in listed if g not in known]
    if missing:
        raise ValueError(f"{list_path}: {len(missing)} of {len(listed)} landmark genes are not genes of {store_path} "
                         f"(e.g. {', '.join(missing[:5])}); list gene ids as the store has them")
    if not listed or len(listed) >= len(gene_ids):
        raise ValueError(f"{list_path}: {len(listed)} landmark genes for a store of {len(gene_ids)} genes; "
                         "list at least one, and leave some genes as targets")
    return listed


@dataclass
class Part:
    """The rows of one dataset that play one role."""

    dataset: str
    path: str
    rows: np.ndarray
    sample_ids: list[str] = field(default_factory=list)


def fraction_rows(n: int, fractions, seed: int, key: str) -> dict[str, np.ndarray]:
    """Seeded train/validation/test rows; counts are rounded down, the test part takes the rest."""
    fractions = np.asarray(fractions, dtype=float)
    order = make_rng(seed, "inference-split", key).permutation(n)
    n_train = int(np.floor(fractions[0] / fractions.sum() * n))
    n_val = int(np.floor(fractions[1] / fractions.sum() * n))
    return {"train": np.sort(order[:n_train]), "validation": np.sort(order[n_train:n_train + n_val]),
            "test": np.sort(order[n_train + n_val:])}


def split_parts(task: dict, paths: dict[str, str]) -> dict[str, Part]:
    """Role -> rows for a resolved task (``split`` as in the module docstring)."""
    split, home = task["split"], task["dataset"]
    with open_dataset(paths[home]) as reader:
        samples = reader.samples
    ids = samples["sample_id"].astype(str).to_numpy()
    if "by_column" in split:
        column = split["by_column"]
        if column not in samples:
            raise ValueError(f"{paths[home]}: no sample column {column!r} for split.by_column of task {task['name']}")
        values = samples[column].astype(str).to_numpy()
        unknown = sorted(set(values) - set(ROLES))
        if unknown:
            raise ValueError(f"{paths[home]}: column {column!r} has values {unknown}; expected {list(ROLES)}")
        rows = {role: np.flatnonzero(values == role) for role in ROLES}
    else:
        rows = fraction_rows(len(ids), split["fractions"], int(split["seed"]), task["name"])
    parts = {role: Part(home, paths[home], r, ids[r].tolist()) for role, r in rows.items()}
    for role in ("validation", "test"):
        other = split.get(role)
        if other:
            with open_dataset(paths[other]) as reader:
                other_ids = reader.samples["sample_id"].astype(str).tolist()
            parts[role] = Part(other, paths[other], np.arange(len(other_ids)), other_ids)
    for role, part in parts.items():
        if len(part.rows) == 0:
            raise ValueError(f"task {task['name']}: the {role} part is empty; check split in the config")
    return parts


def membership(parts: dict[str, Part]) -> pd.DataFrame:
    """The split as a table: one row per sample used, with its dataset and role."""
    frames = [pd.DataFrame({"dataset": p.dataset, "sample_id": p.sample_ids, "row": p.rows, "split": role})
              for role, p in parts.items()]
    return pd.concat(frames, ignore_index=True)


def gene_columns(path, gene_ids: list[str]) -> np.ndarray:
    """Column of each gene id in a store; an error names the genes it lacks."""
    with open_dataset(path) as reader:
        position = {g: i for i, g in enumerate(reader.genes["gene_id"])}
    missing = [g for g in gene_ids if g not in position]
    if missing:
        raise ValueError(f"{path}: lacks {len(missing)} of the task's genes ({', '.join(missing[:5])}); "
                         f"datasets of one task must share the landmark and target genes")
    return np.array([position[g] for g in gene_ids], dtype=np.int64)


@dataclass
class Scaling:
    mean: np.ndarray
    std: np.ndarray


def fit_scalings(parts: dict[str, Part], columns: dict[str, np.ndarray], fit_on: str) -> dict[str, Scaling]:
    """Per-dataset z-score statistics over the task's genes (``columns`` per dataset)."""
    if fit_on == "train":
        train = parts["train"]
        stats = Scaling(*zscore_statistics(row_blocks(train.path, train.rows, columns[train.dataset])))
        return {p.dataset: stats for p in parts.values()}
    scalings = {}
    for part in parts.values():
        if part.dataset not in scalings:
            with open_dataset(part.path) as reader:
                n = reader.shape[0]
            scalings[part.dataset] = Scaling(*zscore_statistics(row_blocks(part.path, np.arange(n),
                                                                           columns[part.dataset])))
    return scalings
