"""Parity: each fact of /work/shared/docs/qubico-api.md that the sandbox implements, one test each.

A test's name (and first docstring line) states the fact in the contract's words; a test fails
when the sandbox stops telling that truth. Facts about the client alone are not here.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
from typing import Any

import pytest
import requests

from qubico_nb.sandbox import Sandbox

from .helpers.sandbox import create_body, wait_until
from .media import mp4_data_uri

NS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)$")
ZERO_TIME = "0001-01-01T00:00:00Z"


def create(sb: Sandbox, body: Any = None, **headers: str) -> requests.Response:
    return requests.post(
        f"{sb.url}/api/v1/task", json=body or create_body(), headers=headers, timeout=5
    )


def get(sb: Sandbox, task_id: str, **headers: str) -> requests.Response:
    return requests.get(f"{sb.url}/api/v1/task/{task_id}", headers=headers, timeout=5)


def history(sb: Sandbox, **params: Any) -> requests.Response:
    return requests.get(f"{sb.url}/api/open/tasks/histories", params=params, timeout=5)


# -- envelope and errors ------------------------------------------------------------------------
def test_success_envelope_code_0_on_the_seed_page_and_200_in_the_unified_schema() -> None:
    """Success is {"code": 200, "data", "message": "success"}; the seed page shows code 0."""
    with Sandbox(preset="instant") as seed, Sandbox(preset="instant", schema="unified") as unified:
        seed_answer = create(seed).json()
        assert seed_answer["code"] == 0 and seed_answer["message"] == "success"
        assert get(seed, seed_answer["data"]["task_id"]).json()["code"] == 0
        unified_answer = create(unified).json()
        assert unified_answer["code"] == 200 and unified_answer["message"] == "success"
        assert get(unified, unified_answer["data"]["task_id"]).json()["code"] == 200


def test_error_body_is_code_and_message_with_data_null() -> None:
    """Error bodies are {"code": <int>, "message": "<text>"}, sometimes with "data": null."""
    with Sandbox() as sb:
        body = get(sb, "nope").json()
        assert body == {"code": 404, "message": "task not found: nope", "data": None}


def test_400_for_a_bad_request() -> None:
    """The seed lists 400 for Get Task; a create the service would refuse is a 400."""
    with Sandbox() as sb:
        answer = create(sb, create_body(steps=10))
        assert answer.status_code == 400 and answer.json()["code"] == 400


def test_401_without_the_x_api_key_header_and_header_names_are_case_insensitive() -> None:
    """Auth is header x-api-key (the docs also spell it X-API-Key; names are case-insensitive)."""
    with Sandbox(api_key="k") as sb:
        assert create(sb).status_code == 401
        assert create(sb, None, **{"x-api-key": "wrong"}).status_code == 401
        assert create(sb, None, **{"X-API-Key": "k"}).status_code == 200
        assert create(sb, None, **{"x-api-key": "k"}).status_code == 200


def test_404_for_an_unknown_task_id() -> None:
    """404 is not documented but real: an unknown task id."""
    with Sandbox() as sb:
        assert get(sb, "00000000-0000-0000-0000-000000000000").status_code == 404


def test_429_rate_limit_with_optional_retry_after() -> None:
    """429 is a real possibility: a rate limit with an optional Retry-After header."""
    with Sandbox(rate_limit_per_s=1) as sb:
        codes = [requests.get(f"{sb.url}/account/info", timeout=5) for _ in range(3)]
        limited = next(a for a in codes if a.status_code == 429)
        assert 0 < float(limited.headers["Retry-After"]) <= 1  # the next token, at 1 per second
        assert limited.json()["code"] == 429


def test_concurrency_per_plan_counts_pending_and_processing_tasks() -> None:
    """Concurrency is per plan: pending and processing tasks count toward it."""
    with Sandbox(pending_s=0.2, processing_s=0.2, concurrency_limit=1) as sb:
        first = create(sb).json()["data"]["task_id"]
        assert create(sb).status_code == 429
        wait_until(lambda: get(sb, first).json()["data"]["status"] == "completed")
        assert create(sb).status_code == 200


def test_a_failed_task_is_still_http_200_with_error_message() -> None:
    """A failed task is HTTP 200 with data.status "failed" and data.error.message saying why."""
    with Sandbox(preset="instant", schema="unified") as sb:
        task_id = create(sb, create_body(video="https://x/corrupt.mp4")).json()["data"]["task_id"]
        answer = get(sb, task_id)
        assert answer.status_code == 200
        data = answer.json()["data"]
        assert data["status"] == "failed"
        assert data["error"]["message"] == "failed to get valid video"
        assert data["error"]["raw_message"]


# -- the two schemas ---------------------------------------------------------------------------
def test_seed_schema_parts() -> None:
    """Seed schema: task_id, input (a string), status, metadata{...}, task{...}, works[]."""
    with Sandbox(preset="instant") as sb:
        data = get(sb, create(sb).json()["data"]["task_id"]).json()["data"]
        assert isinstance(data["input"], str) and json.loads(data["input"])["seed"] == 42
        assert set(data["metadata"]) == {
            "created_at",
            "started_at",
            "ended_at",
            "quota_frozen",
            "quota_usage",
        }
        assert set(data["task"]) >= {
            "id",
            "userId",
            "type",
            "status",
            "taskInfo",
            "createTime",
            "updateTime",
        }
        assert {"arguments", "inputs", "type"} <= set(data["task"]["taskInfo"])
        work = data["works"][0]
        assert set(work["resource"]) == {
            "resource",
            "resourceWithoutWatermark",
            "height",
            "width",
            "duration",
        }
        assert {
            "contentType",
            "status",
            "cover",
            "taskInfo",
            "createTime",
            "starNum",
            "favored",
        } <= set(work)


def test_unified_schema_parts() -> None:
    """Unified: task_id, model, task_type, status, config, input (an object), output, meta, ..."""
    with Sandbox(preset="instant", schema="unified") as sb:
        data = get(sb, create(sb).json()["data"]["task_id"]).json()["data"]
        assert set(data) == {
            "task_id",
            "model",
            "task_type",
            "status",
            "config",
            "input",
            "output",
            "meta",
            "detail",
            "logs",
            "error",
        }
        assert data["model"] == "Qubico/mmaudio" and data["task_type"] == "video2audio"
        assert set(data["config"]) == {"service_mode", "webhook_config"}
        assert isinstance(data["input"], dict)
        assert set(data["output"]) == {"audio_url"}
        assert set(data["meta"]) == {
            "created_at",
            "started_at",
            "ended_at",
            "usage",
            "is_using_private_pool",
        }
        assert set(data["meta"]["usage"]) == {"type", "frozen", "consume"}
        assert data["error"] == {"code": 0, "raw_message": "", "message": "", "detail": None}


def test_statuses_are_lowercase_pending_processing_completed_failed() -> None:
    """Statuses are lowercase in real answers; capitalised in the docs' enum (an option)."""
    seen: list[str] = []
    with Sandbox(pending_s=0.15, processing_s=0.3) as sb:
        task_id = create(sb).json()["data"]["task_id"]
        deadline = time.monotonic() + 10
        while "completed" not in seen and time.monotonic() < deadline:
            status = get(sb, task_id).json()["data"]["status"]
            if status not in seen:
                seen.append(status)
            time.sleep(0.02)
    assert seen == ["pending", "processing", "completed"]
    with Sandbox(preset="instant", title_case_status=True) as sb:
        task_id = create(sb, create_body(video="https://x/corrupt.mp4")).json()["data"]["task_id"]
        assert get(sb, task_id).json()["data"]["status"] == "Failed"


def test_a_time_not_yet_reached_is_the_zero_time() -> None:
    """A time not yet reached is "0001-01-01T00:00:00Z" (none, not year 1)."""
    with Sandbox(pending_s=10, schema="unified") as sb:
        meta = create(sb).json()["data"]["meta"]
        assert meta["started_at"] == ZERO_TIME and meta["ended_at"] == ZERO_TIME
        assert meta["created_at"] != ZERO_TIME


@pytest.mark.parametrize(
    ("offset", "suffix"), [("Z", "Z"), ("+08:00", "+08:00"), ("-05:30", "-05:30")]
)
def test_timestamps_are_rfc3339_with_nanoseconds_and_z_or_an_offset(
    offset: str, suffix: str
) -> None:
    """Timestamps are RFC 3339 with nanosecond fractions, with Z or an offset such as +08:00."""
    with Sandbox(preset="instant", timezone_offset=offset) as sb:
        meta = get(sb, create(sb).json()["data"]["task_id"]).json()["data"]["metadata"]
        for name in ("created_at", "started_at", "ended_at"):
            assert NS_TIME.match(meta[name]) and meta[name].endswith(suffix), meta[name]


def test_usage_consume_is_money_in_units_of_1e_7_usd() -> None:
    """meta.usage.consume is USD x 10^7: an 8 s video at $0.0005/s ($0.004) shows 40000."""
    with Sandbox(preset="instant", schema="unified") as sb:
        data = get(
            sb, create(sb, create_body(video=mp4_data_uri(8.0))).json()["data"]["task_id"]
        ).json()["data"]
        assert data["meta"]["usage"]["consume"] == 40000


@pytest.mark.parametrize(
    ("seconds", "units"), [(1.0, 5000), (20.0, 100000), (30.0, 150000), (45.0, 150000)]
)
def test_price_is_0_0005_usd_per_video_second_at_most_30_s(seconds: float, units: int) -> None:
    """Price: $0.0005 per second of input video, at most 30 s."""
    with Sandbox(preset="instant", schema="unified", balance_usd=1.0) as sb:
        data = create(sb, create_body(video=mp4_data_uri(seconds))).json()["data"]
        assert data["meta"]["usage"]["consume"] == units
        info = requests.get(f"{sb.url}/account/info", timeout=5).json()["data"]
        assert info["equivalent_in_usd"] == pytest.approx(1.0 - units / 1e7)


def test_create_answer_is_pending_with_null_output_zero_times_and_usage_filled() -> None:
    """The create answer: status "pending", output null, zero-time started/ended, usage filled."""
    with Sandbox(pending_s=10, schema="unified") as sb:
        data = create(sb).json()["data"]
        assert data["status"] == "pending" and data["output"] is None
        assert data["meta"]["started_at"] == data["meta"]["ended_at"] == ZERO_TIME
        # 8 s of video (what the sandbox assumes of a URL) at $0.0005 a second, in 1e-7 USD
        assert data["meta"]["usage"] == {"type": "point", "frozen": 40000, "consume": 40000}


def test_input_is_echoed_with_defaults() -> None:
    """input is the request echoed with defaults (steps 25, seed 42, negative_prompt "")."""
    with Sandbox(schema="unified") as sb:
        data = create(sb, create_body(steps=None, seed=None, negative_prompt=None)).json()["data"]
        assert data["input"]["steps"] == 25 and data["input"]["seed"] == 42
        assert data["input"]["negative_prompt"] == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("prompt", "x" * 501),
        ("negative_prompt", "x" * 201),
        ("steps", 19),
        ("steps", 51),
        ("video", None),
        ("prompt", None),
    ],
)
def test_create_limits_prompt_500_negative_200_steps_20_to_50_video_required(
    field: str, value: Any
) -> None:
    """prompt required (<= 500 chars), negative_prompt <= 200, steps 20-50, video required."""
    with Sandbox() as sb:
        body = create_body(**{field: value}) if value is not None else create_body(**{field: None})
        assert create(sb, body).status_code == 400


def test_model_is_qubico_mmaudio_and_task_type_video2audio() -> None:
    """model is Qubico/mmaudio; task_type is video2audio (no text-only type is documented)."""
    with Sandbox() as sb:
        assert create(sb, {**create_body(), "model": "mmaudio"}).status_code == 400
        assert create(sb, {**create_body(), "task_type": "txt2audio"}).status_code == 400


def test_video_is_a_url_or_a_base64_mp4_data_uri() -> None:
    """video: an MP4 URL or a base64 data:video/mp4;base64,... URI."""
    with Sandbox() as sb:
        assert create(sb, create_body(video=mp4_data_uri(3.0))).status_code == 200
        assert create(sb, create_body(video="https://cdn.example.com/a.mp4")).status_code == 200
        assert create(sb, create_body(video="file:///etc/passwd")).status_code == 400


# -- history, account, active tasks, upload ----------------------------------------------------
def test_history_answer_is_data_page_size_total_and_pages_start_at_1() -> None:
    """History answers data: {data: [...], page, size, total}; page starts at 1."""
    with Sandbox(preset="instant") as sb:
        for seed in range(3):
            create(sb, create_body(seed=seed))
        page = history(sb, page=1, page_size=2).json()
        assert page["code"] == 200
        assert set(page["data"]) == {"data", "page", "size", "total"}
        assert (page["data"]["page"], page["data"]["size"], page["data"]["total"]) == (1, 2, 3)
        assert len(page["data"]["data"]) == 2
        assert history(sb, page=0).status_code == 400


def test_history_page_size_at_most_100_more_is_an_error() -> None:
    """page_size <= 100 (more is an error)."""
    with Sandbox() as sb:
        assert history(sb, page_size=100).status_code == 200
        assert history(sb, page_size=101).status_code == 400


def test_history_times_are_unix_seconds() -> None:
    """start_time and end_time are Unix seconds."""
    with Sandbox(preset="instant") as sb:
        create(sb)
        now = int(time.time())
        assert history(sb, start_time=now - 60, end_time=now + 60).json()["data"]["total"] == 1
        assert history(sb, start_time=now + 60).json()["data"]["total"] == 0
        assert history(sb, end_time=now - 60).json()["data"]["total"] == 0


@pytest.mark.parametrize(
    ("model", "found"),
    [
        ("mmaudio", 1),
        ("MMAudio", 1),
        ("Qubico/mmaudio", 1),
        ("qubico/MMAUDIO", 1),
        ("", 1),
        ("a", 0),
        ("audio", 0),
        ("mm", 0),
        ("qubico", 0),
        ("flux", 0),
        ("Qubico/mmaudio2", 0),
    ],
)
def test_history_model_filter_matches_the_model_name_or_family_never_a_substring(
    model: str, found: int
) -> None:
    """model=mmaudio filters by model family or full name, case-insensitive; never a substring."""
    with Sandbox(preset="instant") as sb:
        create(sb)
        assert history(sb, model=model).json()["data"]["total"] == found


def test_account_info_has_balance_plan_and_concurrency() -> None:
    """account/info: balance (equivalent_in_usd), plan, concurrency limits."""
    with Sandbox(concurrency_limit=3) as sb:
        data = requests.get(f"{sb.url}/account/info", timeout=5).json()["data"]
        assert {"equivalent_in_usd", "plan", "concurrency_limit"} <= set(data)
        assert data["concurrency_limit"] == 3


def test_active_tasks_per_family_pending_count_processing_count_active_tasks() -> None:
    """active_tasks: per model family, pending_count, processing_count, active_tasks[]."""
    with Sandbox(pending_s=10) as sb:
        create(sb)
        data = requests.get(f"{sb.url}/account/active_tasks", timeout=5).json()["data"]
        family = data["mmaudio"]
        assert (family["pending_count"], family["processing_count"]) == (1, 0)
        assert len(family["active_tasks"]) == 1


def test_upload_at_most_10_mb_answers_code_200_and_a_url() -> None:
    """Upload: {"file_name", "file_data"}, <= 10 MB; answer {"code": 200, "data": {"url"}}."""
    with Sandbox() as sb:
        ok = requests.post(
            f"{sb.url}/api/ephemeral_resource",
            timeout=10,
            json={"file_name": "x.mp4", "file_data": base64.b64encode(b"abc").decode()},
        )
        assert ok.json()["code"] == 200 and ok.json()["data"]["url"].startswith("http")
        big = base64.b64encode(bytes(10 * 1024 * 1024 + 1)).decode()
        refused = requests.post(
            f"{sb.url}/api/ephemeral_resource",
            timeout=10,
            json={"file_name": "x.mp4", "file_data": big},
        )
        assert refused.status_code == 400


def test_upload_on_the_free_plan_is_403_insufficient_plan_level() -> None:
    """403 "Insufficient plan level" on the free plan."""
    with Sandbox(plan="free") as sb:
        answer = requests.post(
            f"{sb.url}/api/ephemeral_resource",
            timeout=5,
            json={"file_name": "x.mp4", "file_data": base64.b64encode(b"abc").decode()},
        )
        assert answer.status_code == 403
        assert "Insufficient plan level" in answer.json()["message"]


def test_outputs_are_public_unsigned_urls_under_temp() -> None:
    """Outputs are public, unsigned URLs (.../temp/<uuid>.<ext>), readable without the key."""
    with Sandbox(preset="instant", api_key="k", schema="unified") as sb:
        task_id = create(sb, None, **{"x-api-key": "k"}).json()["data"]["task_id"]
        url = get(sb, task_id, **{"x-api-key": "k"}).json()["data"]["output"]["audio_url"]
        assert re.search(rf"/temp/{task_id}\.wav$", url)
        assert requests.get(url, timeout=5).status_code == 200


# -- what MMAudio produces ---------------------------------------------------------------------
def test_audio_is_mono_44_1_khz_8_s_by_default_cut_to_the_video() -> None:
    """MMAudio writes mono 44.1 kHz audio, 8 s by default, cut to the length of the video."""
    import soundfile

    with Sandbox(preset="instant", schema="unified") as sb:
        for video, seconds in ((mp4_data_uri(20.0), 8.0), (mp4_data_uri(3.0), 3.0)):
            task_id = create(sb, create_body(video=video)).json()["data"]["task_id"]
            url = get(sb, task_id).json()["data"]["output"]["audio_url"]
            info = soundfile.info(io.BytesIO(requests.get(url, timeout=5).content))
            assert (info.channels, info.samplerate) == (1, 44100)
            assert info.duration == pytest.approx(seconds)


# -- webhooks ----------------------------------------------------------------------------------
def test_webhook_delivers_timestamp_and_data_without_code_and_echoes_the_secret() -> None:
    """A webhook delivers {"timestamp", "data"} (no code), the secret in x-webhook-secret."""
    from .helpers.webhooks import Receiver

    receiver = Receiver()
    try:
        with Sandbox(preset="instant", schema="unified") as sb:
            body = create_body()
            body["config"] = {"webhook_config": {"endpoint": receiver.url, "secret": "s"}}
            create(sb, body)
            wait_until(lambda: len(receiver.received) >= 1)
            headers, payload = receiver.received[-1]
            assert set(payload) == {"timestamp", "data"}
            assert isinstance(payload["timestamp"], int)
            assert payload["data"]["status"] == "completed"
            assert headers["x-webhook-secret"] == "s"
    finally:
        receiver.close()


def test_a_failed_task_is_refunded() -> None:
    """A failed task's frozen price is given back: consume 0, and the balance does not drop."""
    with Sandbox(pending_s=0.05, processing_s=0.05, schema="unified", balance_usd=1.0) as sb:
        task_id = create(sb, create_body(video="https://x/corrupt.mp4")).json()["data"]["task_id"]
        wait_until(lambda: get(sb, task_id).json()["data"]["status"] == "failed")
        assert get(sb, task_id).json()["data"]["meta"]["usage"] == {
            "type": "point",
            "frozen": 0,
            "consume": 0,
        }
        info = requests.get(f"{sb.url}/account/info", timeout=5).json()["data"]
        assert info["equivalent_in_usd"] == 1.0
