"""Torch device for the neural methods: ``auto`` = CUDA when available."""

from __future__ import annotations


def torch_device(device: str):
    from ...models._torch import resolve_device

    return resolve_device(device)
