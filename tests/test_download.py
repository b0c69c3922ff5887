import gzip
import hashlib
import json
import random
import zlib

import pytest
import requests
from http_server import Route

from exprbench import download as dl
from exprbench.download import DownloadError, DownloadItem, download, download_many, read_manifest

FAST = dict(progress=False, backoff=0.01, retries=3, timeout=5)
LOCAL = dict(FAST, allow_http=True)
# Private cache and recorded waits for every test (the fixtures are in conftest.py).
pytestmark = pytest.mark.usefixtures("isolated")


def payload(size: int, seed: int = 0) -> bytes:
    data = random.Random(seed).randbytes(size)
    return b"x" + data[1:]  # never starts like gzip or HTML by chance


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def leftovers(dest):
    return [p.name for p in dest.parent.iterdir() if p.name.startswith(dest.name)]


# ----------------------------------------------------------------------------- basics


def test_download_writes_file_and_manifest(server, tmp_path):
    body = payload(4000)
    url = server.add("/data/a.tsv", Route(body))
    dest = tmp_path / "raw" / "a.tsv"

    assert download(url, dest, md5=md5_of(body), expected_size=len(body), **LOCAL) == dest

    assert dest.read_bytes() == body
    assert leftovers(dest) == ["a.tsv"]
    entry = read_manifest(dest.parent)["a.tsv"]
    assert entry["url"] == url
    assert entry["size"] == len(body)
    assert entry["sha256"] == hashlib.sha256(body).hexdigest()
    assert entry["md5"] == md5_of(body)
    assert entry["etag"] == server.routes["/data/a.tsv"].etag
    assert entry["last_modified"] == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert entry["downloaded_at"].endswith("+00:00")
    assert server.requests[0].headers["Accept-Encoding"] == "identity"


def test_https_with_trusted_ca_bundle(https_server, tls, tmp_path, monkeypatch):
    ca_cert, _, _ = tls
    body = payload(3000)
    url = https_server.add("/a.bin", Route(body))

    assert download(url, tmp_path / "a.bin", ca_bundle=ca_cert, **FAST).read_bytes() == body

    # The standard REQUESTS_CA_BUNDLE variable works too (e.g. behind a re-signing proxy).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_cert))
    assert download(url, tmp_path / "b.bin", **FAST).read_bytes() == body


def test_untrusted_certificate_is_rejected_and_not_retried(https_server, tmp_path, waits):
    url = https_server.add("/a.bin", Route(payload(1000)))
    careless = requests.Session()
    careless.verify = False  # a caller's session cannot switch verification off

    for session in (None, careless):
        with pytest.raises(DownloadError, match="not trusted") as error:
            download(url, tmp_path / "a.bin", session=session, **FAST)
        assert url in str(error.value) and "a.bin" in str(error.value)
    assert waits == []
    assert not (tmp_path / "a.bin").exists()
    assert https_server.requests == []


def test_plain_http_is_refused_by_default(server, tmp_path):
    url = server.add("/a.bin", Route(payload(100)))

    with pytest.raises(DownloadError, match="refusing plain-HTTP URL .*https://"):
        download(url, tmp_path / "a.bin", **FAST)
    assert server.requests == []


def test_redirect_to_plain_http_is_refused(https_server, server, tls, tmp_path):
    plain = server.add("/a.bin", Route(payload(100)))
    url = https_server.add("/moved", Route(redirect_to=plain))

    with pytest.raises(DownloadError, match="redirected from"):
        download(url, tmp_path / "a.bin", ca_bundle=tls[0], **FAST)
    assert server.requests == []


# ----------------------------------------------------------------------------- resume


def test_dropped_connection_resumes_with_range(server, tmp_path, waits):
    body = payload(6000)
    url = server.add("/a.bin", Route(body, drop_after=2500))

    dest = download(url, tmp_path / "a.bin", md5=md5_of(body), **LOCAL)

    assert dest.read_bytes() == body
    first, second = server.requests
    assert "Range" not in first.headers
    assert second.headers["Range"] == "bytes=2500-"
    assert second.headers["If-Range"] == server.routes["/a.bin"].etag
    assert leftovers(dest) == ["a.bin"]


def test_rerun_continues_the_part_file(server, tmp_path):
    body = payload(6000)
    url = server.add("/a.bin", Route(body, drop_after=4000))
    dest = tmp_path / "a.bin"

    with pytest.raises(DownloadError, match="gave up after 1 failed attempts"):
        download(url, dest, **dict(LOCAL, retries=0))
    assert not dest.exists()
    assert (tmp_path / "a.bin.part").read_bytes() == body[:4000]

    download(url, dest, **LOCAL)
    assert dest.read_bytes() == body
    assert server.requests[-1].headers["Range"] == "bytes=4000-"


def test_file_changed_upstream_is_not_spliced(server, tmp_path):
    old, new = payload(6000, seed=1), payload(6000, seed=2)
    url = server.add("/a.bin", Route(old, drop_after=3000))
    dest = tmp_path / "a.bin"
    with pytest.raises(DownloadError):
        download(url, dest, **dict(LOCAL, retries=0))

    server.routes["/a.bin"] = Route(new)  # new ETag: the server ignores the stale If-Range
    download(url, dest, **LOCAL)

    assert dest.read_bytes() == new
    assert server.requests[-1].headers["Range"] == "bytes=3000-"


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    body = payload(6000)
    url = server.add("/a.bin", Route(body, honour_range=False, drop_after=2000))

    dest = download(url, tmp_path / "a.bin", **LOCAL)

    assert dest.read_bytes() == body  # not the first 2000 bytes twice
    assert server.requests[1].headers["Range"] == "bytes=2000-"


def test_complete_part_file_finishes_on_416(server, tmp_path):
    body = payload(3000)
    url = server.add("/a.bin", Route(body, drop_after=3000))  # all bytes sent, then the socket dies
    dest = tmp_path / "a.bin"
    (tmp_path / "a.bin.part").write_bytes(body)
    (tmp_path / "a.bin.part.json").write_text(json.dumps({"url": url, "etag": None, "total": 3000}))

    download(url, dest, **LOCAL)

    assert dest.read_bytes() == body
    assert len(server.requests) == 1 and server.requests[0].headers["Range"] == "bytes=3000-"


def test_part_file_without_origin_record_is_not_trusted(server, tmp_path):
    body = payload(3000)
    url = server.add("/a.bin", Route(body))
    (tmp_path / "a.bin.part").write_bytes(b"junk from somewhere else")

    download(url, tmp_path / "a.bin", **LOCAL)

    assert (tmp_path / "a.bin").read_bytes() == body
    assert "Range" not in server.requests[0].headers


# ----------------------------------------------------------------------------- retries


def test_503_is_retried_with_exponential_backoff(server, tmp_path, waits):
    body = payload(2000)
    url = server.add("/a.bin", Route(body, fail_first=3))

    download(url, tmp_path / "a.bin", **dict(LOCAL, backoff=0.5, retries=3))

    assert (tmp_path / "a.bin").read_bytes() == body
    assert waits == [0.5, 1.0, 2.0]
    assert len(server.requests) == 4


def test_retry_after_is_honoured_and_bounded(server, tmp_path, waits):
    server.add("/soon", Route(payload(100), fail_first=1, retry_after="3"))
    server.add("/late", Route(payload(100), fail_first=1, retry_after="86400"))

    download(server.url("/soon"), tmp_path / "soon", **dict(LOCAL, max_wait=10))
    download(server.url("/late"), tmp_path / "late", **dict(LOCAL, max_wait=10))

    assert waits == [3.0, 10.0]


def test_gives_up_after_the_retries(server, tmp_path, waits):
    url = server.add("/a.bin", Route(payload(100), fail_first=99))

    with pytest.raises(DownloadError, match="gave up after 4 failed attempts: HTTP 503") as error:
        download(url, tmp_path / "a.bin", **LOCAL)
    assert url in str(error.value)
    assert len(waits) == 3


def test_404_is_not_retried(server, tmp_path, waits):
    url = server.url("/missing.tsv")

    with pytest.raises(DownloadError, match="HTTP 404") as error:
        download(url, tmp_path / "missing.tsv", **LOCAL)
    assert url in str(error.value) and "check that the URL" in str(error.value)
    assert len(server.requests) == 1 and waits == []


def test_read_timeout_is_retried_and_resumed(server, tmp_path):
    body = payload(5000)
    url = server.add("/a.bin", Route(body, stall_after=1500, stall_seconds=1.5))

    download(url, tmp_path / "a.bin", **dict(LOCAL, timeout=0.4))

    assert (tmp_path / "a.bin").read_bytes() == body
    assert server.requests[1].headers["Range"] == "bytes=1500-"


# ----------------------------------------------------------------------------- content checks


def test_html_error_page_with_status_200_is_rejected(server, tmp_path):
    page = b"<!DOCTYPE html>\n<html><body>Sign in to continue</body></html>"
    url = server.add("/a.tsv", Route(page, content_type="text/html"))
    dest = tmp_path / "a.tsv"

    with pytest.raises(DownloadError, match="HTML page instead of the file"):
        download(url, dest, **LOCAL)
    assert leftovers(dest) == []


def test_truncated_gzip_is_rejected(server, tmp_path):
    whole = gzip.compress(payload(20000))
    url = server.add("/a.tsv.gz", Route(whole[: len(whole) // 2]))
    dest = tmp_path / "a.tsv.gz"

    with pytest.raises(DownloadError, match="truncated gzip") as error:
        download(url, dest, **LOCAL)
    assert url in str(error.value) and str(dest) in str(error.value)
    assert leftovers(dest) == []


def test_gzip_with_wrong_crc_is_rejected(server, tmp_path):
    data = bytearray(gzip.compress(payload(20000)))
    data[-8] ^= 0xFF  # first byte of the CRC-32 trailer
    url = server.add("/blob", Route(bytes(data)))  # no .gz name: found by its magic bytes

    with pytest.raises(DownloadError, match="corrupt gzip data"):
        download(url, tmp_path / "blob", **LOCAL)
    assert leftovers(tmp_path / "blob") == []


def test_multi_member_gzip_is_accepted(server, tmp_path):
    data = gzip.compress(b"first member\n") + gzip.compress(payload(3000)) + b"\0" * 16
    url = server.add("/a.gz", Route(data))

    assert download(url, tmp_path / "a.gz", **LOCAL).read_bytes() == data


def test_md5_mismatch_leaves_no_file(server, tmp_path):
    body = payload(3000)
    url = server.add("/a.bin", Route(body))
    dest = tmp_path / "a.bin"
    wrong = md5_of(b"other content")

    with pytest.raises(DownloadError, match="MD5 mismatch") as error:
        download(url, dest, md5=wrong, **LOCAL)
    message = str(error.value)
    assert url in message and str(dest) in message and wrong in message and md5_of(body) in message
    assert leftovers(dest) == []
    assert "a.bin" not in read_manifest(tmp_path)


def test_announced_size_mismatch_stops_before_the_body(server, tmp_path):
    url = server.add("/a.bin", Route(payload(3000)))

    with pytest.raises(DownloadError, match="expected 2999 bytes, the server announces 3000"):
        download(url, tmp_path / "a.bin", expected_size=2999, **LOCAL)
    assert leftovers(tmp_path / "a.bin") == []


# ----------------------------------------------------------------------------- reruns, mirrors, cache


def test_second_call_is_a_manifest_hit(server, tmp_path):
    body = payload(3000)
    url = server.add("/a.bin", Route(body))
    dest = tmp_path / "a.bin"
    download(url, dest, md5=md5_of(body), use_cache=False, **LOCAL)

    download(url, dest, md5=md5_of(body), use_cache=False, **LOCAL)
    assert len(server.requests) == 1

    dest.write_bytes(body[:10])  # damaged after download: the size no longer matches
    download(url, dest, md5=md5_of(body), use_cache=False, **LOCAL)
    assert len(server.requests) == 2 and dest.read_bytes() == body


def test_mirror_fallback_when_the_first_url_is_gone(server, tmp_path):
    body = payload(3000)
    legacy = server.add("/legacy/a.bin", Route(body))

    dest = download([server.url("/current/a.bin"), legacy], tmp_path / "a.bin", md5=md5_of(body), **LOCAL)

    assert dest.read_bytes() == body
    assert read_manifest(tmp_path)["a.bin"]["url"] == legacy
    assert [seen.path for seen in server.requests] == ["/current/a.bin", "/legacy/a.bin"]


def test_all_mirrors_failing_lists_each(server, tmp_path):
    urls = [server.url("/one"), server.url("/two")]

    with pytest.raises(DownloadError, match="all 2 mirrors failed") as error:
        download(urls, tmp_path / "a.bin", **LOCAL)
    assert all(url in str(error.value) for url in urls)


def test_cache_supplies_a_second_copy(server, tmp_path):
    body = payload(3000)
    url = server.add("/a.bin", Route(body))
    first = download(url, tmp_path / "one" / "a.bin", md5=md5_of(body), **LOCAL)

    second = download(url, tmp_path / "two" / "a.bin", md5=md5_of(body), **LOCAL)

    assert second.read_bytes() == body
    assert len(server.requests) == 1
    assert second.stat().st_ino == first.stat().st_ino  # hard link, no second copy on disk
    assert read_manifest(second.parent)["a.bin"]["sha256"] == hashlib.sha256(body).hexdigest()


def test_damaged_cache_copy_is_replaced_by_a_download(server, tmp_path):
    body = payload(3000)
    url = server.add("/a.bin", Route(body))
    download(url, tmp_path / "one" / "a.bin", **LOCAL)
    blob = tmp_path / "cache" / "blobs" / hashlib.sha256(body).hexdigest()
    (tmp_path / "one" / "a.bin").unlink()
    blob.write_bytes(b"y" * len(body))  # same size, wrong bytes

    assert download(url, tmp_path / "two" / "a.bin", **LOCAL).read_bytes() == body
    assert len(server.requests) == 2
    assert blob.read_bytes() == body


# ----------------------------------------------------------------------------- many files, progress


def test_download_many_keeps_to_the_concurrency_limit(server, tmp_path):
    bodies = {f"/f{i}.bin": payload(2000, seed=i) for i in range(6)}
    items = [DownloadItem(server.add(path, Route(body, delay=0.15)), tmp_path / path.lstrip("/"),
                          md5=md5_of(body)) for path, body in bodies.items()]

    paths = download_many(items, max_workers=2, **LOCAL)

    assert [p.read_bytes() for p in paths] == list(bodies.values())
    assert server.max_active == 2
    assert set(read_manifest(tmp_path)) == {f"f{i}.bin" for i in range(6)}


def test_download_many_reports_every_failure(server, tmp_path):
    good = server.add("/good.bin", Route(payload(100)))
    items = [
        {"urls": server.url("/gone1"), "dest": tmp_path / "gone1"},
        {"urls": good, "dest": tmp_path / "good.bin"},
        {"urls": server.url("/gone2"), "dest": tmp_path / "gone2"},
    ]

    with pytest.raises(DownloadError, match="2 of 3 downloads failed") as error:
        download_many(items, max_workers=3, **LOCAL)
    assert "/gone1" in str(error.value) and "/gone2" in str(error.value)
    assert (tmp_path / "good.bin").exists()


def test_progress_lines_on_stderr(server, tmp_path, capsys):
    url = server.add("/a.bin", Route(payload(3000)))

    download(url, tmp_path / "a.bin", **dict(LOCAL, progress=True))

    err = capsys.readouterr().err
    assert "a.bin: 2.9 KiB / 2.9 KiB (100%)" in err and "/s in " in err
    assert "\r" not in err  # not a terminal: plain lines


def test_gzip_check_handles_input_split_anywhere():
    data = gzip.compress(payload(5000)) + gzip.compress(b"tail")
    for cut in (1, 2, 10, len(data) - 3):
        check = dl._GzipCheck()
        check.feed(data[:cut])
        check.feed(data[cut:])
        assert check.finish() is None, cut
    check = dl._GzipCheck()
    check.feed(zlib.compress(b"zlib, not gzip"))
    assert "not gzip" in check.finish()

