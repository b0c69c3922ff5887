"""The matrices one job of an experiment needs, split and preprocessed.

Splits (all seeded by ``split.seed``, so every job of an experiment sees the same):

* A dataset's samples without a label, plus a stratified ``pretrain_fraction`` of the
  labeled ones, form its *pretraining part*; the other labeled samples are its
  *downstream part*. When the two datasets of an experiment differ, the pretraining
  part comes from ``pretrain_dataset`` and the downstream part from
  ``finetune_dataset`` (split with ``finetune_dataset_pretrain_fraction``), on the
  genes the two share.
* The pretraining part loses a random ``pretrain_val_fraction`` (validation loss and
  collapse spectrum); the first ``round(q * n)`` of a seeded permutation of the rest
  is the pretraining set of size q (nested across q).
* The downstream part splits into test and training pool (stratified); each fit's
  early-stopping samples come from its p-subset of the pool (``splits.fit_and_stop_subsets``).

Preprocessing is fitted on training samples only (the reference code scaled each file
on all its samples, test included): the top-variance genes and the downstream scaling
on the downstream training pool, the pretraining scaling on the pretraining set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..genes import shared_genes
from ..preprocess import GenePreprocessor
from ..seeding import make_rng
from ..splits import nested_subsets
from ..store import open_dataset
from .splits import downstream_split, random_take, stratified_take


@dataclass
class PretrainData:
    X_train: np.ndarray
    X_val: np.ndarray
    n_pool: int


@dataclass
class DownstreamData:
    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    test_ids: np.ndarray
    classes: np.ndarray


def split_pretraining(labels: pd.Series, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(pretraining rows, downstream rows): unlabeled rows and a stratified ``fraction`` of
    the labeled ones go to pretraining."""
    labeled = np.flatnonzero(labels.notna().to_numpy())
    moved = labeled[stratified_take(labels.iloc[labeled].astype(str).to_numpy(), fraction, rng)]
    pretraining = np.union1d(np.flatnonzero(labels.isna().to_numpy()), moved)
    return pretraining, np.setdiff1d(labeled, moved)


class ExperimentLayout:
    """Rows and gene columns of every part of one experiment, without the matrices."""

    def __init__(self, exp: dict, pretrain_path, finetune_path):
        self.exp = exp
        split = exp["split"]
        self.pre_path, self.ft_path = Path(pretrain_path), Path(finetune_path)
        with open_dataset(self.ft_path) as reader:
            ft_samples, ft_genes = reader.samples, reader.genes
        if exp["label"] not in ft_samples.columns:
            raise ValueError(f"{self.ft_path}: no label column {exp['label']!r} "
                             f"(has: {', '.join(ft_samples.columns)}); fix ssl.experiments.{exp['name']}.label")
        labels = ft_samples[exp["label"]]
        if exp["shared_genes"]:
            with open_dataset(self.pre_path) as reader:
                pre_samples, pre_genes = reader.samples, reader.genes
            if exp["pretrain_label"] not in pre_samples.columns:
                raise ValueError(f"{self.pre_path}: no label column {exp['pretrain_label']!r}; fix "
                                 f"ssl.experiments.{exp['name']}.pretrain_label")
            self.pre_rows, _ = split_pretraining(pre_samples[exp["pretrain_label"]], split["pretrain_fraction"],
                                                 make_rng(split["seed"], "pretraining", exp["pretrain_dataset"]))
            _, downstream = split_pretraining(labels, split["finetune_dataset_pretrain_fraction"],
                                              make_rng(split["seed"], "pretraining", exp["finetune_dataset"]))
            self.pre_columns, self.ft_columns = shared_genes(pre_genes, ft_genes)
            if self.pre_columns.size == 0:
                raise ValueError(f"datasets {exp['pretrain_dataset']!r} and {exp['finetune_dataset']!r} share no "
                                 "gene ids or symbols; ssl.experiments." + exp["name"] + " needs common genes")
        else:
            self.pre_rows, downstream = split_pretraining(
                labels, split["pretrain_fraction"], make_rng(split["seed"], "pretraining", exp["finetune_dataset"]))
            self.pre_columns = self.ft_columns = np.arange(len(ft_genes))
        if self.pre_rows.size < 4:
            raise ValueError(f"experiment {exp['name']!r}: only {self.pre_rows.size} samples for pretraining; "
                             "raise split.pretrain_fraction or use a dataset with unlabeled samples")
        y_names = labels.iloc[downstream].astype(str).to_numpy()
        self.classes = np.unique(y_names)
        if downstream.size < 4 or self.classes.size < 2:
            raise ValueError(f"experiment {exp['name']!r}: the downstream part has {downstream.size} samples in "
                             f"{self.classes.size} classes; lower split.pretrain_fraction")
        parts = downstream_split(y_names, split["test_fraction"],
                                 make_rng(split["seed"], "downstream", exp["finetune_dataset"]))
        codes = np.searchsorted(self.classes, y_names)
        self.pool_rows, self.test_rows = downstream[parts.train_pool], downstream[parts.test]
        self.y_pool, self.y_test = codes[parts.train_pool], codes[parts.test]
        self.test_ids = ft_samples["sample_id"].iloc[self.test_rows].astype(str).to_numpy()

        pool = np.arange(self.pre_rows.size)
        val = random_take(pool.size, split["pretrain_val_fraction"], make_rng(split["seed"], "pretraining validation"))
        self.pre_val_rows = self.pre_rows[val]
        self.pre_train_rows = self.pre_rows[np.setdiff1d(pool, val)]

    def pretrain_rows(self, q: float) -> np.ndarray:
        """The pretraining set of size q: nested across q for the same experiment."""
        chosen = nested_subsets(self.pre_train_rows.size, [q],
                                make_rng(self.exp["split"]["seed"], "pretraining size"))[0]
        return self.pre_train_rows[chosen]

    @staticmethod
    def _read(path: Path, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        with open_dataset(path) as reader:
            return reader.read_expression(rows, columns=columns)

    def downstream_preprocessor(self) -> tuple[GenePreprocessor, np.ndarray]:
        """Fitted on the downstream training pool; also returns the pool's raw matrix."""
        p = self.exp["preprocessing"]
        pool = self._read(self.ft_path, self.pool_rows, self.ft_columns)
        prep = GenePreprocessor(top_genes=p["top_genes"], scaling=p["scaling"], log2=p["log2"]).fit(pool)
        return prep, pool

    def pretrain_data(self, q: float) -> PretrainData:
        genes, _ = self.downstream_preprocessor()
        columns = self.pre_columns[genes.genes_]
        p = self.exp["preprocessing"]
        train = self._read(self.pre_path, self.pretrain_rows(q), columns)
        prep = GenePreprocessor(top_genes=None, scaling=p["scaling"], log2=p["log2"]).fit(train)
        val = self._read(self.pre_path, self.pre_val_rows, columns)
        return PretrainData(X_train=prep.transform(train), X_val=prep.transform(val), n_pool=int(self.pre_rows.size))

    def downstream_data(self) -> DownstreamData:
        prep, pool = self.downstream_preprocessor()
        return DownstreamData(
            X_pool=prep.transform(pool), y_pool=self.y_pool,
            X_test=prep.transform(self._read(self.ft_path, self.test_rows, self.ft_columns)), y_test=self.y_test,
            test_ids=self.test_ids, classes=self.classes,
        )
