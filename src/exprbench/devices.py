"""Which GPUs a workflow may use (decided without importing torch), and the torch
device a job trains on."""

from __future__ import annotations

import shutil
import subprocess


def local_gpu_count() -> int:
    """Number of NVIDIA GPUs visible on this machine (0 without nvidia-smi)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listing.stdout.splitlines())


def gpus_per_fit(setting, device: str, local_gpus: int) -> int:
    """GPUs each fit job requests: never for ``device: cpu``; ``auto`` asks for
    one only when this machine has a GPU to give."""
    if device == "cpu":
        return 0
    if setting == "auto":
        return 1 if local_gpus > 0 else 0
    return int(setting)


def resolve_device(device: str):
    """The torch device for ``auto`` (CUDA when available), ``cpu`` or ``cuda``."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA device is available; use device: auto")
    return torch.device(device)


def as_device_tensor(X, device):
    """A float32 tensor on ``device``; no copy when X is already one."""
    import numpy as np
    import torch

    if isinstance(X, torch.Tensor):
        return X.to(device=device, dtype=torch.float32)
    return torch.as_tensor(np.asarray(X, dtype=np.float32), device=device)
