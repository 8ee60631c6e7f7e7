"""The board's layout: rows and cards from a frame, blind labels and shuffling. Pure: no I/O.

A card's synced fields never hold more than its blind mode allows: in blind mode a card is a
letter and a status, and what identifies it (prompt, seed, steps, task id, file name) stays in
`Card.identity` on the kernel side until the review is revealed.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..html import display_label, media_url
from ..models import Status

#: Statuses a card can show; only "ready" cards play.
READY, PENDING, FAILED, MISSING = "ready", "pending", "failed", "missing"


@dataclass
class Card:
    """One generation on the board (kernel side)."""

    key: str
    row_key: str
    task_id: str
    position: str
    index: Any
    audio_url: str | None
    local_path: str | None
    status: str
    reason: str
    identity: dict[str, str] = field(default_factory=dict)


@dataclass
class Row:
    key: str
    label: str
    identity_label: str
    video_url: str | None
    cards: list[Card]


def letters(n: int) -> list[str]:
    """A, B, ... Z, AA, AB, ... : the names of `n` positions."""
    out: list[str] = []
    for i in range(n):
        name, j = "", i
        while True:
            name = string.ascii_uppercase[j % 26] + name
            j = j // 26 - 1
            if j < 0:
                break
        out.append(name)
    return out


def _is_na(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return value is None
    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def ordered(series: pd.Series) -> list[Any]:
    seen: list[Any] = []
    has_na = False
    for value in series:
        if _is_na(value):
            has_na = True
        elif value not in seen:
            seen.append(value)
    return seen + ([None] if has_na else [])


def _get(row: Mapping[Any, Any], name: str) -> Any:
    value = row.get(name)
    return None if _is_na(value) else value


def card_status(row: Mapping[Any, Any]) -> tuple[str, str]:
    """(status, why) of a frame row (a Series or a record) before any file is fetched."""
    status = str(_get(row, "status") or "unknown").lower()
    state = Status.parse(status)  # the frame's "error" (a task not fetched) parses as failed
    error = _get(row, "error") or _get(row, "analysis_error")
    if state.is_running:
        return PENDING, f"still {status}: no audio yet"
    if state is Status.FAILED:
        return FAILED, f"failed: {error}" if error else "failed"
    if not isinstance(_get(row, "audio_url"), str) and not isinstance(_get(row, "local_path"), str):
        return MISSING, "no audio file" + (f" ({status})" if state is not Status.COMPLETED else "")
    return READY, ""


def _video(records: list[dict[str, Any]]) -> str | None:
    """The row's source video: the first absolute http(s) input video of a video2audio task."""
    for row in records:
        kind = str(_get(row, "task_type") or "video2audio")
        url = _get(row, "video")
        if (
            kind == "video2audio"
            and isinstance(url, str)
            and url.lower().startswith(("http://", "https://"))
        ):
            safe = media_url(url)
            if safe:
                return safe
    return None


def _slot(value: Any, values: list[Any]) -> int:
    """Where `value` is in `ordered`'s list (NA is its last entry, None)."""
    if _is_na(value):
        return len(values) - 1
    for position, candidate in enumerate(values):
        if candidate is not None and bool(candidate == value):
            return position
    raise ValueError(f"{value!r} is not among the values")  # pragma: no cover - by construction


def build_rows(
    frame: pd.DataFrame, *, by: str, across: str, blind: bool, shuffle_seed: int
) -> list[Row]:
    """One row per `by` value, one card per frame row, ordered by `across` (shuffled if blind).

    The shuffle of row ``i`` is seeded by ``f"{shuffle_seed}:{i}"``: the same seed gives the
    same order in every session. The frame is read once, as records (a 200-card board is
    laid out in milliseconds).
    """
    groups = ordered(frame[by]) if len(frame) else []
    variants = ordered(frame[across]) if len(frame) else []
    slots: list[list[list[tuple[Any, dict[str, Any]]]]] = [[[] for _ in variants] for _ in groups]
    records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    for index, record in zip(frame.index, records, strict=True):
        slots[_slot(record.get(by), groups)][_slot(record.get(across), variants)].append(
            (index, record)
        )
    rows: list[Row] = []
    for row_number, (group, by_variant) in enumerate(zip(groups, slots, strict=True)):
        members = [member for variant in by_variant for member in variant]
        if blind:
            random.Random(f"{shuffle_seed}:{row_number}").shuffle(members)
        row_key = f"r{row_number}"
        cards = [
            _card(f"{row_key}c{n}", row_key, position, index, record, by=by, across=across)
            for n, (position, (index, record)) in enumerate(
                zip(letters(len(members)), members, strict=True)
            )
        ]
        label = f"{by}: {display_label(group)}"
        rows.append(
            Row(
                key=row_key,
                label=f"Row {row_number + 1}" if blind else label,
                identity_label=label,
                video_url=_video([record for _, record in members]),
                cards=cards,
            )
        )
    return rows


def _card(
    key: str, row_key: str, position: str, index: Any, row: dict[str, Any], *, by: str, across: str
) -> Card:
    status, reason = card_status(row)
    identity = {
        "label": f"{across} {display_label(row.get(across))}",
        "detail": " · ".join(
            f"{name} {display_label(row.get(name))}"
            for name in ("steps", "seed", "prompt")
            if name in row and name not in (by, across) and not _is_na(row.get(name))
        ),
        "task_id": str(row["task_id"]),
        "reason": reason,
    }
    url, local = _get(row, "audio_url"), _get(row, "local_path")
    return Card(
        key=key,
        row_key=row_key,
        task_id=str(row["task_id"]),
        position=position,
        index=index,
        audio_url=url if isinstance(url, str) else None,
        local_path=local if isinstance(local, str) else None,
        status=status,
        reason=reason,
        identity=identity,
    )


def generic_reason(status: str) -> str:
    """What a blind card may say about itself: the kind of problem, never the server's text
    (which may name the task)."""
    return {
        PENDING: "no audio yet (still processing)",
        FAILED: "generation failed",
        MISSING: "no audio",
    }.get(status, "")
