"""The snapshot format of the task store: what the parser made of a finished task, kept next to
the answer it made it from.

A stored finished task is re-read in a new process far more often than it is stored. Reading
it from its answer again repeats the whole parse (the nesting walk, every coercion, the works);
a snapshot keeps what the parse made. It is only used by the parser that wrote it:
`snapshot_tag` names the parser's code, and an entry with another tag (an older or newer
qubico-nb) is parsed from its answer again. `qubico_nb.cache` lays the entry out (tag,
snapshot, answer).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..models import (
    Task,
    Work,
    assemble_task,
    assemble_work,
    input_of,
    shared_error,
    shared_usage,
)

#: The files whose code decides what a parse makes of an answer (package-relative): a change
#: to any of them retires every snapshot written before it.
PARSER_FILES = ("models.py", "_coerce.py", "_constants.py", "store/snapshot.py")


@lru_cache(maxsize=1)
def snapshot_tag() -> str | None:
    """A fingerprint of the parser's code and of this format (`PARSER_FILES`); None when the
    source cannot be read, and then no snapshot is ever trusted."""
    digest = hashlib.sha256(b"qubico-nb task snapshot v1\0")
    package = Path(__file__).resolve().parent.parent
    try:
        for name in PARSER_FILES:
            digest.update((package / name).read_bytes())
    except (OSError, TypeError):
        return None
    return digest.hexdigest()[:32]


def task_snapshot(task: Task) -> list[Any] | None:
    """What the parser made of a task, JSON-ready, for `task_from_snapshot`; None for a task
    that a snapshot cannot describe exactly (one made by hand with local times)."""
    given = input_of(task)
    stamps = (task.created_at, task.started_at, task.ended_at)
    if any(s is not None and s.tzinfo is not timezone.utc for s in stamps):
        return None
    usage, error = task.usage, task.error
    return [
        task.id,
        task.raw_status,
        task.model,
        task.task_type,
        dict(given),  # explicit, so a stored task is read without decoding its answer
        *[None if s is None else s.isoformat() for s in stamps],
        None if usage is None else [usage.frozen, usage.consume, usage.type],
        [
            [
                w.url,
                w.url_without_watermark,
                w.content_type,
                w.kind,
                w.duration_s,
                w.width,
                w.height,
                w.cover_url,
            ]
            for w in task.works
        ],
        None if error is None else [error.message, error.code, error.raw_message],
    ]


_WORK_KINDS = frozenset(("audio", "video", "image", "other"))


def task_from_snapshot(snapshot: object, raw: dict[str, Any] | str) -> Task:
    """The task `task_snapshot` described, with `raw` (its answer) as ``raw``; ValueError for a
    snapshot of any other shape (a damaged entry: the caller parses the answer instead).

    `raw` may be the answer's JSON text as `json.dumps` wrote it: it is decoded when ``raw``
    is first read (a table of stored tasks never reads it)."""
    if type(snapshot) is not list or len(snapshot) != 11:
        raise ValueError(_NOT_A_SNAPSHOT)
    (task_id, raw_status, model, task_type, given, created, started, ended, usage, works, error) = (
        snapshot
    )
    if (
        type(task_id) is not str
        or type(raw_status) is not str
        or type(works) is not list
        or type(model) not in _TEXT_OR_NONE
        or type(task_type) not in _TEXT_OR_NONE
        or type(given) not in _DICT_OR_NONE
        or type(usage) not in _LIST_OR_NONE
        or type(error) not in _LIST_OR_NONE
    ):
        raise ValueError(_NOT_A_SNAPSHOT)
    if given is None:  # an earlier layout: the input is the answer's own
        given = raw.get("input") if type(raw) is dict else None
        if type(given) is not dict:
            raise ValueError(_NOT_A_SNAPSHOT)
    if usage is not None:
        if len(usage) != 3:
            raise ValueError(_NOT_A_SNAPSHOT)
        frozen, consume, usage_type = usage
        if (
            type(frozen) not in _INT_OR_NONE
            or type(consume) not in _INT_OR_NONE
            or type(usage_type) not in _TEXT_OR_NONE
        ):
            raise ValueError(_NOT_A_SNAPSHOT)
        usage = shared_usage(frozen, consume, usage_type)
    if error is not None:
        if len(error) != 3:
            raise ValueError(_NOT_A_SNAPSHOT)
        message, code, raw_message = error
        if (
            type(message) is not str
            or type(code) not in _INT_OR_NONE
            or type(raw_message) not in _TEXT_OR_NONE
        ):
            raise ValueError(_NOT_A_SNAPSHOT)
        error = shared_error(message, code, raw_message)
    return assemble_task(
        task_id,
        raw_status,
        model,
        task_type,
        given,
        _stamp(created),
        _stamp(started),
        _stamp(ended),
        usage,
        tuple([_snapshot_work(item) for item in works]),
        error,
        raw,
    )


def _stamp(text: object) -> datetime | None:
    if text is None:
        return None
    if type(text) is not str:
        raise ValueError(_NOT_A_SNAPSHOT)
    stamp = datetime.fromisoformat(text)  # the C parser: a few times faster than arithmetic
    if stamp.tzinfo is not timezone.utc:
        raise ValueError(_NOT_A_SNAPSHOT)
    return stamp


def _snapshot_work(item: object) -> Work:
    if type(item) is not list or len(item) != 8:
        raise ValueError(_NOT_A_SNAPSHOT)
    url, without_watermark, content_type, kind, duration_s, width, height, cover_url = item
    if (
        type(url) is not str
        or kind not in _WORK_KINDS
        or type(without_watermark) not in _TEXT_OR_NONE
        or type(content_type) not in _TEXT_OR_NONE
        or type(cover_url) not in _TEXT_OR_NONE
        or type(width) not in _INT_OR_NONE
        or type(height) not in _INT_OR_NONE
        or type(duration_s) not in _NUMBER_OR_NONE
    ):
        raise ValueError(_NOT_A_SNAPSHOT)
    return assemble_work(
        url,
        without_watermark,
        content_type,
        kind,
        duration_s if type(duration_s) is not int else float(duration_s),
        width,
        height,
        cover_url,
    )


_NONE = type(None)
_TEXT_OR_NONE = frozenset((str, _NONE))
_INT_OR_NONE = frozenset((int, _NONE))
_NUMBER_OR_NONE = frozenset((int, float, _NONE))
_DICT_OR_NONE = frozenset((dict, _NONE))
_LIST_OR_NONE = frozenset((list, _NONE))
_NOT_A_SNAPSHOT = "not a task snapshot"
