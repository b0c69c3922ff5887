"""Lock files: the size and SHA-256 each URL served, written by `exprbench download --lock`
and checked by every later download."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from http_server import Route
from test_download import LOCAL, payload

from exprbench.cli import main
from exprbench.download import DownloadError, DownloadLock, download, lock_path_for, read_manifest, write_lock

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("isolated")  # conftest.py: private cache, waits recorded


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def definition(folder: Path, url: str) -> Path:
    path = folder / "config" / "datasets" / "demo.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"source": "simulated", "params": {},
                                    "files": {"table": {"urls": [url], "filename": "table.tsv"}}}))
    return path


def cli_download(spec, dest: Path, *extra) -> int:
    return main(["download", "--spec", str(spec), "--dest-dir", str(dest), "--out", str(dest / "downloaded.json"),
                 "--max-workers", "1", *extra])


def test_lock_flag_pins_files_and_later_runs_verify(https, tmp_path, capsys):
    old, new = payload(5000, seed=1), payload(5000, seed=2)
    url = https.add("/table.tsv", Route(old))
    spec = definition(tmp_path, url)

    assert cli_download(spec, tmp_path / "one", "--lock") == 0

    lock = lock_path_for(spec)
    assert lock == spec.with_name("demo.lock.json")
    assert json.loads(lock.read_text())["files"] == {url: {"size": 5000, "sha256": sha256_of(old)}}
    assert read_manifest(tmp_path / "one")["table.tsv"]["sha256"] == sha256_of(old)

    https.routes["/table.tsv"] = Route(new)  # replaced upstream, same name and size
    shutil.rmtree(tmp_path / "cache")
    capsys.readouterr()
    assert cli_download(spec, tmp_path / "two") == 1

    message = capsys.readouterr().err
    assert "exprbench download: error: 1 of 1 downloads failed" in message and "Traceback" not in message
    for part in (str(tmp_path / "two" / "table.tsv"), url, f"expected {sha256_of(old)}", f"got {sha256_of(new)}",
                 str(lock), "delete this URL's entry", "exprbench download --lock"):
        assert part in message, part
    assert not (tmp_path / "two" / "table.tsv").exists()


def test_workflow_spec_uses_the_lock_beside_its_definition(https, tmp_path):
    url = https.add("/table.tsv", Route(payload(3000)))
    spec = definition(tmp_path, url)
    lock_path_for(spec).write_text(json.dumps({"files": {url: {"size": 3000, "sha256": "0" * 64}}}))
    entry = {"source": "simulated", "params": {}, "files": yaml.safe_load(spec.read_text())["files"],
             "definition": str(spec)}  # what rules/data.smk passes

    assert cli_download(json.dumps(entry), tmp_path / "d") == 1


def test_lock_without_a_definition_is_refused(tmp_path, capsys):
    entry = {"source": "simulated", "params": {}, "files": {"t": {"urls": ["https://127.0.0.1:9/t"]}}}

    assert cli_download(json.dumps(entry), tmp_path / "d", "--lock") == 1
    assert "no definition file" in capsys.readouterr().err


def test_each_mirror_is_pinned_separately(server, tmp_path):
    zipped, tarball = payload(4000, seed=3), payload(6000, seed=4)
    urls = [server.url("/current.zip"), server.add("/legacy.tar.gz", Route(tarball))]
    lock = tmp_path / "x.lock.json"
    write_lock(lock, {urls[0]: {"size": 4000, "sha256": sha256_of(zipped)},
                      urls[1]: {"size": 6000, "sha256": sha256_of(tarball)}})

    # The current mirror is gone; the legacy one serves a different container, checked
    # against its own entry, not the first mirror's.
    dest = download(urls, tmp_path / "archive", lock=lock, **LOCAL)
    assert dest.read_bytes() == tarball

    write_lock(tmp_path / "bad.lock.json", {urls[1]: {"size": 6000, "sha256": "1" * 64}})
    with pytest.raises(DownloadError, match="SHA-256 mismatch: expected 1{64}"):
        download(urls, tmp_path / "other", lock=tmp_path / "bad.lock.json", **LOCAL)


def test_definition_pins_win_over_the_lock(server, tmp_path):
    body = payload(3000)
    url = server.add("/a.bin", Route(body))
    lock = tmp_path / "a.lock.json"
    write_lock(lock, {url: {"size": 3000, "sha256": "2" * 64}})

    with pytest.raises(DownloadError, match="SHA-256 mismatch: expected 2{64}") as error:
        download(url, tmp_path / "a.bin", lock=lock, **LOCAL)
    assert "lock file" in str(error.value)
    assert download(url, tmp_path / "a.bin", lock=lock, sha256=sha256_of(body), **LOCAL).read_bytes() == body


def test_write_lock_keeps_entries_and_sorts(tmp_path):
    lock = tmp_path / "a.lock.json"
    assert write_lock(lock, {"https://b/x": {"size": 1, "sha256": "a" * 64, "etag": '"e"'}}) == 1
    assert write_lock(lock, {"https://a/y": {"size": 2, "sha256": "b" * 64},
                             "https://b/x": {"size": 9, "sha256": "c" * 64}}) == 1

    files = json.loads(lock.read_text())["files"]
    assert list(files) == ["https://a/y", "https://b/x"]
    assert files["https://b/x"] == {"size": 1, "sha256": "a" * 64}  # never re-pinned silently


@pytest.mark.parametrize("text", ["{not json", '{"files": []}', '{"files": {"https://a": {"sha256": "12"}}}'])
def test_unreadable_lock_names_the_file(tmp_path, text):
    lock = tmp_path / "a.lock.json"
    lock.write_text(text)

    with pytest.raises(DownloadError, match="a.lock.json"):
        DownloadLock.read(lock)


def test_repository_locks_and_definitions_are_valid():
    """Every lock file parses, and the pins in the definitions are well formed."""
    for path in sorted((ROOT / "config" / "datasets").glob("*.lock.json")):
        assert DownloadLock.read(path).files, path
    pinned = {}
    for path in sorted((ROOT / "config" / "datasets").glob("*.yaml")):
        for name, spec in yaml.safe_load(path.read_text())["files"].items():
            if spec.get("md5") or spec.get("sha256"):
                pinned[f"{path.stem}.{name}"] = spec
    # The D-GEX gene maps are fixed by a commit; their hashes are those of the blobs.
    for dataset in ("dgex_geo", "dgex_gtex", "dgex_1000g"):
        assert pinned[f"{dataset}.landmarks"]["size"] == 31157
        assert pinned[f"{dataset}.targets"]["size"] == 384997


def test_lock_collects_files_from_every_manifest_folder(https, tmp_path):
    top, nested = payload(2000, seed=5), payload(3000, seed=6)
    files = {"list": {"urls": [https.add("/list.gz", Route(top))], "filename": "list.bin"},
             "p1": {"urls": [https.add("/p/1.bin", Route(nested))], "filename": "projects/P1/1.bin"}}
    spec = tmp_path / "config" / "datasets" / "nested.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(yaml.safe_dump({"source": "simulated", "files": files}))

    assert cli_download(spec, tmp_path / "d", "--lock") == 0

    locked = json.loads(lock_path_for(spec).read_text())["files"]
    assert locked == {files["list"]["urls"][0]: {"size": 2000, "sha256": sha256_of(top)},
                      files["p1"]["urls"][0]: {"size": 3000, "sha256": sha256_of(nested)}}
