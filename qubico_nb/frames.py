"""Tasks to pandas DataFrames with documented, stable columns and dtypes. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .models import Task, Work

#: Column -> dtype of `tasks_to_frame(per="task")`, in order.
TASK_COLUMNS: dict[str, str] = {
    "task_id": "string",
    "model": "string",
    "task_type": "string",
    "status": "string",
    "prompt": "string",
    "negative_prompt": "string",
    "seed": "Int64",
    "steps": "Int64",
    "video": "string",
    "created_at": "datetime64[ns, UTC]",
    "started_at": "datetime64[ns, UTC]",
    "ended_at": "datetime64[ns, UTC]",
    "queued_s": "Float64",
    "ran_s": "Float64",
    "cost_usd": "Float64",
    "n_works": "Int64",
    "audio_url": "string",
    "duration_s": "Float64",
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


def columns(per: str = "task") -> dict[str, str]:
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
    return {
        "task_id": task.id,
        "model": task.model,
        "task_type": task.task_type,
        "status": task.status.value,
        "prompt": task.prompt,
        "negative_prompt": task.negative_prompt,
        "seed": task.seed,
        "steps": task.steps,
        "video": short_video(task.video),
        "created_at": task.created_at,
        "started_at": task.started_at,
        "ended_at": task.ended_at,
        "queued_s": task.queued_s,
        "ran_s": task.ran_s,
        "cost_usd": task.usage.cost_usd if task.usage else None,
        "n_works": len(task.works),
        "audio_url": audio.playable_url if audio else None,
        "duration_s": audio.duration_s if audio else None,
        "error": task.error.message if task.error else None,
    }


def _work_fields(index: int | None, work: Work | None) -> dict[str, Any]:
    if work is None:
        return {"work_index": None, "url": None, "kind": None, "content_type": None}
    return {"work_index": index, "url": work.playable_url, "kind": work.kind,
            "content_type": work.content_type}


def rows(items: Iterable[Task | FetchFailure], per: str = "task") -> list[dict[str, Any]]:
    """Plain dict rows, one per task (or per work), in input order."""
    columns(per)  # validates per
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, FetchFailure):
            row = {"task_id": item.task_id, "status": ERROR_STATUS, "error": item.message,
                   "n_works": 0}
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
            out.append(one)
    return out


def tasks_to_frame(items: Iterable[Task | FetchFailure], per: str = "task") -> pd.DataFrame:
    """One row per task (``per="work"``: per work), with the columns of `columns(per)`."""
    spec = columns(per)
    table = rows(items, per)
    data = {name: [row.get(name) for row in table] for name in spec}
    return pd.DataFrame({name: _series(values, spec[name]) for name, values in data.items()},
                        columns=list(spec))


def _series(values: list[Any], dtype: str) -> pd.Series:
    if dtype.startswith("datetime64"):
        return pd.Series(pd.to_datetime(values, utc=True), dtype=dtype)
    return pd.Series([pd.NA if v is None else v for v in values], dtype=dtype)


def task_metadata(task: Task) -> pd.DataFrame:
    """A task's metadata as a two-column (field, value) frame, for display."""
    row = _task_row(task)
    shown = {k: v for k, v in row.items() if k not in ("audio_url",)}
    shown["raw_status"] = task.raw_status
    values = ["" if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v))
              for v in shown.values()]
    return pd.DataFrame({"field": list(shown), "value": values}).astype("string")
