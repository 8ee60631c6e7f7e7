"""The board's layout: rows and cards from a frame, blind labels and shuffling. Pure: no I/O.

A card's synced fields never hold more than its blind mode allows: in blind mode a card is a
letter and a status, and what identifies it (prompt, seed, steps, task id, file name) stays in
`Card.identity` on the kernel side until the review is revealed.

Designs add cards that are not tasks (`designs`): a MUSHRA row with a reference has an open
reference (`REFERENCE`, first, never rated), the same file hidden among the candidates
(`HIDDEN`) and its anchors (`ANCHOR`, made from the reference in the kernel); their verdicts
are kept under a made-up task id (`synthetic_id`). A pairwise board shows each row's pairs as
rows of two cards (`pair_trials`), copies of the row's cards that share its files.
"""

from __future__ import annotations

import os
import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from ..html import display_label, is_na, media_url
from ..models import Status

#: Statuses a card can show; only "ready" cards play.
READY, PENDING, FAILED, MISSING = "ready", "pending", "failed", "missing"
#: What a card is: a generation, the open reference, the reference hidden among the
#: candidates, or an anchor made from the reference.
CANDIDATE, REFERENCE, HIDDEN, ANCHOR = "candidate", "reference", "hidden", "anchor"


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
    role: str = CANDIDATE
    #: The anchor this card plays (``"lp3.5k"``), made from `audio_url`/`local_path`.
    anchor: str | None = None
    #: What the analysis groups it as when it is not a task (the hidden reference, an anchor).
    condition: Any = None
    #: Its place in the row's unshuffled order (by `across`): pair schedules count in it.
    rank: int = 0
    #: The file it plays: cards that play the same file share one measure and one gain.
    source: str = ""
    #: The row of the table it belongs to (a pairwise trial's row keeps its group's key).
    group: str = ""

    def __post_init__(self) -> None:
        self.source = self.source or self.task_id
        self.group = self.group or self.row_key

    @property
    def rated(self) -> bool:
        """Whether the rater judges this card (the open reference is only listened to)."""
        return self.role != REFERENCE


@dataclass
class Row:
    key: str
    label: str
    identity_label: str
    video_url: str | None
    cards: list[Card]
    #: The value of `by` this row shows.
    value: Any = None
    #: The key of the table's row it is made from (itself, but for a pairwise trial).
    group: str = ""

    def __post_init__(self) -> None:
        self.group = self.group or self.key


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


def ordered(series: pd.Series) -> list[Any]:
    seen: list[Any] = []
    has_na = False
    for value in series:
        if is_na(value):
            has_na = True
        elif value not in seen:
            seen.append(value)
    return seen + ([None] if has_na else [])


def _get(row: Mapping[Any, Any], name: str) -> Any:
    value = row.get(name)
    return None if is_na(value) else value


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
    if is_na(value):
        return len(values) - 1
    for position, candidate in enumerate(values):
        if candidate is not None and bool(candidate == value):
            return position
    raise ValueError(f"{value!r} is not among the values")  # pragma: no cover - by construction


def synthetic_id(kind: str, value: Any) -> str:
    """The task id a card that is not a task is judged under: ``~<kind>|<row value>`` (the
    tilde keeps it apart from any server's task ids)."""
    return f"~{kind}|{display_label(value)}"


def anchor_label(name: str) -> str:
    """The condition an anchor is reported as: ``"anchor lp3.5k"``."""
    return f"anchor {name}"


def reference_locations(frame: pd.DataFrame, *, by: str, reference: Any) -> dict[Any, str]:
    """Per `by` value, its reference file (an http(s) URL or a local path), from `reference`:
    a column of the frame (one value per row of the board), a mapping ``{by value: file}``, or
    a sequence with one file per row in the board's row order; ValueError saying what to fix."""
    groups = ordered(frame[by]) if len(frame) else []
    if isinstance(reference, str) and reference in frame.columns:
        found: dict[Any, str] = {}
        for group in groups:
            at = frame[by].isna() if group is None else (frame[by] == group).fillna(False)
            values = {v for v in frame.loc[at.astype(bool), reference] if not is_na(v)}
            if len(values) != 1:
                raise ValueError(
                    f"the row {by}={display_label(group)!r} has {len(values)} different values "
                    f"in the reference column {reference!r}; each row needs exactly one"
                )
            found[group] = _location(values.pop())
        return found
    if isinstance(reference, Mapping):
        missing = [g for g in groups if g not in reference]
        if missing:
            raise ValueError(
                f"reference= has no file for the row(s) {by}="
                f"{', '.join(repr(display_label(g)) for g in missing[:3])}; give one per row"
            )
        return {g: _location(reference[g]) for g in groups}
    if isinstance(reference, (list, tuple)):
        if len(reference) != len(groups):
            raise ValueError(
                f"reference= lists {len(reference)} file(s) for {len(groups)} row(s); give one "
                f"per row, in the board's order ({by}: "
                f"{', '.join(repr(display_label(g)) for g in groups[:3])}, ...)"
            )
        return {g: _location(value) for g, value in zip(groups, reference, strict=True)}
    raise ValueError(
        f"reference={reference!r} is not a column of the table; give a column name, a mapping "
        f"{{{by} value: URL or file}}, or a list with one URL or file per row"
    )


def _location(value: Any) -> str:
    if isinstance(value, os.PathLike):
        return str(os.fspath(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError(f"a reference is a URL or a file path, not {value!r}")


def build_rows(
    frame: pd.DataFrame,
    *,
    by: str,
    across: str,
    blind: bool,
    shuffle_seed: int,
    references: Mapping[Any, str] | None = None,
    anchors: Sequence[str] = (),
) -> list[Row]:
    """One row per `by` value, one card per frame row, ordered by `across` (shuffled if blind).

    With `references` (a URL or file per `by` value), a row starts with its open reference
    and hides the same file (and each of `anchors`) among its candidates. The shuffle of row
    ``i`` is seeded by ``f"{shuffle_seed}:{i}"``: the same seed gives the same order in every
    session. The frame is read once, as records (a 200-card board is laid out in
    milliseconds).
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
        reference = None if references is None else references.get(group)
        if reference is not None:
            members += [(None, record) for record in _hidden(group, reference, anchors)]
        ranked = [(rank, index, record) for rank, (index, record) in enumerate(members)]
        if blind:
            random.Random(f"{shuffle_seed}:{row_number}").shuffle(ranked)
        row_key = f"r{row_number}"
        cards = [
            _card(f"{row_key}c{n}", row_key, position, index, record, by=by, across=across)
            for n, (position, (rank, index, record)) in enumerate(
                zip(letters(len(ranked)), ranked, strict=True)
            )
        ]
        for card, (rank, _, _) in zip(cards, ranked, strict=True):
            card.rank = rank
        if reference is not None:
            cards.insert(0, _reference(row_key, group, reference))
        label = f"{by}: {display_label(group)}"
        rows.append(
            Row(
                key=row_key,
                label=f"Row {row_number + 1}" if blind else label,
                identity_label=label,
                video_url=_video([record for _, record in members]),
                cards=cards,
                value=group,
            )
        )
    return rows


def _source_record(location: str) -> dict[str, Any]:
    """A reference file as a frame record: an http(s) URL, else a local path."""
    is_url = location.lower().startswith(("http://", "https://"))
    return {
        "status": "completed",
        "audio_url": media_url(location) if is_url else None,
        "local_path": None if is_url else location,
    }


def _hidden(value: Any, location: str, anchors: Sequence[str]) -> list[dict[str, Any]]:
    """The cards a reference hides among the candidates: itself, then its anchors."""
    out = [
        {
            **_source_record(location),
            "task_id": synthetic_id("reference", value),
            "_role": HIDDEN,
            "_condition": "hidden reference",
            "_source": synthetic_id("reference-file", value),
        }
    ]
    for name in anchors:
        out.append(
            {
                **_source_record(location),
                "task_id": synthetic_id(f"anchor-{name}", value),
                "_role": ANCHOR,
                "_anchor": name,
                "_condition": anchor_label(name),
            }
        )
    return out


def _reference(row_key: str, value: Any, location: str) -> Card:
    """The row's open reference: played, never rated, first in the row."""
    record = _source_record(location)
    status, reason = card_status(record)
    return Card(
        key=f"{row_key}ref",
        row_key=row_key,
        task_id="",
        position="Ref",
        index=None,
        audio_url=record["audio_url"],
        local_path=record["local_path"],
        status=status,
        reason=reason,
        identity={"label": "reference", "detail": "", "task_id": "", "reason": reason},
        role=REFERENCE,
        condition="reference",
        rank=-1,
        source=synthetic_id("reference-file", value),
    )


def pair_trials(row: Row, schedule: Sequence[tuple[int, int]], *, blind: bool) -> list[Row]:
    """A row's pairs, each a row of two cards (copies that share the row's files), in the
    order of `schedule` (indices into the row's cards by `rank`)."""
    ranked = sorted(row.cards, key=lambda card: card.rank)
    out = []
    for number, (first, second) in enumerate(schedule):
        key = f"{row.key}p{number}"
        cards = [
            replace(ranked[index], key=f"{key}{side}", row_key=key, position=side.upper())
            for side, index in (("a", first), ("b", second))
        ]
        suffix = f" · pair {number + 1} of {len(schedule)}"
        out.append(
            Row(
                key=key,
                label=(row.label if blind else row.identity_label) + suffix,
                identity_label=row.identity_label + suffix,
                video_url=row.video_url,
                cards=cards,
                value=row.value,
                group=row.key,
            )
        )
    return out


def _card(
    key: str, row_key: str, position: str, index: Any, row: dict[str, Any], *, by: str, across: str
) -> Card:
    status, reason = card_status(row)
    condition = row.get("_condition")
    identity = {
        "label": str(condition) if condition else f"{across} {display_label(row.get(across))}",
        "detail": " · ".join(
            f"{name} {display_label(row.get(name))}"
            for name in ("steps", "seed", "prompt")
            if name in row and name not in (by, across) and not is_na(row.get(name))
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
        role=row.get("_role", CANDIDATE),
        anchor=row.get("_anchor"),
        condition=condition,
        source=row.get("_source", ""),
    )


def generic_reason(status: str) -> str:
    """What a blind card may say about itself: the kind of problem, never the server's text
    (which may name the task)."""
    return {
        PENDING: "no audio yet (still processing)",
        FAILED: "generation failed",
        MISSING: "no audio",
    }.get(status, "")
