"""Atomic file writes: write to a temporary name in the same folder, then rename.

A crash or kill leaves either the old file or no file, never a half-written one
that a rerun would trust. Temporary names carry the writer's process id, so the
next write of the same target removes what a killed writer left behind
(``.NAME.PID.XXXX.tmp`` files and ``.NAME.PID.XXXX.scratch`` folders).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMP_SUFFIXES = (".tmp", ".scratch")


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def remove_stale_temporaries(final: str | os.PathLike) -> list[Path]:
    """Remove the temporary siblings of ``final`` whose writing process is gone.

    Only names of this module's pattern (``.NAME.PID.*.tmp`` / ``.scratch``) are
    touched; one whose process still runs belongs to a live writer and is kept.
    """
    final = Path(final)
    pattern = re.compile(rf"^\.{re.escape(final.name)}\.(\d+)\.[^.]+({'|'.join(map(re.escape, TEMP_SUFFIXES))})$")
    removed = []
    if not final.parent.is_dir():
        return removed
    for sibling in final.parent.iterdir():
        match = pattern.match(sibling.name)
        if not match or _pid_alive(int(match.group(1))):
            continue
        if sibling.is_dir() and not sibling.is_symlink():
            shutil.rmtree(sibling, ignore_errors=True)
        else:
            sibling.unlink(missing_ok=True)
        removed.append(sibling)
    return removed


def _temp_prefix(final: Path) -> str:
    return f".{final.name}.{os.getpid()}."


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it onto ``final`` on success."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(final), suffix=".tmp", dir=final.parent)
    # mkstemp creates 0600; results should be as readable as any file the user writes.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def scratch_folder(final: str | os.PathLike) -> Iterator[Path]:
    """A scratch folder next to ``final`` (on its file system: /tmp may be memory-backed),
    removed afterwards; one left by a killed writer is removed by the next."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    with tempfile.TemporaryDirectory(prefix=_temp_prefix(final), suffix=".scratch", dir=final.parent) as folder:
        yield Path(folder)


def write_text(final: str | os.PathLike, text: str) -> None:
    with atomic_path(final) as tmp:
        tmp.write_text(text)


def write_table(final: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as TSV atomically."""
    with atomic_path(final) as tmp:
        frame.to_csv(tmp, sep="\t", index=False)
