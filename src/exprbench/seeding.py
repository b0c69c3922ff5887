"""Seeds: every random choice derives from the run seed plus a purpose key.

Derived seeds are stable across processes and machines (no ``hash()``), so the
same config and seed give the same folds, subsets, searches and initialisations.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys

import numpy as np


def derive_seed(seed: int, *keys: object) -> int:
    """A 32-bit seed for one purpose, e.g. ``derive_seed(0, "folds", "sex")``."""
    text = "/".join([str(int(seed)), *map(str, keys)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def make_rng(seed: int, *keys: object) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, *keys))


def set_deterministic_algorithms(mode: bool) -> None:
    """torch.use_deterministic_algorithms without its import of torch._inductor (1-3 s of
    a job's start-up) for a flag only compiled code reads: eager kernels need the switch
    alone; code that compiles calls sync_compiler_determinism() first."""
    import torch

    torch._C._set_deterministic_algorithms(mode)
    inductor = sys.modules.get("torch._inductor.config")
    if inductor is not None:
        inductor.deterministic = mode


def sync_compiler_determinism() -> None:
    """Give torch.compile the deterministic setting eager code runs with."""
    import torch

    torch.use_deterministic_algorithms(torch.are_deterministic_algorithms_enabled())


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and ask torch for deterministic kernels."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # Needed by cuBLAS for deterministic matmuls; harmless on CPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    set_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
