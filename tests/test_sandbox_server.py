"""The sandbox over loopback HTTP with plain requests: endpoints, validation, lifecycle, schemas."""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import time
import wave

import pytest
import requests

from qubico_nb.sandbox import FaultRule, OptionError, Sandbox

from .helpers.sandbox import VIDEO, create_body
from .media import mp4_data_uri

NS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)$")
ZERO_TIME = "0001-01-01T00:00:00Z"


def create(sb: Sandbox, body: object = None, **headers: str) -> requests.Response:
    return requests.post(
        f"{sb.url}/api/v1/task", json=body or create_body(), headers=headers, timeout=5
    )


def get(sb: Sandbox, task_id: str) -> requests.Response:
    return requests.get(f"{sb.url}/api/v1/task/{task_id}", timeout=5)


def test_starts_fast_on_loopback_and_stops() -> None:
    started = time.perf_counter()
    sb = Sandbox().start()
    try:
        assert time.perf_counter() - started < 0.5
        assert sb.url.startswith("http://127.0.0.1:")
        assert requests.get(f"{sb.url}/account/info", timeout=5).status_code == 200
    finally:
        sb.stop()
    with pytest.raises(RuntimeError, match="not running"):
        sb.url  # noqa: B018


def test_unknown_path_and_wrong_method() -> None:
    with Sandbox() as sb:
        missing = requests.get(f"{sb.url}/nope", timeout=5)
        assert missing.status_code == 404 and missing.json()["code"] == 404
        wrong = requests.delete(f"{sb.url}/api/v1/task", timeout=5)
        assert wrong.status_code == 405


def test_seed_schema_lifecycle_matches_the_seed_page() -> None:
    with Sandbox(pending_s=0.3, processing_s=0.6, audio_seconds=1.0) as sb:
        first = create(sb).json()
        assert first["code"] == 0 and first["message"] == "success"
        data = first["data"]
        assert data["status"] == "pending"
        assert data["metadata"]["started_at"] == ZERO_TIME
        assert data["metadata"]["ended_at"] == ZERO_TIME
        assert NS_TIME.match(data["metadata"]["created_at"])
        assert json.loads(data["input"])["prompt"] == "waves crashing, seagulls"
        assert data["works"] == []
        assert set(data["task"]) >= {"id", "userId", "type", "status", "taskInfo", "createTime"}
        # Poll rather than sleep a fixed time, so a slow machine cannot skip a phase.
        seen = {}
        deadline = time.monotonic() + 10
        while "completed" not in seen and time.monotonic() < deadline:
            answer = get(sb, data["task_id"]).json()["data"]
            seen.setdefault(answer["status"], answer)
            time.sleep(0.02)
        assert list(seen) == ["pending", "processing", "completed"]
        mid = seen["processing"]
        assert NS_TIME.match(mid["metadata"]["started_at"])
        assert mid["metadata"]["ended_at"] == ZERO_TIME
        done = seen["completed"]
        assert NS_TIME.match(done["metadata"]["ended_at"])
        work = done["works"][0]
        assert work["contentType"] == "audio/wav"
        assert work["resource"]["resource"].startswith(f"{sb.url}/temp/")
        assert work["resource"]["duration"] == 1.0
        # an unknown-length URL video is taken to last audio_seconds: 1 s x $0.0005 = 5000 units
        assert done["metadata"]["quota_usage"] == 5000


def test_price_follows_video_seconds() -> None:
    with Sandbox(preset="instant") as sb:
        url_task = create(sb, create_body()).json()["data"]
        # A URL's length is unknown to the sandbox: it bills the default 8 s = $0.004.
        assert url_task["metadata"]["quota_usage"] == 40000
        short = create(sb, create_body(video=mp4_data_uri(4.0))).json()["data"]
        assert short["metadata"]["quota_usage"] == 20000
        long = create(sb, create_body(video=mp4_data_uri(45.0))).json()["data"]
        assert long["metadata"]["quota_usage"] == 150000  # billed for at most 30 s


def test_unified_schema_shape(unified_sandbox: Sandbox) -> None:
    body = create(unified_sandbox).json()
    assert body["code"] == 200
    data = get(unified_sandbox, body["data"]["task_id"]).json()["data"]
    assert data["model"] == "Qubico/mmaudio" and data["task_type"] == "video2audio"
    assert data["status"] == "completed"
    assert data["input"] == {
        "prompt": "waves crashing, seagulls",
        "negative_prompt": "music",
        "video": VIDEO,
        "steps": 25,
        "seed": 42,
    }
    assert data["output"]["audio_url"].endswith(".wav")
    assert data["meta"]["usage"] == {"type": "point", "frozen": 0, "consume": 5000}
    assert data["error"] == {"code": 0, "raw_message": "", "message": "", "detail": None}
    assert data["detail"] is None and data["logs"] == []


def test_create_fills_defaults_and_pending_answer_has_no_output() -> None:
    with Sandbox(schema="unified", pending_s=5) as sb:
        data = create(sb, create_body(steps=None, seed=None, negative_prompt=None)).json()["data"]
        assert data["status"] == "pending" and data["output"] is None
        assert data["input"]["steps"] == 25 and data["input"]["seed"] == 42
        assert data["meta"]["usage"]["frozen"] == 40000
        assert data["meta"]["started_at"] == ZERO_TIME


def test_timezone_offset_and_title_case_statuses() -> None:
    with Sandbox(preset="instant", timezone_offset="+08:00", title_case_status=True) as sb:
        data = create(sb).json()["data"]
        assert data["metadata"]["created_at"].endswith("+08:00")
        assert get(sb, data["task_id"]).json()["data"]["status"] == "Completed"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({**create_body(), "model": "Qubico/other"}, "model must be one of 'Qubico/mmaudio'"),
        (
            {**create_body(), "task_type": "txt2audio"},
            "task_type must be one of 'video2audio' for Qubico/mmaudio",
        ),
        ({**create_body(), "input": "x"}, "input is required"),
        (create_body(prompt=None), "input.prompt is required"),
        (create_body(prompt="   "), "input.prompt is required"),
        (create_body(prompt="x" * 501), "input.prompt is 501 characters; the limit is 500"),
        (create_body(negative_prompt="x" * 201), "201 characters; the limit is 200"),
        (create_body(negative_prompt=3), "negative_prompt must be a string"),
        (create_body(video=None), "input.video is required"),
        (create_body(video="ftp://x/y.mp4"), "input.video must be an http(s) URL"),
        (create_body(video="data:video/mp4;base64,@@@"), "not valid base64"),
        (create_body(steps=19), "steps must be an integer from 20 to 50, got 19"),
        (create_body(steps=51), "from 20 to 50, got 51"),
        (create_body(steps=25.5), "steps must be an integer"),
        (create_body(seed="42"), "seed must be an integer"),
        (create_body(seed=True), "seed must be an integer"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_create_validation(sandbox: Sandbox, body: object, needle: str) -> None:
    answer = create(sandbox, body)
    assert answer.status_code == 400
    payload = answer.json()
    assert payload["code"] == 400 and needle in payload["message"]


def test_non_json_and_oversized_bodies() -> None:
    with Sandbox(max_body_bytes=1000) as sb:
        bad = requests.post(
            f"{sb.url}/api/v1/task",
            data=b"{not json",
            timeout=5,
            headers={"Content-Type": "application/json"},
        )
        assert bad.status_code == 400 and "not valid JSON" in bad.json()["message"]
        big = requests.post(f"{sb.url}/api/v1/task", data=b"x" * 5000, timeout=5)
        assert big.status_code == 413 and "limit is 1000" in big.json()["message"]
        # the server is still healthy afterwards
        assert create(sb).status_code == 200


def test_unknown_task_is_404(sandbox: Sandbox) -> None:
    answer = get(sandbox, "no-such-task")
    assert answer.status_code == 404
    assert answer.json() == {"code": 404, "message": "task not found: no-such-task", "data": None}


def test_auth_when_a_key_is_set() -> None:
    with Sandbox(api_key="sk-secret", preset="instant") as sb:
        assert create(sb).status_code == 401
        wrong = create(sb, None, **{"x-api-key": "nope"})
        assert wrong.status_code == 401 and wrong.json()["message"] == "invalid api key"
        ok = create(sb, None, **{"X-API-Key": "sk-secret"})
        assert ok.status_code == 200
        task = get_with_key(sb, ok.json()["data"]["task_id"])
        file_url = task["works"][0]["resource"]["resource"]
        assert requests.get(file_url, timeout=5).status_code == 200  # CDN files are public
        assert "sk-secret" not in repr(sb)


def get_with_key(sb: Sandbox, task_id: str) -> dict:
    answer = requests.get(
        f"{sb.url}/api/v1/task/{task_id}", headers={"x-api-key": "sk-secret"}, timeout=5
    )
    return answer.json()["data"]


def test_failure_trigger_fails_like_the_live_service(unified_sandbox: Sandbox) -> None:
    body = create_body(video="https://cdn.example.com/corrupt-clip.mp4")
    task_id = create(unified_sandbox, body).json()["data"]["task_id"]
    answer = get(unified_sandbox, task_id)
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["status"] == "failed" and data["output"] is None
    assert data["error"]["message"] == "failed to get valid video"
    assert data["meta"]["usage"]["consume"] == 0


def test_data_uri_that_is_not_an_mp4_fails(sandbox: Sandbox) -> None:
    junk = "data:video/mp4;base64," + base64.b64encode(b"not a video at all").decode()
    task_id = create(sandbox, create_body(video=junk)).json()["data"]["task_id"]
    data = get(sandbox, task_id).json()["data"]
    assert data["status"] == "failed" and data["error"]["message"] == "failed to get valid video"
    assert data["works"] == []


def test_history_pages_and_filters() -> None:
    with Sandbox(preset="instant", schema="unified") as sb:
        ids = [create(sb, create_body(seed=i)).json()["data"]["task_id"] for i in range(7)]
        url = f"{sb.url}/api/open/tasks/histories"
        page1 = requests.get(
            url, params={"page": 1, "page_size": 3, "model": "mmaudio"}, timeout=5
        ).json()["data"]
        assert page1["total"] == 7 and page1["page"] == 1 and page1["size"] == 3
        assert [t["task_id"] for t in page1["data"]] == ids[::-1][:3]  # newest first
        page3 = requests.get(url, params={"page": 3, "page_size": 3}, timeout=5).json()["data"]
        assert [t["task_id"] for t in page3["data"]] == [ids[0]]
        other = requests.get(url, params={"model": "flux"}, timeout=5).json()["data"]
        assert other["total"] == 0
        future = requests.get(
            url, params={"start_time": int(time.time()) + 3600}, timeout=5
        ).json()["data"]
        assert future["total"] == 0
        for params, needle in [
            ({"page_size": 101}, "page_size must be from 1 to 100"),
            ({"page": 0}, "page starts at 1"),
            ({"page": "x"}, "page must be an integer"),
        ]:
            bad = requests.get(url, params=params, timeout=5)
            assert bad.status_code == 400 and needle in bad.json()["message"]


def test_account_and_active_tasks() -> None:
    with Sandbox(pending_s=10, balance_usd=1.0) as sb:
        create(sb)
        create(sb)
        account = requests.get(f"{sb.url}/account/info", timeout=5).json()["data"]
        assert account["equivalent_in_usd"] == pytest.approx(1.0 - 2 * 0.004)
        active = requests.get(f"{sb.url}/account/active_tasks", timeout=5).json()["data"]
        assert active["mmaudio"]["pending_count"] == 2
        assert active["mmaudio"]["processing_count"] == 0
        assert len(active["mmaudio"]["active_tasks"]) == 2


def test_concurrency_limit_answers_429_with_retry_after() -> None:
    with Sandbox(pending_s=10, concurrency_limit=1) as sb:
        assert create(sb).status_code == 200
        refused = create(sb)
        assert refused.status_code == 429
        # until the running task ends: pending_s plus the default processing_s of 0.25 s
        assert float(refused.headers["Retry-After"]) == 10.25
        assert "concurrency limit" in refused.json()["message"]


def test_request_rate_limit() -> None:
    with Sandbox(rate_limit_per_s=2) as sb:
        codes = [requests.get(f"{sb.url}/account/info", timeout=5).status_code for _ in range(5)]
        assert codes[:2] == [200, 200] and 429 in codes


def test_upload_then_serve() -> None:
    with Sandbox() as sb:
        payload = b"\x00\x01binary" * 10
        answer = requests.post(
            f"{sb.url}/api/ephemeral_resource",
            timeout=5,
            json={"file_name": "clip.mp4", "file_data": base64.b64encode(payload).decode()},
        )
        assert answer.status_code == 200 and answer.json()["code"] == 200
        url = answer.json()["data"]["url"]
        assert url.endswith(".mp4")
        fetched = requests.get(url, timeout=5)
        assert fetched.content == payload and fetched.headers["Content-Type"] == "video/mp4"
        as_uri = requests.post(
            f"{sb.url}/api/ephemeral_resource",
            timeout=5,
            json={
                "file_name": "a.mp4",
                "file_data": "data:video/mp4;base64," + base64.b64encode(b"abc").decode(),
            },
        )
        assert requests.get(as_uri.json()["data"]["url"], timeout=5).content == b"abc"
        for body, needle in [
            ({"file_data": "YQ=="}, "file_name is required"),
            ({"file_name": "a.mp4"}, "file_data is required"),
            ({"file_name": "a.mp4", "file_data": "%%%"}, "not valid base64"),
        ]:
            bad = requests.post(f"{sb.url}/api/ephemeral_resource", json=body, timeout=5)
            assert bad.status_code == 400 and needle in bad.json()["message"]


def test_upload_over_ten_megabytes_is_refused() -> None:
    with Sandbox() as sb:
        data = base64.b64encode(b"\x00" * (10 * 1024 * 1024 + 1)).decode()
        bad = requests.post(
            f"{sb.url}/api/ephemeral_resource",
            timeout=10,
            json={"file_name": "big.mp4", "file_data": data},
        )
        assert bad.status_code == 400 and "limit is 10485760" in bad.json()["message"]


def _audio_url(sb: Sandbox, **input_overrides: object) -> str:
    task_id = create(sb, create_body(**input_overrides)).json()["data"]["task_id"]
    return get(sb, task_id).json()["data"]["works"][0]["resource"]["resource"]


def test_wav_properties_and_headers(sandbox: Sandbox) -> None:
    answer = requests.get(_audio_url(sandbox), timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "audio/wav"
    assert int(answer.headers["Content-Length"]) == len(answer.content)
    assert answer.headers["Accept-Ranges"] == "bytes"
    with wave.open(io.BytesIO(answer.content)) as wav:
        assert wav.getnchannels() == 1
        assert wav.getframerate() == 44100
        assert wav.getsampwidth() == 2
        assert wav.getnframes() == 44100  # audio_seconds=1.0


def test_default_length_is_eight_seconds_and_follows_short_videos() -> None:
    with Sandbox(preset="instant") as sb:
        with wave.open(io.BytesIO(requests.get(_audio_url(sb), timeout=5).content)) as wav:
            assert wav.getnframes() == 8 * 44100
        short = requests.get(_audio_url(sb, video=mp4_data_uri(2.5)), timeout=5).content
        with wave.open(io.BytesIO(short)) as wav:
            assert wav.getnframes() == int(2.5 * 44100)


def test_range_requests(sandbox: Sandbox) -> None:
    url = _audio_url(sandbox)
    whole = requests.get(url, timeout=5).content
    size = len(whole)
    cases = {
        "bytes=0-99": (0, 99),
        "bytes=100-": (100, size - 1),
        "bytes=-50": (size - 50, size - 1),
        f"bytes=10-{size + 500}": (10, size - 1),
    }
    for spec, (start, end) in cases.items():
        part = requests.get(url, headers={"Range": spec}, timeout=5)
        assert part.status_code == 206, spec
        assert part.headers["Content-Range"] == f"bytes {start}-{end}/{size}"
        assert part.content == whole[start : end + 1]
    for spec in (f"bytes={size}-", "bytes=9-3", "bytes=-0", "items=0-1"):
        bad = requests.get(url, headers={"Range": spec}, timeout=5)
        assert bad.status_code == 416, spec
        assert bad.headers["Content-Range"] == f"bytes */{size}"
    head = requests.head(url, timeout=5)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == size


def test_file_is_not_served_before_completion() -> None:
    with Sandbox(pending_s=10) as sb:
        task_id = create(sb).json()["data"]["task_id"]
        assert requests.get(f"{sb.url}/temp/{task_id}.wav", timeout=5).status_code == 404


def test_public_url_is_used_for_file_links() -> None:
    with Sandbox(preset="instant", public_url="/proxy/1234/") as sb:
        task_id = create(sb).json()["data"]["task_id"]
        url = get(sb, task_id).json()["data"]["works"][0]["resource"]["resource"]
        assert url == f"/proxy/1234/temp/{task_id}.wav"


def test_keep_alive_survives_error_answers_with_unread_bodies() -> None:
    with Sandbox(api_key="k", preset="instant") as sb, requests.Session() as session:
        for _ in range(3):
            assert (
                session.post(f"{sb.url}/api/v1/task", json=create_body(), timeout=5).status_code
                == 401
            )
        ok = session.post(
            f"{sb.url}/api/v1/task", json=create_body(), timeout=5, headers={"x-api-key": "k"}
        )
        assert ok.status_code == 200


def test_counters_per_endpoint(sandbox: Sandbox) -> None:
    task_id = create(sandbox).json()["data"]["task_id"]
    get(sandbox, task_id)
    get(sandbox, task_id)
    requests.get(f"{sandbox.url}/account/info", timeout=5)
    assert sandbox.requests == {"create": 1, "get": 2, "account": 1}
    sandbox.reset_counters()
    assert sandbox.requests == {}


def test_concurrent_creates_are_thread_safe() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with Sandbox(preset="instant") as sb, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: create(sb, create_body(seed=i)), range(40)))
        assert all(a.status_code == 200 for a in answers)
        assert len({a.json()["data"]["task_id"] for a in answers}) == 40
        assert sb.requests["create"] == 40


def test_binds_loopback_by_default() -> None:
    with Sandbox() as sb:
        assert sb._server is not None
        assert sb._server.server_address[0] == "127.0.0.1"
        with socket.create_connection(("127.0.0.1", sb._server.server_address[1]), timeout=2):
            pass


def test_constructor_rejects_bad_options() -> None:
    for kwargs, needle in [
        ({"schema": "v3"}, "schema must be one of"),
        ({"preset": "slowest"}, "preset must be one of"),
        ({"sample_rate": 10}, "sample_rate"),
        ({"audio_seconds": 0}, "audio_seconds"),
        ({"timezone_offset": "CET"}, "timezone offset"),
        # Values that once started a sandbox that never answered or refused everything.
        ({"latency_ms": -5}, r"latency_ms must be 0 or more milliseconds, got -5"),
        ({"jitter_ms": -0.5}, "jitter_ms must be 0 or more"),
        ({"latency_ms": float("nan")}, "latency_ms must be 0 or more"),
        ({"rate_limit_per_s": -3}, r"rate_limit_per_s must be more than 0 .*leave it out"),
        ({"rate_limit_per_s": 0}, "rate_limit_per_s must be more than 0"),
        ({"concurrency_limit": 0}, "concurrency_limit must be a whole number of at least 1"),
        ({"concurrency_limit": 1.5}, "concurrency_limit must be a whole number"),
        ({"pending_s": -1}, "pending_s must be 0 or more seconds"),
        ({"processing_s": float("inf")}, "processing_s must be 0 or more seconds"),
        ({"port": True}, "port must be from 0 to 65535"),
        ({"host": ""}, "host must be an address"),
        ({"max_body_bytes": 0}, "max_body_bytes must be a whole number of at least 1"),
    ]:
        with pytest.raises(ValueError, match=needle) as caught:
            Sandbox(**kwargs)
        if "timezone_offset" not in kwargs:  # the rest name their option for the command line
            assert isinstance(caught.value, OptionError) and caught.value.option in kwargs


def test_faults_refuse_what_would_break_a_request() -> None:
    for options in ({"ms": -5}, {"jitter_ms": -1}, {"retry_after": -1.0}, {"count": -1}):
        with pytest.raises(ValueError, match="must be 0 or more"):
            FaultRule("latency", **options)  # type: ignore[arg-type]


def test_a_bad_host_is_refused_before_the_exposure_warning() -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(OSError):
            Sandbox(host="no.such.host.invalid").start()
    assert not caught


def test_a_video_whose_index_is_at_the_end_is_billed_for_its_real_length() -> None:
    """moov after mdat (the usual layout of a camera's file) reads 7 s, not 1.33 s."""
    from .media import MP4_CORPUS

    moov_last = next(c for c in MP4_CORPUS if c.name == "moov at the end, after media data")
    uri = "data:video/mp4;base64," + base64.b64encode(moov_last.data).decode()
    with Sandbox(preset="instant") as sb:
        data = create(sb, create_body(video=uri)).json()["data"]
        assert data["metadata"]["quota_usage"] == 35000  # 7 s x $0.0005
        done = get(sb, data["task_id"]).json()["data"]
        assert done["works"][0]["resource"]["duration"] == 7.0


def test_the_balance_is_frozen_while_running_and_refunded_on_failure() -> None:
    with Sandbox(pending_s=0.3, processing_s=0.0, balance_usd=1.0) as sb:
        task_id = create(sb, create_body(video="https://x/corrupt.mp4")).json()["data"]["task_id"]
        assert sb.world.balance_usd == pytest.approx(0.996)  # frozen while pending
        deadline = time.monotonic() + 10
        while get(sb, task_id).json()["data"]["status"] != "failed":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert sb.world.balance_usd == 1.0
        create(sb)  # a task that completes stays paid for
        assert sb.world.balance_usd == pytest.approx(0.996)


# -- every model ---------------------------------------------------------------------------------

REF = "https://cdn.example.com/voice.wav"
#: A valid create body per model (the MMAudio one is `create_body()`).
BODIES: dict[str, dict[str, object]] = {
    "Qubico/mmaudio": create_body(),
    "Qubico/ace-step": {
        "model": "Qubico/ace-step",
        "task_type": "txt2audio",
        "input": {"style_prompt": "lofi", "lyrics": "[verse] la", "duration": 30},
    },
    "Qubico/diffrhythm": {
        "model": "Qubico/diffrhythm",
        "task_type": "txt2audio-full",
        "input": {"lyrics": "[00:10.00] hello"},
    },
    "Qubico/tts": {
        "model": "Qubico/tts",
        "task_type": "zero-shot",
        "input": {"gen_text": "x" * 1500, "ref_audio": REF},
    },
}
#: What each costs (1e-7 USD): a video of unknown length (8 s), 30 s of music, a song, 2 x 1000
#: characters.
CONSUME = {
    "Qubico/mmaudio": 40000,
    "Qubico/ace-step": 150000,
    "Qubico/diffrhythm": 200000,
    "Qubico/tts": 500000,
}
MODELS = list(BODIES)


def with_input(model: str, **changes: object) -> dict[str, object]:
    body = json.loads(json.dumps(BODIES[model]))
    body["input"].update(changes)
    return {k: v for k, v in body.items()}


@pytest.mark.parametrize("model", MODELS)
def test_each_model_is_served_in_the_unified_schema_with_its_price(model: str) -> None:
    with Sandbox(preset="instant", schema="unified", audio_format="mp3") as sb:
        data = create(sb, BODIES[model]).json()["data"]
        assert (data["model"], data["task_type"]) == (model, BODIES[model]["task_type"])
        assert data["meta"]["usage"]["consume"] == CONSUME[model]
        done = get(sb, data["task_id"]).json()["data"]
        assert done["status"] == "completed"
        assert done["output"]["audio_url"].endswith(f"/temp/{data['task_id']}.mp3")
        answer = requests.get(done["output"]["audio_url"], timeout=10)
        assert answer.headers["Content-Type"] == "audio/mpeg" and len(answer.content) > 1000


@pytest.mark.parametrize("model", MODELS)
def test_each_model_in_the_seed_schema_names_its_family_and_arguments(model: str) -> None:
    with Sandbox(preset="instant") as sb:
        data = create(sb, BODIES[model]).json()["data"]
        done = get(sb, data["task_id"]).json()["data"]
        assert done["task"]["type"] == model.split("/")[1]
        assert done["task"]["taskInfo"]["type"] == BODIES[model]["task_type"]
        names = {a["name"] for a in done["task"]["taskInfo"]["arguments"]}
        names |= {i["name"] for i in done["task"]["taskInfo"]["inputs"]}
        assert set(BODIES[model]["input"]) <= names  # type: ignore[arg-type]
        assert done["works"][0]["contentType"] == "audio/wav"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (with_input("Qubico/ace-step", duration=500), "input.duration must be a number from 10"),
        (with_input("Qubico/ace-step", style_prompt=""), "input.style_prompt is required"),
        (with_input("Qubico/ace-step", seed=1), "input.seed is not an input of Qubico/ace-step"),
        ({**BODIES["Qubico/ace-step"], "task_type": "txt2img"}, "task_type must be one of"),
        ({**BODIES["Qubico/ace-step"], "model": "ace-step"}, "model must be one of"),
        (with_input("Qubico/diffrhythm", lyrics="hello"), "has no [mm:ss.xx] time stamp"),
        (
            {"model": "Qubico/diffrhythm", "task_type": "txt2audio-base", "input": {}},
            "at least one of input.lyrics",
        ),
        (with_input("Qubico/tts", gen_text="x" * 10_001), "the limit is 10000"),
        (with_input("Qubico/tts", ref_audio="ftp://x"), "input.ref_audio must be an http(s)"),
        (with_input("Qubico/tts", ref_audio="data:audio/wav;base64,!!"), "not valid base64"),
    ],
)
def test_each_models_documented_limits_are_enforced(body: object, needle: str) -> None:
    with Sandbox() as sb:
        answer = create(sb, body)
        assert answer.status_code == 400 and needle in answer.json()["message"]


@pytest.mark.parametrize("model", MODELS)
def test_each_model_fails_on_the_trigger_and_is_refunded(model: str) -> None:
    media = {"Qubico/mmaudio": "video", "Qubico/tts": "ref_audio"}
    body = (
        with_input(model, **{media[model]: "https://cdn.example.com/corrupt.wav"})
        if model in media
        else with_input(model, style_prompt="a corrupt style")
    )
    if model == "Qubico/mmaudio":
        body = create_body(video=f"{VIDEO}?corrupt")
    with Sandbox(preset="instant", schema="unified") as sb:
        task_id = create(sb, body).json()["data"]["task_id"]
        done = get(sb, task_id).json()["data"]
        assert done["status"] == "failed" and "failed" in done["error"]["message"]
        assert done["meta"]["usage"]["consume"] == 0 and done["output"] is None


def test_a_reference_that_is_not_audio_fails_the_task() -> None:
    video = mp4_data_uri(2.0).replace("video/mp4", "audio/wav")
    with Sandbox(preset="instant", schema="unified") as sb:
        task_id = create(sb, with_input("Qubico/tts", ref_audio=video)).json()["data"]["task_id"]
        done = get(sb, task_id).json()["data"]
        assert done["error"]["message"] == "failed to get valid audio"


def test_files_are_as_long_as_asked_but_never_over_audio_seconds() -> None:
    with Sandbox(preset="instant", audio_seconds=3.0, sample_rate=8000) as sb:
        lengths = {}
        for duration in (10, 60):
            body = with_input("Qubico/ace-step", duration=duration)
            done = get(sb, create(sb, body).json()["data"]["task_id"]).json()["data"]
            work = done["works"][0]
            with wave.open(
                io.BytesIO(requests.get(work["resource"]["resource"], timeout=10).content)
            ) as w:
                lengths[duration] = w.getnframes() / w.getframerate()
            assert work["resource"]["duration"] == 3.0
        assert lengths == {10: 3.0, 60: 3.0}
        speech = get(
            sb, create(sb, with_input("Qubico/tts", gen_text="Hi.")).json()["data"]["task_id"]
        )
        assert speech.json()["data"]["works"][0]["resource"]["duration"] == 1.0  # short text


def test_realistic_timing_differs_by_model() -> None:
    with Sandbox(preset="realistic") as sb:
        ran = {
            model: sb.world.get(create(sb, BODIES[model]).json()["data"]["task_id"]).processing_s
            for model in MODELS
        }
        assert ran == {
            "Qubico/mmaudio": 20.0,
            "Qubico/ace-step": 30.0,
            "Qubico/diffrhythm": 80.0,
            "Qubico/tts": 8.0,
        }
    with Sandbox(preset="realistic", processing_s=2) as sb:
        task_id = create(sb, BODIES["Qubico/diffrhythm"]).json()["data"]["task_id"]
        assert sb.world.get(task_id).processing_s == 2


def test_history_filters_and_active_tasks_list_each_model() -> None:
    with Sandbox(pending_s=60) as sb:
        for model in MODELS:
            create(sb, BODIES[model])
        create(sb, BODIES["Qubico/tts"])

        def total(model: str) -> int:
            answer = requests.get(
                f"{sb.url}/api/open/tasks/histories", params={"model": model}, timeout=5
            )
            return int(answer.json()["data"]["total"])

        assert total("") == 5 and total("tts") == 2 and total("Qubico/ace-step") == 1
        assert total("ace") == 0
        active = requests.get(f"{sb.url}/account/active_tasks", timeout=5).json()["data"]
        assert {k: v["pending_count"] for k, v in active.items()} == {
            "mmaudio": 1,
            "ace-step": 1,
            "diffrhythm": 1,
            "tts": 2,
        }


def test_cancel_answers_as_documented_and_only_while_pending() -> None:
    with Sandbox(pending_s=60, schema="unified") as sb:
        task_id = create(sb, BODIES["Qubico/ace-step"]).json()["data"]["task_id"]
        answer = requests.delete(f"{sb.url}/api/v1/task/{task_id}", timeout=5)
        assert answer.status_code == 200
        assert answer.json() == {"code": 200, "message": f"task {task_id} canceled"}
        data = get(sb, task_id).json()["data"]
        assert data["status"] == "cancelled" and data["meta"]["usage"] == {
            "type": "point",
            "frozen": 0,
            "consume": 0,
        }
        assert data["meta"]["started_at"] == ZERO_TIME and data["meta"]["ended_at"] != ZERO_TIME
        missing = requests.delete(f"{sb.url}/api/v1/task/nope", timeout=5)
        assert missing.status_code == 404
    with Sandbox(pending_s=0, processing_s=60) as sb:
        task_id = create(sb, BODIES["Qubico/tts"]).json()["data"]["task_id"]
        refused = requests.delete(f"{sb.url}/api/v1/task/{task_id}", timeout=5)
        assert refused.status_code == 400
        assert "processing and can no longer be canceled" in refused.json()["message"]
