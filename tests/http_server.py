"""A local HTTP(S) file server for downloader tests, with scriptable misbehaviour."""

from __future__ import annotations

import hashlib
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Route:
    """What the server answers for one path.

    fail_first: answer the first N requests with ``fail_status`` (503 by default; 500,
    429, ...), plus Retry-After when set.
    drop_after: on the first ``drop_times`` body-serving requests, send only this many
    body bytes and then close the connection.
    changes_to: after the first dropped response the file changes upstream to this body
    (with a new ETag), as when a release is replaced while someone downloads it.
    honour_if_range: False answers a Range request with 206 even when If-Range names an
    older ETag, as some servers and proxies do.
    stall_after / stall_seconds: send this many bytes, then go silent (read timeouts).
    trickle: (bytes, seconds): send the body this many bytes at a time with a pause
    between, never pausing long enough for a read timeout; stops after trickle_max_s.
    send_length: False leaves out Content-Length and ends the body by closing.
    content_encoding: a Content-Encoding header to send with the body as is.
    """

    body: bytes = b""
    status: int = 200
    etag: str | None = None
    honour_range: bool = True
    fail_first: int = 0
    fail_status: int = 503
    retry_after: str | None = None
    drop_after: int | None = None
    drop_times: int = 1
    changes_to: bytes | None = None
    honour_if_range: bool = True
    stall_after: int | None = None
    stall_seconds: float = 0.0
    trickle: tuple[int, float] | None = None
    trickle_max_s: float = 5.0
    send_length: bool = True
    content_encoding: str | None = None
    delay: float = 0.0
    redirect_to: str | None = None
    content_type: str = "application/octet-stream"
    served: int = field(default=0, init=False)
    drops_done: int = field(default=0, init=False)
    stalls_done: int = field(default=0, init=False)

    def __post_init__(self):
        if self.etag is None:
            self.etag = _etag_of(self.body)

    def change_upstream(self) -> None:
        if self.changes_to is not None:
            self.body, self.etag, self.changes_to = self.changes_to, _etag_of(self.changes_to), None


def _etag_of(body: bytes) -> str:
    return '"' + hashlib.md5(body).hexdigest() + '"'


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients hanging up (rejected certificates, dropped connections) are expected here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class FileServer:
    """Threaded server on 127.0.0.1 at a random port; use as a context manager."""

    def __init__(self, tls: tuple[Path, Path] | None = None):
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self.scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile=tls[0], keyfile=tls[1])
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self._httpd.server_address[1]}{path}"


def _handler_for(server: FileServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):
            with server._lock:
                server.requests.append(SeenRequest(self.path, dict(self.headers.items())))
                server.active += 1
                server.max_active = max(server.max_active, server.active)
            try:
                self._answer(server.routes.get(self.path))
            finally:
                with server._lock:
                    server.active -= 1

        def _answer(self, route: Route | None):
            if route is None:
                return self._plain(404, b"not found")
            time.sleep(route.delay)
            with server._lock:
                route.served += 1
                failing = route.served <= route.fail_first
            if failing:
                extra = {"Retry-After": route.retry_after} if route.retry_after else {}
                return self._plain(route.fail_status, b"busy", extra)
            if route.redirect_to:
                return self._plain(302, b"", {"Location": route.redirect_to})
            if route.status != 200:
                return self._plain(route.status, b"error")
            self._serve_body(route)

        def _serve_body(self, route: Route):
            body, start = route.body, 0
            range_header = self.headers.get("Range")
            if_range = self.headers.get("If-Range")
            validator_ok = if_range in (None, route.etag) or not route.honour_if_range
            use_range = route.honour_range and range_header and validator_ok
            if use_range:
                start = int(range_header.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    return self._plain(416, b"", {"Content-Range": f"bytes */{len(body)}"})
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            payload = body[start:]
            self.send_header("Content-Type", route.content_type)
            if route.send_length:
                self.send_header("Content-Length", str(len(payload)))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            if route.content_encoding:
                self.send_header("Content-Encoding", route.content_encoding)
            self.send_header("ETag", route.etag)
            self.send_header("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            with server._lock:
                drop = route.drop_after is not None and route.drops_done < route.drop_times
                stall = route.stall_after is not None and route.stalls_done < 1
                route.drops_done += drop
                route.stalls_done += stall
                if drop:
                    route.change_upstream()
            if drop:
                self.wfile.write(payload[: route.drop_after])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if route.trickle:
                return self._trickle(payload, *route.trickle, route.trickle_max_s)
            if stall:
                self.wfile.write(payload[: route.stall_after])
                self.wfile.flush()
                time.sleep(route.stall_seconds)
                self.close_connection = True
                return
            self.wfile.write(payload)

        def _trickle(self, payload: bytes, step: int, pause: float, max_seconds: float):
            deadline = time.monotonic() + max_seconds  # bounded, whatever the client does
            for at in range(0, len(payload), step):
                if time.monotonic() > deadline:
                    break
                self.wfile.write(payload[at: at + step])
                self.wfile.flush()
                time.sleep(pause)
            self.close_connection = True

        def _plain(self, status: int, body: bytes, headers: dict | None = None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def make_tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 it signed: (ca, cert, key)."""
    ca_key, ca_cert = folder / "ca.key", folder / "ca.pem"
    key, csr, cert, ext = folder / "server.key", folder / "server.csr", folder / "server.pem", folder / "ext.cnf"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", *ec, "-keyout", ca_key, "-out", ca_cert, "-days", "2",
            "-subj", "/CN=exprbench test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
            "-out", cert, "-days", "2", "-extfile", ext)
    return ca_cert, cert, key
