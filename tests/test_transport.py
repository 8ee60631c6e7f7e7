"""The transport under attack: redirects, trickling servers, bombs, lost creates, odd answers.

The sandbox plays the honest server; a tiny stdlib server written here plays what the sandbox
cannot (redirects to another host, a byte a second, gzip bombs, answers for another task).
"""

from __future__ import annotations

import gc
import io
import json
import logging
import pickle
import threading
import time
import types
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from qubico_nb import (
    APIConnectionError,
    APITimeoutError,
    Client,
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    ProtocolError,
    QubicoError,
    ServerError,
    Status,
    WaitTimeoutError,
)
from qubico_nb._retry import RetryPolicy
from qubico_nb.errors import CreateOutcomeUnknownError, ResponseTooLargeError
from qubico_nb.sandbox import Sandbox

from .helpers.clock import FakeClock
from .helpers.sandbox import KEY, VIDEO, client_for

Handler = Callable[[BaseHTTPRequestHandler], None]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients here hang up early on purpose (caps, refusals): no traceback on stderr


class Hostile:
    """A stdlib HTTP server whose answers the test scripts; it records every request."""

    def __init__(self, handle: Handler) -> None:
        outer = self
        self.seen: list[tuple[str, str, dict[str, str]]] = []

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.seen.append(
                    (self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                )
                try:
                    handle(self)
                except OSError:
                    self.close_connection = True

            do_GET = do_POST = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile() -> Iterator[Callable[[Handler], Hostile]]:
    made: list[Hostile] = []

    def make(handle: Handler) -> Hostile:
        made.append(Hostile(handle))
        return made[-1]

    yield make
    for server in made:
        server.close()


def send(
    h: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> None:
    h.send_response(status)
    for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
        h.send_header(name, value)
    h.end_headers()
    h.wfile.write(body)


def task_body(task_id: str, status: str = "completed") -> bytes:
    return json.dumps(
        {
            "code": 200,
            "message": "success",
            "data": {
                "task_id": task_id,
                "model": "Qubico/mmaudio",
                "task_type": "video2audio",
                "status": status,
            },
        }
    ).encode()


def ends(call: Callable[[], Any], guard_s: float = 30.0) -> Any:
    """Run `call` on a thread; fail if it is still running after `guard_s` (a hang guard)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as err:  # handed to the test
            box["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(guard_s)
    assert not thread.is_alive(), f"the call was still running after {guard_s:g} s"
    if "error" in box:
        raise box["error"]
    return box.get("value")


# -- the key stays home --------------------------------------------------------------------------
@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_never_carries_the_key(
    code: int, hostile: Callable[[Handler], Hostile]
) -> None:
    thief = hostile(lambda h: send(h, 200, task_body("t1")))
    # Another port of the same host is another origin too.
    portal = hostile(lambda h: send(h, code, headers={"Location": f"{thief.url}/steal"}))
    client = Client(KEY, base_url=portal.url, max_retries=0)
    with pytest.raises(ProtocolError, match=rf"redirected \(HTTP {code}\) to another origin"):
        client.get_task("t1")
    with pytest.raises(ProtocolError, match="another origin"):
        client.create_task("Qubico/mmaudio", "video2audio", {"prompt": "rain"})
    assert thief.seen == []
    assert all(headers["x-api-key"] == KEY for _, _, headers in portal.seen)


def test_a_redirect_to_plain_http_elsewhere_is_refused(
    hostile: Callable[[Handler], Hostile],
) -> None:
    portal = hostile(lambda h: send(h, 302, headers={"Location": "http://api.example.com/x"}))
    with pytest.raises(ProtocolError, match="another origin"):
        Client(KEY, base_url=portal.url, max_retries=0).get_task("t1")


def test_a_same_origin_redirect_is_followed_with_the_key(
    hostile: Callable[[Handler], Hostile],
) -> None:
    def handle(h: BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/moved"):
            send(h, 200, task_body("t1"))
        else:
            send(h, 301, headers={"Location": "/moved/t1"})

    server = hostile(handle)
    task = Client(KEY, base_url=server.url, max_retries=0, cache_size=0).get_task("t1")
    assert task.id == "t1" and [path for _, path, _ in server.seen] == [
        "/api/v1/task/t1",
        "/moved/t1",
    ]
    assert all(headers.get("x-api-key") == KEY for _, _, headers in server.seen)
    # A create redirected with 301/302/303 would turn into a GET: refused, not followed.
    with pytest.raises(ProtocolError, match="turn it into a GET"):
        Client(KEY, base_url=server.url).create_task("m", "t", {})


@pytest.mark.parametrize(
    "location",
    ["", "ftp://x/y", "http://[bad/", "javascript:alert(1)", "http://:80/", "http://h:99999/"],
)
def test_a_redirect_to_nowhere_is_a_protocol_error(
    location: str, hostile: Callable[[Handler], Hostile]
) -> None:
    server = hostile(lambda h: send(h, 302, headers={"Location": location} if location else {}))
    client = Client(KEY, base_url=server.url, max_retries=0)
    with pytest.raises(ProtocolError, match="not an http"):
        client.get_task("t1")
    with pytest.raises(ProtocolError, match="not an http"):
        client.fetch_file(f"{server.url}/f.wav", io.BytesIO())


def test_endless_redirects_end(hostile: Callable[[Handler], Hostile]) -> None:
    loop = hostile(lambda h: send(h, 307, headers={"Location": "/again"}))
    with pytest.raises(ProtocolError, match="more than 5 redirects"):
        Client(KEY, base_url=loop.url, max_retries=0).get_task("t1")
    assert len(loop.seen) == 6


@pytest.mark.parametrize(
    "url",
    [
        "https://a@api.piapi.ai",
        "https://api.piapi.ai@evil.com",
        "http://127.0.0.1:80@evil.com",
        "https://evil.com\\@api.piapi.ai",
        "https://evil.com\\api.piapi.ai",
        " https://api.piapi.ai",
        "https://api.piapi.ai\n",
        "https://api .piapi.ai",
        "https://api.piapi.ai:99999",
        "https://api.piapi.ai:0",
        "https://api.piapi.ai:-1",
        "https://api.piapi.ai:0x50",
        "https://api.piapi.ai:",
        "https:/api.piapi.ai",
        "https:api.piapi.ai",
        "api.piapi.ai",
        "ftp://api.piapi.ai",
        "https://api.piapi.ai?x=1",
        "https://api.piapi.ai#frag",
        "https://[::1",
        "https://[evil.com]",
        "https://ex_ample.com",
        "https://exämple.com",
        "https://",
        "https://api.piapi.ai/\x00",
    ],
)
def test_crafted_base_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequestError, match="base_url must be an http"):
        Client(KEY, base_url=url)


def test_plain_http_guard_cannot_be_fooled() -> None:
    for url in (
        "HTTP://api.example.com",
        "http://api.example.com:443",
        "http://localhost.evil.com",
        "http://127.0.0.1.nip.io",
        "http://2130706433",
    ):
        client = Client(KEY, base_url=url, max_retries=0)
        with pytest.raises(ConfigurationError, match="plain HTTP"):
            client.get_task("abc")
    assert Client(KEY, base_url="HTTPS://API.PiAPI.ai/").base_url == "https://api.piapi.ai"
    assert Client(KEY, base_url="http://[::1]:8080").is_sandbox
    with pytest.raises(InvalidRequestError, match="upload_url"):
        Client(KEY, upload_url="https://u@upload.example.com")


@pytest.mark.parametrize(
    "key", [KEY + "\n", KEY + " ", " " + KEY, KEY[:8] + "\t" + KEY[8:], KEY + "\x00", KEY + "é"]
)
def test_a_key_with_whitespace_is_a_clear_error(key: str) -> None:
    with pytest.raises(ConfigurationError, match="API key") as caught:
        Client(key, base_url="http://127.0.0.1:9")
    assert KEY not in str(caught.value) and KEY[:10] not in repr(caught.value.args)
    _assert_clean(caught.value)


# -- the key in errors ---------------------------------------------------------------------------
def _frames(error: BaseException) -> Iterator[types.FrameType]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None:
            yield tb.tb_frame
            tb = tb.tb_next
        todo += [current.__cause__, current.__context__]


def _deep_repr(value: object, depth: int = 0) -> Iterator[str]:
    """What an error tracker records of a local: its repr, and its items' (a few levels)."""
    yield repr(value)
    if depth > 3:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _deep_repr(key, depth + 1)
            yield from _deep_repr(item, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _deep_repr(item, depth + 1)


def _reachable(error: BaseException) -> Iterator[object]:
    """Everything reachable from the exception object, except through frames and tracebacks
    (those hold the caller's own variables, the client among them)."""
    seen: set[int] = set()
    todo: list[object] = [error]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(
            obj, (types.FrameType, types.TracebackType, types.ModuleType, type)
        ):
            continue
        seen.add(id(obj))
        yield obj
        todo += gc.get_referents(obj)


def _assert_clean(error: BaseException) -> None:
    for frame in _frames(error):
        if frame.f_code.co_filename == __file__:
            continue  # the test's own frames hold the key it passed
        for name, value in frame.f_locals.items():
            for text in _deep_repr(value):
                assert KEY not in text, (frame.f_code.co_name, name)
    for obj in _reachable(error):
        if isinstance(obj, (str, bytes)):
            assert (KEY not in obj) if isinstance(obj, str) else (KEY.encode() not in obj)
    assert KEY.encode() not in pickle.dumps(error)


def test_the_key_is_in_no_error_nor_its_frames(hostile: Callable[[Handler], Hostile]) -> None:
    errors: list[BaseException] = []

    def collect(call: Callable[[], object]) -> None:
        try:
            call()
        except QubicoError as err:
            errors.append(err)

    with Sandbox(api_key=KEY, preset="instant") as sb:
        client = client_for(sb, max_retries=0)
        collect(lambda: client.get_task("nope"))
        collect(lambda: client_for(sb, api_key=KEY + "x").get_task("x"))
        sb.inject("drop", endpoints=("get",), count=1)
        collect(lambda: client.get_task("x"))
        sb.inject("drop", endpoints=("create",), count=1)
        collect(lambda: client.generate_audio(VIDEO, "rain"))
        sb.inject("malformed", endpoints=("account",), count=1)
        collect(client.account)
    collect(lambda: Client(KEY, base_url="http://127.0.0.1:9", max_retries=0).get_task("x"))
    portal = hostile(lambda h: send(h, 302, headers={"Location": "https://evil.example/"}))
    collect(lambda: Client(KEY, base_url=portal.url).get_task("x"))
    nested = "[" * 250 + json.dumps(KEY) + "]" * 250  # the key, too deep to be checked
    deep = hostile(lambda h: send(h, 200, f'{{"data": {nested}}}'.encode()))
    collect(lambda: Client(KEY, base_url=deep.url, max_retries=0).account())
    echo = hostile(lambda h: send(h, 500, ("x" * 190 + KEY).encode()))
    collect(lambda: Client(KEY, base_url=echo.url, max_retries=0).get_task("x"))
    assert len(errors) == 9 and "nests more than 200 levels" in str(errors[-2])
    for error in errors:
        _assert_clean(error)
    # Redacted before it was cut: no piece of the key either.
    assert KEY[:10] not in str(errors[-1]) and "***" in str(errors[-1])


def _echoing_task(task_id: str, key: str) -> dict[str, Any]:
    """A finished task whose every text holds the key it was asked with (a key of its own,
    a value that is just the key, and the key inside URLs, logs and errors)."""
    return {
        "task_id": task_id,
        "model": "Qubico/mmaudio",
        "task_type": "video2audio",
        "status": "completed",
        "config": {"service_mode": key, "webhook_config": {"endpoint": key, "secret": key}},
        "input": {"prompt": f"rain {key}", "video": f"https://x/v.mp4?k={key}", key: key},
        "output": {
            "audio_url": f"https://cdn.example/a.mp3?key={key}",
            "video_url": f"https://cdn.example/v.mp4?key={key}",
            "works": [{"url": f"https://cdn.example/w.wav#{key}", "note": key}],
        },
        "meta": {
            "created_at": "2026-01-01T00:00:00Z",
            "ended_at": "2026-01-01T00:00:05Z",
            "usage": {"type": key, "consume": 5000},
        },
        "logs": [f"auth {key}", {key: [key]}],
        "error": {"code": 0, "raw_message": f"k={key}", "message": key, "detail": key},
        "hidden": "ESCAPED",  # the key again, each character a JSON escape (see below)
    }


def _echo_the_key(h: BaseHTTPRequestHandler) -> None:
    key = h.headers.get("x-api-key", "")
    path = h.path.split("?")[0]
    if path.startswith("/api/open/tasks/histories"):
        data: Any = {"data": [_echoing_task(f"h{i}", key) for i in range(3)], "total": 3}
    elif path.startswith("/account"):
        data = {"plan": key, "note": f"your key is {key}"}
    else:
        data = _echoing_task(path.rsplit("/", 1)[-1] if h.command == "GET" else "new", key)
    body = {"code": 200, "message": f"ok {key}", "data": data}
    escaped = "".join(f"\\u{ord(c):04x}" for c in key)
    text = json.dumps(body).replace('"ESCAPED"', f'"{escaped}"')
    send(h, 200, text.encode(), {"Content-Type": "application/json"})


def test_an_answer_that_echoes_the_key_everywhere_leaves_it_nowhere(
    hostile: Callable[[Handler], Hostile], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every answer is cleaned where it arrives: no Task, frame, comparison, viewer, store or
    account dict holds the key, however the server echoes it."""
    from qubico_nb import TaskViewer, compare, tabulate_tasks

    monkeypatch.setenv("QUBICO_NB_CACHE_DIR", str(tmp_path / "cache"))
    server = hostile(_echo_the_key)
    client = Client(KEY, base_url=server.url, max_retries=0)
    made = client.create_task("Qubico/mmaudio", "video2audio", {"prompt": "p", "video": VIDEO})
    fetched = client.get_task("t1")
    listed = list(client.history())
    tasks = [made, fetched, *listed]
    assert len(tasks) == 5 and {t.status for t in tasks} == {Status.COMPLETED}
    assert fetched.prompt == "rain ***" and fetched.raw["input"]["***"] == "***"
    assert all(t.raw["hidden"] == "***" for t in tasks)  # found however it was written
    frame = tabulate_tasks([fetched, *listed], client=client, progress=False)
    shown = [
        *(repr(dict(t.raw)) + repr(t) + json.dumps(t.to_dict()) for t in tasks),
        frame.to_csv(),
        repr(client.account()),
        compare(frame, by="prompt", across="task_id", client=client)._repr_html_(),
        json.dumps(TaskViewer(fetched, client=client, follow=False).get_state(), default=str),
    ]
    assert all(KEY not in text for text in shown)
    assert "key=***" in frame.to_csv() and "rain ***" in shown[-2]
    holder = client._transport._auth.secrets  # what cleans the answers never shows the key
    assert KEY not in repr(holder) and KEY not in repr(client._transport)
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(holder)
    client.close()
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert files and not any(KEY.encode() in p.read_bytes() for p in files)
    stored = Client(KEY, base_url=server.url).cache.get("t1")  # read back from the disk
    assert stored is not None and stored.raw["output"]["audio_url"].endswith("key=***")


# -- every call ends -----------------------------------------------------------------------------
def _trickle_body(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", "1000000")  # a download is cut by its progress, not this
    h.end_headers()
    for _ in range(600):  # a byte every 0.05 s for 30 s: each read "succeeds"
        h.wfile.write(b" ")
        h.wfile.flush()
        time.sleep(0.05)


def _trickle_headers(h: BaseHTTPRequestHandler) -> None:
    h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    for _ in range(600):
        h.wfile.write(b"a")
        h.wfile.flush()
        time.sleep(0.05)


@pytest.mark.parametrize("trickle", [_trickle_body, _trickle_headers])
def test_a_trickling_server_cannot_hold_a_call(
    trickle: Handler, hostile: Callable[[Handler], Hostile]
) -> None:
    server = hostile(trickle)
    client = Client(KEY, base_url=server.url, timeout=0.5, max_retries=0, cache_size=0)
    with pytest.raises(APITimeoutError, match=r"no complete answer .* within 0\.5 s"):
        ends(lambda: client.get_task("t1"))
    with pytest.raises(CreateOutcomeUnknownError):
        ends(lambda: client.create_task("Qubico/mmaudio", "video2audio", {"prompt": "x"}))
    with pytest.raises(WaitTimeoutError):
        ends(lambda: client.wait("t1", timeout=1.0, poll_interval=0.2))


def _trickle_unsized(h: BaseHTTPRequestHandler) -> None:
    h.close_connection = True
    h.wfile.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")  # ends when it closes
    for _ in range(600):
        h.wfile.write(b"x")
        h.wfile.flush()
        time.sleep(0.05)


@pytest.mark.parametrize("trickle", [_trickle_body, _trickle_unsized])
def test_a_trickling_download_ends(trickle: Handler, hostile: Callable[[Handler], Hostile]) -> None:
    server = hostile(trickle)
    client = Client(KEY, base_url=server.url, timeout=0.5, max_retries=1, retry_backoff=0)
    sink = io.BytesIO()
    with pytest.raises(APITimeoutError):
        ends(lambda: client.fetch_file(f"{server.url}/file.wav", sink))
    assert len(server.seen) == 2  # a timed-out download is tried again, and that ends too


def test_a_slow_but_steady_download_is_not_cut() -> None:
    with Sandbox(preset="instant", audio_seconds=1.0) as sb:
        sb.inject("slow", endpoints=("file",), ms=20)
        client = client_for(sb, timeout=2)
        task = client.wait(client.generate_audio(VIDEO, "rain"))
        assert task.audio is not None
        sink = io.BytesIO()
        assert client.fetch_file(task.audio.url, sink) == len(sink.getvalue()) > 80_000


# -- size caps -----------------------------------------------------------------------------------
def test_a_gzip_bomb_is_stopped_while_it_inflates(hostile: Callable[[Handler], Hostile]) -> None:
    import tracemalloc

    packer = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip
    zeros = b"0" * (1024 * 1024)
    bomb = (
        packer.compress(b'{"code": 200, "data": "')
        + b"".join(packer.compress(zeros) for _ in range(200))
        + packer.flush()
    )
    server = hostile(lambda h: send(h, 200, bomb, {"Content-Encoding": "gzip"}))
    client = Client(KEY, base_url=server.url, max_retries=0)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError, match="larger than 16,777,216 bytes once"):
            client.account()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 60 * 1024 * 1024  # the 200 MB were never inflated at once
    with pytest.raises(ResponseTooLargeError, match="max_bytes"):
        client.fetch_file(f"{server.url}/f.wav", io.BytesIO(), max_bytes=1024 * 1024)


def test_an_announced_size_over_the_cap_is_refused_before_reading(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(_trickle_body)  # announces 1 MB, then trickles
    client = Client(KEY, base_url=server.url, timeout=20)
    with pytest.raises(ResponseTooLargeError, match="announces 1,000,000 bytes"):
        ends(
            lambda: client.fetch_file(f"{server.url}/f.wav", io.BytesIO(), max_bytes=1000),
            guard_s=10,
        )


def test_json_and_download_caps(hostile: Callable[[Handler], Hostile]) -> None:
    huge = b'{"code": 200, "data": "' + b"x" * (17 * 1024 * 1024) + b'"}'
    server = hostile(lambda h: send(h, 200, huge))
    client = Client(KEY, base_url=server.url, max_retries=3)
    with pytest.raises(ResponseTooLargeError) as caught:
        client.account()
    assert caught.value.limit == 16 * 1024 * 1024 and len(server.seen) == 1  # not retried
    with Sandbox(preset="instant", audio_seconds=1.0) as sb:
        sb_client = client_for(sb)
        task = sb_client.wait(sb_client.generate_audio(VIDEO, "rain"))
        assert task.audio is not None
        with pytest.raises(ResponseTooLargeError, match="more than the 1,000 allowed"):
            sb_client.fetch_file(task.audio.url, io.BytesIO(), max_bytes=1000)


def test_fetch_file_reports_the_final_answers_headers(
    hostile: Callable[[Handler], Hostile],
) -> None:
    def answer(h: BaseHTTPRequestHandler) -> None:
        if h.path == "/moved":
            send(h, 302, headers={"Location": "/f.wav", "Content-Type": "text/html"})
        else:
            send(h, 200, b"RIFF0000WAVE", {"Content-Type": "audio/wav"})

    server = hostile(answer)
    client = Client(KEY, base_url=server.url, max_retries=0)
    seen: list[str] = []
    sink = io.BytesIO()
    size = client.fetch_file(
        f"{server.url}/moved", sink, on_headers=lambda headers: seen.append(headers["content-type"])
    )
    assert (size, sink.getvalue(), seen) == (12, b"RIFF0000WAVE", ["audio/wav"])


def test_an_exception_from_on_headers_stops_the_download_unretried(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(lambda h: send(h, 200, b"<html>sign in</html>", {"Content-Type": "text/html"}))
    client = Client(KEY, base_url=server.url, max_retries=3)

    class Refused(Exception):
        pass

    def refuse(headers: Any) -> None:
        raise Refused(headers.get("Content-Type"))

    sink = io.BytesIO()
    with pytest.raises(Refused, match="text/html"):
        client.fetch_file(f"{server.url}/f.wav", sink, on_headers=refuse)
    assert sink.getvalue() == b"" and len(server.seen) == 1


def test_a_corrupt_gzip_body_is_a_malformed_answer(hostile: Callable[[Handler], Hostile]) -> None:
    server = hostile(
        lambda h: send(h, 200, b"\x1f\x8bnot gzip at all", {"Content-Encoding": "gzip"})
    )
    with pytest.raises(ProtocolError, match="compressed body is corrupt"):
        Client(KEY, base_url=server.url, max_retries=1, retry_backoff=0).account()
    assert len(server.seen) == 2


def _gzip(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def test_a_gzip_body_of_several_members_is_read_to_its_last_byte(
    hostile: Callable[[Handler], Hostile], tmp_path: Any
) -> None:
    """RFC 1952 allows members one after the other; all of them are the body (a reader that
    stopped after the first made a 1.0 s file measure 0.5 s)."""
    from qubico_nb.store.files import FileCache

    answer = json.dumps({"code": 200, "data": {"credits": 7, "pad": "x" * 5000}}).encode()
    wav = bytes(range(256)) * 400
    halves = {
        "/account/info": _gzip(answer[:100]) + _gzip(answer[100:]),
        "/f.wav": b"".join(_gzip(wav[i : i + 30_000]) for i in range(0, len(wav), 30_000)),
    }
    server = hostile(
        lambda h: send(
            h, 200, halves.get(h.path.split("?")[0], halves["/f.wav"]), {"Content-Encoding": "gzip"}
        )
    )
    client = Client(KEY, base_url=server.url, max_retries=0)
    account = client.account()
    assert account["credits"] == 7 and len(account["pad"]) == 5000
    sink = io.BytesIO()
    assert client.fetch_file(f"{server.url}/f.wav", sink) == len(wav)
    assert sink.getvalue() == wav
    files = FileCache(tmp_path)
    assert files.fetch(f"{server.url}/f.wav", client.fetch_file) == wav
    assert files.get(f"{server.url}/f.wav") == wav


@pytest.mark.parametrize(
    ("encoding", "body", "why"),
    [
        ("gzip", _gzip(b"RIFF" + bytes(500)) + b"trailing garbage", "is corrupt"),
        ("gzip", _gzip(b"RIFF" + bytes(500)) + bytes(64), "is corrupt"),
        ("gzip", _gzip(b"RIFF" + bytes(5000))[:-12], "ends in the middle"),
        ("deflate", zlib.compress(b"RIFF" + bytes(500)) + b"more", "has bytes after the end"),
    ],
    ids=["garbage after the member", "zeros after the member", "cut inside", "deflate tail"],
)
def test_a_compressed_body_with_bytes_after_its_end_or_cut_short_is_refused(
    hostile: Callable[[Handler], Hostile], tmp_path: Any, encoding: str, body: bytes, why: str
) -> None:
    from qubico_nb.store.files import FileCache

    server = hostile(lambda h: send(h, 200, body, {"Content-Encoding": encoding}))
    client = Client(KEY, base_url=server.url, max_retries=0)
    with pytest.raises(ProtocolError, match=f"compressed body {why}"):
        client.fetch_file(f"{server.url}/f.wav", io.BytesIO())
    with pytest.raises(ProtocolError, match=f"compressed body {why}"):
        client.account()
    files = FileCache(tmp_path)
    with pytest.raises(ProtocolError, match=f"compressed body {why}"):
        files.fetch(f"{server.url}/f.wav", client.fetch_file)
    assert files.get(f"{server.url}/f.wav") is None  # nothing half-read is kept


# -- lost creates --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("drop", {}),
        ("truncate", {}),
        ("malformed", {}),
        ("error", {"status": 502}),
        ("error", {"status": 504}),
        ("latency", {"ms": 1500}),
    ],
)
def test_a_lost_create_answer_is_said_to_be_lost(kind: str, options: dict[str, Any]) -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, max_retries=3, timeout=0.5)
        sb.inject(kind, endpoints=("create",), count=1, **options)
        before = time.time()
        with pytest.raises(CreateOutcomeUnknownError, match="may exist and be billed") as caught:
            client.generate_audio(VIDEO, "rain", seed=7)
        assert sb.requests["create"] == 1  # never sent again
        lost = caught.value
        assert (lost.model, lost.task_type) == ("Qubico/mmaudio", "video2audio")
        assert lost.input["prompt"] == "rain" and lost.input["seed"] == 7
        assert before - 1 <= lost.sent_at <= time.time()
        assert "client.history(model='Qubico/mmaudio', since=" in str(lost)
        if kind == "latency":  # it was created: the history finds it, as the message says
            time.sleep(1.2)
            found = [
                t
                for t in client.history(since=int(lost.sent_at) - 60)
                if t.prompt == lost.input["prompt"]
            ]
            assert len(found) == 1


def test_a_create_refused_with_503_is_not_lost() -> None:
    with Sandbox(preset="instant") as sb:
        sb.inject("error", endpoints=("create",), count=1, status=503)
        with pytest.raises(ServerError) as caught:
            client_for(sb, max_retries=3).generate_audio(VIDEO, "rain")
        assert not isinstance(caught.value, CreateOutcomeUnknownError)
        assert sb.requests["create"] == 1


# -- the answer is the task asked for ------------------------------------------------------------
def test_an_answer_for_another_task_is_refused_and_never_cached(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(lambda h: send(h, 200, task_body("other")))
    client = Client(KEY, base_url=server.url, max_retries=0, cache_size=100)
    with pytest.raises(ProtocolError, match="asked for task 'mine' but the answer is task 'other'"):
        client.get_task("mine")
    assert client.get_task("other").id == "other"
    assert len(server.seen) == 2  # 'other' was not remembered from the wrong answer


# -- task ids ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "task_id",
    [
        ".",
        "..",
        " .. ",
        "a/b",
        "../account/info",
        "a\\b",
        "a\nb",
        "a\x00b",
        "a\x1bb",
        "a\u202eb",
        "x" * 201,
    ],
)
def test_odd_task_ids_are_refused_before_sending(task_id: str) -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb)
        for call in (client.get_task, client.wait):
            with pytest.raises(InvalidRequestError, match="task_id"):
                call(task_id)
        assert sum(sb.requests.values()) == 0


def test_ids_are_escaped_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="qubico_nb")
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, max_retries=0)
        sb.inject("error", endpoints=("get",), count=1)
        with pytest.raises(NotFoundError, match="'<b>x'"):
            client.wait("<b>x", timeout=5)
    assert any("still waiting for task '<b>x'" in r.getMessage() for r in caplog.records)


# -- history always ends -------------------------------------------------------------------------
def _history(items: list[dict[str, Any]], total: int | None = None) -> bytes:
    listing: dict[str, Any] = {"data": items}
    if total is not None:
        listing["total"] = total
    return json.dumps({"code": 200, "data": listing}).encode()


def test_history_ends_when_the_server_ignores_page(hostile: Callable[[Handler], Hostile]) -> None:
    page = [{"task_id": f"t{i}", "status": "completed"} for i in range(3)]
    server = hostile(lambda h: send(h, 200, _history(page)))  # same page, no total, forever
    client = Client(KEY, base_url=server.url, max_retries=0)
    got = ends(lambda: [t.id for t in client.history(page_size=3)])
    assert got == ["t0", "t1", "t2"] and len(server.seen) == 2


def test_history_without_total_reads_every_page(hostile: Callable[[Handler], Hostile]) -> None:
    def handle(h: BaseHTTPRequestHandler) -> None:
        page = int(h.path.split("page=")[1].split("&")[0])
        items = (
            []
            if page > 3
            else [{"task_id": f"p{page}-{i}", "status": "completed"} for i in range(2)]
        )
        send(h, 200, _history(items))

    client = Client(KEY, base_url=hostile(handle).url)
    got = ends(lambda: [t.id for t in client.history(page_size=2)])
    assert len(got) == 6 and got[0] == "p1-0" and got[-1] == "p3-1"


# -- waiting on a fixed schedule -----------------------------------------------------------------
class CostlySession(requests.Session):
    """Each request costs `cost_s` on a fake clock, half before the server reads it."""

    def __init__(self, clock: FakeClock, cost_s: float) -> None:
        super().__init__()
        self.clock = clock
        self.cost_s = cost_s
        self.sent: list[float] = []

    def request(
        self,
        method: str | bytes,
        url: str | bytes,  # type: ignore[override]
        *args: Any,
        **kwargs: Any,
    ) -> requests.Response:
        self.sent.append(self.clock.monotonic())
        self.clock.advance(self.cost_s / 2)
        try:
            return super().request(method, url, *args, **kwargs)
        finally:
            self.clock.advance(self.cost_s / 2)


def test_wait_polls_on_a_fixed_schedule() -> None:
    clock = FakeClock(start=0.0)
    with Sandbox(pending_s=1.0, processing_s=2.0) as sb:
        sb.world.clock = clock.monotonic
        session = CostlySession(clock, cost_s=0.4)
        client = client_for(sb, poll_interval=1.0, clock=clock, session=session)
        task = client.generate_audio(VIDEO, "rain")
        ended = 0.2 + 3.0  # the server made it at 0.2, half-way through the create
        start = clock.monotonic()
        session.sent.clear()
        done = client.wait(task, timeout=60)
        assert done.status is Status.COMPLETED
        polls = [round(t - start, 6) for t in session.sent]
        # start + k * interval (read by the server 0.2 s later), not "sleep after each answer"
        assert polls == [0.0, 1.0, 2.0, 3.0]
        minimum = -(-(ended - start) // 1.0) + 1
        assert len(polls) <= 1.2 * minimum and sb.requests["get"] == len(polls)
        assert clock.monotonic() - ended <= 1.0 + 0.4  # one interval plus one request


def test_wait_returns_within_its_timeout_plus_one_request() -> None:
    clock = FakeClock(start=0.0)
    with Sandbox(pending_s=100.0) as sb:
        sb.world.clock = clock.monotonic
        session = CostlySession(clock, cost_s=0.3)
        client = client_for(sb, poll_interval=1.0, clock=clock, session=session, timeout=5)
        task = client.generate_audio(VIDEO, "rain")
        start = clock.monotonic()
        with pytest.raises(WaitTimeoutError):
            client.wait(task, timeout=2.5)
        assert clock.monotonic() - start <= 2.5 + 0.3
        assert len(session.sent) == 4  # polls at 0, 1, 2 and the create


def test_wait_rides_out_errors_on_the_schedule() -> None:
    clock = FakeClock(start=0.0)
    with Sandbox(pending_s=0.5, processing_s=0.5) as sb:
        sb.world.clock = clock.monotonic
        client = client_for(sb, poll_interval=0.25, clock=clock, max_retries=0)
        task = client.generate_audio(VIDEO, "rain")
        sb.inject("error", endpoints=("get",), count=2)
        assert client.wait(task, timeout=10).status is Status.COMPLETED
        assert clock.slept and all(pause <= 0.25 + 1e-9 for pause in clock.slept)


def test_retry_waits_are_on_the_clients_clock() -> None:
    clock = FakeClock()
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, clock=clock, max_retries=2, retry_backoff=0)
        sb.inject("rate_limit", endpoints=("account",), count=2, retry_after=5)
        client.account()
        assert clock.slept == [5.0, 5.0] and client.clock is clock
        assert client.retry_policy.max_retries == 2
        sb.inject("error", endpoints=("account",), count=5)
        with pytest.raises(ServerError):
            client.account()
        assert sb.requests["account"] == 3 + 3
        later = FakeClock()  # replaced after construction: the transport follows
        client.clock = later
        client.retry_policy = RetryPolicy(max_retries=1, backoff_s=0)
        sb.clear_faults()
        sb.inject("rate_limit", endpoints=("account",), count=1, retry_after=2)
        client.account()
        assert later.slept == [2.0] and len(clock.slept) == 4


def test_a_dropped_connection_is_retried_then_reported() -> None:
    with Sandbox(preset="instant") as sb:
        sb.inject("drop", endpoints=("account",))
        with pytest.raises(APIConnectionError, match=r"broke off|could not reach"):
            client_for(sb, max_retries=2).account()
        assert sb.requests["account"] == 3


def _timed_out_in_child(url: str) -> None:
    import os

    client = Client(KEY, base_url=url, timeout=0.5, max_retries=0, cache_size=0)
    try:
        client.get_task("t1")
    except APITimeoutError:
        os._exit(0)
    os._exit(1)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_deadlines_hold_in_a_forked_worker(hostile: Callable[[Handler], Hostile]) -> None:
    import multiprocessing

    server = hostile(_trickle_body)
    parent = Client(KEY, base_url=server.url, timeout=0.3, max_retries=0)
    with pytest.raises(APITimeoutError):
        ends(lambda: parent.get_task("t1"))  # the parent's watchdog thread is running
    worker = multiprocessing.get_context("fork").Process(
        target=_timed_out_in_child, args=(server.url,)
    )
    worker.start()
    worker.join(30)
    alive = worker.is_alive()
    if alive:
        worker.kill()
    assert not alive and worker.exitcode == 0


def test_the_account_fingerprint_says_nothing_about_the_key() -> None:
    one = Client(KEY, base_url="http://127.0.0.1:9")._transport.key_fingerprint
    assert one == Client(KEY, base_url="http://127.0.0.1:9")._transport.key_fingerprint
    assert one != Client(KEY + "x", base_url="http://127.0.0.1:9")._transport.key_fingerprint
    assert one is not None and len(one) == 16 and KEY[-4:] not in one


# -- whatever the server says, only QubicoError escapes -----------------------------------------
RAW_ANSWERS: list[bytes] = [
    b"",  # closes at once
    b"garbage\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n{}",
    b"HTTP/1.1 999 Weird\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * 200 + b"\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 4\r\n\r\nxxxx",
    b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"[" * 200_000,
    b'HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{"code": "ab"}',
    b'HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{"data": null}',
    b'HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{"data": [1, 2]}',
    b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n1e9999999",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",  # promises more than it sends
    b"HTTP/1.1 429 Slow\r\nRetry-After: tomorrow\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 503 Busy\r\nRetry-After: -1e400\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 401 No\r\nContent-Length: 3\r\n\r\n\xff\xfe\x00",
    b"HTTP/1.1 302 Found\r\nLocation: //[::1\r\nContent-Length: 0\r\n\r\n",
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"code": 200, "data": {}}',
    b'HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{"code": 200, "data": {"task_id": 5}}   ',
]


def test_only_qubico_errors_escape_whatever_the_server_answers(
    hostile: Callable[[Handler], Hostile],
) -> None:
    current = [b""]

    def handle(h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        h.wfile.write(current[0])

    server = hostile(handle)
    client = Client(
        KEY, base_url=server.url, max_retries=1, retry_backoff=0, timeout=2, cache_size=0
    )
    calls: list[Callable[[], object]] = [
        lambda: client.get_task("t1"),
        client.account,
        lambda: client.create_task("Qubico/mmaudio", "video2audio", {"prompt": "x"}),
        lambda: list(client.history()),
        lambda: client.fetch_file(f"{server.url}/f.wav", io.BytesIO()),
    ]
    tried = 0
    for answer in RAW_ANSWERS:
        current[0] = answer
        for call in calls:
            tried += 1
            try:
                ends(call)
            except QubicoError as err:
                _assert_clean(err)
    assert tried == len(RAW_ANSWERS) * len(calls)
