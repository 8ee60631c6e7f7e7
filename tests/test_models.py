"""Parsing both schemas and the webhook shape into one Task: a table of the contract's facts."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qubico_nb import ProtocolError, Status, Task
from qubico_nb.models import guess_content_type, parse_time

UTC = timezone.utc

UNIFIED: dict[str, Any] = {
    "task_id": "0f1e2d3c-aaaa-bbbb-cccc-000000000001",
    "model": "Qubico/mmaudio",
    "task_type": "video2audio",
    "status": "completed",
    "config": {"service_mode": "public", "webhook_config": {"endpoint": "", "secret": ""}},
    "input": {"prompt": "rain on tin", "negative_prompt": "music", "video": "https://v/x.mp4",
              "steps": 25, "seed": 7},
    "output": {"audio_url": "https://img.theapi.app/temp/abc.mp3"},
    "meta": {"created_at": "2025-06-01T10:00:00.123456789Z",
             "started_at": "2025-06-01T10:00:01.5Z",
             "ended_at": "2025-06-01T18:00:31.5+08:00",
             "usage": {"type": "point", "frozen": 0, "consume": 200000},
             "is_using_private_pool": False},
    "detail": None,
    "logs": [],
    "error": {"code": 0, "raw_message": "", "message": "", "detail": None},
}

SEED: dict[str, Any] = {
    "task_id": "seed-1",
    "input": json.dumps({"prompt": "birds", "seed": 3}),
    "status": "Completed",
    "metadata": {"created_at": "2025-06-01T10:00:00Z", "started_at": "0001-01-01T00:00:00Z",
                 "ended_at": "0001-01-01T00:00:00Z", "quota_frozen": 5, "quota_usage": 40000},
    "task": {"id": 9, "userId": 1, "type": "mmaudio", "status": 2,
             "taskInfo": {"arguments": [{"name": "steps", "value": "30"},
                                        {"name": "prompt", "value": "ignored: input wins"}],
                          "inputs": [{"inputType": "video", "name": "video",
                                      "url": "https://v/in.mp4", "blobStorage": None,
                                      "token": None}],
                          "type": "video2audio"},
             "createTime": 1748772000000},
    "works": [{"contentType": "audio/wav", "status": 2, "type": "audio",
               "resource": {"resource": "https://cdn/x.wav",
                            "resourceWithoutWatermark": "https://cdn/x-clean.wav",
                            "height": 0, "width": 0, "duration": 8},
               "cover": {"resource": "https://cdn/cover.png"}}],
}


def test_unified_fields() -> None:
    task = Task.from_dict({"code": 200, "data": UNIFIED, "message": "success"})
    assert task.id == UNIFIED["task_id"]
    assert (task.model, task.task_type) == ("Qubico/mmaudio", "video2audio")
    assert task.status is Status.COMPLETED and task.is_done and task.raw_status == "completed"
    assert (task.prompt, task.negative_prompt, task.seed, task.steps) == (
        "rain on tin", "music", 7, 25)
    assert task.video == "https://v/x.mp4"
    assert task.created_at == datetime(2025, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert task.ended_at == datetime(2025, 6, 1, 10, 0, 31, 500000, tzinfo=UTC)
    assert task.queued_s == pytest.approx(1.376544)
    assert task.ran_s == pytest.approx(30.0)
    assert task.usage is not None and task.usage.cost_usd == pytest.approx(0.02)
    assert task.error is None
    (work,) = task.works
    assert (work.url, work.kind, work.content_type) == (
        "https://img.theapi.app/temp/abc.mp3", "audio", "audio/mpeg")
    assert task.audio == work


def test_seed_fields() -> None:
    task = Task.from_dict({"code": 0, "data": SEED, "message": ""})
    assert task.status is Status.COMPLETED and task.raw_status == "Completed"
    assert task.model == "Qubico/mmaudio" and task.task_type == "video2audio"
    assert task.prompt == "birds" and task.seed == 3 and task.steps == 30
    assert task.video == "https://v/in.mp4"
    assert task.started_at is None and task.ended_at is None and task.ran_s is None
    assert task.usage is not None and task.usage.consume == 40000 and task.usage.frozen == 5
    (work,) = task.works
    assert work.url == "https://cdn/x.wav" and work.playable_url == "https://cdn/x-clean.wav"
    assert work.duration_s == 8.0 and work.width is None and work.cover_url == "https://cdn/cover.png"


def test_webhook_and_bare_shapes_equal_the_envelope() -> None:
    envelope = Task.from_dict({"code": 200, "data": UNIFIED, "message": "success"})
    assert Task.from_dict({"timestamp": 1748772000, "data": UNIFIED}) == envelope
    assert Task.from_dict(UNIFIED) == envelope


@pytest.mark.parametrize(
    ("raw", "status"),
    [("pending", Status.PENDING), ("Pending", Status.PENDING), ("staged", Status.STAGED),
     ("Staged", Status.STAGED), ("processing", Status.PROCESSING), ("running", Status.PROCESSING),
     ("completed", Status.COMPLETED), ("Completed", Status.COMPLETED),
     ("success", Status.COMPLETED), ("failed", Status.FAILED), ("Failed", Status.FAILED),
     ("cancelled", Status.FAILED), ("mystery", Status.UNKNOWN), ("", Status.UNKNOWN)],
)
def test_statuses(raw: str, status: Status) -> None:
    task = Task.from_dict({**UNIFIED, "status": raw})
    assert task.status is status and task.raw_status == raw
    assert task.is_done == (status in (Status.COMPLETED, Status.FAILED))


def test_status_that_is_not_text_is_unknown() -> None:
    assert Task.from_dict({**UNIFIED, "status": 2}).status is Status.UNKNOWN


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2025-01-02T03:04:05Z", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
     ("2025-01-02T03:04:05.123456789Z", datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
     ("2025-01-02T11:04:05.5+08:00", datetime(2025, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
     ("2025-01-01T22:04:05-05:00", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
     ("2025-01-02 03:04:05", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
     ("0001-01-01T00:00:00Z", None), ("0001-01-01T00:00:00+00:00", None), ("", None),
     ("yesterday", None), ("2025-13-45T00:00:00Z", None), (None, None),
     (1735787045, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
     (1735787045000, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
     (1735787045000000000, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)), (0, None), (True, None)],
)
def test_times(text: object, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def test_zero_times_mean_none_not_year_one() -> None:
    pending = {**UNIFIED, "status": "pending", "output": None,
               "meta": {**UNIFIED["meta"], "started_at": "0001-01-01T00:00:00Z",
                        "ended_at": "0001-01-01T00:00:00Z"}}
    task = Task.from_dict(pending)
    assert task.started_at is None and task.queued_s is None and task.works == ()


def test_failed_task_error() -> None:
    failed = {**UNIFIED, "status": "failed", "output": None,
              "error": {"code": 10000, "raw_message": "ffmpeg: bad header",
                        "message": "failed to get valid video", "detail": None}}
    task = Task.from_dict(failed)
    assert task.status is Status.FAILED
    assert task.error is not None
    assert (task.error.code, task.error.message, task.error.raw_message) == (
        10000, "failed to get valid video", "ffmpeg: bad header")


def test_missing_and_extra_fields() -> None:
    task = Task.from_dict({"task_id": "x", "surprise": {"nested": [1, 2]}})
    assert task.status is Status.UNKNOWN and task.model is None and task.input == {}
    assert task.works == () and task.usage is None and task.error is None
    assert task.raw["surprise"] == {"nested": [1, 2]}


def test_seed_input_that_is_not_json_is_kept() -> None:
    task = Task.from_dict({**SEED, "input": "just words"})
    assert task.input["raw"] == "just words"


def test_other_output_keys_become_works() -> None:
    task = Task.from_dict({**UNIFIED, "output": {
        "video": "https://c/v.mp4", "image_urls": ["https://c/a.png", "https://c/b.png"],
        "seed": 3, "note": "https://not-a-file-key"}})
    assert [(w.kind, w.url) for w in task.works] == [
        ("video", "https://c/v.mp4"), ("image", "https://c/a.png"), ("image", "https://c/b.png")]


def test_negative_durations_are_not_reported() -> None:
    meta = {**UNIFIED["meta"], "started_at": "2025-06-01T10:00:00Z",
            "ended_at": "2025-06-01T09:00:00Z"}
    assert Task.from_dict({**UNIFIED, "meta": meta}).ran_s is None


@pytest.mark.parametrize(
    ("obj", "needle"),
    [([], "got list"), ("text", "got str"), (None, "got NoneType"),
     ({"code": 500, "data": None, "message": "boom"}, "error code 500: boom"),
     ({"code": 200, "data": None, "message": "x"}, "holds no task"),
     ({"code": 200, "data": {"no": "id"}}, "expected a task object with a 'task_id'"),
     ({"task_id": ""}, "'task_id'"), ({"task_id": None}, "'task_id'")],
)
def test_what_is_not_a_task(obj: object, needle: str) -> None:
    with pytest.raises(ProtocolError, match=needle):
        Task.from_dict(obj)


def test_task_is_immutable_and_round_trips_to_json() -> None:
    task = Task.from_dict(UNIFIED)
    with pytest.raises(AttributeError):
        task.id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        task.input["prompt"] = "changed"  # type: ignore[index]
    as_dict = json.loads(json.dumps(task.to_dict()))
    assert as_dict["usage"]["cost_usd"] == pytest.approx(0.02)
    assert as_dict["works"][0]["kind"] == "audio"
    assert as_dict["created_at"] == "2025-06-01T10:00:00.123456+00:00"
    assert hash(task) == hash(Task.from_dict(UNIFIED))
    assert "rain on tin" in repr(task) and "video" not in repr(task)


def test_content_type_guess() -> None:
    assert guess_content_type("https://x/a.WAV?sig=1") == "audio/wav"
    assert guess_content_type("https://x/a.mp3") == "audio/mpeg"
    assert guess_content_type("https://x/noext") is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                               max_size=5),
    max_leaves=25,
)
task_like = st.fixed_dictionaries(
    {"task_id": st.text(min_size=1, max_size=8)},
    optional={key: json_values for key in ("status", "input", "output", "meta", "metadata",
                                           "works", "error", "task", "model")},
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, task_like, st.builds(lambda d: {"code": 200, "data": d}, task_like),
                 st.builds(lambda d: {"timestamp": 1, "data": d}, json_values)))
def test_no_json_input_raises_anything_but_protocol_error(obj: object) -> None:
    try:
        task = Task.from_dict(obj)
    except ProtocolError:
        return
    assert isinstance(task.id, str) and isinstance(task.status, Status)
    json.dumps(task.to_dict())
