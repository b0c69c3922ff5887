"""Small helpers for sources that read HDF5 files (ARCHS4, GCTX)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np


def open_hdf5(path: Path, error: type[Exception], what: str, **options) -> h5py.File:
    """Open ``path`` read-only, or raise ``error`` saying it is not a readable ``what`` file."""
    try:
        return h5py.File(path, "r", **options)
    except OSError as err:
        raise error(f"{path} is not a readable {what} file ({err})") from err


def require_dataset(h5: h5py.File, name: str, path: Path, error: type[Exception], hint: str):
    """The dataset at ``name``, or ``error`` naming the file, the path and ``hint``."""
    if name not in h5:
        raise error(f"{path} has no HDF5 dataset '/{name.lstrip('/')}'; {hint}")
    return h5[name]


def read_strings(dataset, strip: bool = False) -> np.ndarray:
    """A string (or numeric id) dataset as an object array of Python strings."""
    if dataset.dtype.kind in "SO" or h5py.check_string_dtype(dataset.dtype):
        values = dataset.asstr(errors="replace")[...]
        return np.array([v.strip() for v in values] if strip else values, dtype=object)
    return np.array([str(v) for v in dataset[...]], dtype=object)
