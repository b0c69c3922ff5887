"""Faults that published wrong bytes, or held a job, when no checksum was pinned.

Each test runs the local fault server (tests/http_server.py) and asserts that the
final name never holds wrong bytes and that the manifest records nothing wrong.
"""

import gzip
import time

import pytest
from http_server import Route
from test_download import LOCAL, leftovers, md5_of, payload

from exprbench.download import DownloadError, download, read_manifest

pytestmark = pytest.mark.usefixtures("isolated")  # conftest.py: private cache, waits recorded


def test_etag_change_on_resume_restarts_instead_of_splicing(server, tmp_path):
    old, new = payload(6000, seed=1), payload(6000, seed=2)
    # Drops after 3000 bytes of the old version, then the file changes upstream; the
    # server answers the resume with 206 of the new version despite the stale If-Range.
    url = server.add("/a.bin", Route(old, drop_after=3000, changes_to=new, honour_if_range=False))
    dest = tmp_path / "a.bin"

    download(url, dest, **LOCAL)

    assert dest.read_bytes() == new  # not old[:3000] + new[3000:]
    resume, restart = server.requests[1], server.requests[2]
    assert resume.headers["Range"] == "bytes=3000-"
    assert "Range" not in restart.headers
    assert read_manifest(tmp_path)["a.bin"]["etag"] == server.routes["/a.bin"].etag
    assert leftovers(dest) == ["a.bin"]


def test_last_modified_change_on_resume_restarts(server, tmp_path):
    old, new = payload(6000, seed=1), payload(6000, seed=2)
    route = Route(old, drop_after=3000, changes_to=new, honour_if_range=False)
    url = server.add("/a.bin", route)
    dest = tmp_path / "a.bin"
    with pytest.raises(DownloadError):
        download(url, dest, **dict(LOCAL, retries=0))
    # Only Last-Modified was recorded (no ETag), and it differs from the resumed answer's.
    state = (tmp_path / "a.bin.part.json")
    state.write_text(f'{{"url": "{url}", "etag": null, '
                     '"last_modified": "Sun, 31 Dec 2023 00:00:00 GMT", "total": 6000}')

    download(url, dest, **LOCAL)

    assert dest.read_bytes() == new


def test_html_page_with_leading_comment_is_rejected(server, tmp_path):
    page = b"<!-- maintenance -->\n\n<html><body>Back soon</body></html>"
    url = server.add("/data.bin", Route(page, content_type="text/html; charset=utf-8"))
    dest = tmp_path / "data.bin"

    with pytest.raises(DownloadError, match="HTML page instead of the file") as error:
        download(url, dest, **LOCAL)
    assert url in str(error.value) and "text/html" in str(error.value)
    assert leftovers(dest) == [] and read_manifest(tmp_path) == {}


def test_html_content_type_alone_is_rejected(server, tmp_path):
    url = server.add("/a.tsv", Route(b"Service unavailable, try later\n", content_type="text/html"))

    with pytest.raises(DownloadError, match="HTML page instead of the file"):
        download(url, tmp_path / "a.tsv", **LOCAL)
    assert leftovers(tmp_path / "a.tsv") == []


def test_html_sniffed_past_comments_without_content_type(server, tmp_path):
    page = b"\xef\xbb\xbf  <!-- a -->\n<!--b-->\n<!DOCTYPE html><html></html>"
    url = server.add("/a.tsv", Route(page, content_type="application/octet-stream"))

    with pytest.raises(DownloadError, match="HTML page"):
        download(url, tmp_path / "a.tsv", **LOCAL)


def test_html_content_type_with_a_matching_pinned_checksum_is_kept(server, tmp_path):
    table = b"sample\tcancer type abbreviation\nTCGA-01\tBRCA\n"
    url = server.add("/clinical", Route(table, content_type="text/html"))

    dest = download(url, tmp_path / "clinical.tsv", md5=md5_of(table).upper(), **LOCAL)
    assert dest.read_bytes() == table


def test_gzip_labelled_binary_with_html_type_is_kept(server, tmp_path):
    data = gzip.compress(payload(3000))  # a mislabelled content type is not an error page
    url = server.add("/a.gz", Route(data, content_type="text/html"))

    assert download(url, tmp_path / "a.gz", **LOCAL).read_bytes() == data


def test_content_encoding_gzip_is_never_saved_under_a_plain_name(server, tmp_path):
    table = b"gene\tvalue\n" + b"".join(b"g%d\t%d\n" % (i, i) for i in range(2000))
    url = server.add("/table.tsv", Route(gzip.compress(table, mtime=0), content_encoding="gzip"))
    dest = tmp_path / "table.tsv"

    with pytest.raises(DownloadError, match="Content-Encoding: gzip") as error:
        download(url, dest, **LOCAL)
    assert url in str(error.value) and str(dest) in str(error.value)
    assert leftovers(dest) == [] and read_manifest(tmp_path) == {}


def test_content_encoding_gzip_on_a_gz_name_keeps_the_gzip_file(server, tmp_path):
    data = gzip.compress(payload(3000), mtime=0)
    url = server.add("/table.tsv.gz", Route(data, content_encoding="gzip"))

    assert download(url, tmp_path / "table.tsv.gz", **LOCAL).read_bytes() == data


def test_body_without_content_length_cut_short_is_completed(server, tmp_path):
    body = payload(8000)
    url = server.add("/a.tsv", Route(body, send_length=False, drop_after=5000))
    dest = tmp_path / "a.tsv"

    download(url, dest, **LOCAL)

    assert dest.read_bytes() == body
    assert server.requests[1].headers["Range"] == "bytes=5000-"
    assert read_manifest(tmp_path)["a.tsv"]["size"] == len(body)


def test_body_without_content_length_cut_short_then_changed_restarts(server, tmp_path):
    old, new = payload(8000, seed=1), payload(8000, seed=2)
    # The confirming Range request carries If-Range with the old ETag: the server answers
    # 200 with the new version, which must restart the file, not vouch for the old bytes.
    url = server.add("/a.tsv", Route(old, send_length=False, drop_after=5000, changes_to=new))

    assert download(url, tmp_path / "a.tsv", **LOCAL).read_bytes() == new


def test_body_without_content_length_complete_is_confirmed(server, tmp_path):
    body = payload(8000)
    url = server.add("/a.tsv", Route(body, send_length=False))

    download(url, tmp_path / "a.tsv", **LOCAL)

    assert (tmp_path / "a.tsv").read_bytes() == body
    assert [seen.headers.get("Range") for seen in server.requests] == [None, "bytes=8000-"]


def test_trickle_is_stopped_by_the_minimum_rate(server, tmp_path):
    # 20 bytes every 0.05 s is 400 B/s: every read returns well within the timeout.
    url = server.add("/a.bin", Route(payload(200_000), trickle=(20, 0.05), trickle_max_s=10))
    dest = tmp_path / "a.bin"
    started = time.monotonic()

    with pytest.raises(DownloadError, match="below the minimum") as error:
        download(url, dest, **dict(LOCAL, retries=1, timeout=2, min_rate=2000, rate_window=0.3))

    assert time.monotonic() - started < 3
    assert "min_rate" in str(error.value) and url in str(error.value)
    assert len(server.requests) == 2  # slow attempts count as failures, progress or not
    assert not dest.exists()


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_are_retried(server, tmp_path, waits, status):
    body = payload(2000)
    url = server.add("/a.bin", Route(body, fail_first=2, fail_status=status))

    download(url, tmp_path / "a.bin", **LOCAL)

    assert (tmp_path / "a.bin").read_bytes() == body
    assert len(server.requests) == 3 and len(waits) == 2


def test_sha256_mismatch_leaves_no_file(server, tmp_path):
    url = server.add("/a.bin", Route(payload(3000)))

    with pytest.raises(DownloadError, match="SHA-256 mismatch: expected 0{64}"):
        download(url, tmp_path / "a.bin", sha256="0" * 64, **LOCAL)
    assert leftovers(tmp_path / "a.bin") == [] and read_manifest(tmp_path) == {}
