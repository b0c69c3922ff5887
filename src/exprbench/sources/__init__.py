"""Dataset sources: one module each, discovered automatically.

A source subclasses :class:`DataSource`, sets ``name`` and ``label_columns`` and
implements ``build`` (small data, in memory) or ``write`` (large data, streamed
into the store). Sources with remote files get them through ``fetch``; which
files, with their mirrors, sizes and checksums, comes from the dataset entry's
``files`` (usually a dataset definition YAML under ``config/datasets/``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import ClassVar

from ..registry import Registry
from ..store import ExpressionData, write_dataset

SOURCES = Registry("dataset source", __name__)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB pieces (inputs recorded in provenance)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class DataSource:
    """Builds one dataset in memory; the workflow writes it to the store."""

    name: ClassVar[str]
    #: Label columns the built samples table always has (checked by the config).
    label_columns: ClassVar[tuple[str, ...]] = ()
    #: Params a dataset entry may set, with their defaults.
    defaults: ClassVar[dict] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            SOURCES.register(cls)

    def __init__(self, files: dict | None = None, **params):
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ValueError(
                f"source {self.name!r} has no parameter(s) {unknown}; allowed: {sorted(self.defaults)}"
            )
        self.params = {**self.defaults, **params}
        self.files = files or {}

    @classmethod
    def labels_for(cls, params: dict) -> tuple[str, ...]:
        """Label columns a dataset with these params will have."""
        return cls.label_columns

    def required_inputs(self) -> list[str]:
        """Files besides its downloads that preparing this dataset reads, e.g. another
        dataset's store; the workflow prepares those first."""
        return []

    def require_label(self, label: str) -> None:
        """Raise if this dataset cannot provide ``label``, e.g. a manually placed
        file is missing. Called by the dataset's first job, before any download."""

    def fetch(self, dest_dir: Path, **download_options) -> dict[str, Path]:
        """Download this dataset's files into ``dest_dir``; returns name -> path.

        Files already downloaded and verified are not fetched again.
        """
        from ..download import DownloadItem, download_many

        names = sorted(self.files)
        items = [
            DownloadItem(urls=self.files[n]["urls"], dest=Path(dest_dir) / self.files[n].get("filename", n),
                         expected_size=self.files[n].get("size"), md5=self.files[n].get("md5"),
                         sha256=self.files[n].get("sha256"))
            for n in names
        ]
        return dict(zip(names, download_many(items, **download_options), strict=False)) if items else {}

    def write(self, out_path: Path, downloads: dict[str, Path]) -> None:
        """Write the dataset into the store; large sources override this to stream."""
        write_dataset(out_path, self.build())

    def build(self) -> ExpressionData:
        raise NotImplementedError(f"source {self.name!r} implements neither build() nor write()")
