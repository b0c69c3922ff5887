"""Human SRA RNA-seq from recount3, read from its public files without R.

recount3 (Wilks et al. 2021) re-aligned every public human RNA-seq run in the SRA
with one pipeline and publishes per-project gene sums on GENCODE v26 (``G026``).

Files (mirrors come from the dataset's ``files``; see
``config/datasets/recount3_sra.yaml``):

* ``project_list``: ``human/data_sources/sra/metadata/sra.recount_project.MD.gz``,
  one row per run with its ``project``. The URLs of the per-project files are built
  from the same hosts, so every ``project_list`` mirror must end with that path.
* ``gene_annotation``: ``human/annotations/gene_sums/human.gene_sums.G026.gtf.gz``;
  its score column is recount3's ``bp_length`` (the summed width of the gene's
  reduced exons), the gene length used for TPM.
* per project ``P`` (shard ``s = P[-2:]``), under ``human/data_sources/sra/``:
  ``gene_sums/s/P/sra.gene_sums.P.G026.gz`` and
  ``metadata/s/P/sra.{sra,recount_project,recount_pred}.P.MD.gz``.

``fetch`` downloads the project list, keeps human SRA projects (restricted to the
``projects`` param when it is set) and then fetches each project's four files into
``<dest>/projects/<P>/``, each folder with its own ``MANIFEST.json``: a rerun asks the
server only for what is missing or failed verification.

Preprocessing, project by project and within a project by batches of at most 2,000
runs, so memory holds at most one such batch (about 0.5 GB of float32 rates):

1. Metadata: ``recount_project`` lists the project's runs; ``sra`` and
   ``recount_pred`` are joined on ``rail_id`` (``external_id`` when a table lacks it).
2. Single-cell removal, as in Heil et al.: runs with
   ``recount_pred.pattern.predict.type`` equal to ``scrna-seq`` (never read), then runs
   with more than ``max_zero_fraction`` (0.75) of the G026 genes at zero.
3. TPM: ``rate = coverage / bp_length`` per gene, then each run is scaled so its rates
   sum to 1e6. recount3's gene sums are summed base-pair coverage, i.e. about
   ``reads x read_length``; the read length is one constant per run, so it cancels in
   the per-run rescaling and the result equals TPM computed from read counts.
4. Stored as float32 TPM, as recount3's gene sums give it and as Heil et al. used
   it; with the param ``log_transform: true``, ``log2(TPM + 1)`` instead. A log, when
   wanted, belongs to a task's ``preprocessing.log2``, so the store stays what the
   source publishes.

Samples table:

* ``sample_id``: the run accession (recount3 ``external_id``, SRR/ERR/DRR).
* ``study``: the SRA project (study) accession, recount3 ``study``.
* ``donor``: the SRA sample accession (``sra.sample_acc``, SRS/ERS/DRS), the run's
  biological specimen: technical re-runs of one specimen share it, so donor-wise
  splits keep them together. The run accession when the metadata lacks it.
* ``tissue``: ``recount_pred.curated.tissue`` (manually curated by recount3; missing
  for most runs).
* ``sex``: Flynn et al. 2021 metadata sex (male/female), see below; missing otherwise.

Sex labels (Flynn, Chang and Altman, BMC Bioinformatics 2021): the file
``combined_human_mouse_meta_v2.csv`` is shared only through the private figshare link
https://figshare.com/s/985621c1705043421962, whose download cannot be scripted.
Download it in a browser and place it at ``sex_labels_path`` (default
``data/manual/combined_human_mouse_meta_v2.csv``, relative to the workflow
directory). Rows with ``organism == human``, ``data_type == rnaseq`` and
``metadata_sex`` male or female label the run whose accession is ``sample_acc``.
Without the file the ``sex`` column is all missing, and :meth:`Recount3SRA.require_label`
fails for ``sex`` with the path and these instructions.
"""

from __future__ import annotations

import csv
import gzip
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ..store import stream_dataset
from . import DataSource, file_sha256

ANNOTATION = "G026"
PROJECT_LIST_PATH = "human/data_sources/sra/metadata/sra.recount_project.MD.gz"
PROJECT_TABLES = ("sra", "recount_project", "recount_pred")
FLYNN_COLUMNS = ("sample_acc", "organism", "data_type", "metadata_sex")
FLYNN_URL = "https://figshare.com/s/985621c1705043421962"
SCRNA_TYPE = "scrna-seq"
_PROJECT_ID = re.compile(r"^[A-Za-z0-9_]+$")
_GTF_ATTRIBUTE = r'{} "([^"]*)"'
_GENE_ROWS_PER_CHUNK = 4096
_RUNS_PER_PASS = 2000  # 2000 runs x 63,856 genes x 4 bytes: about 0.5 GB per batch


class Recount3Error(ValueError):
    """A recount3 file is missing, malformed or inconsistent; the message names it."""


class Recount3SRA(DataSource):
    name = "recount3_sra"
    label_columns = ("tissue", "sex")
    defaults = {
        "projects": None,  # project accessions to keep; None keeps every human SRA project
        "max_zero_fraction": 0.75,
        "sex_labels_path": "data/manual/combined_human_mouse_meta_v2.csv",
        "log_transform": False,  # True stores log2(TPM + 1) instead of TPM
    }

    # ------------------------------------------------------------------ labels

    def require_label(self, label: str) -> None:
        """Raise when a task's label cannot be filled; call before downloading anything."""
        if label not in self.label_columns:
            raise Recount3Error(f"{self.name}: no label {label!r} (labels: {', '.join(self.label_columns)})")
        if label == "sex" and not Path(self.params["sex_labels_path"]).is_file():
            raise Recount3Error(_missing_sex_labels_message(self.params["sex_labels_path"]))

    # ------------------------------------------------------------------ download

    def fetch(self, dest_dir: Path, **download_options) -> dict[str, Path]:
        from ..download import DownloadItem, download_many

        dest_dir = Path(dest_dir)
        for name in ("project_list", "gene_annotation"):
            if name not in self.files:
                raise Recount3Error(f"{self.name}: the dataset's files lack {name!r}; "
                                    "see config/datasets/recount3_sra.yaml")
        bases = self._mirror_bases()
        paths = super().fetch(dest_dir, **download_options)
        projects = self._selected_projects(read_project_list(paths["project_list"]), paths["project_list"])
        names, items = [], []
        for project in projects:
            for kind, relative in project_file_paths(project).items():
                names.append(f"{project}/{kind}")
                items.append(DownloadItem(urls=[base + relative for base in bases],
                                          dest=dest_dir / "projects" / project / relative.rsplit("/", 1)[1]))
        options = dict(download_options)
        max_workers = options.pop("max_workers", 4)
        print(f"{self.name}: {len(projects)} projects, {len(items)} files", file=sys.stderr)
        paths.update(zip(names, download_many(items, max_workers=max_workers, **options), strict=False))
        return paths

    def _mirror_bases(self) -> list[str]:
        """Host prefixes ending in '/', taken from the project list's mirrors."""
        bases = []
        for url in self.files["project_list"]["urls"]:
            if not url.endswith("/" + PROJECT_LIST_PATH):
                raise Recount3Error(
                    f"{self.name}: project_list URL {url} does not end with /{PROJECT_LIST_PATH}; "
                    f"the per-project URLs are built from its host prefix"
                )
            bases.append(url[: -len(PROJECT_LIST_PATH)])
        return bases

    def _selected_projects(self, listed: list[str], list_path: Path) -> list[str]:
        wanted = self.params["projects"]
        if wanted is None:
            return listed
        wanted = [wanted] if isinstance(wanted, str) else [str(p) for p in wanted]
        unknown = sorted(set(wanted) - set(listed))
        if unknown:
            raise Recount3Error(f"{self.name}: projects {unknown} are not human SRA projects in {list_path}")
        return sorted(set(wanted))

    # ------------------------------------------------------------------ store

    def write(self, out_path: Path, downloads: dict[str, Path]) -> None:
        for name in ("project_list", "gene_annotation"):
            if name not in downloads:
                raise Recount3Error(f"{self.name}: no downloaded {name!r}; run the download step first")
        genes = read_gene_annotation(downloads["gene_annotation"])
        projects = self._downloaded_projects(downloads)
        sex_by_run, sex_file = self._sex_labels()
        counts = {"runs": 0, "removed_sparse": 0, "removed_scrna": 0}
        tables = []
        with stream_dataset(out_path, genes[["gene_id", "symbol"]]) as stream:
            for project in projects:
                files = {t: downloads[f"{project}/{t}"] for t in (*PROJECT_TABLES, "gene_sums")}
                bulk, n_scrna = read_bulk_runs(files)
                counts["runs"] += len(bulk) + n_scrna
                counts["removed_scrna"] += n_scrna
                kept = 0
                for samples, block in self._project_blocks(project, files["gene_sums"], bulk, genes):
                    samples["sex"] = samples["sample_id"].map(sex_by_run)
                    if len(samples):
                        stream.append(block)
                        tables.append(samples)
                    kept += len(samples)
                counts["removed_sparse"] += len(bulk) - kept
                print(f"{self.name}: {project}: kept {kept} of {len(bulk) + n_scrna} runs", file=sys.stderr)
            samples = pd.concat(tables, ignore_index=True) if tables else _empty_samples()
            stream.finish(samples, self._provenance(downloads, projects, samples, counts, sex_file))

    def _downloaded_projects(self, downloads: dict[str, Path]) -> list[str]:
        projects = sorted(name.split("/")[0] for name in downloads if name.endswith("/gene_sums"))
        wanted = self.params["projects"]
        if wanted is not None:
            wanted = sorted(set([wanted] if isinstance(wanted, str) else map(str, wanted)))
            missing = sorted(set(wanted) - set(projects))
            if missing:
                raise Recount3Error(f"{self.name}: projects {missing} were not downloaded; rerun the download step")
            projects = wanted
        for project in projects:
            absent = [t for t in PROJECT_TABLES if f"{project}/{t}" not in downloads]
            if absent:
                raise Recount3Error(f"{self.name}: project {project} lacks downloaded metadata {absent}")
        if not projects:
            raise Recount3Error(f"{self.name}: no project gene sums among the downloads")
        return projects

    def _project_blocks(self, project: str, gene_sums: Path, bulk: pd.DataFrame, genes: pd.DataFrame):
        """(samples, TPM block) of the project's non-sparse runs, in batches.

        Runs are read in batches of at most ``_RUNS_PER_PASS``, so a project with tens
        of thousands of runs never needs its whole matrix in memory (each batch
        re-reads the file).
        """
        for start in range(0, len(bulk), _RUNS_PER_PASS):
            batch = bulk.iloc[start:start + _RUNS_PER_PASS]
            rates, zero_fraction = read_gene_rates(gene_sums, list(batch["external_id"]), genes)
            keep = zero_fraction <= float(self.params["max_zero_fraction"])
            kept = batch.loc[keep]
            samples = pd.DataFrame({
                "sample_id": kept["external_id"].to_numpy(),
                "study": kept["study"].fillna(project).to_numpy(),
                "donor": kept["sample_acc"].fillna(kept["external_id"]).to_numpy(),
                "tissue": kept["curated.tissue"].to_numpy(),
            })
            values = tpm(rates[keep])
            if self.params["log_transform"]:
                np.log2(values + np.float32(1.0), out=values)
            yield samples, values

    def _sex_labels(self) -> tuple[dict[str, str], dict | None]:
        path = Path(self.params["sex_labels_path"])
        if not path.is_file():
            print(f"{self.name}: {path} not found, so the sex label is missing for every run. "
                  + _how_to_get_flynn(path), file=sys.stderr)
            return {}, None
        labels = read_flynn_sex_labels(path)
        return labels, {"path": str(path), "sha256": file_sha256(path), "labelled_runs": len(labels)}

    def _provenance(self, downloads, projects, samples, counts, sex_file) -> dict:
        list_sha = _manifest_sha256(Path(downloads["project_list"]))
        return {
            "source": self.name,
            "source_version": f"recount3 human data_sources/sra {ANNOTATION}"
                              + (f"; project list sha256 {list_sha}" if list_sha else ""),
            "preprocessing": [
                "metadata: recount_project joined with sra and recount_pred on rail_id",
                f"removed runs with recount_pred pattern.predict.type == {SCRNA_TYPE!r}",
                f"removed runs with more than {self.params['max_zero_fraction']:.0%} of {ANNOTATION} genes at zero",
                f"TPM from base-pair coverage: coverage / bp_length ({ANNOTATION} GTF score), "
                "scaled per run to sum 1e6 (read length cancels)",
                "log2(TPM + 1), float32" if self.params["log_transform"] else "TPM, float32",
            ],
            "values": "log2(TPM + 1)" if self.params["log_transform"] else "TPM",
            "params": dict(self.params),
            "annotation": ANNOTATION,
            "n_projects": len(projects),
            "n_runs_seen": counts["runs"],
            "n_removed_sparse": counts["removed_sparse"],
            "n_removed_scrna": counts["removed_scrna"],
            "n_with_tissue": int(samples["tissue"].notna().sum()),
            "n_with_sex": int(samples["sex"].notna().sum()),
            "sex_labels": sex_file or "absent: sex is missing for every run",
        }


# ---------------------------------------------------------------------- URLs


def project_file_paths(project: str) -> dict[str, str]:
    """Paths of one project's files relative to a recount3 host prefix."""
    if not _PROJECT_ID.match(project):
        raise Recount3Error(f"not a recount3 project accession: {project!r}")
    shard = project[-2:]
    home = "human/data_sources/sra"
    paths = {"gene_sums": f"{home}/gene_sums/{shard}/{project}/sra.gene_sums.{project}.{ANNOTATION}.gz"}
    for table in PROJECT_TABLES:
        paths[table] = f"{home}/metadata/{shard}/{project}/sra.{table}.{project}.MD.gz"
    return paths


# ---------------------------------------------------------------------- readers


def _read_tsv(path: Path, table: str, wanted: set[str] | None = None) -> pd.DataFrame:
    """A recount3 metadata table with lower-case column names, prefix ``<table>.`` removed."""
    prefix = f"{table}."

    def clean(column: str) -> str:
        column = column.strip().lower()
        return column[len(prefix):] if column.startswith(prefix) else column

    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, quoting=csv.QUOTE_NONE, keep_default_na=False,
                            na_values=["", "NA"], compression="gzip",
                            usecols=(lambda c: clean(c) in wanted) if wanted else None)
    except (OSError, EOFError, ValueError, pd.errors.ParserError) as error:
        raise Recount3Error(f"{path}: cannot read the recount3 {table} table ({error})") from error
    return frame.rename(columns=clean)


def _require_columns(frame: pd.DataFrame, columns, path: Path, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise Recount3Error(f"{path}: the {what} lacks columns {missing} (has {list(frame.columns)[:12]})")


def read_project_list(path: Path) -> list[str]:
    """Sorted human ``data_sources/sra`` project accessions of ``sra.recount_project.MD.gz``."""
    path = Path(path)
    table = _read_tsv(path, "recount_project", {"project", "organism", "file_source", "metadata_source"})
    _require_columns(table, ("project", "organism"), path, "project list")
    human = table["organism"].str.lower().isin(["human", "homo sapiens"])
    if "metadata_source" in table.columns:
        home = table["metadata_source"] == "data_sources/sra"
    elif "file_source" in table.columns:
        home = table["file_source"].str.rsplit("/", n=1).str[-1] == "sra"
    else:
        home = pd.Series(True, index=table.index)
    return sorted(table.loc[human & home, "project"].dropna().unique())


def read_gene_annotation(path: Path) -> pd.DataFrame:
    """gene_id, symbol and length (``bp_length``, the GTF score) in file order."""
    path = Path(path)
    try:
        gtf = pd.read_csv(path, sep="\t", header=None, comment="#", usecols=[2, 5, 8], dtype=str,
                          quoting=csv.QUOTE_NONE, compression="gzip")
    except (OSError, EOFError, ValueError, pd.errors.ParserError) as error:
        raise Recount3Error(f"{path}: cannot read the recount3 gene annotation GTF ({error})") from error
    gtf.columns = ["feature", "score", "attributes"]
    if (gtf["feature"] == "gene").any():
        gtf = gtf[gtf["feature"] == "gene"]
    gene_id = gtf["attributes"].str.extract(_GTF_ATTRIBUTE.format("gene_id"), expand=False)
    symbol = gtf["attributes"].str.extract(_GTF_ATTRIBUTE.format("gene_name"), expand=False)
    length = pd.to_numeric(gtf["score"], errors="coerce")
    if gtf.empty or gene_id.isna().any():
        raise Recount3Error(f"{path}: expected GTF rows with a gene_id attribute")
    if not (length > 0).all():
        bad = gene_id[~(length > 0)].head(3).tolist()
        raise Recount3Error(f"{path}: genes {bad} lack a positive bp_length in the score column")
    if gene_id.duplicated().any():
        raise Recount3Error(f"{path}: gene ids repeat, e.g. {gene_id[gene_id.duplicated()].iloc[0]}")
    return pd.DataFrame({"gene_id": gene_id.to_numpy(), "symbol": symbol.fillna(gene_id).to_numpy(),
                         "length": length.to_numpy(dtype=np.float64)})


def read_project_metadata(files: dict[str, Path]) -> pd.DataFrame:
    """One row per run of the project: external_id, study, sample_acc and the recount_pred fields."""
    key_columns = {"rail_id", "external_id"}
    runs = _read_tsv(files["recount_project"], "recount_project", key_columns | {"study"})
    _require_columns(runs, ("external_id", "study"), files["recount_project"], "recount_project table")
    if runs["external_id"].isna().any() or runs["external_id"].duplicated().any():
        raise Recount3Error(f"{files['recount_project']}: external_id is missing or repeated")
    extra = {"sra": {"sample_acc"}, "recount_pred": {"curated.tissue", "pattern.predict.type"}}
    for table, fields in extra.items():
        frame = _read_tsv(files[table], table, key_columns | fields)
        key = "rail_id" if "rail_id" in runs.columns and "rail_id" in frame.columns else "external_id"
        _require_columns(frame, (key,), files[table], f"{table} table")
        frame = frame.drop(columns=[c for c in key_columns - {key} if c in frame.columns])
        frame = frame.drop_duplicates(subset=key)
        runs = runs.merge(frame, on=key, how="left")
        for field in fields:
            if field not in runs.columns:
                runs[field] = pd.NA
    return runs.reset_index(drop=True)


def read_bulk_runs(files: dict[str, Path]) -> tuple[pd.DataFrame, int]:
    """The project's runs that recount3 does not predict to be scRNA-seq, and how many it does."""
    meta = read_project_metadata(files)
    predicted = meta["pattern.predict.type"].astype("string").str.strip().str.lower()
    scrna = (predicted == SCRNA_TYPE).fillna(False).to_numpy(dtype=bool)
    return meta.loc[~scrna].reset_index(drop=True), int(scrna.sum())


def read_gene_rates(path: Path, runs: list[str], genes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Coverage / gene length for ``runs`` (float32, runs x genes in annotation order)
    and each run's fraction of genes with zero coverage."""
    path = Path(path)
    skip, header = _gene_sums_header(path)
    missing = sorted(set(runs) - set(header[1:]))
    if header[0] != "gene_id" or missing:
        problem = f"runs {missing[:5]} of the project metadata are absent" if missing else "the header lacks gene_id"
        raise Recount3Error(f"{path}: {problem}; the gene sums file is malformed or truncated")
    gene_index = pd.Index(genes["gene_id"])
    lengths = genes["length"].to_numpy()
    rates = np.zeros((len(runs), len(genes)), dtype=np.float32)
    zeros = np.zeros(len(runs), dtype=np.int64)
    seen = np.zeros(len(genes), dtype=bool)
    try:
        reader = pd.read_csv(path, sep="\t", skiprows=skip, usecols=["gene_id", *runs], index_col="gene_id",
                             dtype={"gene_id": str, **{r: np.float64 for r in runs}},
                             chunksize=_GENE_ROWS_PER_CHUNK, compression="gzip")
        for chunk in reader:
            rows = gene_index.get_indexer(chunk.index)
            if (rows < 0).any() or seen[rows].any() or chunk.index.duplicated().any():
                bad = chunk.index[(rows < 0) | seen[np.maximum(rows, 0)] | chunk.index.duplicated()][0]
                raise Recount3Error(f"{path}: gene {bad} is not in the {ANNOTATION} annotation or repeats")
            coverage = chunk[runs].to_numpy()
            if np.isnan(coverage).any() or (coverage < 0).any():
                raise Recount3Error(f"{path}: missing or negative coverage values")
            seen[rows] = True
            zeros += (coverage == 0).sum(axis=0)
            rates[:, rows] = (coverage / lengths[rows, None]).T
    except (OSError, EOFError, ValueError, pd.errors.ParserError) as error:
        if isinstance(error, Recount3Error):
            raise
        raise Recount3Error(f"{path}: cannot read the gene sums ({error})") from error
    if not seen.all():
        raise Recount3Error(f"{path}: {int((~seen).sum())} {ANNOTATION} genes are absent, "
                            f"e.g. {gene_index[~seen][0]}; the file is truncated or on another annotation")
    return rates, zeros / len(genes)


def _gene_sums_header(path: Path) -> tuple[int, list[str]]:
    """(number of leading '#' comment lines, column names of the header after them)."""
    try:
        with gzip.open(path, "rt") as handle:
            skip = 0
            for line in handle:
                if not line.startswith("#"):
                    return skip, line.rstrip("\n").split("\t")
                skip += 1
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise Recount3Error(f"{path}: not a readable gzip text file ({error})") from error
    raise Recount3Error(f"{path}: no header line after the comments; the gene sums file is empty or truncated")


def tpm(rates: np.ndarray) -> np.ndarray:
    """TPM from per-gene rates (coverage / length): each row scaled to sum 1e6."""
    totals = rates.sum(axis=1, dtype=np.float64)
    if (totals <= 0).any():
        raise Recount3Error("a kept run has no coverage on any gene")
    return (rates * (1e6 / totals)[:, None].astype(np.float32)).astype(np.float32, copy=False)


def read_flynn_sex_labels(path: Path) -> dict[str, str]:
    """Run accession -> 'male' / 'female' from the Flynn et al. label file."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=lambda c: c in FLYNN_COLUMNS)
    except (OSError, EOFError, ValueError, pd.errors.ParserError) as error:
        raise Recount3Error(f"{path}: cannot read the Flynn et al. sex label CSV ({error}). "
                            + _how_to_get_flynn(path)) from error
    missing = [c for c in FLYNN_COLUMNS if c not in table.columns]
    if missing:
        raise Recount3Error(f"{path}: the Flynn et al. sex label file lacks columns {missing}; "
                            f"expected combined_human_mouse_meta_v2.csv. " + _how_to_get_flynn(path))
    sex = table["metadata_sex"].str.strip().str.lower()
    keep = (table["organism"].str.lower() == "human") & (table["data_type"].str.lower() == "rnaseq") \
        & sex.isin(["male", "female"])
    pairs = pd.DataFrame({"run": table.loc[keep, "sample_acc"].str.strip(), "sex": sex[keep]}).drop_duplicates()
    conflicting = pairs["run"].duplicated(keep=False)  # one run labelled both ways: no label
    return dict(zip(pairs.loc[~conflicting, "run"], pairs.loc[~conflicting, "sex"], strict=False))


# ---------------------------------------------------------------------- helpers


def _how_to_get_flynn(path: Path | str) -> str:
    return (f"The file combined_human_mouse_meta_v2.csv (Flynn et al. 2021) is shared only through the "
            f"private figshare link {FLYNN_URL}; download it in a browser and place it at {path} "
            f"(the recount3_sra param sex_labels_path).")


def _missing_sex_labels_message(path: Path | str) -> str:
    return f"recount3_sra: the sex label needs {path}, which does not exist. " + _how_to_get_flynn(path)


def _empty_samples() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ("sample_id", "study", "donor", "tissue", "sex")})


def _manifest_sha256(path: Path) -> str | None:
    from ..download import read_manifest

    return read_manifest(path.parent).get(path.name, {}).get("sha256")

