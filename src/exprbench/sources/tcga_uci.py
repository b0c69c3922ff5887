"""The UCI "gene expression cancer RNA-Seq" dataset: 801 TCGA tumours in 5 cancer types.

A subset of the TCGA PANCAN HiSeq data (originally Synapse syn4301332), published by
the UCI Machine Learning Repository (dataset 401, DOI 10.24432/C5R88H): 801 samples x
20,531 genes, BRCA 300, KIRC 146, LUAD 141, PRAD 136, COAD 78.

File ``archive`` (dataset definition ``config/datasets/tcga_uci.yaml``): the legacy
``TCGA-PANCAN-HiSeq-801x20531.tar.gz``, or the current UCI zip that wraps it. Either
is read as it is; the tarball holds

* ``TCGA-PANCAN-HiSeq-801x20531/data.csv``: an unnamed first column of sample ids
  (``sample_0`` ... ``sample_800``), then one column per gene (``gene_0`` ...
  ``gene_20530``; the publisher anonymised the gene names);
* ``TCGA-PANCAN-HiSeq-801x20531/labels.csv``: the same ids and ``Class``.

Values are stored as distributed: non-negative, already normalised by the publisher
in a way the dataset does not document. No transform is applied.

Label ``cancer_type``: ``Class``. The dataset publishes no patient, site or batch
information, so every sample is its own study and donor and study-wise splits reduce
to sample-wise splits.
"""

from __future__ import annotations

import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

import numpy as np
import pandas as pd

from ..store import ExpressionData, write_dataset
from . import DataSource

_MEMBERS = ("data.csv", "labels.csv")
_ZIP_MAGIC = b"PK\x03\x04"
_GZIP_MAGIC = b"\x1f\x8b"
_ARCHIVE_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError)


class TcgaUCI(DataSource):
    name = "tcga_uci"
    label_columns = ("cancer_type",)
    defaults: dict = {}

    def write(self, out_path: Path, downloads: dict[str, Path]) -> None:
        if "archive" not in downloads:
            raise ValueError(f"tcga_uci: no downloaded file named 'archive' (got {sorted(downloads)})")
        write_dataset(out_path, self.read(Path(downloads["archive"])))

    def read(self, archive: Path) -> ExpressionData:
        """The dataset from the tarball or the UCI zip around it."""
        tables = _read_members(archive)
        data, labels = tables["data.csv"], tables["labels.csv"]
        _check_tables(archive, data, labels)
        ids = list(data.index)
        samples = pd.DataFrame({
            "sample_id": ids,
            "study": ids,
            "donor": ids,
            "cancer_type": labels.loc[ids, "Class"].to_numpy(),
        })
        genes = pd.DataFrame({"gene_id": list(data.columns), "symbol": list(data.columns)})
        provenance = {
            "source": self.name,
            "source_version": "UCI dataset 401 TCGA-PANCAN-HiSeq-801x20531",
            "preprocessing": ["values as distributed (normalised by the publisher; transform not documented)"],
            "archive": archive.name,
            "study": "each sample (no grouping published)",
            "donor": "each sample (no patient ids published)",
        }
        return ExpressionData(data.to_numpy(dtype=np.float32), samples, genes, provenance)


def _read_members(archive: Path) -> dict[str, pd.DataFrame]:
    tables: dict[str, pd.DataFrame] = {}
    try:
        for name, handle in _csv_members(archive):
            if name in tables:
                raise ValueError(f"{archive}: the archive holds two {name} files")
            tables[name] = _read_csv(archive, name, handle)
    except _ARCHIVE_ERRORS as error:
        raise ValueError(f"{archive}: not a readable tar.gz or zip archive ({error})") from error
    missing = [m for m in _MEMBERS if m not in tables]
    if missing:
        raise ValueError(f"{archive}: archive has no {' or '.join(missing)} "
                         f"(expected TCGA-PANCAN-HiSeq-801x20531/data.csv and labels.csv)")
    return tables


def _csv_members(archive: Path) -> Iterator[tuple[str, IO[bytes]]]:
    """(base name, stream) of data.csv and labels.csv, from a tar.gz or a zip (around one)."""
    with open(archive, "rb") as handle:
        magic = handle.read(4)
    if magic.startswith(_GZIP_MAGIC):
        with tarfile.open(archive, mode="r|gz") as tar:
            yield from _tar_members(tar)
    elif magic == _ZIP_MAGIC:
        with zipfile.ZipFile(archive) as outer:
            for info in outer.infolist():
                base = PurePosixPath(info.filename).name
                if base in _MEMBERS:
                    with outer.open(info) as member:
                        yield base, member
                elif base.endswith((".tar.gz", ".tgz")) and not base.startswith("._"):
                    with outer.open(info) as inner, tarfile.open(fileobj=inner, mode="r|gz") as tar:
                        yield from _tar_members(tar)
    else:
        raise ValueError(f"{archive}: neither gzip nor zip (starts {magic!r}); the download is not the UCI archive")


def _tar_members(tar: tarfile.TarFile) -> Iterator[tuple[str, IO[bytes]]]:
    # Streaming mode ("r|gz"): members are read in archive order, each while it is current.
    for member in tar:
        base = PurePosixPath(member.name).name
        if member.isfile() and base in _MEMBERS:
            yield base, tar.extractfile(member)


def _read_csv(archive: Path, name: str, handle: IO[bytes]) -> pd.DataFrame:
    try:
        return pd.read_csv(handle, index_col=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"{archive}: member {name} is not a readable CSV ({error})") from error


def _check_tables(archive: Path, data: pd.DataFrame, labels: pd.DataFrame) -> None:
    if "Class" not in labels.columns:
        raise ValueError(f"{archive}: labels.csv lacks the 'Class' column (has {list(labels.columns)})")
    non_numeric = [c for c, t in data.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
    if non_numeric:
        raise ValueError(f"{archive}: data.csv has non-numeric values in {len(non_numeric)} gene columns, "
                         f"e.g. {non_numeric[:3]}")
    for name, table in (("data.csv", data), ("labels.csv", labels)):
        repeated = table.index[table.index.duplicated()]
        if len(repeated):
            raise ValueError(f"{archive}: {name} repeats sample ids, e.g. {list(repeated[:3])}")
    unlabelled = data.index.difference(labels.index)
    if len(unlabelled):
        raise ValueError(f"{archive}: {len(unlabelled)} samples of data.csv are not in labels.csv, "
                         f"e.g. {list(unlabelled[:3])}")
    if labels.loc[data.index, "Class"].isna().any():
        raise ValueError(f"{archive}: labels.csv has samples without a Class")
