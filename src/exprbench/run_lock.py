"""Recover from a run that was killed while it held Snakemake's lock.

Snakemake leaves ``.snakemake/locks/`` behind when it is killed, and every later
run stops with a LockException until someone runs ``--unlock``. Breaking the lock
of a live run would let two runs write the same files, so the lock is removed
only when the process that took it is known to be gone: the main Snakemake
process records its host and pid in ``.snakemake/exprbench-run.json`` before it
locks, and a later run removes the locks only when that record names this host
and a process that no longer runs Snakemake. Anything else (no record, another
host) leaves the lock for Snakemake to report.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from .atomic import write_text

OWNER_FILE = "exprbench-run.json"


def _runs_snakemake(pid: int) -> bool:
    """Whether ``pid`` is a live process whose command line mentions snakemake."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: fall back to existence only
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return b"snakemake" in command


def lock_files(state_dir: Path) -> list[Path]:
    locks = state_dir / "locks"
    return sorted(locks.iterdir()) if locks.is_dir() else []


def stale_lock_owner(state_dir: Path) -> dict | None:
    """The record of the run that left the lock, when that run is certainly gone."""
    if not lock_files(state_dir):
        return None
    try:
        owner = json.loads((state_dir / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return None
    if owner.get("host") != socket.gethostname() or _runs_snakemake(int(owner.get("pid", -1))):
        return None
    return owner


def claim_run(state_dir: str | os.PathLike = ".snakemake") -> list[str]:
    """Called by the main Snakemake process before it locks the folder.

    Removes a lock left by a run that was killed, then records this process as
    the run's owner. Returns messages for the user (empty when nothing happened).
    """
    state_dir = Path(state_dir)
    messages = []
    owner = stale_lock_owner(state_dir)
    if owner is not None:
        for path in lock_files(state_dir):
            path.unlink(missing_ok=True)
        messages.append(f"removed the lock left by an interrupted run (pid {owner['pid']} on {owner['host']}, "
                        "no longer running); its unfinished outputs are redone")
    if not lock_files(state_dir):
        write_text(state_dir / OWNER_FILE, json.dumps({"host": socket.gethostname(), "pid": os.getpid()}) + "\n")
    return messages
