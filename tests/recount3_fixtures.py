"""A tiny recount3 human SRA release in the real file formats, for the source tests.

Five genes with hand-picked lengths and two projects:

* SRP000101: SRR1001 (Liver, bulk), SRR1002 (80% of genes at zero: single-cell by
  sparsity), SRR1003 (no tissue).
* ERP000202: ERR2001 (recount_pred says scrna-seq), ERR2002 and ERR2003 (two runs of
  one SRA sample, Blood). Its gene sums list genes and runs in another order than the
  annotation and the metadata, and hold a value above 2**31.

The project list also names a mouse project, which must never be fetched.
"""

from __future__ import annotations

import gzip

GENES = [  # gene_id, gene_name (None: the GTF row has no gene_name), bp_length
    ("ENSG00000000001.1", "GENEA", 1000),
    ("ENSG00000000002.3", "GENEB", 2000),
    ("ENSG00000000003.2", "GENEC", 500),
    ("ENSG00000000004.7", "GENED", 250),
    ("ENSG00000000005.1", None, 4000),
]

# run -> coverage per gene in GENES order
COVERAGE = {
    "SRR1001": [1000, 4000, 0, 250, 4000],  # rates 1, 2, 0, 1, 1 -> TPM 2e5, 4e5, 0, 2e5, 2e5
    "SRR1002": [0, 0, 0, 0, 80],
    "SRR1003": [500, 500, 500, 500, 500],
    "ERR2001": [100, 200, 300, 400, 500],
    "ERR2002": [10, 20, 5, 0, 5_000_000_000],
    "ERR2003": [2000, 2000, 2000, 2000, 2000],
}

RUNS = {  # run -> (project, rail_id, sra sample_acc, curated.tissue, pattern.predict.type)
    "SRR1001": ("SRP000101", 101, "SRS1001", "Liver", "rna-seq"),
    "SRR1002": ("SRP000101", 102, "SRS1002", "Liver", "rna-seq"),
    "SRR1003": ("SRP000101", 103, "SRS1003", "NA", "rna-seq"),
    "ERR2001": ("ERP000202", 201, "ERS2001", "Blood", "scrna-seq"),
    "ERR2002": ("ERP000202", 202, "ERS2000", "Blood", "rna-seq"),
    "ERR2003": ("ERP000202", 203, "ERS2000", "Blood", "NA"),
}
PROJECTS = ("SRP000101", "ERP000202")
MOUSE_PROJECT = "SRP000999"

PROJECT_COLUMNS = ["rail_id", "external_id", "study", "project", "organism", "file_source",
                   "metadata_source", "date_processed"]
SRA_COLUMNS = ["rail_id", "external_id", "study", "sample_acc", "experiment_acc", "study_title",
               "library_strategy", "sample_attributes"]
PRED_COLUMNS = ["rail_id", "external_id", "study", "sample_acc", "curated.type", "curated.tissue",
                "pattern.predict.type", "pred.type", "curated.cell_type", "curated.cell_line"]
FLYNN_COLUMNS = ["sample_acc", "organism", "data_type", "platform", "study_acc", "metadata_sex", "expr_sex",
                 "p_male", "present", "num_reads"]


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode(), mtime=0)


def _tsv(columns, rows) -> str:
    return "\n".join("\t".join(map(str, r)) for r in [columns, *rows]) + "\n"


def project_row(run: str) -> list:
    project, rail, *_ = RUNS[run]
    return [rail, run, project, project, "human", "data_sources/sra", "data_sources/sra", "2019-10-24"]


def project_list() -> bytes:
    rows = [project_row(run) for run in RUNS]
    rows.append([901, "SRR9001", MOUSE_PROJECT, MOUSE_PROJECT, "Mus musculus", "data_sources/sra",
                 "data_sources/sra", "2019-10-24"])
    return _gz(_tsv(PROJECT_COLUMNS, rows))


def gene_annotation() -> bytes:
    lines = ["##description: recount3 gene_sums G026 (test copy)"]
    for i, (gene_id, name, length) in enumerate(GENES):
        attributes = f'gene_id "{gene_id}"; gene_type "protein_coding"; '
        attributes += f'gene_name "{name}"; level 2;' if name else "level 2;"
        lines.append("\t".join(["chr1", "HAVANA", "gene", str(1000 * i + 1), str(1000 * i + 900), str(length),
                                "+", ".", attributes]))
    return _gz("\n".join(lines) + "\n")


def gene_sums(project: str) -> bytes:
    runs = [r for r in RUNS if RUNS[r][0] == project]
    order = list(range(len(GENES)))
    if project == "ERP000202":
        runs, order = runs[::-1], order[::-1]
    header = "##annotation=G026\n##date.generated=2020-05-12 01:01:47.732081\n"
    rows = [[GENES[g][0], *(COVERAGE[r][g] for r in runs)] for g in order]
    return _gz(header + _tsv(["gene_id", *runs], rows))


def metadata(project: str, table: str) -> bytes:
    runs = [r for r in RUNS if RUNS[r][0] == project]
    if table == "recount_project":
        return _gz(_tsv(PROJECT_COLUMNS, [project_row(r) for r in runs]))
    if table == "sra":
        rows = [[RUNS[r][1], r, project, RUNS[r][2], f"SRX{RUNS[r][1]}", 'A "quoted" title', "RNA-Seq",
                 "source_name;;liver|sex;;male"] for r in runs]
        return _gz(_tsv(SRA_COLUMNS, rows))
    if table == "recount_pred":
        rows = [[RUNS[r][1], r, project, RUNS[r][2], "rna-seq", RUNS[r][3], RUNS[r][4], "rna-seq", "NA", "NA"]
                for r in runs]
        return _gz(_tsv(PRED_COLUMNS, rows))
    raise KeyError(table)


def release_files() -> dict[str, bytes]:
    """Relative path under a recount3 host prefix -> file bytes."""
    files = {
        "human/data_sources/sra/metadata/sra.recount_project.MD.gz": project_list(),
        "human/annotations/gene_sums/human.gene_sums.G026.gtf.gz": gene_annotation(),
    }
    for project in PROJECTS:
        shard, home = project[-2:], "human/data_sources/sra"
        files[f"{home}/gene_sums/{shard}/{project}/sra.gene_sums.{project}.G026.gz"] = gene_sums(project)
        for table in ("sra", "recount_project", "recount_pred"):
            files[f"{home}/metadata/{shard}/{project}/sra.{table}.{project}.MD.gz"] = metadata(project, table)
    return files


def flynn_csv() -> str:
    rows = [
        ["SRR1001", "human", "rnaseq", "GPL11154", "SRP000101", "male", "male", "0.97", "TRUE", "20000000"],
        ["ERR2002", "human", "rnaseq", "GPL16791", "ERP000202", "female", "female", "0.02", "TRUE", "15000000"],
        ["ERR2003", "human", "rnaseq", "GPL16791", "ERP000202", "unknown", "female", "0.1", "TRUE", "9000000"],
        ["SRR1003", "mouse", "rnaseq", "GPL13112", "SRP000101", "female", "female", "0.1", "TRUE", "8000000"],
        ["GSM0001", "human", "microarray", "GPL570", "GSE1", "male", "male", "0.9", "FALSE", "NA"],
    ]
    return "\n".join(",".join(r) for r in [FLYNN_COLUMNS, *rows]) + "\n"
