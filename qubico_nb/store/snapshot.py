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
import itertools
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
PARSER_FILES = ("models.py", "_coerce.py", "_constants.py", "_media.py", "store/snapshot.py")


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
    (task_id, raw_status, model, task_type, given, created, started, ended, usage, works, error) = (
        _checked(snapshot, _TASK_FIELDS)
    )
    if given is None:  # an earlier layout: the input is the answer's own
        given = raw.get("input") if type(raw) is dict else None
        if type(given) is not dict:
            raise ValueError(_NOT_A_SNAPSHOT)
    if usage is not None:
        usage = shared_usage(*_checked(usage, _USAGE_FIELDS))
    if error is not None:
        error = shared_error(*_checked(error, _ERROR_FIELDS))
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
    url, without_watermark, content_type, kind, duration_s, width, height, cover_url = _checked(
        item, _WORK_FIELDS
    )
    if kind not in _WORK_KINDS:
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


def _checked(values: object, shapes: frozenset[tuple[type, ...]]) -> list[Any]:
    """`values` when it is a list whose items' types are one of `shapes` (`_shapes`);
    ValueError otherwise."""
    if type(values) is not list or tuple(map(type, values)) not in shapes:
        raise ValueError(_NOT_A_SNAPSHOT)
    return values


def _shapes(*kinds: frozenset[type]) -> frozenset[tuple[type, ...]]:
    """Every tuple of item types a list may have, one set of allowed types per item (a set
    lookup is the fastest check of a whole list; a table of stored tasks checks thousands)."""
    return frozenset(itertools.product(*kinds))


_NONE = type(None)
_TEXT: frozenset[type] = frozenset((str,))
_LIST: frozenset[type] = frozenset((list,))
_TEXT_OR_NONE: frozenset[type] = frozenset((str, _NONE))
_INT_OR_NONE: frozenset[type] = frozenset((int, _NONE))
_NUMBER_OR_NONE: frozenset[type] = frozenset((int, float, _NONE))
_DICT_OR_NONE: frozenset[type] = frozenset((dict, _NONE))
_LIST_OR_NONE: frozenset[type] = frozenset((list, _NONE))
#: The types each field of a snapshot may have, in `task_snapshot`'s order.
_TASK_FIELDS = _shapes(
    _TEXT,  # id
    _TEXT,  # raw status
    _TEXT_OR_NONE,  # model
    _TEXT_OR_NONE,  # task type
    _DICT_OR_NONE,  # input (None in an earlier layout)
    _TEXT_OR_NONE,  # created, started, ended: ISO 8601 in UTC
    _TEXT_OR_NONE,
    _TEXT_OR_NONE,
    _LIST_OR_NONE,  # usage
    _LIST,  # works
    _LIST_OR_NONE,  # error
)
_USAGE_FIELDS = _shapes(_INT_OR_NONE, _INT_OR_NONE, _TEXT_OR_NONE)  # frozen, consume, type
_ERROR_FIELDS = _shapes(_TEXT, _INT_OR_NONE, _TEXT_OR_NONE)  # message, code, raw message
#: url, without watermark, content type, kind, duration, width, height, cover url
_WORK_FIELDS = _shapes(
    _TEXT,
    _TEXT_OR_NONE,
    _TEXT_OR_NONE,
    _TEXT,
    _NUMBER_OR_NONE,
    _INT_OR_NONE,
    _INT_OR_NONE,
    _TEXT_OR_NONE,
)
_NOT_A_SNAPSHOT = "not a task snapshot"
