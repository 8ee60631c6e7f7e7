"""Tasks to pandas DataFrames with documented, stable columns and dtypes. Pure: no I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import catalogue
from ._coerce import as_int, as_text
from ._gc import collector_paused
from .models import Status, Task, Work, input_of, seconds_between

#: One row per task, or one per generated file (a task without works still gets one row).
Per = Literal["task", "work"]

#: Column -> dtype of `tasks_to_frame(per="task")`, in order.
#:
#: Every model's tasks share these columns. ``prompt`` holds the model's main text (MMAudio's
#: prompt, ACE-Step's and DiffRhythm's style prompt, TTS's text: see `qubico_nb.catalogue`);
#: ``negative_prompt`` either spelling of it; ``lyrics`` the lyrics (ACE-Step, DiffRhythm);
#: ``seed`` and ``steps`` MMAudio's; ``video`` the input video (a data: URI shortened);
#: ``reference`` a reference recording (``style_audio``, ``ref_audio``, ``audio``);
#: ``requested_s`` the length asked for (ACE-Step's duration, DiffRhythm's 95 or 285 s).
#: ``audio_url`` is the first audio file; ``output_url`` and ``output_kind`` the first file of
#: any kind (audio, image, video, other), which is what `compare` shows for a task with no
#: audio (an image sent inline is a ``data:image/...`` URI here).
TASK_COLUMNS: dict[str, str] = {
    "task_id": "string",
    "model": "string",
    "task_type": "string",
    "status": "string",
    "prompt": "string",
    "negative_prompt": "string",
    "lyrics": "string",
    "seed": "Int64",
    "steps": "Int64",
    "video": "string",
    "reference": "string",
    "requested_s": "Float64",
    "created_at": "datetime64[ns, UTC]",
    "started_at": "datetime64[ns, UTC]",
    "ended_at": "datetime64[ns, UTC]",
    "queued_s": "Float64",
    "ran_s": "Float64",
    "cost_usd": "Float64",
    "n_works": "Int64",
    "audio_url": "string",
    "duration_s": "Float64",
    "output_url": "string",
    "output_kind": "string",
    "error": "string",
}

#: Extra columns of `tasks_to_frame(per="work")`, placed after ``n_works``.
WORK_COLUMNS: dict[str, str] = {
    "work_index": "Int64",
    "url": "string",
    "kind": "string",
    "content_type": "string",
}

#: The status of a row for a task that could not be fetched.
ERROR_STATUS = "error"


@dataclass(frozen=True)
class FetchFailure:
    """A task that could not be fetched: it still gets a row, with the reason."""

    task_id: str
    message: str


def short_video(video: str | None) -> str | None:
    """A data: URI is megabytes of base64; a table shows its kind and size instead."""
    if video and video.startswith("data:"):
        head = video.split(",", 1)[0]
        return f"{head},… ({len(video):,} chars)"
    return video


def columns(per: Per = "task") -> dict[str, str]:
    """The columns and dtypes a frame has for ``per`` ("task" or "work")."""
    if per == "task":
        return dict(TASK_COLUMNS)
    if per == "work":
        names = list(TASK_COLUMNS)
        at = names.index("n_works") + 1
        ordered = names[:at] + list(WORK_COLUMNS) + names[at:]
        merged = {**TASK_COLUMNS, **WORK_COLUMNS}
        return {name: merged[name] for name in ordered}
    raise ValueError(f"per must be 'task' or 'work', got {per!r}")


def _task_row(task: Task) -> dict[str, Any]:
    audio = task.audio
    spec = _spec_of(task.model)
    given = task.input
    return {
        "task_id": task.id,
        "model": task.model,
        "task_type": task.task_type,
        "status": task.status.value,
        "prompt": as_text(given.get(spec.main_text if spec else "prompt")),
        "negative_prompt": as_text(
            given.get("negative_prompt", given.get("negative_style_prompt"))
        ),
        "lyrics": as_text(given.get("lyrics")),
        "seed": task.seed,
        "steps": task.steps,
        "video": short_video(task.video),
        "reference": short_video(as_text(_reference(given))),
        "requested_s": (
            None if spec is None else catalogue.requested_seconds(spec, task.task_type, given)
        ),
        "created_at": task.created_at,
        "started_at": task.started_at,
        "ended_at": task.ended_at,
        "queued_s": task.queued_s,
        "ran_s": task.ran_s,
        "cost_usd": task.usage.cost_usd if task.usage else None,
        "n_works": len(task.works),
        "audio_url": audio.playable_url if audio else None,
        "duration_s": audio.duration_s if audio else None,
        "output_url": task.works[0].playable_url if task.works else None,
        "output_kind": task.works[0].kind if task.works else None,
        "error": task.error.message if task.error else None,
    }


def _work_fields(index: int | None, work: Work | None) -> dict[str, Any]:
    if work is None:
        return {"work_index": None, "url": None, "kind": None, "content_type": None}
    return {
        "work_index": index,
        "url": work.playable_url,
        "kind": work.kind,
        "content_type": work.content_type,
    }


def rows(items: Iterable[Task | FetchFailure], per: Per = "task") -> list[dict[str, Any]]:
    """Plain dict rows, one per task (or per work), in input order (times as datetimes)."""
    columns(per)  # validates per
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, FetchFailure):
            row = {
                "task_id": item.task_id,
                "status": ERROR_STATUS,
                "error": item.message,
                "n_works": 0,
            }
            out.append(row if per == "task" else {**row, **_work_fields(None, None)})
            continue
        base = _task_row(item)
        if per == "task":
            out.append(base)
            continue
        if not item.works:
            out.append({**base, **_work_fields(None, None)})
        for index, work in enumerate(item.works):
            one = {**base, **_work_fields(index, work)}
            one["audio_url"] = work.playable_url if work.kind == "audio" else None
            one["duration_s"] = work.duration_s
            one["output_url"], one["output_kind"] = work.playable_url, work.kind
            out.append(one)
    return out


def tasks_to_frame(items: Iterable[Task | FetchFailure], per: Per = "task") -> pd.DataFrame:
    """One row per task (``per="work"``: per work), with the columns of `columns(per)`.

    Built column by column (no row dicts, no per-row pandas calls). A value its column cannot
    hold (a seed beyond int64, a time outside 1677-2262) becomes a missing value in that cell
    only; every other cell and row is kept.
    """
    spec = columns(per)
    listed = list(items)
    with collector_paused():
        values = _task_columns(listed)
        if per == "work":
            values = _per_work(listed, values)
        data = {name: _array(values[name], dtype) for name, dtype in spec.items()}
    return pd.DataFrame(data, columns=list(spec), copy=False)


def _task_columns(items: list[Task | FetchFailure]) -> dict[str, list[Any]]:
    """Each task column as a list, one entry per item, in the order of TASK_COLUMNS.

    One comprehension per column (much cheaper than appending row by row); a failure row is
    computed from a blank task, then given its id, status and message.
    """
    failures: list[tuple[int, FetchFailure]] = []
    tasks: list[Task] = []
    for position, item in enumerate(items):
        if type(item) is Task:
            tasks.append(item)
        elif isinstance(item, FetchFailure):
            failures.append((position, item))
            tasks.append(_BLANK)
        elif isinstance(item, Task):
            tasks.append(item)
        else:
            raise TypeError(f"expected Task or FetchFailure items, got {type(item).__name__}")
    inputs = [input_of(t) for t in tasks]  # the mapping itself: no view per task
    specs = [_spec_of(t.model) for t in tasks]
    main_keys = ["prompt" if spec is None else spec.main_text for spec in specs]
    works = [t.works for t in tasks]
    firsts = [w[0] if w else None for w in works]
    created = [t.created_at for t in tasks]
    started = [t.started_at for t in tasks]
    ended = [t.ended_at for t in tasks]
    audio = [_first_audio(w) for w in works]
    out: dict[str, list[Any]] = {
        "task_id": [t.id for t in tasks],
        "model": [t.model for t in tasks],
        "task_type": [t.task_type for t in tasks],
        "status": [_STATUS_TEXT[t.status] for t in tasks],
        "prompt": _texts(
            [i[k] if k in i else None for i, k in zip(inputs, main_keys, strict=True)]  # noqa: SIM401
        ),
        "negative_prompt": _texts(
            [
                i["negative_prompt"] if "negative_prompt" in i else i.get("negative_style_prompt")
                for i in inputs
            ]
        ),
        "lyrics": _texts(_values(inputs, "lyrics")),
        "seed": _ints([i["seed"] if "seed" in i else i.get("seeds") for i in inputs]),
        "steps": _ints(_values(inputs, "steps")),
        "video": [
            v if type(v) is str and not v.startswith("data:") else short_video(as_text(v))
            for v in _values(inputs, "video")
        ],
        "reference": [
            None if v is None else short_video(as_text(v))
            for v in (i.get("style_audio") or i.get("ref_audio") or i.get("audio") for i in inputs)
        ],
        "requested_s": [
            None if spec is None else _requested(spec, t.task_type, i)
            for t, i, spec in zip(tasks, inputs, specs, strict=True)
        ],
        "created_at": created,
        "started_at": started,
        "ended_at": ended,
        "queued_s": [seconds_between(a, b) for a, b in zip(created, started, strict=True)],
        "ran_s": [seconds_between(a, b) for a, b in zip(started, ended, strict=True)],
        "cost_usd": [None if t.usage is None else t.usage.cost_usd for t in tasks],
        "n_works": [len(w) for w in works],
        "audio_url": [None if w is None else w.url_without_watermark or w.url for w in audio],
        "duration_s": [None if w is None else w.duration_s for w in audio],
        "output_url": [None if w is None else w.url_without_watermark or w.url for w in firsts],
        "output_kind": [None if w is None else w.kind for w in firsts],
        "error": [None if t.error is None else t.error.message for t in tasks],
    }
    for position, failure in failures:
        out["task_id"][position] = failure.task_id
        out["status"][position] = ERROR_STATUS
        out["error"][position] = failure.message
    return out


def _spec_of(model: str | None) -> catalogue.ModelSpec | None:
    return None if model is None else _SPECS.get(model) or catalogue.find_model(model)


_SPECS = {spec.name: spec for spec in catalogue.MODELS.values()}
#: The inputs that hold a reference recording, in the order they are looked for.
REFERENCE_INPUTS = ("style_audio", "ref_audio", "audio")


def _reference(given: Mapping[str, Any]) -> Any:
    return next((given[k] for k in REFERENCE_INPUTS if given.get(k)), None)


def _requested(spec: catalogue.ModelSpec, task_type: str | None, given: Mapping[str, Any]) -> Any:
    """`catalogue.requested_seconds`, without a call where the model takes no length."""
    if spec.duration is None and not _FIXED_LENGTH.get(spec.name):
        return None
    return catalogue.requested_seconds(spec, task_type, given)


#: Models whose task types fix the output's length (DiffRhythm).
_FIXED_LENGTH = {
    spec.name: any(t.length_s is not None for t in spec.task_types.values())
    for spec in catalogue.MODELS.values()
}


def _values(mappings: list[Mapping[str, Any]], key: str) -> list[Any]:
    """``m.get(key)`` of each mapping (``in`` plus ``[]`` is faster on a read-only view)."""
    return [m[key] if key in m else None for m in mappings]  # noqa: SIM401 (see docstring)


def _texts(values: list[Any]) -> list[str | None]:
    """`as_text` of each value, with the common case (already text) inline."""
    return [v if type(v) is str else as_text(v) for v in values]


def _ints(values: list[Any]) -> list[int | None]:
    """`as_int` of each value, with the common case (already an int) inline."""
    return [v if type(v) is int else as_int(v) for v in values]


def _first_audio(works: tuple[Work, ...]) -> Work | None:
    for work in works:
        if work.kind == "audio":
            return work
    return None


_STATUS_TEXT = {status: status.value for status in Status}
#: What a row for a task that could not be fetched holds, before its id, status and message.
_BLANK = Task(id="", status=Status.UNKNOWN, raw_status="")


def _per_work(
    items: list[Task | FetchFailure], by_task: dict[str, list[Any]]
) -> dict[str, list[Any]]:
    """The task columns repeated once per work (once for a task without works), plus the
    work columns; ``audio_url`` and ``duration_s`` then describe that row's work."""
    take: list[int] = []
    work_index: list[int | None] = []
    works: list[Work | None] = []
    for position, item in enumerate(items):
        item_works = item.works if isinstance(item, Task) else ()
        if not item_works:
            take.append(position)
            work_index.append(None)
            works.append(None)
        for index, one_work in enumerate(item_works):
            take.append(position)
            work_index.append(index)
            works.append(one_work)
    out = {name: [column[i] for i in take] for name, column in by_task.items()}
    out["work_index"] = work_index
    out["url"] = [None if w is None else w.url_without_watermark or w.url for w in works]
    out["kind"] = [None if w is None else w.kind for w in works]
    out["content_type"] = [None if w is None else w.content_type for w in works]
    audio_url, duration_s, url = out["audio_url"], out["duration_s"], out["url"]
    output_url, output_kind = out["output_url"], out["output_kind"]
    for row, work in enumerate(works):
        if work is not None:
            audio_url[row] = url[row] if work.kind == "audio" else None
            duration_s[row] = work.duration_s
            output_url[row], output_kind[row] = url[row], work.kind
    return out


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
#: pandas' nanosecond timestamps span 1677-09-21 .. 2262-04-11; outside it a time is missing.
_NS_MIN = datetime(1677, 9, 22, tzinfo=timezone.utc)
_NS_MAX = datetime(2262, 4, 11, tzinfo=timezone.utc)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_US = timedelta(microseconds=1)
_NAT = np.iinfo(np.int64).min


def _array(values: list[Any], dtype: str) -> Any:
    """A pandas extension array of `dtype` from Python values; None (or out of range) -> NA."""
    if dtype == "string":
        return pd.array(values, dtype="string")
    if dtype == "Int64":
        return _int64_array(values)
    if dtype == "Float64":
        return _float64_array(values)
    if dtype.startswith("datetime64"):
        return _utc_ns_array(values)
    raise ValueError(f"no column builder for dtype {dtype!r}")


def _int64_array(values: list[int | None]) -> Any:
    missing = [v is None or not _INT64_MIN <= v <= _INT64_MAX for v in values]
    numbers = np.array(
        [0 if gone else v for v, gone in zip(values, missing, strict=True)], dtype=np.int64
    )
    return pd.arrays.IntegerArray(numbers, np.array(missing, dtype=bool))


def _float64_array(values: list[float | None]) -> Any:
    numbers = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    return pd.arrays.FloatingArray(numbers, ~np.isfinite(numbers))


def _utc_ns_array(values: list[datetime | None]) -> Any:
    micros = np.array(
        [
            _NAT if v is None or not _NS_MIN <= v <= _NS_MAX else (v - _EPOCH) // _ONE_US
            for v in values
        ],
        dtype=np.int64,
    )
    nanos = np.where(micros == _NAT, _NAT, micros * 1000)
    return pd.DatetimeIndex(nanos.view("datetime64[ns]")).tz_localize("UTC").array


def cost_summary(table: pd.DataFrame, by: str | Sequence[str] = "model") -> pd.DataFrame:
    """What each group of a task table cost: ``tasks``, ``charged`` (tasks with a known cost),
    ``cost_usd`` (their sum) and ``mean_usd``, one row per value of `by` (a column or several,
    e.g. ``"model"`` or ``["model", "task_type"]``), in first-seen order.

    A task still running shows the price held for it; a failed or cancelled one costs 0.
    """
    keys = [by] if isinstance(by, str) else list(by)
    missing = [k for k in [*keys, "cost_usd"] if k not in table.columns]
    if missing:
        raise ValueError(
            f"no column {', '.join(map(repr, missing))} to sum costs by; the table has "
            f"{', '.join(map(str, table.columns))}"
        )
    grouped = table.groupby(keys, sort=False, dropna=False)["cost_usd"]
    out = pd.DataFrame(
        {
            "tasks": grouped.size(),
            "charged": grouped.count(),
            "cost_usd": grouped.sum(min_count=0),
        }
    )
    out["mean_usd"] = (out["cost_usd"] / out["charged"]).where(out["charged"] > 0)
    return out.reset_index().astype(
        {"tasks": "Int64", "charged": "Int64", "cost_usd": "Float64", "mean_usd": "Float64"}
    )
