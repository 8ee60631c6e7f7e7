"""The review board's messages, each direction: the one reference for both halves.

The page (``static/board/*.js``) and the kernel (`Review`) talk through anywidget custom
messages. Synced state (`Review.rows`, `marks`, ...) carries what a saved notebook may keep;
everything else, and every byte of audio or video, travels as one of these messages. The
kernel checks every message it sends against this table (`message`), dispatches what it
receives by it, and hands it to the page as ``PROTOCOL`` (`js_prelude`), whose handlers a test
keeps equal to it.

============  ======  ========================================  ===========================
direction     type    fields                                    buffers, in order
============  ======  ========================================  ===========================
page->kernel  code    (none)                                    (none)
page->kernel  media   page, keys, rows                          (none)
page->kernel  rate    key, seq, any of score, best, note,       (none)
                      answers, playback
page->kernel  reveal  (none)                                    (none)
kernel->page  code    js, css, version                          (none)
kernel->page  media   key, mime                                 audio file
kernel->page  drawing key, spectrogram                          spectrogram, waveform
kernel->page  video   row, mime (bytes) or row, url (no bytes)  video file (with mime)
kernel->page  ack     seq, state, why                           (none)
============  ======  ========================================  ===========================

The meaning of each field is in `MESSAGES`. In short: a ``media`` request lists everything
one page still wants (card keys whose audio or drawing it lacks, then row keys for their
videos), most wanted first; it replaces that page's earlier request, so an empty one cancels
what is not sent yet. The kernel starts on every wanted card's audio (it can play at once),
then the videos, then each card's drawing (its fine waveform and spectrogram, which need the
file measured); a few workers send them, so they may arrive in any order. Audio and video bytes
are the file's own, passed through `media.page_bytes` (with its metadata removed on a blind
board). A ``rate`` is answered by ``ack`` messages: ``saved`` once the verdict is on disk;
``waiting`` (with why) when the store is busy and the kernel keeps the verdict and retries;
``refused`` (with why) when it was not a verdict this board can store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PAGE_TO_KERNEL = "page->kernel"
KERNEL_TO_PAGE = "kernel->page"


@dataclass(frozen=True)
class Message:
    """One message type: its direction, fields (name -> meaning; ``?`` marks an optional
    field), and the meaning of each binary buffer, in order."""

    direction: str
    type: str
    fields: dict[str, str]
    buffers: tuple[str, ...] = ()

    def required(self) -> set[str]:
        return {name for name in self.fields if not name.endswith("?")}

    def allowed(self) -> set[str]:
        return {name.rstrip("?") for name in self.fields}


#: Every message, keyed by (direction, type).
MESSAGES: dict[tuple[str, str], Message] = {
    (m.direction, m.type): m
    for m in (
        Message(PAGE_TO_KERNEL, "code", {}),
        Message(
            PAGE_TO_KERNEL,
            "media",
            {
                "page": "an id of the page asking (each page's request replaces its own)",
                "keys": "card keys whose audio or drawing the page lacks, most wanted first",
                "rows": "row keys whose source video the page wants",
            },
        ),
        Message(
            PAGE_TO_KERNEL,
            "rate",
            {
                "key": "the card's key (as in rows)",
                "seq": "the page's id for this verdict, echoed by its acks",
                "score?": "a number on the board's scale, or null to clear it",
                "best?": "true to make this card the row's pick, false to unpick",
                "note?": "the rater's note (text)",
                "answers?": "a test design's own answers (a JSON object)",
                "playback?": 'how the card plays: "webaudio", or "element" (an <audio> '
                "element, whose volume cannot go above 1: a positive gain is not applied)",
            },
        ),
        Message(PAGE_TO_KERNEL, "reveal", {}),
        Message(
            KERNEL_TO_PAGE,
            "code",
            {
                "js": "the board's ES module (this table first, as PROTOCOL)",
                "css": "the board's style",
                "version": "a hash of both: the page imports each version once",
            },
        ),
        Message(
            KERNEL_TO_PAGE,
            "media",
            {"key": "the card's key", "mime": "the audio's media type"},
            ("the audio file's bytes",),
        ),
        Message(
            KERNEL_TO_PAGE,
            "drawing",
            {
                "key": "the card's key",
                "spectrogram": "[bins, frames] of the spectrogram buffer ([0, 0]: none)",
            },
            (
                "the spectrogram: uint8, bins x frames row-major, row 0 the lowest band",
                "the waveform: int8 (min, max) pairs, one per column (both empty on MUSHRA)",
            ),
        ),
        Message(
            KERNEL_TO_PAGE,
            "video",
            {
                "row": "the row's key",
                "mime?": "the video's media type (when its bytes are the buffer)",
                "url?": "an http(s) URL to play from instead (never on a blind board)",
            },
            ("the video file's bytes (absent when url is given)",),
        ),
        Message(
            KERNEL_TO_PAGE,
            "ack",
            {
                "seq": "the rate message's seq",
                "state": "saved | waiting | refused",
                "why?": "what kept it from being saved (waiting, refused)",
            },
        ),
    )
}

#: The states an ``ack`` may report.
ACK_STATES = ("saved", "waiting", "refused")


def types(direction: str) -> list[str]:
    """The message types of one direction, in table order."""
    return [m.type for m in MESSAGES.values() if m.direction == direction]


def message(kind: str, **fields: Any) -> dict[str, Any]:
    """A kernel->page message of `kind`, checked against the table (a bug if it fails)."""
    spec = MESSAGES[(KERNEL_TO_PAGE, kind)]
    extra = set(fields) - spec.allowed()
    missing = spec.required() - set(fields)
    if extra or missing:
        raise AssertionError(f"{kind} message: extra {sorted(extra)}, missing {sorted(missing)}")
    return {"type": kind, **fields}


def check_incoming(content: Any) -> tuple[str, dict[str, Any]]:
    """(type, content) of a page->kernel message; ValueError with why when it is not one."""
    if not isinstance(content, dict):
        raise ValueError("a message is a JSON object")
    kind = content.get("type")
    spec = MESSAGES.get((PAGE_TO_KERNEL, kind)) if isinstance(kind, str) else None
    if spec is None:
        raise ValueError(f"unknown message type {kind!r}")
    fields = set(content) - {"type"}
    extra = fields - spec.allowed()
    missing = spec.required() - fields
    if extra:
        raise ValueError(f"unknown field(s) {', '.join(sorted(extra))}")
    if missing:
        raise ValueError(f"missing field(s) {', '.join(sorted(missing))}")
    return str(kind), content


def js_prelude() -> str:
    """The table as the page's ``PROTOCOL`` constant: types per direction with their fields."""
    table: dict[str, dict[str, list[str]]] = {"toKernel": {}, "toPage": {}}
    for spec in MESSAGES.values():
        side = "toKernel" if spec.direction == PAGE_TO_KERNEL else "toPage"
        table[side][spec.type] = sorted(spec.allowed())
    return (
        "// The board's messages, from qubico_nb/review_board/protocol.py (the reference).\n"
        f"export const PROTOCOL = {json.dumps(table, sort_keys=True)};\n"
    )
