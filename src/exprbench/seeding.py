"""Seeds: every random choice derives from the run seed plus a purpose key.

Derived seeds are stable across processes and machines (no ``hash()``), so the
same config and seed give the same folds, subsets, searches and initialisations.
"""

from __future__ import annotations

import hashlib
import os
import random

import numpy as np


def derive_seed(seed: int, *keys: object) -> int:
    """A 32-bit seed for one purpose, e.g. ``derive_seed(0, "folds", "sex")``."""
    text = "/".join([str(int(seed)), *map(str, keys)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def make_rng(seed: int, *keys: object) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, *keys))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and ask torch for deterministic kernels."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # Needed by cuBLAS for deterministic matmuls; harmless on CPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
