"""The client against the sandbox over loopback HTTP: calls, errors, retries, waiting, secrecy."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from qubico_nb import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    Client,
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    ServerError,
    Status,
    TaskFailedError,
    WaitTimeoutError,
)
from qubico_nb._transport import parse_retry_after
from qubico_nb.errors import CreateOutcomeUnknownError
from qubico_nb.sandbox import FaultRule, Sandbox

from .helpers.clock import FakeClock
from .helpers.sandbox import KEY, VIDEO, client_for
from .media import mp4_bytes, mp4_data_uri, wav_bytes


@pytest.fixture(params=["seed", "unified"])
def sb(request: pytest.FixtureRequest):
    with Sandbox(preset="instant", audio_seconds=1.0, schema=request.param, api_key=KEY) as box:
        yield box


def test_generate_wait_and_read_back(sb: Sandbox) -> None:
    client = client_for(sb)
    task = client.generate_audio(VIDEO, "rain on a roof", negative_prompt="music", steps=30, seed=5)
    assert task.id and task.status is Status.COMPLETED  # the instant preset ends it as it is made
    done = client.wait(task)
    assert done.status is Status.COMPLETED and done.is_done
    assert (done.prompt, done.negative_prompt, done.steps, done.seed, done.video) == (
        "rain on a roof",
        "music",
        30,
        5,
        VIDEO,
    )
    assert done.audio is not None and done.audio.url.startswith(sb.url)
    assert done.usage is not None and done.usage.cost_usd == pytest.approx(0.0005)
    assert client.get_task(task.id) == done


def test_wait_reports_updates_and_is_bounded() -> None:
    with Sandbox(pending_s=0.05, processing_s=0.1) as sb:
        seen: list[Status] = []
        client = client_for(sb, poll_interval=0.01)
        task = client.generate_audio(VIDEO, "wind")
        done = client.wait(task.id, on_update=lambda t: seen.append(t.status))
        assert done.status is Status.COMPLETED
        assert seen[0] in (Status.PENDING, Status.PROCESSING) and seen[-1] is Status.COMPLETED
        assert len(seen) == len(set(seen))  # called on change, not on every poll
    with Sandbox(pending_s=60) as sb:
        client = client_for(sb, poll_interval=0.01)
        task = client.generate_audio(VIDEO, "wind")
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError) as caught:
            client.wait(task, timeout=0.3)
        assert time.monotonic() - started < 1.5
        assert caught.value.task_id == task.id and caught.value.last_status == "pending"
        assert task.id in str(caught.value)


def test_failed_task_returned_or_raised(sb: Sandbox) -> None:
    client = client_for(sb)
    task = client.generate_audio("https://cdn.example.com/corrupt.mp4", "birds")
    done = client.wait(task)
    assert done.status is Status.FAILED and done.error is not None
    assert done.error.message == "failed to get valid video"
    with pytest.raises(TaskFailedError, match="failed to get valid video") as caught:
        client.wait(task, raise_on_failure=True)
    assert caught.value.task.id == task.id


def test_history_pages_lazily(sb: Sandbox) -> None:
    client = client_for(sb)
    ids = [client.generate_audio(VIDEO, f"tone {i}").id for i in range(7)]
    sb.reset_counters()
    pages = client.history(page_size=3)
    assert sb.requests["history"] == 0  # lazy: nothing fetched yet
    got = [t.id for t in pages]
    assert got == ids[::-1]
    assert sb.requests["history"] == 3
    assert [t.id for t in client.history(model="mmaudio", page_size=100)] == ids[::-1]
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert list(client.history(since=future)) == []
    with pytest.raises(InvalidRequestError, match="page_size must be an integer from 1 to 100"):
        client.history(page_size=101)


def test_account_active_and_upload(sb: Sandbox, tmp_path: Path) -> None:
    client = client_for(sb)
    assert client.account()["equivalent_in_usd"] == pytest.approx(10.0)
    assert "mmaudio" in client.active_tasks()
    url = client.upload(b"hello", "note.txt")
    path = tmp_path / "clip.mp4"
    path.write_bytes(mp4_bytes(3))
    assert client.upload(path).endswith(".mp4")
    with pytest.raises(InvalidRequestError, match="at most 10 MB"):
        client.upload(b"x" * (10 * 1024 * 1024 + 1), "big.bin")
    import io

    sink = io.BytesIO()
    assert client.fetch_file(url, sink) == 5 and sink.getvalue() == b"hello"


def test_local_video_inline_or_uploaded(tmp_path: Path) -> None:
    with Sandbox(preset="instant", schema="unified") as sb:
        client = client_for(sb)
        small = tmp_path / "small.mp4"
        small.write_bytes(mp4_bytes(4))
        task = client.generate_audio(small, "waves")
        assert task.video is not None and task.video.startswith("data:video/mp4;base64,")
        big = tmp_path / "big.mp4"
        big.write_bytes(mp4_bytes(4) + b"\0" * (2 * 1024 * 1024))
        sb.reset_counters()
        task = client.generate_audio(big, "waves")
        assert sb.requests["upload"] == 1 and "/ephemeral/" in str(task.video)
        long = tmp_path / "long.mp4"
        long.write_bytes(mp4_bytes(45))
        with pytest.warns(UserWarning, match="lasts 45.0 s"):
            client.generate_audio(long, "waves")
        assert client.generate_audio(mp4_data_uri(2), "waves").video.startswith("data:")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"prompt": ""}, "prompt is required \\(a non-empty string"),
        ({"prompt": "x" * 501}, "501 characters; the limit is 500"),
        ({"negative_prompt": "x" * 201}, "the limit is 200"),
        ({"steps": 10}, "steps must be an integer from 20 to 50"),
        ({"steps": True}, "steps must be an integer"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"video": "/no/such/file.mp4"}, "no file at '/no/such/file.mp4'"),
        ({"video": "data:image/png;base64,AAAA"}, "must start with 'data:video/mp4;base64,'"),
    ],
)
def test_generate_audio_checks_before_sending(kwargs: dict, needle: str) -> None:
    with Sandbox() as sb:
        client = client_for(sb)
        args = {"video": VIDEO, "prompt": "rain", **kwargs}
        with pytest.raises(InvalidRequestError, match=needle):
            client.generate_audio(args.pop("video"), args.pop("prompt"), **args)
        assert sb.requests["create"] == 0


def test_not_an_mp4_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_text("not a video")
    with Sandbox() as sb, pytest.raises(InvalidRequestError, match="not an MP4"):
        client_for(sb).generate_audio(path, "rain")


def test_status_errors_map_to_classes() -> None:
    with Sandbox(api_key=KEY, preset="instant") as sb:
        client = client_for(sb)
        with pytest.raises(NotFoundError, match="task not found: nope") as caught:
            client.get_task("nope")
        assert caught.value.status == 404 and caught.value.code == 404
        with pytest.raises(BadRequestError, match="model must be"):
            client.create_task("Qubico/other", "video2audio", {"prompt": "x"})
        with pytest.raises(AuthenticationError, match="check the API key"):
            client_for(sb, api_key="wrong-key").get_task("x")
        sb.inject("error", status=500, count=99)
        with pytest.raises(ServerError, match="HTTP 500"):
            client_for(sb, max_retries=1).get_task("x")


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUBICO_API_KEY", raising=False)
    monkeypatch.delenv("PIAPI_API_KEY", raising=False)
    client = Client(base_url="https://api.example.test")
    with pytest.raises(ConfigurationError, match="QUBICO_API_KEY"):
        client.get_task("abc")


class _Recorder(BaseHTTPRequestHandler):
    """Answers 404 to everything and remembers the x-api-key it was sent (and the path)."""

    seen: ClassVar[list[tuple[str | None, str]]] = []

    def do_GET(self) -> None:
        type(self).seen.append((self.headers.get("x-api-key"), self.path))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _recording_server() -> Iterator[tuple[str, list[tuple[str | None, str]]]]:
    handler = type("Recorder", (_Recorder,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_live_key_from_the_environment_never_goes_to_this_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUBICO_API_KEY", KEY)
    monkeypatch.delenv("QUBICO_SANDBOX_API_KEY", raising=False)
    with _recording_server() as (url, seen):
        with pytest.raises(NotFoundError):
            Client(base_url=url, max_retries=0).get_task("abc")
        with pytest.raises(NotFoundError):
            Client(api_key=KEY, base_url=url, max_retries=0).get_task("abc")  # said outright
    assert seen[0][0] == "sandbox" and seen[1][0] == KEY
    with Sandbox(api_key=KEY) as sb, pytest.raises(AuthenticationError, match="SANDBOX_API_KEY"):
        Client(base_url=sb.url, max_retries=0).account()  # says why the env key was not sent


def test_a_proxy_from_the_environment_never_sees_a_loopback_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _recording_server() as (proxy, proxied), _recording_server() as (url, direct):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.setenv("http_proxy", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with pytest.raises(NotFoundError):
            Client(api_key=KEY, base_url=url, max_retries=0).get_task("abc")
    assert proxied == [] and direct[0][0] == KEY


def test_a_proxy_from_the_environment_still_carries_requests_to_other_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _recording_server() as (proxy, proxied):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.setenv("http_proxy", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        client = Client(
            api_key=KEY, base_url="http://api.example.test", max_retries=0, allow_insecure_http=True
        )
        for _ in range(2):  # read once per origin, used every time
            with pytest.raises(NotFoundError):
                client.get_task("abc")
    assert [path for _, path in proxied] == ["http://api.example.test/api/v1/task/abc"] * 2


@pytest.mark.parametrize(
    "bad",
    [
        {"base_url": "http://a@b.com"},
        {"timeout": -1},
        {"poll_interval": "x"},
        {"api_key_suffix": "\n"},
    ],
)
def test_a_refused_constructor_keeps_the_key_in_no_frame(bad: dict[str, Any]) -> None:
    options: dict[str, Any] = {"base_url": "https://api.example.test", **bad}
    key = KEY + options.pop("api_key_suffix", "")
    with pytest.raises((ConfigurationError, InvalidRequestError, TypeError)) as caught:
        Client(api_key=key, **options)
    del key
    frames, tb = [], caught.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in frames:
        if frame.f_code.co_filename.endswith("test_client.py"):
            continue
        assert KEY not in repr(frame.f_locals), frame.f_code.co_name


def test_key_and_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUBICO_API_KEY", raising=False)
    monkeypatch.setenv("PIAPI_API_KEY", KEY)
    monkeypatch.setenv("QUBICO_BASE_URL", "http://127.0.0.1:9/")
    client = Client()
    assert client.base_url == "http://127.0.0.1:9" and client.is_sandbox
    assert client.upload_url == "http://127.0.0.1:9/api/ephemeral_resource"
    live = Client("k", base_url="https://api.piapi.ai")
    assert live.upload_url == "https://upload.theapi.app/api/ephemeral_resource"
    assert not live.is_sandbox


def test_plain_http_to_a_remote_host_is_refused() -> None:
    client = Client(KEY, base_url="http://api.example.com", max_retries=0)
    with pytest.raises(ConfigurationError, match="plain HTTP"):
        client.get_task("abc")


def test_key_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="qubico_nb")
    faults = [FaultRule("error", endpoints=("get",), count=1)]
    with Sandbox(api_key=KEY, preset="instant", faults=faults) as sb:
        client = client_for(sb)
        assert KEY not in repr(client) and "…CRET" in repr(client)
        task = client.generate_audio(VIDEO, "rain")
        client.wait(task)
        errors = []
        for call in (
            lambda: client.get_task("nope"),
            lambda: client_for(sb, api_key=KEY + "x").get_task("x"),
        ):
            try:
                call()
            except Exception as err:
                errors.append(f"{err!s} {err!r} {err.args}")
    dead = Client(KEY, base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(APIConnectionError) as caught:
        dead.get_task("x")
    errors.append(str(caught.value))
    assert errors and all(KEY not in text for text in errors)
    assert caplog.records and all(KEY not in record.getMessage() for record in caplog.records)
    assert any("GET /api/v1/task/" in record.getMessage() for record in caplog.records)
    with pytest.raises(TypeError, match="not picklable"):
        import pickle

        pickle.dumps(client)


def test_retries_transient_get_faults_with_counts() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, max_retries=3)
        task = client.generate_audio(VIDEO, "rain")
        for kind in ("error", "rate_limit", "drop", "truncate", "malformed"):
            sb.reset_counters()
            sb.inject(kind, endpoints=("get",), count=2, retry_after=0)
            assert client.get_task(task.id).id == task.id, kind
            assert sb.requests["get"] == 3, kind
            sb.clear_faults()


def test_retries_are_bounded() -> None:
    with Sandbox(preset="instant", faults=[FaultRule("error", endpoints=("get",))]) as sb:
        client = client_for(sb, max_retries=2)
        with pytest.raises(ServerError):
            client.get_task("x")
        assert sb.requests["get"] == 3


def test_create_is_never_duplicated() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, max_retries=3)
        for kind in ("error", "drop", "truncate"):
            sb.clear_faults()
            sb.reset_counters()
            sb.inject(kind, endpoints=("create",), count=1)
            with pytest.raises((ServerError, APIConnectionError)):
                client.generate_audio(VIDEO, "rain")
            assert sb.requests["create"] == 1, kind


def test_create_retries_429_and_refused_connections() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, max_retries=3)
        sb.inject("rate_limit", endpoints=("create",), count=2, retry_after=0)
        task = client.generate_audio(VIDEO, "rain")
        assert sb.requests["create"] == 3 and task.id
        assert len(sb.world.tasks()) == 1
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock = FakeClock()
    closed = Client(
        KEY, base_url=f"http://127.0.0.1:{port}", max_retries=2, retry_backoff=0, clock=clock
    )
    slept = clock.slept
    with pytest.raises(APIConnectionError, match="could not reach"):
        closed.generate_audio(VIDEO, "rain")
    assert len(slept) == 2  # refused: surely never sent, so retried


def test_retry_after_is_honoured() -> None:
    with Sandbox(preset="instant") as sb:
        clock = FakeClock()
        client = client_for(sb, max_retries=1, clock=clock)
        slept = clock.slept
        sb.inject("rate_limit", endpoints=("account",), count=1, retry_after=7)
        client.account()
        assert slept == [7.0]
        sb.inject("rate_limit", endpoints=("account",), count=1, retry_after=3600)
        with pytest.raises(RateLimitError) as caught:
            client.account()
        assert caught.value.retry_after == 3600


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    future = (datetime.now(timezone.utc) + timedelta(seconds=30)).strftime(
        "%a, %d %b %Y %H:%M:%S GMT"
    )
    assert 25 < (parse_retry_after(future) or 0) <= 31


def test_timeouts() -> None:
    with Sandbox(preset="instant", latency_ms=400) as sb:
        client = client_for(sb, timeout=0.1, max_retries=1)
        with pytest.raises(APITimeoutError, match=r"within 0\.1 s"):
            client.account()
        assert sb.requests["account"] == 2
        with pytest.raises(CreateOutcomeUnknownError, match="may exist and be billed"):
            client.generate_audio(VIDEO, "rain")


def test_wait_rides_out_transient_errors() -> None:
    with Sandbox(pending_s=0.1) as sb:
        client = client_for(sb, max_retries=0, poll_interval=0.01)
        task = client.generate_audio(VIDEO, "rain")
        sb.inject("error", endpoints=("get",), count=3)
        assert client.wait(task, timeout=5).status is Status.COMPLETED


def test_unknown_status_never_spins_forever() -> None:
    from qubico_nb import Task

    with Sandbox(preset="instant") as sb:
        client = client_for(sb, poll_interval=0.01)
        odd = Task.from_dict({"task_id": "x", "status": "teleporting"})
        client.get_task = lambda task_id, deadline=None: odd  # type: ignore[method-assign]
        with pytest.raises(WaitTimeoutError, match="still teleporting"):
            client.wait("x", timeout=0.2)


def test_protocol_error_for_non_json(tmp_path: Path) -> None:
    import http.server
    import threading

    class Html(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>captive portal</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = Client(
            KEY,
            base_url=f"http://127.0.0.1:{server.server_address[1]}",
            max_retries=1,
            retry_backoff=0,
        )
        with pytest.raises(ProtocolError, match="not a JSON object"):
            client.get_task("x")
    finally:
        server.shutdown()
        server.server_close()


def test_client_rejects_bad_settings() -> None:
    with pytest.raises(InvalidRequestError, match="base_url"):
        Client(KEY, base_url="api.piapi.ai")
    with pytest.raises(InvalidRequestError, match="timeout"):
        Client(KEY, timeout=0)
    with pytest.raises(InvalidRequestError, match="task_id"):
        Client(KEY, base_url="http://127.0.0.1:9").get_task("")


def test_both_schemas_read_as_the_same_task() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb)
        task = client.generate_audio(VIDEO, "rain", negative_prompt="music", seed=3, steps=30)
        sb.schema = "seed"
        seed = client.get_task(task.id).to_dict()
        sb.schema = "unified"
        unified = client.get_task(task.id).to_dict()
    # Only the unified schema types its usage; only the seed schema gives a work's duration and
    # a watermark-free copy.
    assert seed["usage"].pop("type") is None and unified["usage"].pop("type") == "point"
    assert seed["works"][0].pop("duration_s") == 8.0
    assert unified["works"][0].pop("duration_s") is None
    assert seed["works"][0].pop("url_without_watermark") == seed["works"][0]["url"]
    assert unified["works"][0].pop("url_without_watermark") is None
    assert seed == unified


def test_history_skips_repeats_when_tasks_arrive_while_paging() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb)
        ids = [client.generate_audio(VIDEO, f"tone {i}").id for i in range(4)]
        pages = client.history(page_size=2)
        first = next(pages)
        client.generate_audio(VIDEO, "late")  # shifts every later page by one
        rest = list(pages)
        got = [first.id, *(t.id for t in rest)]
        assert len(got) == len(set(got))
        assert set(ids) <= set(got)


def test_files_under_a_hub_proxy_path_are_fetched_from_the_sandbox_itself() -> None:
    """As on Binder: the sandbox hands out browser paths under the hub's proxy; the kernel
    fetches the same file from the loopback port (download, analyze and review all do)."""
    import io

    with Sandbox(preset="instant", audio_seconds=0.5) as sb:
        port = sb.url.rsplit(":", 1)[1]
        sb.public_url = f"/user/me/proxy/{port}"
        client = client_for(sb)
        task = client.wait(client.generate_audio(VIDEO, "rain"))
        url = task.works[0].url
        assert url.startswith(f"/user/me/proxy/{port}/temp/")
        assert client.file_url(url) == f"{sb.url}/temp/{url.rsplit('/', 1)[1]}"
        sink = io.BytesIO()
        assert client.fetch_file(url, sink) > 44 and sink.getvalue()[:4] == b"RIFF"
        assert client.file_url("temp/x.wav") == f"{sb.url}/temp/x.wav"
        assert client.file_url("https://cdn.example/x.wav") == "https://cdn.example/x.wav"


def test_a_placeholder_key_does_not_garble_messages() -> None:
    """A sandbox's placeholder key ('sandbox') or a test's 'k' is no secret: blanking it would
    turn 'task' into 'tas***' in every message."""
    with Sandbox() as sb:
        for key in ("k", None):
            with pytest.raises(NotFoundError, match="task not found: no-such-id"):
                Client(key, base_url=sb.url, max_retries=0).get_task("no-such-id")


# -- the other models: ACE-Step, DiffRhythm, TTS; cancel ------------------------------------------

REF = "https://cdn.example.com/voice.wav"


def test_generate_music_sends_a_checked_ace_step_task() -> None:
    with Sandbox(schema="unified", pending_s=5) as sb:
        client = client_for(sb)
        task = client.generate_music("lofi, piano", "[verse] rain", negative_prompt="vocals")
        assert (task.model, task.task_type) == ("Qubico/ace-step", "txt2audio")
        assert task.input["style_prompt"] == "lofi, piano" and task.input["duration"] == 30
        assert task.input["negative_prompt"] == "vocals" and task.usage.cost_usd == 0.015
        longer = client.generate_music("rock", duration=120.5)
        assert longer.input["duration"] == 120.5 and longer.usage.cost_usd == 0.0605
        extended = client.generate_music(
            "rock", task_type="extend", audio=REF, right_extend_duration=15
        )
        assert extended.task_type == "extend" and "duration" not in extended.input
        assert extended.usage.cost_usd == 0.0075


def test_generate_song_and_speak_send_checked_tasks() -> None:
    with Sandbox(schema="unified", pending_s=5) as sb:
        client = client_for(sb)
        song = client.generate_song("pop", "[00:05.00] hello\n[00:09.50] again")
        assert (song.model, song.task_type) == ("Qubico/diffrhythm", "txt2audio-base")
        assert song.usage.cost_usd == 0.02
        full = client.generate_song(lyrics="[03:00.00] late line", task_type="txt2audio-full")
        assert full.task_type == "txt2audio-full" and full.input["style_prompt"] == "pop"
        speech = client.speak("Hello there. " * 100, REF, ref_text="hi", speed=1.2)
        assert (speech.model, speech.task_type) == ("Qubico/tts", "zero-shot")
        assert speech.input["gen_text"].startswith("Hello") and speech.usage.cost_usd == 0.05


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda c: c.generate_music(""), "style_prompt is required"),
        (lambda c: c.generate_music("x", duration=5), "duration must be a number from 10 to 240"),
        (lambda c: c.generate_music("x", task_type="remix"), "task_type must be one of"),
        (lambda c: c.generate_music("x", seed=3), "seed is not an input of Qubico/ace-step"),
        (lambda c: c.generate_music("x", style_audio="/no/such.wav"), "no file at"),
        (lambda c: c.generate_song(), "needs at least one of lyrics, style_prompt, style_audio"),
        (lambda c: c.generate_song(lyrics="no stamps"), "line 1 has no [mm:ss.xx] time stamp"),
        (lambda c: c.generate_song(lyrics="[02:00.00] x"), "use txt2audio-full"),
        (lambda c: c.speak("", REF), "gen_text is required"),
        (lambda c: c.speak("x" * 10_001, REF), "10001 characters; the limit is 10000"),
        (lambda c: c.speak("hi", "data:audio/wav;base64,@@"), "not valid base64"),
        (lambda c: c.speak("hi", REF, speed=0), "speed must be a number from 0.1 to 4"),
    ],
)
def test_other_models_are_checked_before_sending(call: Any, needle: str) -> None:
    with Sandbox() as sb:
        client = client_for(sb)
        with pytest.raises(InvalidRequestError, match=re.escape(needle)):
            call(client)
        assert sb.requests["create"] == 0 and sb.requests["upload"] == 0


def test_a_bad_prompt_is_refused_before_a_big_reference_is_uploaded(tmp_path: Path) -> None:
    big = tmp_path / "voice.wav"
    big.write_bytes(wav_bytes(40, rate=16000, noise=True))  # over the 1 MB inline limit
    with Sandbox() as sb:
        client = client_for(sb)
        with pytest.raises(InvalidRequestError, match="gen_text is required"):
            client.speak("", big)
        assert sb.requests["upload"] == 0
        task = client.speak("hello", big)
        assert sb.requests["upload"] == 1 and "/ephemeral/" in task.input["ref_audio"]


def test_a_small_local_reference_goes_inline_and_a_non_audio_file_is_refused(
    tmp_path: Path,
) -> None:
    voice = tmp_path / "voice.wav"
    voice.write_bytes(wav_bytes(3))
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    with Sandbox(preset="instant", schema="unified") as sb:
        client = client_for(sb)
        task = client.wait(client.speak("hello", voice))
        assert task.input["ref_audio"].startswith("data:audio/wav;base64,")
        assert task.status is Status.COMPLETED and sb.requests["upload"] == 0
        song = client.generate_music("rock", task_type="audio2audio", style_audio=str(voice))
        assert song.input["style_audio"].startswith("data:audio/wav;base64,")
        with pytest.raises(InvalidRequestError, match=r"notes\.wav is not a WAV, MP3, FLAC or Ogg"):
            client.speak("hello", text)


def test_cancel_a_pending_task_frees_its_price() -> None:
    with Sandbox(schema="unified", pending_s=60) as sb:
        client = client_for(sb)
        balance = client.account()["equivalent_in_usd"]
        task = client.generate_song("pop")
        assert client.account()["equivalent_in_usd"] == pytest.approx(balance - 0.02)
        cancelled = client.cancel(task)
        assert cancelled.status is Status.FAILED and cancelled.raw_status == "cancelled"
        assert cancelled.error is not None and "canceled" in cancelled.error.message
        assert cancelled.usage.cost_usd == 0 and cancelled.is_done
        assert client.account()["equivalent_in_usd"] == pytest.approx(balance)
        assert client.cancel(task.id).raw_status == "cancelled"  # again: no harm
        assert sb.requests["cancel"] == 2


def test_cancel_is_refused_once_a_task_runs_and_for_an_unknown_id() -> None:
    with Sandbox(pending_s=0, processing_s=60) as sb:
        client = client_for(sb)
        task = client.generate_music("rock")
        with pytest.raises(BadRequestError, match="is processing and can no longer be canceled"):
            client.cancel(task)
        with pytest.raises(NotFoundError):
            client.cancel("00000000-0000-0000-0000-000000000000")
        with pytest.raises(InvalidRequestError, match="not a task id"):
            client.cancel("../account/info")
        assert client.get_task(task.id).status is Status.PROCESSING


@pytest.mark.parametrize("schema", ["seed", "unified"])
@pytest.mark.parametrize("model", ["ace-step", "diffrhythm", "tts", "mmaudio"])
def test_each_model_runs_to_a_playable_file(model: str, schema: str) -> None:
    """Create, wait and fetch for every model, in both schemas: the file is real audio."""
    import soundfile

    make = {
        "ace-step": lambda c: c.generate_music("lofi piano", "[verse] la", duration=12),
        "diffrhythm": lambda c: c.generate_song("rock", "[00:01.00] hey"),
        "tts": lambda c: c.speak("Good morning, everyone.", REF),
        "mmaudio": lambda c: c.generate_audio(VIDEO, "rain"),
    }[model]
    with Sandbox(preset="fast", schema=schema, audio_seconds=1.5) as sb:  # type: ignore[arg-type]
        client = client_for(sb)
        task = client.wait(make(client), raise_on_failure=True)
        assert task.model is not None and task.model.endswith(model)
        (work,) = task.works
        sink = io.BytesIO()
        client.fetch_file(work.playable_url, sink)
        samples, rate = soundfile.read(io.BytesIO(sink.getvalue()))
        assert rate == 44100 and 1.4 < len(samples) / rate <= 1.5
        assert float(abs(samples).max()) > 0.5
