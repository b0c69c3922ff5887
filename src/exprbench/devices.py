"""Which GPUs a workflow may use, decided without importing torch."""

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
