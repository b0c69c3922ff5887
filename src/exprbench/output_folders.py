"""One config's results and figures are never silently overwritten by another's run.

Every run that starts jobs records, in ``.snakemake/exprbench-outputs.json``, which
config file owns its ``results_dir`` and ``figures_dir``. A later run of another
config whose folder is the same, and still holds outputs, stops before any job
and says how to give that config folders of its own (``results_dir:
results/<config name>``, ``figures_dir: figures/<config name>``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .atomic import write_text

REGISTRY_FILE = "exprbench-outputs.json"
# Files a folder may hold without counting as another run's outputs.
NOT_OUTPUTS = {"README.md"}


class OutputFolderClash(RuntimeError):
    """A run would overwrite outputs that another config made."""


def config_name(config_file: str | os.PathLike) -> str:
    """The config file as the user would type it: relative to here when inside it."""
    path = Path(config_file).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def folder_name(folder: str | os.PathLike) -> str:
    return os.path.normpath(folder)


def holds_outputs(folder: str | os.PathLike) -> bool:
    folder = Path(folder)
    return folder.is_dir() and any(entry.name not in NOT_OUTPUTS for entry in folder.iterdir())


def read_registry(state_dir: str | os.PathLike = ".snakemake") -> dict[str, str]:
    try:
        return json.loads((Path(state_dir) / REGISTRY_FILE).read_text())
    except (OSError, ValueError):
        return {}


def claim_output_folders(folders: dict[str, str], config_file: str | os.PathLike,
                         state_dir: str | os.PathLike = ".snakemake") -> None:
    """Record ``config_file`` as the owner of ``folders`` (config key -> folder),
    or raise OutputFolderClash when one of them holds another config's outputs."""
    me = config_name(config_file)
    registry = read_registry(state_dir)
    for key, folder in folders.items():
        owner = registry.get(folder_name(folder))
        if owner is not None and owner != me and holds_outputs(folder):
            raise OutputFolderClash(clash_message(key, folder, owner, me))
    registry.update({folder_name(folder): me for folder in folders.values()})
    write_text(Path(state_dir) / REGISTRY_FILE, json.dumps(registry, indent=1, sort_keys=True) + "\n")


def clash_message(key: str, folder: str, owner: str, me: str) -> str:
    stem = Path(me).stem
    return (
        f"{me}: {key}: {folder}/ holds the outputs of {owner}, which this run would overwrite. "
        f"Give this config its own folders: set results_dir: results/{stem} and figures_dir: figures/{stem} "
        f"in {me} (or add --config results_dir=results/{stem} figures_dir=figures/{stem}), "
        f"or remove {folder}/ first (make clean removes every run's outputs)."
    )
