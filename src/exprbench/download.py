"""Fetch public data files: HTTPS only, resumable, retried, verified, recorded.

Every data source downloads through :func:`download`. A file appears under its final
name only after its size, checksums and content checks pass, and each success is
recorded in ``MANIFEST.json`` next to it, so a rerun skips files already in place.

Layout next to a destination ``data/raw/x.gz`` while it downloads:

- ``x.gz.part``: the bytes received so far; a rerun resumes it with a Range request.
- ``x.gz.part.json``: where those bytes came from (URL, ETag, Last-Modified), so a
  resume never splices two versions of a file that changed upstream: a resumed answer
  whose ETag or Last-Modified differs restarts the file from zero.

Checks that need no pinned checksum: HTML error pages (by Content-Type, and by content
past comments), gzip integrity, a Content-Encoding the file name does not allow, bodies
without Content-Length (confirmed complete by a Range request), and a minimum average
rate per attempt, so a server that trickles bytes cannot hold a job forever.

A lock file (:class:`DownloadLock`, ``config/datasets/<name>.lock.json``) holds the size
and SHA-256 each URL served on its first download; later downloads must match it.

A shared cache (``EXPRBENCH_CACHE``, default ``~/.cache/exprbench``) keeps one copy of
every file downloaded, keyed by URL, so another checkout or data folder gets it by
hard link instead of over the network.
"""

from __future__ import annotations

import contextlib
import email.utils
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from exprbench import __version__
from exprbench.atomic import atomic_path, write_text

MANIFEST_NAME = "MANIFEST.json"
PART_SUFFIX = ".part"
PART_STATE_SUFFIX = ".part.json"

_CHUNK = 1 << 20
_MAX_REDIRECTS = 10
_RETRYABLE_STATUS = {408, 429} | set(range(500, 600))
_GZIP_MAGIC = b"\x1f\x8b"
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<title")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# Files that start like this are data even if a server labels them text/html.
_BINARY_MAGICS = (_GZIP_MAGIC, b"PK\x03\x04", b"\x89HDF\r\n\x1a\n")
_SNIFF_BYTES = 4096
LOCK_SUFFIX = ".lock.json"
_USER_AGENT = f"exprbench/{__version__} (+python-requests)"


class DownloadError(OSError):
    """A download failed; the message names the URL, the destination and the fix."""


class _Retryable(Exception):
    """A failure worth another attempt: connection trouble, timeouts, 5xx, 408, 429.

    ``slow``: the attempt was stopped for sending too little; it counts as a failure
    even though it added bytes, so a trickling server cannot keep a job forever.
    """

    def __init__(self, reason: str, retry_after: float | None = None, slow: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.slow = slow


@dataclass(frozen=True)
class DownloadItem:
    """One file for :func:`download_many`; fields as in :func:`download`."""

    urls: str | Sequence[str]
    dest: str | os.PathLike
    expected_size: int | None = None
    md5: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class DownloadLock:
    """Size and SHA-256 that each URL served when it was locked; later downloads must match.

    The file is JSON, ``{"files": {URL: {"size": N, "sha256": HEX}}}`` plus free-form keys;
    :func:`write_lock` adds entries. An entry pins only what that URL serves, so mirrors
    that hold different containers of the same data (a zip and a tarball) can both be
    pinned. A missing file is an empty lock.
    """

    path: Path
    files: Mapping[str, Mapping]

    @classmethod
    def read(cls, path: str | os.PathLike) -> DownloadLock:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(path, {})
        except (OSError, ValueError) as error:
            raise DownloadError(f"cannot read the download lock {path}: {error}; fix the file, or delete "
                                f"it and rerun `exprbench download --lock` to write it again") from error
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(files, dict):
            raise DownloadError(f"download lock {path}: expected an object with key 'files' mapping URLs to "
                                f"{{size, sha256}}; fix the file or delete it and rerun `exprbench download --lock`")
        for url, entry in files.items():
            size, sha256 = (entry.get("size"), entry.get("sha256")) if isinstance(entry, dict) else (None, None)
            if not isinstance(entry, dict) or not (isinstance(size, int) and size >= 0 or size is None) \
                    or not (sha256 is None or isinstance(sha256, str) and len(sha256) == 64):
                raise DownloadError(f"download lock {path}: files.{url} needs 'size' (bytes) and/or 'sha256' "
                                    f"(64 hex digits), got {entry!r}; fix or delete that entry")
        return cls(path, files)

    def expected(self, url: str) -> tuple[int | None, str | None]:
        entry = self.files.get(url) or {}
        return entry.get("size"), entry.get("sha256")


def lock_path_for(definition: str | os.PathLike) -> Path:
    """The lock file that belongs to a dataset definition YAML (``x.yaml`` -> ``x.lock.json``)."""
    definition = Path(definition)
    return definition.with_name(definition.name.rsplit(".", 1)[0] + LOCK_SUFFIX)


def write_lock(path: str | os.PathLike, entries: Mapping[str, Mapping]) -> int:
    """Add ``{URL: {size, sha256, ...}}`` to the lock at ``path`` (kept entries win); return
    how many were new. A URL already locked is never re-pinned here: delete its entry first."""
    path = Path(path)
    lock = DownloadLock.read(path)
    data = _read_json(path) if lock.files else {}
    data.setdefault("about", "Size and SHA-256 each URL served, written by `exprbench download --lock` "
                             "and checked by every later download. To accept a new upstream version, "
                             "delete its entry and run `exprbench download --lock` again.")
    files = dict(lock.files)
    added = 0
    for url, entry in entries.items():
        if url not in files:
            files[url] = {"size": int(entry["size"]), "sha256": str(entry["sha256"])}
            added += 1
    data["files"] = dict(sorted(files.items()))
    write_text(path, json.dumps(data, indent=1) + "\n")
    return added


@dataclass(frozen=True)
class _Expected:
    size: int | None
    md5: str | None
    sha256: str | None
    lock: Path | None = None       # the lock file, when size or sha256 came from it
    lock_fields: frozenset = frozenset()

    @property
    def has_checksum(self) -> bool:
        return bool(self.md5 or self.sha256)

    def for_url(self, url: str, lock: DownloadLock | None) -> _Expected:
        """These expectations plus what ``lock`` holds for ``url`` (the definition's own pins win)."""
        if lock is None:
            return self
        size, sha256 = lock.expected(url)
        fields = frozenset(name for name, mine, locked in (("size", self.size, size), ("sha256", self.sha256, sha256))
                           if mine is None and locked is not None)
        if not fields:
            return self
        return _Expected(self.size if self.size is not None else size, self.md5, self.sha256 or sha256,
                         lock.path, fields)

    def fix(self, field: str, default: str) -> str:
        if field not in self.lock_fields:
            return default
        return (f"the URL no longer serves what the lock file {self.lock} recorded. If the source published "
                f"a new version on purpose, delete this URL's entry from {self.lock} and run "
                f"`exprbench download --lock` to pin the new one; otherwise rerun later or use another mirror")


@dataclass(frozen=True)
class _Settings:
    cache_dir: Path | None
    retries: int
    backoff: float
    max_wait: float
    timeout: float
    progress: str | None  # "tty", "lines" or None
    allow_http: bool
    verify: bool | str
    session: requests.Session | None
    min_rate: float
    rate_window: float
    lock: DownloadLock | None

    @classmethod
    def build(cls, *, cache_dir=None, use_cache=True, retries=5, backoff=1.0, max_wait=60.0,
              timeout=60.0, progress=True, allow_http=False, ca_bundle=None, session=None,
              min_rate=10_000.0, rate_window=60.0, lock=None, concurrent=False) -> _Settings:
        if min_rate < 0 or rate_window <= 0:
            raise ValueError(f"min_rate must be >= 0 and rate_window > 0, got {min_rate} and {rate_window}")
        if progress:
            mode = "tty" if sys.stderr.isatty() and not concurrent else "lines"
        else:
            mode = None
        return cls(
            cache_dir=_cache_root(cache_dir) if use_cache else None,
            retries=retries, backoff=backoff, max_wait=max_wait, timeout=timeout,
            progress=mode, allow_http=allow_http,
            # Passed on every request: a caller's session with verify=False cannot turn
            # certificate checks off, and REQUESTS_CA_BUNDLE still applies when True.
            verify=str(ca_bundle) if ca_bundle else True,
            session=session, min_rate=float(min_rate), rate_window=float(rate_window),
            lock=DownloadLock.read(lock) if isinstance(lock, (str, os.PathLike)) else lock,
        )


# ----------------------------------------------------------------------------- public API


def download(
    url_or_urls: str | Sequence[str],
    dest: str | os.PathLike,
    *,
    expected_size: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    retries: int = 5,
    backoff: float = 1.0,
    max_wait: float = 60.0,
    timeout: float = 60.0,
    progress: bool = True,
    allow_http: bool = False,
    ca_bundle: str | os.PathLike | None = None,
    session: requests.Session | None = None,
    min_rate: float = 10_000.0,
    rate_window: float = 60.0,
    lock: DownloadLock | str | os.PathLike | None = None,
) -> Path:
    """Download a file to ``dest`` and return ``dest``.

    ``url_or_urls``: one URL, or mirrors tried in order (current first, legacy after).
    ``expected_size``, ``md5``, ``sha256``: checked when given; SHA-256 and MD5 are
    always computed and recorded. ``retries``: attempts after the first that made no
    progress, with waits of ``backoff * 2**n`` seconds (or the server's Retry-After),
    at most ``max_wait``. ``ca_bundle``: a PEM file of CAs to trust instead of the
    default ones (certificates are always verified). ``allow_http``: accept plain
    ``http://`` URLs (local test servers only). ``timeout``: seconds a single read may
    wait. ``min_rate``: an attempt that averages fewer bytes per second than this over
    any ``rate_window`` seconds is stopped and counts as a failed attempt (0 turns the
    check off). ``lock``: a :class:`DownloadLock` or its path; the size and SHA-256 it
    holds for a URL are checked like ``expected_size`` and ``sha256``.
    """
    settings = _Settings.build(
        cache_dir=cache_dir, use_cache=use_cache, retries=retries, backoff=backoff,
        max_wait=max_wait, timeout=timeout, progress=progress, allow_http=allow_http,
        ca_bundle=ca_bundle, session=session, min_rate=min_rate, rate_window=rate_window, lock=lock,
    )
    return _download(_url_list(url_or_urls), Path(dest), _Expected(expected_size, md5, sha256), settings)


def download_many(items: Iterable[DownloadItem | Mapping], *, max_workers: int = 4, **options) -> list[Path]:
    """Download several files, at most ``max_workers`` at a time; return paths in order.

    ``items`` are :class:`DownloadItem` or mappings of its fields; ``options`` are the
    keyword options of :func:`download`. Every item is attempted; if any fail, one
    :class:`DownloadError` lists all failures.
    """
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, got {max_workers}")
    items = [item if isinstance(item, DownloadItem) else DownloadItem(**item) for item in items]
    _reject_duplicate_destinations(items)
    settings = _Settings.build(**options, concurrent=max_workers > 1)

    def fetch(item: DownloadItem) -> Path:
        expected = _Expected(item.expected_size, item.md5, item.sha256)
        return _download(_url_list(item.urls), Path(item.dest), expected, settings)

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [pool.submit(fetch, item) for item in items]
    paths, failures = [], []
    for item, future in zip(items, futures, strict=False):
        try:
            paths.append(future.result())
        except Exception as error:  # every failure is reported together below
            failures.append((item, error))
    if failures:
        lines = "\n".join(f"- {Path(item.dest)}: {error}" for item, error in failures)
        raise DownloadError(f"{len(failures)} of {len(items)} downloads failed:\n{lines}") from failures[0][1]
    return paths


def read_manifest(directory: str | os.PathLike) -> dict[str, dict]:
    """The ``MANIFEST.json`` entries of a data folder, by file name ({} if none)."""
    return _read_json(Path(directory) / MANIFEST_NAME)


# ----------------------------------------------------------------------------- one file


def _download(urls: list[str], dest: Path, expected: _Expected, settings: _Settings) -> Path:
    for url in urls:
        _check_scheme(url, settings.allow_http, dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    by_url = {url: expected.for_url(url, settings.lock) for url in urls}
    if _manifest_hit(dest, by_url, expected):
        return dest
    cache = _Cache(settings.cache_dir) if settings.cache_dir else None
    if cache and _restore_from_cache(cache, by_url, dest):
        return dest

    failures = []
    with _session_scope(settings.session) as session:
        for index, url in enumerate(urls):
            try:
                entry = _download_from(url, dest, by_url[url], session, settings)
            except DownloadError as error:
                failures.append(error)
                if index + 1 < len(urls):
                    _say(f"{dest.name}: {error}; trying the next mirror {urls[index + 1]}")
                continue
            _record(dest, entry)
            if cache:
                cache.store(dest, entry)
            return dest
    if len(failures) == 1:
        raise failures[0]
    details = "\n".join(f"- {error}" for error in failures)
    raise DownloadError(f"all {len(urls)} mirrors failed for {dest}:\n{details}")


def _download_from(url: str, dest: Path, expected: _Expected, session, settings: _Settings) -> dict:
    part = _part_path(dest)
    meta = _fetch_with_retries(url, dest, part, expected, session, settings)
    sha256, md5 = _verify(part, url, dest, expected, meta.get("content_type"))
    _publish(part, dest)
    return {
        "url": url,
        "size": dest.stat().st_size,
        "sha256": sha256,
        "md5": md5,
        "etag": meta.get("etag"),
        "last_modified": meta.get("last_modified"),
        "downloaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _fetch_with_retries(url, dest, part, expected, session, settings) -> dict:
    # Count only attempts that made no progress, so a flaky connection on a large file
    # keeps going as long as each attempt adds bytes.
    failures_without_progress = 0
    furthest = _size_or_zero(part)
    while True:
        try:
            return _fetch_once(url, dest, part, expected, session, settings)
        except _Retryable as failure:
            size = _size_or_zero(part)
            if size > furthest:
                furthest = size
                if not failure.slow:
                    failures_without_progress = 0
            failures_without_progress += 1
            if failures_without_progress > settings.retries:
                raise DownloadError(
                    f"{url} -> {dest}: gave up after {failures_without_progress} failed attempts: "
                    f"{failure.reason}. The server or network is having trouble; rerun later "
                    f"(received bytes are kept in {part.name} and resumed)"
                ) from failure
            wait = settings.backoff * 2 ** (failures_without_progress - 1)
            if failure.retry_after is not None:
                wait = failure.retry_after
            wait = min(max(wait, 0.0), settings.max_wait)
            _say(f"{dest.name}: {failure.reason}; retry {failures_without_progress} of "
                 f"{settings.retries} in {wait:.1f} s")
            _sleep(wait)


def _fetch_once(url, dest, part, expected, session, settings, confirming=False) -> dict:
    """One request: append to the part file, or restart it when the server asks.

    ``confirming``: the request that follows a body without Content-Length, asking for
    the bytes after it; a server that ignores the Range cannot confirm, and is believed.
    """
    offset, state = _resume_point(part, url, expected)
    headers = {"Accept-Encoding": "identity", "User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        validator = _if_range_validator(state)
        if validator:
            headers["If-Range"] = validator
    response = _get(session, url, headers, dest, settings)
    with response:
        status = response.status_code
        if status in _RETRYABLE_STATUS:
            raise _Retryable(f"HTTP {status} {response.reason} from {url}",
                             _retry_after_seconds(response.headers.get("Retry-After")))
        if offset and (status in (206, 416) or confirming):
            _restart_if_changed(state, response.headers, part)
        if status == 416 and offset:
            return _range_not_satisfiable(response, part, offset, state, expected)
        if status not in (200, 206):
            raise DownloadError(
                f"HTTP {status} {response.reason} from {url} (for {dest}); "
                f"check that the URL is right and still published"
            )
        _check_content_encoding(response, url, dest)
        if status == 200 and confirming:
            _say(f"{dest.name}: the server sent no Content-Length and ignores Range requests, so the "
                 f"{offset} bytes received cannot be confirmed complete; pin size or sha256 to be sure")
            return state
        start, total = _body_extent(response, offset)
        if status == 206 and start != offset:
            _discard(part)
            raise _Retryable(f"server sent bytes from {start} instead of {offset}; restarting", 0.0)
        if status == 200 and offset:
            _say(f"{dest.name}: server ignored the Range request; restarting from zero")
        if expected.size is not None and total is not None and total != expected.size:
            _discard(part)
            problem = f"size mismatch for {url} -> {dest}: expected {expected.size} bytes, the server announces {total}"
            raise DownloadError(f"{problem}. " + expected.fix(
                "size", "The file changed upstream or the URL is wrong; check it, or update expected_size"))
        meta = {
            "etag": response.headers.get("ETag"),
            "last_modified": response.headers.get("Last-Modified"),
            "content_type": response.headers.get("Content-Type"),
            "total": total,
        }
        if start == 0:
            # Recorded before the first byte, so a later resume knows where the bytes came from.
            # Without a length, only a Range request can tell a complete body from a cut one.
            meta["unannounced_length"] = total is None
            write_text(_part_state_path(part), json.dumps({"url": url, **meta}))
        else:
            meta = {**state, **{k: v for k, v in meta.items() if v is not None}}
        _write_body(response, part, start, total, dest.name, settings)
    received = _size_or_zero(part)
    if total is not None and received < total:
        raise _Retryable(f"connection closed after {received} of {total} bytes")
    if total is None and not confirming and received:
        if response.headers.get("Accept-Ranges", "").strip().lower() == "none":
            _say(f"{dest.name}: the server sent no Content-Length and refuses Range requests, so the "
                 f"{received} bytes received cannot be confirmed complete; pin size or sha256 to be sure")
            return meta
        return _fetch_once(url, dest, part, expected, session, settings, confirming=True)
    return meta


def _restart_if_changed(state: dict, headers, part: Path) -> None:
    """Discard the part when a resumed answer's ETag or Last-Modified is not the one its
    bytes came with: servers that ignore If-Range would otherwise splice two versions."""
    def opaque(tag):
        return tag.removeprefix("W/") if tag else None

    old_etag, new_etag = opaque(state.get("etag")), opaque(headers.get("ETag"))
    old_date, new_date = state.get("last_modified"), headers.get("Last-Modified")
    if old_etag and new_etag and old_etag != new_etag:
        change = f"ETag {old_etag} became {new_etag}"
    elif not (old_etag and new_etag) and old_date and new_date and old_date != new_date:
        change = f"Last-Modified {old_date} became {new_date}"
    else:
        return
    _discard(part)
    raise _Retryable(f"the file changed upstream since {part.name} was started ({change}); "
                     f"restarting from zero", 0.0)


def _check_content_encoding(response, url: str, dest: Path) -> None:
    """Bytes are stored as sent; an encoding other than identity is only the file itself
    when it is gzip and the file's name says gzip."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity") or (encoding in ("gzip", "x-gzip") and dest.name.endswith(".gz")):
        return
    raise DownloadError(
        f"{url} -> {dest}: the server sent the file with Content-Encoding: {encoding} although "
        f"identity was asked for, so the bytes are compressed and {dest.name} would not hold what its "
        f"name says. Nothing was saved; name the file with a .gz suffix (filename: in the dataset "
        f"definition) and read it as gzip, or use a mirror that serves it unencoded"
    )


def _get(session, url, headers, dest, settings) -> requests.Response:
    """GET following redirects ourselves, so a redirect to plain HTTP is refused before use."""
    current = url
    for _ in range(_MAX_REDIRECTS + 1):
        try:
            response = session.get(current, headers=headers, stream=True, timeout=settings.timeout,
                                   verify=settings.verify, allow_redirects=False)
        except requests.exceptions.SSLError as error:
            if "certificate" in str(error).lower():
                raise DownloadError(
                    f"TLS certificate of {current} is not trusted (for {dest}): {error}. "
                    f"If a proxy re-signs HTTPS traffic, set REQUESTS_CA_BUNDLE to its CA bundle; "
                    f"certificate checks are never switched off"
                ) from error
            raise _Retryable(f"TLS error talking to {current}: {error}") from error
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
            raise _Retryable(f"cannot reach {current}: {error}") from error
        except requests.exceptions.RequestException as error:
            raise DownloadError(f"cannot request {current} (for {dest}): {error}") from error
        if not response.is_redirect:
            return response
        target = urljoin(current, response.headers["Location"])
        response.close()
        _check_scheme(target, settings.allow_http, dest, redirected_from=current)
        current = target
    raise DownloadError(f"more than {_MAX_REDIRECTS} redirects from {url} (for {dest})")


def _write_body(response, part: Path, start: int, total, label: str, settings: _Settings) -> None:
    progress = _Progress(label, total, start, settings.progress)
    rate = _RateFloor(settings.min_rate, settings.rate_window)
    chunks = _raw_chunks(response.raw)
    with open(part, "ab" if start else "wb") as out:
        try:
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException, OSError) as error:
                    raise _Retryable(f"connection broke during the download: {error}") from error
                try:
                    out.write(chunk)
                except OSError as error:
                    raise DownloadError(f"cannot write {part}: {error}; free disk space or choose "
                                        f"another data folder, then rerun to resume") from error
                progress.advance(len(chunk))
                rate.check(len(chunk))
        finally:
            progress.close()


class _RateFloor:
    """Stops an attempt whose average rate over a window falls below a floor. The read
    timeout bounds silence only; a server sending a few bytes at a time never trips it."""

    def __init__(self, min_rate: float, window: float):
        self.min_rate, self.window = min_rate, window
        self.window_start, self.window_bytes = time.monotonic(), 0

    def check(self, nbytes: int) -> None:
        if not self.min_rate:
            return
        self.window_bytes += nbytes
        elapsed = time.monotonic() - self.window_start
        if elapsed < self.window:
            return
        rate = self.window_bytes / elapsed
        if rate < self.min_rate:
            raise _Retryable(
                f"the server sent {self.window_bytes} bytes in {elapsed:.1f} s ({rate:.0f} B/s), below the "
                f"minimum of {self.min_rate:.0f} B/s (min_rate, averaged over rate_window={self.window:g} s)",
                slow=True)
        self.window_start, self.window_bytes = time.monotonic(), 0


def _raw_chunks(raw) -> Iterator[bytes]:
    # Raw bytes, never content-decoded: offsets, sizes and checksums refer to the bytes the
    # server stores. read1 hands over what has arrived, so a stalled connection keeps
    # everything received before the timeout.
    read1 = getattr(raw, "read1", None)
    if read1 is None:  # urllib3 older than 2.3
        yield from raw.stream(_CHUNK, decode_content=False)
        return
    while chunk := read1(_CHUNK, decode_content=False):
        yield chunk


def _range_not_satisfiable(response, part, offset, state, expected) -> dict:
    """416 on resume: the part is complete if its size is the file's size, else restart."""
    total = _total_from_content_range(response.headers.get("Content-Range"))
    if total is None:
        total = state.get("total") if state.get("total") is not None else expected.size
    if total is not None and offset == total:
        return state
    if total is None and state.get("unannounced_length"):
        return state  # nothing after the bytes held: the unannounced body was complete
    _discard(part)
    raise _Retryable(f"server refused the resume range ({offset} bytes already held); restarting", 0.0)


# ----------------------------------------------------------------------------- part files


def _part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + PART_SUFFIX)


def _part_state_path(part: Path) -> Path:
    return part.with_name(part.name[: -len(PART_SUFFIX)] + PART_STATE_SUFFIX)


def _resume_point(part: Path, url: str, expected: _Expected) -> tuple[int, dict]:
    """Bytes to resume from, and the recorded origin of those bytes."""
    offset = _size_or_zero(part)
    state = _read_json(_part_state_path(part))
    if not offset:
        return 0, {}
    same_origin = state.get("url") == url or _if_range_validator(state) is not None
    too_long = expected.size is not None and offset > expected.size
    if not state or not same_origin or too_long:
        _discard(part)
        return 0, {}
    return offset, state


def _if_range_validator(state: dict) -> str | None:
    etag = state.get("etag")
    if etag and not etag.startswith("W/"):  # If-Range accepts only strong validators
        return etag
    return state.get("last_modified")


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _part_state_path(part).unlink(missing_ok=True)


def _publish(part: Path, dest: Path) -> None:
    # Same folder, so the rename is atomic: the final name never holds unchecked bytes.
    os.replace(part, dest)
    _part_state_path(part).unlink(missing_ok=True)


# ----------------------------------------------------------------------------- checks


def _verify(part: Path, url: str, dest: Path, expected: _Expected,
            content_type: str | None = None) -> tuple[str, str]:
    """Check size, content type, gzip integrity and checksums; return (sha256, md5)."""
    size = part.stat().st_size

    def reject(problem: str, fix: str):
        _discard(part)
        return DownloadError(f"{problem} for {url} -> {dest}. The download was deleted; {fix}")

    if expected.size is not None and size != expected.size:
        raise reject(f"size mismatch: expected {expected.size} bytes, got {size}", expected.fix(
            "size", "rerun to fetch it again, or update expected_size if the file changed upstream"))
    with open(part, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    check_gzip = dest.name.endswith(".gz") or head.startswith(_GZIP_MAGIC)
    sha256, md5, gzip_problem = _scan(part, check_gzip)
    # Bytes that match a pinned checksum are the file, whatever they look like.
    pinned_match = (expected.has_checksum and (expected.md5 or md5).lower() == md5
                    and (expected.sha256 or sha256).lower() == sha256)
    html_type = (content_type or "").split(";")[0].strip().lower() in _HTML_TYPES
    html = _looks_like_html(head) or (html_type and not head.startswith(_BINARY_MAGICS))
    if html and not pinned_match and not dest.name.lower().endswith((".html", ".htm")):
        raise reject(f"the server sent an HTML page instead of the file (Content-Type {content_type!r}, "
                     f"starts {head[:40]!r})",
                     "the URL has probably moved or needs a login; open it in a browser and fix the URL")
    if gzip_problem:
        raise reject(f"{gzip_problem} ({size} bytes)",
                     "rerun to fetch it again; if it fails again the file on the server is damaged")
    if expected.md5 and md5 != expected.md5.lower():
        raise reject(f"MD5 mismatch: expected {expected.md5.lower()}, got {md5} ({size} bytes)",
                     "rerun to fetch it again, or update the pinned MD5 if the source published a new version")
    if expected.sha256 and sha256 != expected.sha256.lower():
        raise reject(f"SHA-256 mismatch: expected {expected.sha256.lower()}, got {sha256} ({size} bytes)", expected.fix(
            "sha256", "rerun to fetch it again, or update the pinned SHA-256 if the source published a new version"))
    return sha256, md5


def _looks_like_html(head: bytes) -> bool:
    """Markup at the start, after a BOM, whitespace, comments and an XML declaration."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    while text.startswith((b"<!--", b"<?xml")):
        end = text.find(b"-->" if text.startswith(b"<!--") else b"?>")
        if end < 0:
            return True  # markup longer than the sniffed bytes
        text = text[end + (3 if text.startswith(b"<!--") else 2):].lstrip()
    return text.startswith(_HTML_STARTS)


def _scan(path: Path, check_gzip: bool) -> tuple[str, str, str | None]:
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    gzip_check = _GzipCheck() if check_gzip else None
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
            if gzip_check:
                gzip_check.feed(chunk)
    problem = gzip_check.finish() if gzip_check else None
    return sha256.hexdigest(), md5.hexdigest(), problem


class _GzipCheck:
    """Stream-decompress gzip (possibly multi-member) to prove it is complete and its CRCs match."""

    def __init__(self):
        self._inflater = zlib.decompressobj(wbits=31)
        self._between_members = False
        self._started = False
        self.problem: str | None = None

    def feed(self, data: bytes) -> None:
        while data and not self.problem:
            if self._between_members:
                data = data.lstrip(b"\0")  # zero padding after a member is allowed, as in gzip(1)
                if not data:
                    return
                self._inflater = zlib.decompressobj(wbits=31)
                self._between_members = False
            if not self._started and not data.startswith(_GZIP_MAGIC[: len(data)]):
                self.problem = "not gzip data although the name or content says gzip"
                return
            self._started = True
            try:
                self._inflater.decompress(data, _CHUNK)
                while self._inflater.unconsumed_tail:
                    self._inflater.decompress(self._inflater.unconsumed_tail, _CHUNK)
            except zlib.error as error:
                self.problem = f"corrupt gzip data ({error})"
                return
            if self._inflater.eof:
                self._between_members = True
                data = self._inflater.unused_data
            else:
                data = b""

    def finish(self) -> str | None:
        if self.problem:
            return self.problem
        if not self._between_members:
            return "truncated gzip: the compressed stream ends before its end marker and CRC"
        return None


# ----------------------------------------------------------------------------- manifest


def _manifest_hit(dest: Path, by_url: dict[str, _Expected], expected: _Expected) -> bool:
    """True when ``dest`` is the file the manifest recorded and it still fits the request."""
    if not dest.is_file():
        return False
    entry = read_manifest(dest.parent).get(dest.name)
    if not entry:
        return False
    urls = list(by_url)
    expected = by_url.get(entry.get("url"), expected)
    size = dest.stat().st_size
    if entry.get("size") != size or expected.size not in (None, size):
        return False
    if expected.md5 and entry.get("md5") != expected.md5.lower():
        return False
    if expected.sha256 and entry.get("sha256") != expected.sha256.lower():
        return False
    # Without a checksum the URL is the only identity the request has.
    return expected.has_checksum or entry.get("url") in urls


def _record(dest: Path, entry: dict) -> None:
    _update_json(dest.parent / MANIFEST_NAME, dest.name, entry)


def _update_json(path: Path, key: str, value: dict | None) -> None:
    """Set (or with None remove) one key of a JSON object file, atomically and under a lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _folder_lock(path.parent):
        data = _read_json(path)
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
        write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    # flock on the folder itself: parallel threads and jobs writing one manifest take turns,
    # and no lock file is left behind.
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        _say(f"ignoring unreadable {path}: {error}")
        return {}
    return data if isinstance(data, dict) else {}


# ----------------------------------------------------------------------------- cache


def _cache_root(cache_dir) -> Path:
    if cache_dir:
        return Path(cache_dir)
    return Path(os.environ.get("EXPRBENCH_CACHE") or Path.home() / ".cache" / "exprbench")


class _Cache:
    """Files by SHA-256 under ``blobs/``, and ``index.json`` mapping URL -> manifest entry."""

    def __init__(self, root: Path):
        self.root = root
        self.index_path = root / "index.json"

    def blob(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256

    def lookup(self, by_url: dict[str, _Expected]) -> tuple[str, dict] | None:
        index = _read_json(self.index_path)
        for url, expected in by_url.items():
            entry = index.get(url)
            if not entry or not self.blob(entry.get("sha256", "")).is_file():
                continue
            if expected.size not in (None, entry.get("size")):
                continue
            if expected.md5 and entry.get("md5") != expected.md5.lower():
                continue
            if expected.sha256 and entry.get("sha256") != expected.sha256.lower():
                continue
            return url, entry
        return None

    def store(self, dest: Path, entry: dict) -> None:
        # A cache that cannot be written (full disk, read-only home) must not fail the download.
        try:
            blob = self.blob(entry["sha256"])
            if not blob.is_file():
                blob.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(blob) as tmp:
                    _link_or_copy(dest, tmp)
            _update_json(self.index_path, entry["url"], entry)
        except OSError as error:
            _say(f"could not add {dest.name} to the cache {self.root}: {error}")

    def forget(self, url: str, entry: dict) -> None:
        with contextlib.suppress(OSError):
            self.blob(entry.get("sha256", "")).unlink(missing_ok=True)
            _update_json(self.index_path, url, None)


def _restore_from_cache(cache: _Cache, by_url: dict[str, _Expected], dest: Path) -> bool:
    hit = cache.lookup(by_url)
    if not hit:
        return False
    url, entry = hit
    expected = by_url[url]
    part = _part_path(dest)
    _discard(part)
    try:
        _link_or_copy(cache.blob(entry["sha256"]), part)
        # Re-verified: a hard-linked copy edited in place would otherwise spread damage.
        sha256, md5 = _verify(part, url, dest, _Expected(entry["size"], expected.md5, entry["sha256"]))
    except (OSError, DownloadError) as error:
        _discard(part)
        cache.forget(url, entry)
        _say(f"{dest.name}: dropped a bad cache copy ({error}); downloading instead")
        return False
    _publish(part, dest)
    _record(dest, {**entry, "sha256": sha256, "md5": md5, "from_cache": str(cache.root)})
    return True


def _link_or_copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or links not supported
        shutil.copyfile(source, target)


# ----------------------------------------------------------------------------- progress


class _Progress:
    """Bytes, rate and ETA on stderr: one line redrawn on a TTY, occasional lines in logs."""

    TTY_INTERVAL = 0.2
    LOG_INTERVAL = 15.0

    def __init__(self, label: str, total: int | None, start: int, mode: str | None):
        self.label, self.total, self.done, self.mode = label, total, start, mode
        self.first = start
        self.started = self.last_shown = time.monotonic()

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        if not self.mode:
            return
        now = time.monotonic()
        interval = self.TTY_INTERVAL if self.mode == "tty" else self.LOG_INTERVAL
        if now - self.last_shown >= interval:
            self.last_shown = now
            self._show(now, final=False)

    def close(self) -> None:
        if self.mode:
            self._show(time.monotonic(), final=True)

    def _show(self, now: float, final: bool) -> None:
        elapsed = max(now - self.started, 1e-6)
        rate = (self.done - self.first) / elapsed
        text = f"{self.label}: {_human_bytes(self.done)}"
        if self.total:
            text += f" / {_human_bytes(self.total)} ({100 * self.done / self.total:.0f}%)"
        text += f" {_human_bytes(rate)}/s"
        if final:
            text += f" in {_human_duration(elapsed)}"
        elif self.total and rate > 0:
            text += f" ETA {_human_duration((self.total - self.done) / rate)}"
        if self.mode == "tty":
            sys.stderr.write("\r" + text.ljust(79) + ("\n" if final else ""))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def _human_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# ----------------------------------------------------------------------------- helpers


def _url_list(url_or_urls: str | Sequence[str]) -> list[str]:
    urls = [url_or_urls] if isinstance(url_or_urls, str) else list(url_or_urls)
    if not urls:
        raise DownloadError("no URL given")
    return urls


def _check_scheme(url: str, allow_http: bool, dest: Path, redirected_from: str | None = None) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and allow_http):
        return
    where = f" (redirected from {redirected_from})" if redirected_from else ""
    if scheme == "http":
        raise DownloadError(
            f"refusing plain-HTTP URL {url}{where} for {dest}: downloads must use https:// so "
            f"the server is authenticated; use the https:// address of the same file"
        )
    raise DownloadError(f"unsupported URL {url}{where} for {dest}: only https:// URLs are downloaded")


def _body_extent(response, offset: int) -> tuple[int, int | None]:
    """(first byte offset, total file size or None) of a 200 or 206 response."""
    if response.status_code == 206:
        content_range = response.headers.get("Content-Range", "")
        try:
            unit, _, rest = content_range.partition(" ")
            span, _, total = rest.partition("/")
            start = int(span.split("-")[0])
            if unit != "bytes":
                raise ValueError(unit)
        except ValueError:
            raise _Retryable(f"unreadable Content-Range {content_range!r}") from None
        return start, (int(total) if total.isdigit() else None)
    length = response.headers.get("Content-Length")
    return 0, (int(length) if length and length.isdigit() else None)


def _total_from_content_range(value: str | None) -> int | None:
    # "bytes */1234" on a 416 answer
    if value and "/" in value:
        total = value.rsplit("/", 1)[1].strip()
        if total.isdigit():
            return int(total)
    return None


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _reject_duplicate_destinations(items: list[DownloadItem]) -> None:
    seen: set[Path] = set()
    for item in items:
        dest = Path(item.dest).resolve()
        if dest in seen:
            raise DownloadError(f"two downloads write the same file {dest}; give each a distinct dest")
        seen.add(dest)


@contextlib.contextmanager
def _session_scope(session: requests.Session | None) -> Iterator[requests.Session]:
    if session is not None:
        yield session
        return
    with requests.Session() as own:
        yield own


def _size_or_zero(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)
