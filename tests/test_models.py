"""Parsing both schemas and the webhook shape into one Task: a table of the contract's facts."""

from __future__ import annotations

import ast
import copy
import json
import pickle
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qubico_nb import ProtocolError, Status, Task, Work, models
from qubico_nb.models import MAX_NESTING, WorkKind, guess_content_type, parse_time

from .helpers.answers import SEED, UNIFIED

UTC = timezone.utc


def test_unified_fields() -> None:
    task = Task.from_dict({"code": 200, "data": UNIFIED, "message": "success"})
    assert task.id == UNIFIED["task_id"]
    assert (task.model, task.task_type) == ("Qubico/mmaudio", "video2audio")
    assert task.status is Status.COMPLETED and task.is_done and task.raw_status == "completed"
    assert (task.prompt, task.negative_prompt, task.seed, task.steps) == (
        "rain on tin",
        "music",
        7,
        25,
    )
    assert task.video == "https://v/x.mp4"
    assert task.created_at == datetime(2025, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert task.ended_at == datetime(2025, 6, 1, 10, 0, 31, 500000, tzinfo=UTC)
    assert task.queued_s == pytest.approx(1.376544)
    assert task.ran_s == pytest.approx(30.0)
    assert task.usage is not None and task.usage.cost_usd == pytest.approx(0.02)
    assert task.error is None
    (work,) = task.works
    assert (work.url, work.kind, work.content_type) == (
        "https://img.theapi.app/temp/abc.mp3",
        "audio",
        "audio/mpeg",
    )
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
    assert (
        work.duration_s == 8.0 and work.width is None and work.cover_url == "https://cdn/cover.png"
    )


def test_webhook_and_bare_shapes_equal_the_envelope() -> None:
    envelope = Task.from_dict({"code": 200, "data": UNIFIED, "message": "success"})
    assert Task.from_dict({"timestamp": 1748772000, "data": UNIFIED}) == envelope
    assert Task.from_dict(UNIFIED) == envelope


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("pending", Status.PENDING),
        ("Pending", Status.PENDING),
        ("staged", Status.STAGED),
        ("Staged", Status.STAGED),
        ("processing", Status.PROCESSING),
        ("running", Status.PROCESSING),
        ("completed", Status.COMPLETED),
        ("Completed", Status.COMPLETED),
        ("success", Status.COMPLETED),
        ("failed", Status.FAILED),
        ("Failed", Status.FAILED),
        ("cancelled", Status.FAILED),
        ("mystery", Status.UNKNOWN),
        ("", Status.UNKNOWN),
    ],
)
def test_statuses(raw: str, status: Status) -> None:
    task = Task.from_dict({**UNIFIED, "status": raw})
    assert task.status is status and task.raw_status == raw
    assert task.is_done == (status in (Status.COMPLETED, Status.FAILED))


def test_status_that_is_not_text_is_unknown() -> None:
    assert Task.from_dict({**UNIFIED, "status": 2}).status is Status.UNKNOWN


def test_each_status_is_running_done_or_unknown() -> None:
    assert {s for s in Status if s.is_running} == {
        Status.PENDING,
        Status.STAGED,
        Status.PROCESSING,
    }
    assert {s for s in Status if s.is_done} == {Status.COMPLETED, Status.FAILED}
    assert not Status.UNKNOWN.is_running and not Status.UNKNOWN.is_done


#: Every spelling a server or a hand-made frame may use, in the forms they come in.
SPELLINGS = sorted(
    {*models._STATUS_ALIASES, "starting", "Queued", "IN PROGRESS", "error", "mystery", ""}
)


def test_every_view_counts_the_same_statuses_as_running() -> None:
    """The compare grid and the review board read "still running" from `Status`, not a list
    of their own: for every spelling, both say "no audio yet" exactly when `Status` runs."""
    import pandas as pd

    from qubico_nb.html.grid import _cell_player
    from qubico_nb.review_board.board import PENDING, card_status

    for spelling in SPELLINGS:
        running = Status.parse(spelling).is_running
        cell = _cell_player(spelling.lower(), None, None, None, "audio", None, ())
        assert ("no audio yet" in cell) is running, spelling
        board, _ = card_status(pd.Series({"status": spelling}))
        assert (board == PENDING) is running, spelling


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-02T03:04:05Z", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2025-01-02T03:04:05.123456789Z", datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        ("2025-01-02T11:04:05.5+08:00", datetime(2025, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
        ("2025-01-01T22:04:05-05:00", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2025-01-02 03:04:05", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("0001-01-01T00:00:00+00:00", None),
        ("", None),
        ("yesterday", None),
        ("2025-13-45T00:00:00Z", None),
        (None, None),
        (1735787045, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (1735787045000, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (1735787045000000000, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (0, None),
        (True, None),
    ],
)
def test_times(text: object, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def test_zero_times_mean_none_not_year_one() -> None:
    pending = {
        **UNIFIED,
        "status": "pending",
        "output": None,
        "meta": {
            **UNIFIED["meta"],
            "started_at": "0001-01-01T00:00:00Z",
            "ended_at": "0001-01-01T00:00:00Z",
        },
    }
    task = Task.from_dict(pending)
    assert task.started_at is None and task.queued_s is None and task.works == ()


def test_failed_task_error() -> None:
    failed = {
        **UNIFIED,
        "status": "failed",
        "output": None,
        "error": {
            "code": 10000,
            "raw_message": "ffmpeg: bad header",
            "message": "failed to get valid video",
            "detail": None,
        },
    }
    task = Task.from_dict(failed)
    assert task.status is Status.FAILED
    assert task.error is not None
    assert (task.error.code, task.error.message, task.error.raw_message) == (
        10000,
        "failed to get valid video",
        "ffmpeg: bad header",
    )


def test_missing_and_extra_fields() -> None:
    task = Task.from_dict({"task_id": "x", "surprise": {"nested": [1, 2]}})
    assert task.status is Status.UNKNOWN and task.model is None and task.input == {}
    assert task.works == () and task.usage is None and task.error is None
    assert task.raw["surprise"] == {"nested": [1, 2]}


def test_seed_input_that_is_not_json_is_kept() -> None:
    task = Task.from_dict({**SEED, "input": "just words"})
    assert task.input["raw"] == "just words"


def test_other_output_keys_become_works() -> None:
    task = Task.from_dict(
        {
            **UNIFIED,
            "output": {
                "video": "https://c/v.mp4",
                "image_urls": ["https://c/a.png", "https://c/b.png"],
                "seed": 3,
                "note": "https://not-a-file-key",
            },
        }
    )
    assert [(w.kind, w.url) for w in task.works] == [
        ("video", "https://c/v.mp4"),
        ("image", "https://c/a.png"),
        ("image", "https://c/b.png"),
    ]


def test_negative_durations_are_not_reported() -> None:
    meta = {
        **UNIFIED["meta"],
        "started_at": "2025-06-01T10:00:00Z",
        "ended_at": "2025-06-01T09:00:00Z",
    }
    assert Task.from_dict({**UNIFIED, "meta": meta}).ran_s is None


@pytest.mark.parametrize(
    ("obj", "needle"),
    [
        ([], "got list"),
        ("text", "got str"),
        (None, "got NoneType"),
        ({"code": 500, "data": None, "message": "boom"}, "error code 500: boom"),
        ({"code": 200, "data": None, "message": "x"}, "holds no task"),
        ({"code": 200, "data": {"no": "id"}}, "expected a task object with a 'task_id'"),
        ({"task_id": ""}, "'task_id'"),
        ({"task_id": None}, "'task_id'"),
    ],
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
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=10**400)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "1500-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2025-06-01T10:00:00.123456789+08:00",
            "9" * 5000,
            "https://x/a.wav",
            "/temp/a.mp3",
            "audio/wav",
            "completed",
            "Failed",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=25,
)
task_like = st.fixed_dictionaries(
    {"task_id": st.text(min_size=1, max_size=8).filter(str.strip)},
    optional={
        key: json_values
        for key in (
            "status",
            "input",
            "output",
            "meta",
            "metadata",
            "works",
            "error",
            "task",
            "model",
            "task_type",
        )
    },
)


def pickled(value: Any, protocol: int = pickle.DEFAULT_PROTOCOL) -> Any:
    """`value` after a trip through pickle, as a worker process sends it back."""
    return pickle.loads(pickle.dumps(value, protocol=protocol))  # noqa: S301 (our own bytes)


def parses_or_refuses(obj: object) -> Task | None:
    """The property: a Task, or a ProtocolError the parser meant to raise. A ProtocolError
    with a ``__cause__`` is the catch-all in ``Task.from_dict`` wrapping a bug that leaked (a
    KeyError, TypeError, OverflowError...), so it fails the property instead of passing it."""
    try:
        task = Task.from_dict(obj)
        works = task.works  # read on first access: a leak there is a parser bug all the same
    except ProtocolError as err:
        assert err.__cause__ is None, f"the parser leaked {err.__cause__!r}"
        return None
    assert isinstance(task.id, str) and isinstance(task.status, Status)
    assert all(work.kind in get_args(WorkKind) for work in works)
    json.dumps(task.to_dict())
    # repr, not ==: a NaN a server sent (JSON allows it in Python) is never equal to itself
    assert repr(pickled(task).to_dict()) == repr(task.to_dict())
    assert repr(copy.deepcopy(task).to_dict()) == repr(task.to_dict())
    return task


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.builds(lambda d: {"timestamp": 1, "data": d}, json_values)))
def test_no_json_input_raises_anything_but_protocol_error(obj: object) -> None:
    parses_or_refuses(obj)


@settings(max_examples=300, deadline=None)
@given(st.one_of(task_like, st.builds(lambda d: {"code": 200, "data": d}, task_like)))
def test_any_object_with_a_task_id_is_read(obj: dict[str, Any]) -> None:
    assert parses_or_refuses(obj) is not None


def test_the_property_fails_when_the_parser_leaks(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: object) -> tuple[Work, ...]:
        raise KeyError("a bug")

    monkeypatch.setattr(models, "_parse_works", broken)
    with pytest.raises(AssertionError, match="leaked KeyError"):
        parses_or_refuses(UNIFIED)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


@pytest.mark.parametrize("where", ["output", "input", "detail", "meta"])
def test_deeply_nested_json_is_a_protocol_error(where: str) -> None:
    with pytest.raises(ProtocolError, match="levels deep") as caught:
        Task.from_dict({**UNIFIED, where: nested(5000)})
    assert caught.value.__cause__ is None
    fine = Task.from_dict({**UNIFIED, "detail": nested(MAX_NESTING - 2)})
    assert copy.deepcopy(fine) == fine and pickled(fine).raw == fine.raw


def test_deeply_nested_seed_input_text_is_kept_as_text_or_refused() -> None:
    deep_text = "[" * 50_000 + "]" * 50_000  # json.loads raises RecursionError on this
    assert Task.from_dict({**SEED, "input": deep_text}).input["raw"] == deep_text
    with pytest.raises(ProtocolError, match="levels deep"):
        Task.from_dict({**SEED, "input": json.dumps({"a": nested(MAX_NESTING + 5)})})


@pytest.mark.parametrize(
    "odd",
    [
        10**400,
        -(10**400),
        2**64,
        float("inf"),
        float("nan"),
        "9" * 5000,
        "1e400",
        True,
        [],
        {},
        None,
    ],
)
def test_numbers_too_large_or_of_the_wrong_type_read_as_unknown(odd: object) -> None:
    task = Task.from_dict(
        {
            **UNIFIED,
            "task_type": odd,
            "model": odd,
            "input": {"prompt": odd, "seed": odd, "steps": odd},
            "meta": {
                "created_at": odd,
                "started_at": odd,
                "ended_at": odd,
                "usage": {"consume": odd, "frozen": odd, "type": odd},
            },
            "error": {"code": odd, "message": odd},
        }
    )
    assert task.steps in (None, odd) and task.seed in (None, odd)
    assert (
        task.usage is None or task.usage.cost_usd is None or isinstance(task.usage.cost_usd, float)
    )
    json.dumps(task.to_dict())


@pytest.mark.parametrize(
    "stamp",
    [
        "1500-01-01T00:00:00Z",
        "2500-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        10**20,
        -5,
        1e300,
    ],
)
def test_times_outside_pandas_range_are_kept_or_unknown(stamp: object) -> None:
    task = Task.from_dict({**UNIFIED, "meta": {"created_at": stamp}})
    assert task.created_at is None or task.created_at.tzinfo is timezone.utc


@pytest.mark.parametrize(
    ("output", "urls"),
    [
        (None, []),
        ([], []),
        ("text", []),
        (3, []),
        ({"audio_url": None}, []),
        ({"audio_url": ["https://c/a.mp3", None, 7]}, ["https://c/a.mp3"]),
    ],
)
def test_null_or_odd_output(output: object, urls: list[str]) -> None:
    task = Task.from_dict({**UNIFIED, "output": output})
    assert [w.url for w in task.works] == urls


def test_every_field_of_every_wrong_type() -> None:
    for odd in (None, 1, 1.5, "x", [], {}, True, [None], {"x": None}):
        for key in (
            "status",
            "input",
            "output",
            "meta",
            "metadata",
            "works",
            "error",
            "task",
            "model",
            "task_type",
            "config",
            "logs",
        ):
            parses_or_refuses({**UNIFIED, key: odd})
            parses_or_refuses({**SEED, key: odd})


def test_a_plain_text_error_is_kept() -> None:
    task = Task.from_dict({**UNIFIED, "status": "failed", "error": "GPU out of memory"})
    assert task.error is not None and task.error.message == "GPU out of memory"


def test_a_50_mb_prompt_stays_whole() -> None:
    prompt = "waves " * (50 * 1024 * 1024 // 6)
    task = Task.from_dict({**UNIFIED, "input": {**UNIFIED["input"], "prompt": prompt}})
    assert task.prompt is prompt or task.prompt == prompt
    assert len(repr(task)) < 300


@pytest.mark.parametrize("answer", [UNIFIED, SEED])
def test_task_and_work_survive_pickle_and_deepcopy(answer: dict[str, Any]) -> None:
    task = Task.from_dict(answer)
    for copied in (pickled(task, proto) for proto in (2, 5)):
        assert copied == task and copied.raw == task.raw and copied.input == task.input
        with pytest.raises(TypeError):
            copied.input["prompt"] = "changed"  # type: ignore[index]
    clone = copy.deepcopy(task)
    assert clone == task and clone.works == task.works and clone.raw == task.raw
    assert copy.copy(task) == task
    (work,) = task.works
    assert pickled(work) == work == copy.deepcopy(work)


def test_work_kinds_are_the_documented_ones() -> None:
    assert set(get_args(WorkKind)) == {"audio", "video", "image", "other"}
    kinds = {
        Work.from_url(url).kind
        for url in (
            "https://c/a.wav",
            "https://c/a.mp4",
            "https://c/a.png",
            "https://c/a.glb",
            "https://c.com",
            "https://c/a",
        )
    }
    assert kinds == {"audio", "video", "image", "other"}


def test_models_imports_nothing_above_it() -> None:
    """models sits below everything but errors, constants, the value coercions and the media
    facts: no import circle can pass it."""
    source = Path(models.__file__).read_text()
    local = {
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.level > 0
    }
    assert local <= {"errors", "_constants", "_coerce", "_media"}


@pytest.mark.parametrize("answer", [UNIFIED, SEED])
def test_the_parser_builds_what_init_builds(answer: dict[str, Any]) -> None:
    """The parser fills slots directly for speed; the objects must equal ``__init__``'s."""
    from dataclasses import fields

    task = Task.from_dict(answer)
    values = {f.name: getattr(task, f.name) for f in fields(task)}  # every slot is set
    assert Task(**values) == task and repr(Task(**values)) == repr(task)
    for work in task.works:
        assert Work(**{f.name: getattr(work, f.name) for f in fields(work)}) == work
    assert (
        task.usage is not None
        and type(task.usage)(**{f.name: getattr(task.usage, f.name) for f in fields(task.usage)})
        == task.usage
    )


def test_a_parsed_task_adds_one_object_for_the_collector() -> None:
    """Each container a parsed task keeps is scanned by the cyclic garbage collector; at 100,000
    tasks six of them per task made a third of the parse. The answer's own dicts are reused
    (read-only views are made on access, works are read when first asked)."""
    import gc

    answers = [{**UNIFIED, "task_id": f"t{i}"} for i in range(2000)]
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        tasks = [Task.from_dict(answer) for answer in answers]
        added = len(gc.get_objects()) - before
    finally:
        gc.enable()
    assert added <= len(tasks) * 1.2
    assert tasks[0].usage is tasks[1].usage  # equal immutable values are shared
    assert tasks[0].works == tasks[1].works and len(tasks[0].works) == 1  # read on first access
    assert tasks[0].works is tasks[0].works  # ... and kept
    with pytest.raises(TypeError):
        tasks[0].raw["status"] = "changed"  # type: ignore[index]


def test_a_task_made_by_init_keeps_what_it_was_given() -> None:
    work = Work.from_url("https://c/a.wav")
    task = Task(
        id="t",
        status=Status.COMPLETED,
        raw_status="completed",
        works=(work,),
        input={"prompt": "rain"},
        raw={"task_id": "t"},
    )
    assert task.works == (work,) and task.prompt == "rain" and task.raw == {"task_id": "t"}
    with pytest.raises(TypeError):
        task.input["prompt"] = "changed"  # type: ignore[index]
    with pytest.raises(AttributeError):
        task.works = ()  # type: ignore[misc]
