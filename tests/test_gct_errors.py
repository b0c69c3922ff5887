"""Damaged GCT files give one line naming the file, the line and the problem."""

import gzip

import pytest

from exprbench import cli
from exprbench.sources.gtex import GctFormatError, iter_gene_blocks, open_gct, read_gct_header

HEADER = b"#1.2\n2\t2\nName\tDescription\tGTEX-1-a\tGTEX-2-b\n"
ROWS = b"ENSG1.1\tA\t1.0\t2.0\nENSG2.1\tB\t3.0\t4.0\n"


def _parse(path):
    with open_gct(path) as handle:
        header = read_gct_header(handle, path)
        return list(iter_gene_blocks(handle, path, header, rows_per_block=10))


def test_a_non_utf8_byte_in_the_header_names_the_file_line_and_byte(tmp_path):
    path = tmp_path / "tpm.gct"
    path.write_bytes(HEADER.replace(b"GTEX-2-b", b"GTEX-2-\xffb") + ROWS)
    with pytest.raises(GctFormatError) as error:
        _parse(path)
    assert str(path) in str(error.value) and "file line 3 is not UTF-8" in str(error.value)
    assert "0xff" in str(error.value)


def test_a_non_utf8_byte_in_a_gene_row_names_its_line(tmp_path):
    path = tmp_path / "tpm.gct"
    path.write_bytes(HEADER + ROWS.replace(b"\tB\t", b"\tB\xfe\t"))
    with pytest.raises(GctFormatError, match=r"file line 5 is not UTF-8 text \(byte 0xfe\)"):
        _parse(path)


def test_a_gzip_cut_inside_the_header_is_reported_as_truncated(tmp_path):
    path = tmp_path / "tpm.gct.gz"
    path.write_bytes(gzip.compress(HEADER + ROWS)[:30])
    with pytest.raises(GctFormatError) as error:
        _parse(path)
    assert str(path) in str(error.value) and "truncated or corrupt" in str(error.value)


def test_a_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "tpm.gct"
    path.write_bytes(b"\xef\xbb\xbf" + HEADER + ROWS)
    assert [block.gene_ids for block in _parse(path)] == [["ENSG1.1", "ENSG2.1"]]


@pytest.mark.parametrize("error", [EOFError("Compressed file ended before the end-of-stream marker was reached"),
                                   __import__("zlib").error("invalid stored block lengths")])
def test_the_command_line_turns_damaged_gzip_errors_into_one_line(monkeypatch, capsys, error):
    def fail(args):
        raise error

    monkeypatch.setattr(cli, "_prepare", fail)
    status = cli.main(["prepare", "--spec", "{}", "--out", "x.h5"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and lines == [f"exprbench prepare: error: {error}"]
