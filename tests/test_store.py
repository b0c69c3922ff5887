import h5py
import numpy as np
import pytest
from conftest import make_data

from exprbench.store import ExpressionData, StoreError, open_dataset, write_dataset


def test_round_trip_keeps_matrix_tables_and_provenance(tmp_path, small_data):
    small_data.samples.loc[3, "label"] = None
    path = tmp_path / "d.h5"
    write_dataset(path, small_data)
    with open_dataset(path) as reader:
        assert reader.shape == small_data.expression.shape
        np.testing.assert_array_equal(reader.read_expression(), small_data.expression)
        assert list(reader.samples.columns) == ["sample_id", "study", "donor", "label"]
        assert reader.samples["label"].isna().sum() == 1
        assert reader.genes["symbol"].tolist() == small_data.genes["symbol"].tolist()
        provenance = reader.provenance
    assert provenance["source"] == "test" and provenance["preprocessing"] == ["none"]
    assert provenance["exprbench_version"]


def test_matrix_is_float32_chunked_and_compressed(tmp_path, small_data):
    write_dataset(tmp_path / "d.h5", small_data)
    with h5py.File(tmp_path / "d.h5") as h5:
        dataset = h5["expression"]
        assert dataset.dtype == np.float32
        assert dataset.chunks is not None and dataset.compression == "gzip"


def test_subset_read_returns_requested_rows_in_order(tmp_path, small_data):
    write_dataset(tmp_path / "d.h5", small_data)
    rows = [7, 2, 2, 30]
    with open_dataset(tmp_path / "d.h5") as reader:
        np.testing.assert_array_equal(reader.read_expression(rows), small_data.expression[rows])
        with pytest.raises(IndexError):
            reader.read_expression([99])


def test_gene_subset_read_in_row_blocks_equals_full_read(tmp_path, small_data):
    path = tmp_path / "d.h5"
    write_dataset(path, small_data)
    rows, columns = np.array([3, 0, 17, 5, 39]), np.array([1, 4, 11])
    with open_dataset(path) as reader:
        expected = reader.read_expression(rows)[:, columns]
        np.testing.assert_array_equal(reader.read_expression(rows, columns=columns, block_rows=2), expected)
        assert reader.read_expression(columns=columns, block_rows=7).shape == (small_data.expression.shape[0], 3)
        with pytest.raises(IndexError, match="gene column"):
            reader.read_expression(rows, columns=[99])


def test_subset_read_touches_only_needed_chunks(tmp_path):
    data = make_data(n_samples=4000, n_genes=300)
    write_dataset(tmp_path / "big.h5", data)
    with open_dataset(tmp_path / "big.h5") as reader:
        dataset = reader._h5["expression"]
        rows_per_chunk = dataset.chunks[0]
        assert rows_per_chunk < 4000, "chunks must split the samples so a subset does not read everything"
        touched = {r // rows_per_chunk for r in [0, 1, 2]}
        assert len(touched) == 1


def test_missing_and_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(StoreError, match="not found"):
        open_dataset(tmp_path / "nope.h5")
    (tmp_path / "junk.h5").write_text("<html>not hdf5</html>")
    with pytest.raises(StoreError, match="not a readable HDF5"):
        open_dataset(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5["x"] = [1]
    with pytest.raises(StoreError, match="not an exprbench dataset"):
        open_dataset(tmp_path / "other.h5")


def test_invalid_tables_are_rejected(small_data):
    with pytest.raises(StoreError, match="required columns"):
        ExpressionData(small_data.expression, small_data.samples.drop(columns="study"), small_data.genes)
    with pytest.raises(StoreError, match="sample rows"):
        ExpressionData(small_data.expression[:5], small_data.samples, small_data.genes)


def test_write_is_atomic_when_interrupted(tmp_path, small_data, monkeypatch):
    path = tmp_path / "d.h5"
    write_dataset(path, small_data)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("exprbench.store._as_strings", boom)
    with pytest.raises(KeyboardInterrupt):
        write_dataset(path, small_data)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["d.h5"], "no temp file may be left behind"


def test_streamed_blocks_read_back_as_one_matrix(tmp_path, small_data):
    from exprbench.store import stream_dataset

    with stream_dataset(tmp_path / "s.h5", small_data.genes) as stream:
        for start in range(0, 40, 15):
            stream.append(small_data.expression[start:start + 15])
        stream.finish(small_data.samples, {"source": "test"})
    with open_dataset(tmp_path / "s.h5") as reader:
        np.testing.assert_array_equal(reader.read_expression(), small_data.expression)


def test_stream_without_finish_leaves_no_file(tmp_path, small_data):
    from exprbench.store import stream_dataset

    with pytest.raises(StoreError, match="without finish"):
        with stream_dataset(tmp_path / "s.h5", small_data.genes) as stream:
            stream.append(small_data.expression[:5])
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StoreError, match="gene columns"):
        with stream_dataset(tmp_path / "s.h5", small_data.genes) as stream:
            stream.append(np.zeros((2, 3)))


def test_auxiliary_arrays_round_trip(tmp_path, small_data):
    small_data.arrays = {"reference_quantiles": np.linspace(0, 1, 12)}
    write_dataset(tmp_path / "d.h5", small_data)
    with open_dataset(tmp_path / "d.h5") as reader:
        np.testing.assert_allclose(reader.array("reference_quantiles"), np.linspace(0, 1, 12))
        with pytest.raises(StoreError, match="no stored array 'other'"):
            reader.array("other")


def test_atomic_writes_get_the_users_usual_permissions(tmp_path):
    import os

    from exprbench.atomic import write_text

    previous = os.umask(0o022)
    try:
        write_text(tmp_path / "result.tsv", "x\n")
    finally:
        os.umask(previous)
    assert (tmp_path / "result.tsv").stat().st_mode & 0o777 == 0o644
