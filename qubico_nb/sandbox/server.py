"""HTTP plumbing for the sandbox: route, read the body, check key and limits, write the answer.

What an endpoint *does* lives in ``endpoints.py``; which endpoints exist, in ``routes.py``. This
module only speaks HTTP/1.1, carefully: one send per answer (headers and body together, with
TCP_NODELAY, so keep-alive requests never wait on Nagle's algorithm and delayed ACKs), bounded
bodies (``Content-Length`` or chunked), a timeout per connection, and never a 500 for bad input.
"""

from __future__ import annotations

import contextlib
import email.utils
import hmac
import json
import re
import socket
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from . import routes
from .endpoints import Endpoints
from .faults import FaultPlan, FaultRule
from .world import RequestError

_RANGE = re.compile(r"^bytes=(?P<start>\d*)-(?P<end>\d*)$")
#: More digits than this is no real offset: a start that large is unsatisfiable, an end is "to EOF".
_MAX_DIGITS = 18
#: Methods that may carry a body; the body is always read (or refused) so keep-alive stays in step.
_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_MAX_CHUNK_LINE = 1024
_MAX_TRAILER_LINES = 64


class RateLimiter(Protocol):
    def take(self) -> float: ...


class App(Protocol):
    """What the HTTP layer needs from the sandbox that owns it."""

    api_key: str | None
    max_body_bytes: int
    socket_timeout_s: float
    faults: FaultPlan
    endpoints: Endpoints

    @property
    def rate_limiter(self) -> RateLimiter | None: ...

    def _count(self, endpoint: str) -> None: ...


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading server with room for a crowd: 200 clients connecting at once all get in."""

    daemon_threads = True
    # socketserver's default backlog is 5: a burst of parallel creates got connection resets.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent: a client that hangs up mid-request is not the notebook's business."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "qubico-sandbox/0.2"
    server: SandboxHTTPServer

    def setup(self) -> None:
        # A slow or silent client gives up its thread after this long (the slowloris guard).
        self.request.settimeout(self.server.app.socket_timeout_s)
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def app(self) -> App:
        return self.server.app

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the sandbox never prints request lines (they would bury a notebook)."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    # -- one request -------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        app = self.app
        parts = urlsplit(self.path)
        found = routes.match(method, parts.path)
        app._count(found.endpoint)
        decision = app.faults.decide(found.endpoint) if found.route is not None else None
        if decision and decision.delay_s:
            time.sleep(decision.delay_s)
        self._slow_ms = decision.slow_ms if decision else 0.0
        failure = decision.failure if decision else None
        if failure is not None and failure.kind == "drop":
            self._drop()
            return
        try:
            # Read the body first: an answer that leaves it unread would poison keep-alive.
            raw_body = self._read_body() if method in _BODY_METHODS else b""
        except OSError:  # the client went quiet (timeout) or away mid-body: nobody to answer
            self._drop()
            return
        except RequestError as err:
            self._send_error(err)
            return
        try:
            self._answer(method, parts.path, parts.query, found, failure, raw_body)
        except RequestError as err:
            self._send_error(err)
        except Exception as err:
            self._send_error(RequestError(500, f"internal sandbox error: {type(err).__name__}"))

    def _answer(
        self,
        method: str,
        path: str,
        query: str,
        found: routes.RouteMatch,
        failure: FaultRule | None,
        raw_body: bytes,
    ) -> None:
        app = self.app
        if found.route is None:
            if found.allowed:
                raise RequestError(
                    405,
                    f"method {method} is not allowed on {path}",
                    headers={"Allow": ", ".join(found.allowed)},
                )
            raise RequestError(404, f"no such endpoint: {method} {path}")
        if not found.route.public:
            self._check_auth()
            limiter = app.rate_limiter
            wait = limiter.take() if limiter is not None else 0.0
            if wait:
                raise RequestError(429, "too many requests", retry_after=wait)
        if failure is not None and failure.kind == "error":
            raise RequestError(failure.status, "injected server error")
        if failure is not None and failure.kind == "rate_limit":
            raise RequestError(429, "too many requests", retry_after=failure.retry_after)
        truncate = failure is not None and failure.kind == "truncate"
        if found.route.endpoint == "file":
            self._serve_file(
                found.params["kind"], found.params["name"], head=method == "HEAD", truncate=truncate
            )
            return
        body = _parse_json(raw_body) if method == "POST" else None
        text = app.endpoints.handle(found.route.endpoint, found.params, query, body)
        if failure is not None and failure.kind == "malformed":
            text = b'{"code": 200, "data": {"task_id": oops'
        self._send(
            200,
            "application/json",
            text,
            head=method == "HEAD",
            cut=len(text) // 2 if truncate else None,
        )

    def _check_auth(self) -> None:
        expected = self.app.api_key
        if expected is None:
            return
        given = self.headers.get("x-api-key")
        if not given:
            raise RequestError(401, "missing x-api-key header")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise RequestError(401, "invalid api key")

    # -- request bodies ----------------------------------------------------------------------
    def _refuse(self, status: int, message: str) -> RequestError:
        """An error after which the connection cannot be trusted to be in step: close it."""
        self.close_connection = True
        return RequestError(status, message)

    def _read_body(self) -> bytes:
        encoding = self.headers.get("Transfer-Encoding")
        if encoding is not None:
            if encoding.strip().lower() != "chunked":
                raise self._refuse(
                    411,
                    f"Transfer-Encoding {encoding[:40]!r} is not supported; "
                    "send Content-Length or chunked",
                )
            # A chunked body with a Content-Length as well is a smuggling attempt or a broken
            # client: read the chunks (they win), then close.
            if self.headers.get("Content-Length") is not None:
                self.close_connection = True
            return self._read_chunked()
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return b""
        if len(set(lengths)) > 1:
            raise self._refuse(400, "conflicting Content-Length headers")
        text = lengths[0].strip()
        if not (text.isascii() and text.isdigit()) or len(text) > _MAX_DIGITS:
            raise self._refuse(400, f"Content-Length is not a number: {text[:40]!r}")
        length = int(text)
        if length > self.app.max_body_bytes:
            raise self._refuse(
                413, f"request body is {length} bytes; the limit is {self.app.max_body_bytes}"
            )
        data = self.rfile.read(length) if length else b""
        if len(data) < length:
            raise ConnectionError("body ended early")
        return data

    def _read_chunked(self) -> bytes:
        limit = self.app.max_body_bytes
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_MAX_CHUNK_LINE)
            if not line:
                raise ConnectionError("body ended early")
            size_text = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not re.fullmatch(rb"[0-9A-Fa-f]{1,15}", size_text):
                raise self._refuse(400, "malformed chunked body")
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > limit:
                raise self._refuse(413, f"request body is over the limit of {limit} bytes")
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise ConnectionError("body ended early")
            parts.append(chunk)
            if self.rfile.readline(_MAX_CHUNK_LINE) not in (b"\r\n", b"\n"):
                raise self._refuse(400, "malformed chunked body")
        for _ in range(_MAX_TRAILER_LINES):
            if self.rfile.readline(_MAX_CHUNK_LINE) in (b"\r\n", b"\n", b""):
                return b"".join(parts)
        raise self._refuse(400, "too many trailer lines in chunked body")

    # -- answers -----------------------------------------------------------------------------
    def _send_error(self, err: RequestError) -> None:
        body = json.dumps({"code": err.status, "message": err.message, "data": None}).encode()
        headers = dict(err.headers)
        if err.retry_after is not None:
            headers["Retry-After"] = f"{err.retry_after:g}"
        self._send(
            err.status, "application/json", body, headers=headers, head=self.command == "HEAD"
        )

    def _head_block(
        self, status: int, content_type: str, length: int, headers: dict[str, str]
    ) -> bytes:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        lines = [
            f"HTTP/1.1 {status} {phrase}",
            f"Server: {self.server_version}",
            f"Date: {_http_date()}",
            f"Content-Type: {content_type}",
            f"Content-Length: {length}",
        ]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(
        self,
        status: int,
        content_type: str,
        body: bytes,
        *,
        headers: dict[str, str] | None = None,
        head: bool = False,
        cut: int | None = None,
    ) -> None:
        """Write one answer: status line, headers and body in a single send when possible."""
        if cut is not None:
            self.close_connection = True
        block = self._head_block(status, content_type, len(body), headers or {})
        try:
            if head:
                self.wfile.write(block)
            elif cut is not None:
                self.wfile.write(block + body[:cut])
            elif self._slow_ms:
                self.wfile.write(block)
                self._write_slowly(body)
            else:
                self.wfile.write(block + body)
        except OSError:
            self.close_connection = True

    def _write_slowly(self, body: bytes) -> None:
        piece = max(64, len(body) // 16)
        for at in range(0, len(body), piece):
            self.wfile.write(body[at : at + piece])
            time.sleep(self._slow_ms / 1000.0)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _serve_file(self, kind: str, name: str, *, head: bool, truncate: bool = False) -> None:
        found = self.app.endpoints.file(kind, name)
        data = found.data
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "public, max-age=86400"}
        spec = self.headers.get("Range")
        status = 200
        if spec:
            byte_range = parse_range(spec, len(data))
            if byte_range is None:
                headers["Content-Range"] = f"bytes */{len(data)}"
                message = f"unsatisfiable range {spec[:80]}"
                body = json.dumps({"code": 416, "message": message, "data": None}).encode()
                self._send(416, "application/json", body, headers=headers, head=head)
                return
            start, end = byte_range
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data = data[start : end + 1]
            status = 206
        self._send(
            status,
            found.content_type,
            data,
            headers=headers,
            head=head,
            cut=len(data) // 2 if truncate else None,
        )


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The Date header's value, formatted once per second rather than once per answer."""
    global _date_cache
    now = int(time.time())
    stamp, text = _date_cache
    if stamp != now:
        text = email.utils.formatdate(now, usegmt=True)
        _date_cache = (now, text)
    return text


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):  # also ints past Python's digit limit
        raise RequestError(400, "request body is not valid JSON") from None
    except RecursionError:
        raise RequestError(400, "request body is nested too deeply") from None


def _offset(text: str) -> int | None:
    """A byte offset from a Range header; None when it has more digits than any file has bytes."""
    return int(text) if len(text) <= _MAX_DIGITS else None


def parse_range(spec: str, size: int) -> tuple[int, int] | None:
    """The one byte range a header asks for, clamped; None when it cannot be satisfied."""
    match = _RANGE.match(spec.strip())
    if not match or size == 0:
        return None
    start_text, end_text = match.group("start"), match.group("end")
    if not start_text:
        if not end_text:
            return None
        suffix = _offset(end_text)
        length = size if suffix is None else min(suffix, size)
        return (size - length, size - 1) if length else None
    start = _offset(start_text)
    end = _offset(end_text) if end_text else size - 1
    if start is None or start >= size:
        return None
    if end is None:
        end = size - 1
    if end < start:
        return None
    return start, min(end, size - 1)
