"""The ``local`` source: every input format, and one clear error for each kind of bad input."""

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_data

from exprbench.cli import main
from exprbench.config import ConfigError, resolve
from exprbench.h5ad import export_h5ad
from exprbench.sources import SOURCES
from exprbench.sources.local import LocalSource
from exprbench.store import open_dataset, write_dataset

N_SAMPLES, N_GENES = 20, 30


def planted(n_samples=N_SAMPLES, n_genes=N_GENES, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_genes)).astype(np.float32)
    samples = pd.DataFrame({
        "sample": [f"S{i:02d}" for i in range(n_samples)],
        "tissue": ["liver", "brain"] * (n_samples // 2),
        "batch": [f"b{i % 4}" for i in range(n_samples)],
        "person": [f"p{i // 2}" for i in range(n_samples)],
    })
    genes = [f"ENSG{j:011d}" for j in range(n_genes)]
    return X, samples, genes


def write_matrix(path: Path, X, sample_ids, gene_ids, orientation):
    if orientation == "genes_by_samples":
        frame = pd.DataFrame(X.T, index=pd.Index(gene_ids, name="gene"), columns=sample_ids)
    else:
        frame = pd.DataFrame(X, index=pd.Index(sample_ids, name="sample"), columns=gene_ids)
    if path.suffix == ".parquet":
        frame.reset_index().to_parquet(path)
    else:
        frame.to_csv(path, sep="," if ".csv" in path.suffixes else "\t", float_format="%.9g")
    return path


def prepare(tmp_path, name="out.h5", block=7, **params):
    source = LocalSource(**params)
    source.rows_per_block, source.samples_per_block = block, 3  # exercise the block boundaries
    out = tmp_path / name
    source.write(out, {})
    return out


@pytest.fixture
def data(tmp_path):
    X, samples, genes = planted()
    samples.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    return X, samples, genes


def check_store(out, X, samples, genes, study="batch"):
    with open_dataset(out) as reader:
        table = reader.samples
        order = [samples["sample"].tolist().index(s) for s in table["sample_id"]]
        np.testing.assert_array_equal(reader.read_expression(), X[order])
        assert reader.genes["gene_id"].tolist() == genes
        assert list(table.columns) == ["sample_id", "study", "donor", "tissue", "person"]
        assert table["study"].tolist() == samples[study].iloc[order].tolist()
        assert table["donor"].tolist() == table["sample_id"].tolist()
        provenance = reader.provenance
    assert provenance["source"] == "local" and provenance["files"]["expression"]["sha256"]
    return provenance


@pytest.mark.parametrize("name, orientation", [
    ("m.tsv", "genes_by_samples"), ("m.tsv.gz", "genes_by_samples"), ("m.csv", "samples_by_genes"),
    ("m.csv.gz", "samples_by_genes"), ("m.parquet", "genes_by_samples"), ("m.parquet", "samples_by_genes"),
])
def test_each_table_format_round_trips(tmp_path, data, name, orientation):
    X, samples, genes = data
    write_matrix(tmp_path / name, X, samples["sample"], genes, orientation)
    out = prepare(tmp_path, expression=str(tmp_path / name), orientation=orientation,
                  samples=str(tmp_path / "samples.tsv"), study_column="batch")
    provenance = check_store(out, X, samples, genes)
    assert ("transposed from genes x samples to samples x genes" in provenance["preprocessing"]) == (
        orientation == "genes_by_samples")
    assert provenance["study"] == "column 'batch' of the samples table"


def test_matrix_rows_in_another_order_than_the_table(tmp_path, data):
    X, samples, genes = data
    reverse = slice(None, None, -1)
    write_matrix(tmp_path / "m.tsv", X[reverse], samples["sample"][reverse], genes, "samples_by_genes")
    out = prepare(tmp_path, expression=str(tmp_path / "m.tsv"), orientation="samples_by_genes",
                  samples=str(tmp_path / "samples.tsv"), study_column="batch")
    with open_dataset(out) as reader:
        assert reader.samples["sample_id"].tolist() == samples["sample"].tolist()[::-1]
    check_store(out, X, samples, genes)


def test_h5ad_and_store_inputs_carry_their_tables(tmp_path):
    store = tmp_path / "first.h5"
    write_dataset(store, make_data(n_samples=16, n_genes=20))
    export_h5ad(store, tmp_path / "first.h5ad")
    for name in ("first.h5ad", "first.h5"):
        out = prepare(tmp_path, name=f"from_{name}.h5", expression=str(tmp_path / name))
        with open_dataset(out) as copy, open_dataset(store) as original:
            np.testing.assert_array_equal(copy.read_expression(), original.read_expression())
            pd.testing.assert_frame_equal(copy.samples, original.samples)
            pd.testing.assert_frame_equal(copy.genes, original.genes)
            assert copy.provenance["input_provenance"]["source"] == "test"
    assert LocalSource.labels_for({"expression": str(tmp_path / "first.h5ad")}) == ("label",)
    assert LocalSource.labels_for({"expression": str(tmp_path / "first.h5")}) == ("label",)


def test_gene_id_column_with_annotation_columns(tmp_path, data):
    X, samples, genes = data
    frame = pd.DataFrame(X.T, columns=samples["sample"])
    frame.insert(0, "description", "some gene")
    frame.insert(0, "symbol", [f"SYM{j}" for j in range(N_GENES)])
    frame.insert(0, "ensembl", [f"{g}.4" for g in genes])
    frame.to_csv(tmp_path / "m.tsv", sep="\t", index=False, float_format="%.9g")
    out = prepare(tmp_path, expression=str(tmp_path / "m.tsv"), orientation="genes_by_samples",
                  samples=str(tmp_path / "samples.tsv"), gene_id_column="ensembl", study_column="batch")
    check_store(out, X, samples, genes)
    with open_dataset(out) as reader:
        assert reader.genes["symbol"].tolist() == [f"SYM{j}" for j in range(N_GENES)]


def test_labels_grouping_and_inputs_from_the_samples_header(tmp_path, data):
    params = {"expression": "m.tsv", "orientation": "genes_by_samples", "samples": str(tmp_path / "samples.tsv")}
    assert LocalSource.labels_for(params) == ("tissue", "batch", "person")
    assert LocalSource.labels_for({**params, "study_column": "batch", "donor_column": "person"}) == ("tissue",)
    assert LocalSource(**params).required_inputs() == ["m.tsv", str(tmp_path / "samples.tsv")]
    assert "local" in SOURCES.names()


def test_config_checks_task_labels_against_the_samples_table(tmp_path, data):
    X, samples, genes = data
    write_matrix(tmp_path / "m.tsv", X, samples["sample"], genes, "genes_by_samples")
    entry = {"source": "local", "params": {"expression": str(tmp_path / "m.tsv"), "orientation": "genes_by_samples",
                                           "samples": str(tmp_path / "samples.tsv")}}
    config = {"datasets": {"mine": entry}, "model_dir": str(Path(__file__).parents[1] / "config" / "models"),
              "tasks": {"t": {"dataset": "mine", "label": "tisue", "kind": "binary",
                              "models": ["logistic_regression"]}}}
    with pytest.raises(ConfigError, match="'tisue' is not a label of dataset 'mine'; did you mean 'tissue'"):
        resolve(config, "c.yaml")
    config["tasks"]["t"]["label"] = "tissue"
    assert resolve(config, "c.yaml")["tasks"]["t"]["label"] == "tissue"


# ----------------------------------------------------------------------------- bad input


def expect_error(tmp_path, match, **params):
    params = {"orientation": "genes_by_samples", "samples": str(tmp_path / "samples.tsv"), **params}
    with pytest.raises(ValueError, match=match) as caught:
        prepare(tmp_path, **params)
    message = str(caught.value)
    assert "\n" not in message
    assert not (tmp_path / "out.h5").exists(), "nothing is written under the final name"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.h5")], "no temporary file is left"
    return message


def edit_lines(path: Path, edit):
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")


def put_cell(path: Path, line: int, field: int, text: str):
    def put(lines):
        fields = lines[line - 1].split("\t")
        fields[field] = text
        lines[line - 1] = "\t".join(fields)

    edit_lines(path, put)


def test_sample_ids_that_differ_say_how_many_and_show_examples(tmp_path, data):
    X, samples, genes = data
    ids = samples["sample"].tolist()
    ids[3], ids[5] = "X3", "X5"
    write_matrix(tmp_path / "m.tsv", X, ids, genes, "genes_by_samples")
    message = expect_error(tmp_path, "2 matrix sample ids are not in", expression=str(tmp_path / "m.tsv"))
    assert "'X3', 'X5'" in message and "2 ids of" in message and "'S03', 'S05'" in message
    assert "one row per matrix sample" in message
    write_matrix(tmp_path / "m.tsv", X, ids, genes, "samples_by_genes")
    expect_error(tmp_path, r"2 matrix sample ids .*'X3', 'X5'", expression=str(tmp_path / "m.tsv"),
                 orientation="samples_by_genes")


@pytest.mark.parametrize("written, declared", [("genes_by_samples", "samples_by_genes"),
                                               ("samples_by_genes", "genes_by_samples")])
def test_swapped_orientation_is_named(tmp_path, data, written, declared):
    X, samples, genes = data
    write_matrix(tmp_path / "m.tsv", X, samples["sample"], genes, written)
    expect_error(tmp_path, f"m.tsv: .*set params.orientation: {written}", expression=str(tmp_path / "m.tsv"),
                 orientation=declared)


def test_fewer_genes_than_samples_warns(tmp_path, capsys):
    X, samples, genes = planted(n_samples=20, n_genes=6)
    samples.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    write_matrix(tmp_path / "m.tsv", X, samples["sample"], genes, "genes_by_samples")
    out = prepare(tmp_path, expression=str(tmp_path / "m.tsv"), orientation="genes_by_samples",
                  samples=str(tmp_path / "samples.tsv"))
    assert "warning: " in capsys.readouterr().err
    with open_dataset(out) as reader:
        assert "6 genes but 20 samples" in reader.provenance["warnings"][0]


def test_missing_orientation_and_missing_files(tmp_path, data):
    X, samples, genes = data
    write_matrix(tmp_path / "m.tsv", X, samples["sample"], genes, "genes_by_samples")
    expect_error(tmp_path, "params.orientation is None; set it to genes_by_samples", expression=str(tmp_path / "m.tsv"),
                 orientation=None)
    expect_error(tmp_path, "nowhere.tsv: params.expression: file not found .*working directory",
                 expression="nowhere.tsv")
    expect_error(tmp_path, "needs params.samples", expression=str(tmp_path / "m.tsv"), samples=None)
    (tmp_path / "m.xlsx").write_text("")
    expect_error(tmp_path, "unknown file type .xlsx", expression=str(tmp_path / "m.xlsx"))


def test_duplicate_sample_ids(tmp_path, data):
    X, samples, genes = data
    ids = samples["sample"].tolist()
    ids[4] = ids[2]
    write_matrix(tmp_path / "m.tsv", X, ids, genes, "genes_by_samples")
    expect_error(tmp_path, r"m.tsv: 1 column names appear more than once: 'S02' \(2 times\)",
                 expression=str(tmp_path / "m.tsv"))
    write_matrix(tmp_path / "m.csv", X, ids, genes, "samples_by_genes")
    expect_error(tmp_path, "m.csv: sample id 'S02' at line 6 repeats line 4", expression=str(tmp_path / "m.csv"),
                 orientation="samples_by_genes")
    write_matrix(tmp_path / "m.tsv", X, samples["sample"], genes, "genes_by_samples")
    table = samples.copy()
    table.loc[4, "sample"] = "S02"
    table.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    expect_error(tmp_path, r"samples.tsv: 1 sample ids of the samples table appear more than once: 'S02'",
                 expression=str(tmp_path / "m.tsv"))


def test_duplicate_gene_ids(tmp_path, data):
    X, samples, genes = data
    ids = list(genes)
    ids[7] = genes[3]
    write_matrix(tmp_path / "m.tsv", X, samples["sample"], ids, "genes_by_samples")
    expect_error(tmp_path, r"m.tsv: gene id 'ENSG00000000003' at line 9 repeats line 5; give every gene one row",
                 expression=str(tmp_path / "m.tsv"))
    write_matrix(tmp_path / "m.csv", X, samples["sample"], ids, "samples_by_genes")
    expect_error(tmp_path, "m.csv: 1 column names appear more than once: 'ENSG00000000003'",
                 expression=str(tmp_path / "m.csv"), orientation="samples_by_genes")


def test_non_numeric_cell(tmp_path, data):
    X, samples, genes = data
    path = write_matrix(tmp_path / "m.tsv", X, samples["sample"], genes, "genes_by_samples")
    put_cell(path, line=13, field=1, text="1,5")
    expect_error(tmp_path, r"m.tsv: line 13 \(id 'ENSG00000000011'\), column 'S00': '1,5' is not a number",
                 expression=str(path))
    table = pd.DataFrame(X, index=pd.Index(samples["sample"], name="sample"), columns=genes)
    table[genes[4]] = table[genes[4]].astype(str)
    table.iloc[2, 4] = "high"
    table.reset_index().to_parquet(tmp_path / "m.parquet")
    expect_error(tmp_path, r"m.parquet: row 3 \(id 'S02'\), column 'ENSG00000000004': 'high' is not a number",
                 expression=str(tmp_path / "m.parquet"), orientation="samples_by_genes")


@pytest.mark.parametrize("token, shown", [("NA", "is missing"), ("nan", "is missing"), ("inf", "inf is not finite"),
                                          ("-Inf", "-inf is not finite")])
def test_nan_and_inf(tmp_path, data, token, shown):
    X, samples, genes = data
    path = write_matrix(tmp_path / "m.tsv", X, samples["sample"], genes, "genes_by_samples")
    put_cell(path, line=6, field=3, text=token)
    expect_error(tmp_path, f"m.tsv: line 6.*column 'S02'.*{shown}", expression=str(path))


def test_nan_in_h5ad(tmp_path):
    store = tmp_path / "first.h5"
    write_dataset(store, make_data(n_samples=8, n_genes=5))
    export_h5ad(store, tmp_path / "first.h5ad")
    import h5py

    with h5py.File(tmp_path / "first.h5ad", "r+") as h5:
        h5["X"][2, 3] = np.nan
    expect_error(tmp_path, r"first.h5ad: obs row 2 \(id 's002'\), column 'g3': nan is not finite",
                 expression=str(tmp_path / "first.h5ad"), samples=None)


def test_empty_label_column(tmp_path, data):
    X, samples, genes = data
    write_matrix(tmp_path / "m.tsv", X, samples["sample"], genes, "genes_by_samples")
    samples.assign(stage="").to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    expect_error(tmp_path, "samples.tsv: label column 'stage' is empty in every row; fill it or remove the column",
                 expression=str(tmp_path / "m.tsv"))
    samples.assign(batch="").to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    expect_error(tmp_path, "samples.tsv: study column 'batch' is empty for 20 samples",
                 expression=str(tmp_path / "m.tsv"), study_column="batch")
    expect_error(tmp_path, r"samples.tsv: params.study_column: 'cohort' is not a column of the samples table",
                 expression=str(tmp_path / "m.tsv"), study_column="cohort")


def test_ragged_lines(tmp_path, data):
    X, samples, genes = data
    path = write_matrix(tmp_path / "m.tsv", X, samples["sample"], genes, "genes_by_samples")
    original = path.read_text()
    edit_lines(path, lambda lines: lines.__setitem__(9, lines[9].rsplit("\t", 1)[0]))
    expect_error(tmp_path, "m.tsv: line 10 has 20 fields, the header 21; .*ragged", expression=str(path))
    path.write_text(original)
    edit_lines(path, lambda lines: lines.__setitem__(9, lines[9] + "\t1.0"))
    expect_error(tmp_path, "m.tsv: Error tokenizing data. C error: Expected 21 fields in line 10, saw 22 .*ragged",
                 expression=str(path))
    path.write_text(original)
    edit_lines(path, lambda lines: lines.__setitem__(1, lines[1] + "\t1.0"))
    expect_error(tmp_path, "m.tsv: line 2 has more fields than the header's 21.*ragged", expression=str(path))


def test_parquet_without_pyarrow_names_the_extra(tmp_path, data, monkeypatch):
    import builtins

    X, samples, genes = data
    write_matrix(tmp_path / "m.parquet", X, samples["sample"], genes, "genes_by_samples")
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    expect_error(tmp_path, r"m.parquet: reading .parquet needs pyarrow \(.*\); "
                 r"install it with pip install 'exprbench\[parquet\]'",
                 expression=str(tmp_path / "m.parquet"))


def test_prepare_command_prints_one_line(tmp_path, data, capsys):
    X, samples, genes = data
    ids = samples["sample"].tolist()
    ids[0] = "nobody"
    write_matrix(tmp_path / "m.tsv", X, ids, genes, "genes_by_samples")
    spec = {"source": "local", "params": {"expression": str(tmp_path / "m.tsv"), "orientation": "genes_by_samples",
                                          "samples": str(tmp_path / "samples.tsv")}}
    assert main(["prepare", "--spec", json.dumps(spec), "--out", str(tmp_path / "out.h5")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1 matrix sample ids are not in" in err[0] and "'nobody'" in err[0]
    assert not (tmp_path / "out.h5").exists()


def test_gzip_input_is_read_in_blocks(tmp_path, data):
    """A gzipped table is not decompressed whole first: its rows arrive block by block."""
    X, samples, genes = data
    path = write_matrix(tmp_path / "m.tsv.gz", X, samples["sample"], genes, "genes_by_samples")
    with gzip.open(path, "rt") as handle:
        assert handle.readline().startswith("gene\tS00")
    from exprbench.sources._local_inputs import TableMatrix

    matrix = TableMatrix(path, "genes_by_samples", None)
    sizes = [block.shape[0] for _, block, _, _ in matrix.blocks(8)]
    assert sizes == [8, 8, 8, 6]


def test_parquet_extra_is_in_dev_and_the_job_env():
    import tomllib

    import yaml

    root = Path(__file__).resolve().parents[1]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["parquet"] == ["pyarrow==26.0.1"] and set(extras["parquet"]) <= set(extras["dev"])
    env = yaml.safe_load((root / "envs" / "exprbench.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "pyarrow==26.0.1" in pip


def test_inference_landmarks_from_a_gene_list_file(tmp_path, data):
    from exprbench.inference.data import choose_genes

    X, samples, genes = data
    write_matrix(tmp_path / "m.tsv", X, samples["sample"], genes, "genes_by_samples")
    out = prepare(tmp_path, expression=str(tmp_path / "m.tsv"), orientation="genes_by_samples",
                  samples=str(tmp_path / "samples.tsv"))
    listed = tmp_path / "landmarks.txt"
    listed.write_text(f"# my landmarks\n{genes[5]}.2\n{genes[1]}\n\n{genes[9]}  # a comment\n")
    choice = choose_genes(out, {"file": str(listed)}, {"count": None}, "t")
    assert choice.landmark_ids == [genes[5], genes[1], genes[9]]
    assert len(choice.target_ids) == N_GENES - 3 and genes[5] not in choice.target_ids
    listed.write_text(f"{genes[1]}\nNOPE1\nNOPE2\n")
    with pytest.raises(ValueError, match=r"landmarks.txt: 2 of 3 landmark genes are not genes of .*NOPE1, NOPE2"):
        choose_genes(out, {"file": str(listed)}, {"count": None}, "t")
    listed.write_text(f"{genes[1]}\n{genes[1]}\n")
    with pytest.raises(ValueError, match="listed more than once"):
        choose_genes(out, {"file": str(listed)}, {"count": None}, "t")

    from exprbench.inference.settings import resolve as resolve_inference

    config = {"datasets": {"mine": {"source": "local", "params": {}}}}
    section = {"model_dir": str(Path(__file__).parents[1] / "config" / "inference_models"),
               "tasks": {"t": {"dataset": "mine", "landmarks": {"file": str(listed)}, "split": {"fractions": [3, 1, 1]},
                               "models": ["lsr"]}}}
    assert resolve_inference(section, config, "c.yaml")["tasks"]["t"]["landmarks"] == {"file": str(listed)}
    section["tasks"]["t"]["landmarks"] = {"file": "nowhere.txt"}
    with pytest.raises(ConfigError, match="landmarks.file: nowhere.txt: file not found"):
        resolve_inference(section, config, "c.yaml")
    section["tasks"]["t"]["landmarks"] = {"file": str(listed), "count": 3}
    with pytest.raises(ConfigError, match="give one of"):
        resolve_inference(section, config, "c.yaml")


def test_a_missing_samples_file_is_a_config_error(tmp_path):
    params = {"expression": "m.tsv", "orientation": "genes_by_samples", "samples": "nowhere/samples.tsv"}
    with pytest.raises(ConfigError, match=r"^nowhere/samples.tsv: params.samples: file not found \(relative paths "
                                          r"resolve against the run's working directory"):
        LocalSource.labels_for(params)


def test_repeated_gene_ids_in_h5ad_var(tmp_path):
    data = make_data(n_samples=8, n_genes=5)
    data.genes.loc[3, "gene_id"] = "g1"
    write_dataset(tmp_path / "first.h5", data)
    export_h5ad(tmp_path / "first.h5", tmp_path / "first.h5ad")
    expect_error(tmp_path, r"first.h5ad: gene id 'g1' at var row 3 repeats var row 1", samples=None,
                 expression=str(tmp_path / "first.h5ad"))


def test_wide_rows_are_parsed_in_fewer_rows_per_block():
    source = LocalSource()
    assert source._block_rows(range(100)) == 1024
    assert source._block_rows(range(20_000)) == (1 << 22) // 20_000  # about 32 MB of float64 a block
    assert source._block_rows(range(10_000_000)) == 1
