"""The sandbox HTTP server: Qubico's task API on loopback, with faults on demand."""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .audio import synthesize_wav
from .faults import FaultPlan, FaultRule
from .render import Renderer, audio_seconds
from .webhooks import Delivery, WebhookDispatcher
from .world import PRESETS, RequestError, World

SCHEMAS = ("seed", "unified")
DEFAULT_MAX_BODY_BYTES = 15 * 1024 * 1024
_TASK_PATH = re.compile(r"^/api/v1/task/(?P<task_id>[^/]+)$")
_FILE_PATH = re.compile(r"^/(?P<kind>temp|ephemeral)/(?P<name>[A-Za-z0-9._-]+)$")
_RANGE = re.compile(r"^bytes=(?P<start>\d*)-(?P<end>\d*)$")
_CONTENT_TYPES = {"wav": "audio/wav", "mp4": "video/mp4", "mp3": "audio/mpeg", "png": "image/png"}


def _parse_offset(offset: str | int) -> int:
    """Minutes east of UTC from ``Z``, ``+08:00``, ``-0530`` or an int."""
    if isinstance(offset, int):
        return offset
    if offset in ("Z", "z", ""):
        return 0
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", offset)
    if not match:
        raise ValueError(f"timezone offset must look like 'Z' or '+08:00', got {offset!r}")
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    return minutes if match.group(1) == "+" else -minutes


class _RateLimiter:
    """A token bucket of `per_second` requests; answers how long to wait when empty."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.tokens = per_second
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.per_second, self.tokens + (now - self.stamp) * self.per_second)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.per_second


class Sandbox:
    """A local Qubico-compatible server: ``with Sandbox() as sb: ... sb.url``.

    schema: ``"seed"`` answers like the seed page (code 0, works[]), ``"unified"`` like today's API.
    preset: ``"instant"``, ``"fast"`` (tests, the default) or ``"realistic"`` (~1 s pending,
    ~20 s processing); ``pending_s`` / ``processing_s`` override it.
    api_key: when set, API calls without ``x-api-key: <api_key>`` get 401 (files stay public).
    A task created with ``config.webhook_config.endpoint`` gets ``{"timestamp", "data"}`` POSTed
    there as it starts and ends (loopback endpoints only; see `webhook_deliveries`).
    A video URL containing ``corrupt`` (or a data URI that is not an MP4) makes the task fail.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        schema: str = "seed",
        preset: str = "fast",
        pending_s: float | None = None,
        processing_s: float | None = None,
        audio_seconds: float = 8.0,
        sample_rate: int = 44100,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        faults: Iterable[FaultRule] = (),
        fault_seed: int = 0,
        rate_limit_per_s: float | None = None,
        concurrency_limit: int | None = None,
        balance_usd: float = 10.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        public_url: str | None = None,
        timezone_offset: str | int = "Z",
        title_case_status: bool = False,
    ) -> None:
        if schema not in SCHEMAS:
            raise ValueError(f"schema must be one of {SCHEMAS}, got {schema!r}")
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {preset!r}")
        if not 8000 <= sample_rate <= 192000:
            raise ValueError(f"sample_rate must be 8000..192000 Hz, got {sample_rate}")
        if not 0 < audio_seconds <= 60:
            raise ValueError(f"audio_seconds must be in (0, 60], got {audio_seconds}")
        default_pending, default_processing = PRESETS[preset]
        self.host = host
        self.port = port
        self.api_key = api_key
        self.schema = schema
        self.sample_rate = sample_rate
        self.audio_seconds = audio_seconds
        self.max_body_bytes = max_body_bytes
        self.public_url = public_url
        self.tz_minutes = _parse_offset(timezone_offset)
        self.title_case_status = title_case_status
        self.faults = FaultPlan(faults, seed=fault_seed)
        if latency_ms or jitter_ms:
            self.faults.add(FaultRule("latency", ms=latency_ms, jitter_ms=jitter_ms))
        self.rate_limiter = _RateLimiter(rate_limit_per_s) if rate_limit_per_s else None
        self.world = World(
            pending_s=default_pending if pending_s is None else pending_s,
            processing_s=default_processing if processing_s is None else processing_s,
            audio_seconds=audio_seconds,
            balance_usd=balance_usd,
            concurrency_limit=concurrency_limit,
        )
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._webhooks = WebhookDispatcher(
            self.world, lambda task, phase: self.renderer().render(self.schema, task, phase))

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Sandbox:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((self.host, self.port), _Handler)
        server.daemon_threads = True
        server.sandbox = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05},
            name="qubico-sandbox", daemon=True,
        )
        self._thread.start()
        self._webhooks.start()
        return self

    def stop(self) -> None:
        self._webhooks.stop()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self._server else "stopped"
        return f"Sandbox({state}, schema={self.schema!r}, auth={'on' if self.api_key else 'off'})"

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running: call start() or use 'with Sandbox()'")
        host, port = self._server.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def file_base_url(self) -> str:
        return (self.public_url or self.url).rstrip("/")

    # -- faults and counters -----------------------------------------------------------------
    def inject(self, kind: str, **options: Any) -> FaultRule:
        """Add a fault rule at run time, e.g. ``sb.inject("error", status=503, count=2)``."""
        return self.faults.add(FaultRule(kind, **options))

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def requests(self) -> Counter[str]:
        """Requests received so far per endpoint (create, get, history, ..., file, other)."""
        with self._counts_lock:
            return Counter(self._counts)

    @property
    def webhook_deliveries(self) -> list[Delivery]:
        """Every webhook the sandbox sent (or skipped), oldest first."""
        return self._webhooks.snapshot()

    def reset_counters(self) -> None:
        with self._counts_lock:
            self._counts.clear()

    def _count(self, endpoint: str) -> None:
        with self._counts_lock:
            self._counts[endpoint] += 1

    def renderer(self) -> Renderer:
        return Renderer(
            public_url=self.file_base_url,
            audio_seconds=self.audio_seconds,
            tz_minutes=self.tz_minutes,
            title_case=self.title_case_status,
        )

    def serve_forever(self) -> None:
        """Run in the foreground until interrupted (the CLI's ``qubico-nb sandbox``)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()


def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
    if path == "/api/v1/task":
        return ("create" if method == "POST" else "405"), {}
    match = _TASK_PATH.match(path)
    if match:
        return ("get" if method in ("GET", "HEAD") else "405"), match.groupdict()
    if path == "/api/open/tasks/histories":
        return ("history" if method == "GET" else "405"), {}
    if path == "/account/info":
        return ("account" if method == "GET" else "405"), {}
    if path == "/account/active_tasks":
        return ("active" if method == "GET" else "405"), {}
    if path == "/api/ephemeral_resource":
        return ("upload" if method == "POST" else "405"), {}
    match = _FILE_PATH.match(path)
    if match:
        return ("file" if method in ("GET", "HEAD") else "405"), match.groupdict()
    return "other", {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "qubico-sandbox/0.1"

    @property
    def sb(self) -> Sandbox:
        return self.server.sandbox  # type: ignore[attr-defined,no-any-return]

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

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ----------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        endpoint, params = _route(method, parts.path)
        self.sb._count(endpoint if endpoint != "405" else "other")
        decision = self.sb.faults.decide(endpoint) if endpoint not in ("other", "405") else None
        if decision and decision.delay_s:
            time.sleep(decision.delay_s)
        self._slow_ms = decision.slow_ms if decision else 0.0
        failure = decision.failure if decision else None
        if failure is not None and failure.kind == "drop":
            self._drop()
            return
        try:
            # Read the body first: an answer that leaves it unread would poison keep-alive.
            raw_body = self._read_body() if method in ("POST", "PUT") else b""
            if endpoint == "405":
                raise RequestError(405, f"method {method} is not allowed on {parts.path}")
            if endpoint == "other":
                raise RequestError(404, f"no such endpoint: {method} {parts.path}")
            if endpoint != "file":
                self._check_auth()
                if self.sb.rate_limiter is not None:
                    wait = self.sb.rate_limiter.take()
                    if wait:
                        raise RequestError(429, "too many requests", retry_after=wait)
            if failure is not None and failure.kind == "error":
                raise RequestError(failure.status, "injected server error")
            if failure is not None and failure.kind == "rate_limit":
                raise RequestError(429, "too many requests", retry_after=failure.retry_after)
            if endpoint == "file":
                truncate = failure is not None and failure.kind == "truncate"
                self._serve_file(params["kind"], params["name"], head=method == "HEAD",
                                 truncate=truncate)
                return
            body = _parse_json(raw_body) if method == "POST" else None
            code, payload = self._handle(endpoint, params, parts.query, body)
        except RequestError as err:
            self._send_error(err)
            return
        except Exception as err:
            self._send_error(RequestError(500, f"internal sandbox error: {type(err).__name__}"))
            return
        text = json.dumps(payload).encode()
        if failure is not None and failure.kind == "truncate":
            self._send_raw(code, "application/json", text, cut=len(text) // 2)
            return
        if failure is not None and failure.kind == "malformed":
            text = b'{"code": 200, "data": {"task_id": oops'
        self._send_raw(code, "application/json", text, head=method == "HEAD")

    def _check_auth(self) -> None:
        expected = self.sb.api_key
        if expected is None:
            return
        given = self.headers.get("x-api-key")
        if not given:
            raise RequestError(401, "missing x-api-key header")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise RequestError(401, "invalid api key")

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise RequestError(400, "Content-Length is not a number") from None
        if length > self.sb.max_body_bytes:
            self.close_connection = True
            raise RequestError(
                413, f"request body is {length} bytes; the limit is {self.sb.max_body_bytes}"
            )
        return self.rfile.read(length) if length > 0 else b""

    def _handle(
        self, endpoint: str, params: dict[str, str], query: str, body: Any
    ) -> tuple[int, dict[str, Any]]:
        sb = self.sb
        world = sb.world
        renderer = sb.renderer()
        success_code = 0 if sb.schema == "seed" else 200
        if endpoint == "create":
            task = world.create(body)
            data = renderer.render(sb.schema, task, world.phase(task))
            return 200, {"code": success_code, "data": data, "message": "success"}
        if endpoint == "get":
            task = world.get(params["task_id"])
            data = renderer.render(sb.schema, task, world.phase(task))
            return 200, {"code": success_code, "data": data, "message": "success"}
        if endpoint == "history":
            return 200, {"code": 200, "data": self._history(query), "message": "success"}
        if endpoint == "account":
            return 200, {"code": 200, "data": self._account(), "message": "success"}
        if endpoint == "active":
            active, pending, processing = world.active_counts()
            listed = [
                renderer.render("unified", t, world.phase(t)) for t in active
            ]
            family = {
                "pending_count": pending,
                "processing_count": processing,
                "active_tasks": listed,
            }
            return 200, {"code": 200, "data": {"mmaudio": family}, "message": "success"}
        if endpoint == "upload":
            key = world.add_upload(body)
            url = f"{sb.file_base_url}/ephemeral/{key}"
            return 200, {"code": 200, "data": {"url": url}, "message": "success"}
        raise RequestError(404, "no such endpoint")

    def _history(self, query: str) -> dict[str, Any]:
        args = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}

        def number(name: str) -> int | None:
            text = args.get(name, "")
            if text == "":
                return None
            try:
                return int(text)
            except ValueError:
                raise RequestError(400, f"{name} must be an integer, got {text!r}") from None

        given_page, given_size = number("page"), number("page_size")
        page = 1 if given_page is None else given_page
        size = 10 if given_size is None else given_size
        if page < 1:
            raise RequestError(400, f"page starts at 1, got {page}")
        if not 1 <= size <= 100:
            raise RequestError(400, f"page_size must be from 1 to 100, got {size}")
        start = number("start_time")
        end = number("end_time")
        model = args.get("model", "").lower()
        world = self.sb.world
        chosen = []
        newest_first = sorted(world.tasks(), key=lambda t: (t.created_wall_ns, t.number),
                              reverse=True)
        for task in newest_first:
            created_s = task.created_wall_ns / 1e9
            if start is not None and created_s < start:
                continue
            if end is not None and created_s > end:
                continue
            if model and model not in "qubico/mmaudio":
                continue
            chosen.append(task)
        renderer = self.sb.renderer()
        rows = [
            renderer.render(self.sb.schema, t, world.phase(t))
            for t in chosen[(page - 1) * size : page * size]
        ]
        return {"data": rows, "page": page, "size": size, "total": len(chosen)}

    def _account(self) -> dict[str, Any]:
        world = self.sb.world
        return {
            "account_name": "sandbox",
            "account_id": "sandbox-0001",
            "equivalent_in_usd": round(world.balance_usd, 7),
            "credits": int(world.balance_usd * 1_000_000),
            "plan": "creator",
            "concurrency_limit": world.concurrency_limit,
        }

    # -- responses ---------------------------------------------------------------------------
    def _send_error(self, err: RequestError) -> None:
        body = json.dumps({"code": err.status, "message": err.message, "data": None}).encode()
        headers = {}
        if err.retry_after is not None:
            headers["Retry-After"] = f"{err.retry_after:g}"
        self._send_raw(err.status, "application/json", body, headers=headers,
                       head=self.command == "HEAD")

    def _send_raw(
        self,
        status: int,
        content_type: str,
        body: bytes,
        *,
        headers: dict[str, str] | None = None,
        head: bool = False,
        cut: int | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if cut is not None:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if head:
                return
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                return
            self._write_body(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _write_body(self, body: bytes) -> None:
        if not self._slow_ms:
            self.wfile.write(body)
            return
        piece = max(64, len(body) // 16)
        for at in range(0, len(body), piece):
            self.wfile.write(body[at : at + piece])
            self.wfile.flush()
            time.sleep(self._slow_ms / 1000.0)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _serve_file(self, kind: str, name: str, *, head: bool, truncate: bool = False) -> None:
        data = self._file_bytes(kind, name)
        ext = name.rsplit(".", 1)[-1].lower()
        content_type = _CONTENT_TYPES.get(ext, "application/octet-stream")
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "public, max-age=86400"}
        spec = self.headers.get("Range")
        if spec:
            byte_range = _parse_range(spec, len(data))
            if byte_range is None:
                headers["Content-Range"] = f"bytes */{len(data)}"
                body = json.dumps({"code": 416, "message": f"unsatisfiable range {spec}"})
                self._send_raw(416, "application/json", body.encode(), headers=headers)
                return
            start, end = byte_range
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            part = data[start : end + 1]
            self._send_raw(206, content_type, part, headers=headers, head=head,
                           cut=len(part) // 2 if truncate else None)
            return
        self._send_raw(200, content_type, data, headers=headers, head=head,
                       cut=len(data) // 2 if truncate else None)

    def _file_bytes(self, kind: str, name: str) -> bytes:
        world = self.sb.world
        if kind == "ephemeral":
            found = world.upload(name)
            if found is None:
                raise RequestError(404, f"no such file: {name}")
            return found
        task_id, _, ext = name.rpartition(".")
        if ext != "wav":
            raise RequestError(404, f"no such file: {name}")
        task = world.get(task_id)
        if world.phase(task) != "completed":
            raise RequestError(404, f"no such file yet: {name}")
        return synthesize_wav(
            task.input["prompt"],
            task.input["negative_prompt"],
            task.input["seed"],
            task.input["steps"],
            audio_seconds(task, self.sb.audio_seconds),
            self.sb.sample_rate,
        )


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RequestError(400, "request body is not valid JSON") from None


def _parse_range(spec: str, size: int) -> tuple[int, int] | None:
    """The one byte range a header asks for, clamped; None when it cannot be satisfied."""
    match = _RANGE.match(spec.strip())
    if not match or size == 0:
        return None
    start_text, end_text = match.group("start"), match.group("end")
    if not start_text:
        if not end_text or int(end_text) == 0:
            return None
        length = min(int(end_text), size)
        return size - length, size - 1
    start = int(start_text)
    end = int(end_text) if end_text else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)
