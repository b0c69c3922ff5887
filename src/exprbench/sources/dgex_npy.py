"""Preprocessed D-GEX matrices as follow-up work distributes them.

Later papers on the D-GEX data (Deep-LSMTL among them) train on the matrices the
D-GEX authors shared after their own preprocessing, since D-GEX's unseeded
permutations make the split impossible to regenerate from raw files:
``bgedv2_X_tr_float64.npy``, ``bgedv2_Y_tr_float64.npy`` and the same for ``va``
and ``te`` (X: 943 landmarks, Y: 9,520 targets). They are read from a folder the
user supplies (param ``path``; nothing is downloaded), memory-mapped, and written
to one store block by block:

* genes: the landmarks, then the targets; ids from ``landmark_ids`` /
  ``target_ids`` text files (one id a line) when given, else ``lm0000``... and
  ``tg0000``...;
* samples: train rows, then validation, then test, with a ``split`` column
  (``train`` / ``validation`` / ``test``) for ``split: {by_column: split}``;
* provenance: ``n_landmarks`` and ``landmark_genes``, as the dgex_geo store has.

Orientation: D-GEX saved genes x samples in some versions and samples x genes in
others; ``orientation: auto`` takes the axis X and Y share as the samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..store import stream_dataset
from . import DataSource

PARTS = (("tr", "train"), ("va", "validation"), ("te", "test"))


class DgexNpy(DataSource):
    name = "dgex_npy"
    label_columns = ("split",)
    defaults = {
        "path": None,
        "prefix": "bgedv2",
        "suffix": "float64",
        "orientation": "auto",
        "landmark_ids": None,
        "target_ids": None,
        "block_samples": 2000,
    }

    def _file(self, matrix: str, part: str) -> Path:
        folder = self.params["path"]
        if not folder:
            raise ValueError("dgex_npy: set params.path to the folder holding "
                             f"{self.params['prefix']}_{{X,Y}}_{{tr,va,te}}_{self.params['suffix']}.npy")
        path = Path(folder) / f"{self.params['prefix']}_{matrix}_{part}_{self.params['suffix']}.npy"
        if not path.exists():
            raise ValueError(f"dgex_npy: {path} not found (params.path, prefix and suffix name it)")
        return path

    def _pair(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        X = np.load(self._file("X", part), mmap_mode="r")
        Y = np.load(self._file("Y", part), mmap_mode="r")
        if X.ndim != 2 or Y.ndim != 2:
            raise ValueError(f"dgex_npy: {part} matrices must be 2-D, got {X.shape} and {Y.shape}")
        orientation = self.params["orientation"]
        if orientation == "auto":
            if X.shape[0] == Y.shape[0]:
                orientation = "samples_by_genes"
            elif X.shape[1] == Y.shape[1]:
                orientation = "genes_by_samples"
            else:
                raise ValueError(f"dgex_npy: X {X.shape} and Y {Y.shape} of part {part!r} share no sample axis")
        if orientation == "genes_by_samples":
            X, Y = X.T, Y.T
        elif orientation != "samples_by_genes":
            raise ValueError(f"dgex_npy: orientation must be auto, samples_by_genes or genes_by_samples, "
                             f"got {orientation!r}")
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"dgex_npy: X and Y of part {part!r} have {X.shape[0]} and {Y.shape[0]} samples")
        return X, Y

    def _ids(self, key: str, prefix: str, n: int) -> list[str]:
        if self.params[key] is None:
            return [f"{prefix}{i:04d}" for i in range(n)]
        ids = [line.strip() for line in Path(self.params[key]).read_text().splitlines() if line.strip()]
        if len(ids) != n:
            raise ValueError(f"dgex_npy: {self.params[key]} lists {len(ids)} ids for {n} columns (params.{key})")
        return ids

    def write(self, out_path: Path, downloads: dict[str, Path]) -> None:
        pairs = {role: self._pair(part) for part, role in PARTS}
        n_land = {X.shape[1] for X, _ in pairs.values()}
        n_targ = {Y.shape[1] for _, Y in pairs.values()}
        if len(n_land) != 1 or len(n_targ) != 1:
            raise ValueError(f"dgex_npy: the parts disagree on gene counts (X: {sorted(n_land)}, Y: {sorted(n_targ)})")
        landmarks = self._ids("landmark_ids", "lm", n_land.pop())
        targets = self._ids("target_ids", "tg", n_targ.pop())
        genes = pd.DataFrame({"gene_id": landmarks + targets, "symbol": landmarks + targets})
        block = int(self.params["block_samples"])
        roles, total = [], sum(len(X) for X, _ in pairs.values())
        with stream_dataset(out_path, genes, expected_samples=total) as stream:
            for role, (X, Y) in pairs.items():
                for start in range(0, len(X), block):
                    stream.append(np.hstack([np.asarray(X[start:start + block], np.float32),
                                             np.asarray(Y[start:start + block], np.float32)]))
                roles += [role] * len(X)
            ids = [f"{role}{i:06d}" for role in ("train", "validation", "test")
                   for i in range(sum(r == role for r in roles))]
            samples = pd.DataFrame({"sample_id": ids, "study": ids, "donor": ids, "split": roles})
            stream.finish(samples, {
                "source": self.name,
                "source_version": f"D-GEX preprocessed matrices {self.params['prefix']}_*_{self.params['suffix']}.npy",
                "preprocessing": ["as distributed: D-GEX de-duplication, probe averaging, quantile normalisation "
                                  "and per-gene z-scoring already applied by its producers"],
                "landmark_genes": landmarks,
                "n_landmarks": len(landmarks),
                "n_targets": len(targets),
                "split_counts": {r: roles.count(r) for r in ("train", "validation", "test")},
                "params": dict(self.params),
            })
