"""A board as one HTML file for raters without Python (`Review.export_html`).

The file holds the board's own module and style (`assets.board_code`), the page's shell
(``static/export/``: the rater's plan and an in-page model standing in for the kernel), the
test as JSON and every file it plays, each through `media.page_bytes` blind (no tag, comment
or name inside). Cards, rows and files are opaque tokens (`designs.token`): what each is stays
in the kernel, which re-derives the tokens from the board to read results back (`card_keys`).
No prompt, seed, task id, file name or URL is written; the page may fetch nothing (its
Content-Security-Policy) but the POST of its result to `submit_url`.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import soundfile  # type: ignore[import-untyped]

from ..client import Client
from ..errors import InvalidRequestError
from ..html import display_label
from ..html.export import listening_test_page, submit_origin
from ..store.verdicts import Verdict
from . import board, designs, media
from .assets import STATIC, board_code
from .media import Media


class Board(Protocol):
    """What an export, and reading its results back, needs of a `Review`: its layout and
    secret, its settings, its files and their measures, the verdicts it holds."""

    _base_rows: list[board.Row]
    _secret: bytes
    _gains: dict[str, float | None]
    _latest: dict[tuple[str, str], Verdict]
    _client: Client | None

    @property
    def by(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def test_id(self) -> str: ...
    @property
    def design(self) -> str: ...
    @property
    def scale(self) -> list[float]: ...
    @property
    def no_preference(self) -> bool: ...
    @property
    def level_match(self) -> bool: ...
    def wait(self, timeout: float | None = ...) -> bool: ...
    def _measure(self, card: board.Card) -> Media | None: ...
    def _card_bytes(self, card: board.Card) -> bytes: ...
    def _video_bytes(self, url: str) -> bytes | None: ...


#: The test file's format, and the result file's (`results`).
TEST_FORMAT = "qubico-nb/listening-test"
FORMAT_VERSION = 1
#: The page's own code, after the board's module, in this order; and its style.
PAGE_FILES = ("plan.js", "standalone.js")
PAGE_STYLE = "export.css"
EXPORT = STATIC / "export"
#: A file larger than this is hard to send and slow to open: `export_html` warns.
WARN_BYTES = 200 * 10**6


def card_token(secret: bytes, card: board.Card) -> str:
    """A card's key in the page: from what it plays and is judged as, never its place."""
    if card.role == board.REFERENCE:
        return designs.token(secret, f"reference|{card.source}")
    return designs.token(secret, f"card|{card.task_id}")


def row_token(secret: bytes, row: board.Row) -> str:
    return designs.token(secret, f"row|{row.key}")


def file_token(secret: bytes, source: str) -> str:
    return designs.token(secret, f"file|{source}")


def card_keys(review: Board) -> dict[str, tuple[str, board.Card]]:
    """Each page key of the board's test -> (its row's page key, the card): how a result's
    keys are read back."""
    secret = review._secret
    return {
        card_token(secret, card): (row_token(secret, row), card)
        for row in review._base_rows
        for card in row.cards
    }


def page_code() -> tuple[str, str]:
    """The page's one ES module (the board's, then the page's own files) and its style."""
    code = board_code()
    parts = [code["js"]]
    parts += [
        f"// ---- export/{name} ----\n{(EXPORT / name).read_text('utf-8')}" for name in PAGE_FILES
    ]
    return "\n".join(parts), code["css"] + "\n" + (EXPORT / PAGE_STYLE).read_text("utf-8")


@dataclass
class _Files:
    """The files a test plays, each once (by token), as the page gets them."""

    mimes: dict[str, str]
    data: dict[str, bytes]

    def add(self, token: str, data: bytes, mime: str) -> None:
        if token not in self.data:
            self.data[token] = data
            self.mimes[token] = mime

    def size(self) -> int:
        return sum(4 * math.ceil(len(d) / 3) for d in self.data.values())


def build_test(
    review: Board,
    *,
    training: Any = None,
    submit_url: str | None = None,
) -> tuple[dict[str, Any], _Files]:
    """The test's JSON and its files: every playable card of every row (a card without audio
    is left out, with a warning), the rows' videos, and the training row if asked for."""
    secret = review._secret
    files = _Files({}, {})
    left_out: list[str] = []
    rows = []
    for row in review._base_rows:
        cards = []
        for card in row.cards:
            entry = _card(review, card, card_token(secret, card), files)
            if entry is None:
                left_out.append(row.label)
            else:
                cards.append(entry)
        rows.append(
            {
                "key": row_token(secret, row),
                "video": _video(review, row, files),
                "cards": sorted(cards, key=lambda c: str(c["key"])),
            }
        )
    if left_out:
        warnings.warn(
            f"{len(left_out)} card(s) have no audio the test can play (in "
            f"{', '.join(sorted(set(left_out))[:3])}); they are left out of the test",
            stacklevel=3,
        )
    test = {
        "format": TEST_FORMAT,
        "version": FORMAT_VERSION,
        "test": review.test_id,
        "design": review.design,
        "scale": list(review.scale),
        "no_preference": bool(review.no_preference),
        "level_match": bool(review.level_match),
        "submit_url": submit_url,
        "rows": rows,
        "training": _training(review, training, files),
        "files": {token: {"mime": mime} for token, mime in files.mimes.items()},
    }
    return test, files


def _card(
    review: Board, card: board.Card, key: str, files: _Files, *, loose: bool = False
) -> dict[str, Any] | None:
    """A card as the page knows it: its key, file, role (only the open reference says it is
    one), length, waveform and level-matching gain; None when it cannot be played. A `loose`
    card (a training file) is not the board's: it is fetched and measured here."""
    if card.status != board.READY:
        return None
    if loose:
        data = media.fetch_bytes(card.audio_url, card.local_path, review._client)
        measured: media.Media | None = media.measure(data, card.audio_url or card.local_path)
    else:
        measured = review._measure(card)
        if measured is None:
            return None
        data = review._card_bytes(card)
    assert measured is not None
    if card.anchor:
        # Made in the kernel as WAV: sent in the reference's format, so its type does not
        # set it apart from the cards around it.
        where = card.audio_url or card.local_path
        reference = media.fetch_bytes(card.audio_url, card.local_path, review._client)
        mime, sent = _encoded_like(data, media.mime_for(where, reference))
    else:
        mime, sent = media.page_audio(data, card.audio_url or card.local_path, True)
    # The hidden reference is a file of its own in the page's data, not the open reference's.
    source = f"hidden|{card.source}" if card.role == board.HIDDEN else card.source
    token = file_token(review._secret, source)
    files.add(token, sent, mime)
    entry: dict[str, Any] = {
        "key": key,
        "file": token,
        "duration": round(measured.duration_s, 3),
    }
    if designs.draws_waveforms(review.design):  # MUSHRA: a waveform shows the hidden reference
        entry["peaks"] = base64.b64encode(measured.peaks.tobytes()).decode("ascii")
    if card.role == board.REFERENCE:
        entry["role"] = "reference"
    gain = None if loose else review._gains.get(card.source)
    if gain is not None:
        entry["gain_db"] = gain
    return entry


#: The formats an anchor can be written in (libsndfile's names), by media type.
_ANCHOR_FORMATS = {
    "audio/flac": ("FLAC", "PCM_16"),
    "audio/ogg": ("OGG", "VORBIS"),
    "audio/mpeg": ("MP3", "MPEG_LAYER_III"),
}


def _encoded_like(wav: bytes, mime: str) -> tuple[str, bytes]:
    """An anchor's WAV bytes written as `mime` where libsndfile writes it, else as WAV; blind."""
    wanted = _ANCHOR_FORMATS.get(mime)
    if wanted is not None:
        try:
            samples, rate = soundfile.read(io.BytesIO(wav), dtype="float32", always_2d=True)
            out = io.BytesIO()
            soundfile.write(out, samples, rate, format=wanted[0], subtype=wanted[1])
            return mime, media.page_bytes(out.getvalue(), mime, True)
        except (RuntimeError, ValueError, TypeError):  # LibsndfileError is a RuntimeError
            pass  # this libsndfile cannot write it: WAV, as made
    return "audio/wav", media.page_bytes(wav, "audio/wav", True)


def _video(review: Board, row: board.Row, files: _Files) -> str | None:
    """The row's source video as a file token (blind), or None (no video, or one that cannot
    be fetched or stripped of its metadata: the row then plays without it)."""
    if not row.video_url:
        return None
    data = review._video_bytes(row.video_url)
    if data is None:
        return None
    try:
        data = media.page_bytes(data, "video/mp4", True)
    except ValueError:
        return None
    token = file_token(review._secret, f"video|{row.video_url}")
    files.add(token, data, "video/mp4")
    return token


def _training(review: Board, training: Any, files: _Files) -> dict[str, Any] | None:
    """The training row: ``True`` (the board's first row), a value of the board's `by`
    column (that row), or a list of audio files or URLs (a row of its own)."""
    if training is None or training is False:
        return None
    secret = review._secret
    if isinstance(training, (list, tuple)):
        cards = []
        for number, location in enumerate(training):
            text = os.fspath(location) if isinstance(location, os.PathLike) else location
            if not isinstance(text, str) or not text.strip():
                raise InvalidRequestError(f"training= lists files or URLs, not {location!r}")
            is_url = text.lower().startswith(("http://", "https://"))
            card = board.Card(
                key=f"training{number}",
                row_key="training",
                task_id=f"~training|{number}",
                position="",
                index=None,
                audio_url=text if is_url else None,
                local_path=None if is_url else text,
                status=board.READY,
                reason="",
                source=f"~training-file|{text}",
            )
            try:
                entry = _card(
                    review, card, designs.token(secret, f"training|{text}"), files, loose=True
                )
            except Exception as exc:
                raise InvalidRequestError(
                    f"the training file {text!r} cannot be played: {exc}"
                ) from None
            if entry is None:
                raise InvalidRequestError(f"the training file {text!r} cannot be played")
            cards.append(entry)
        if len(cards) < (2 if review.design == "pairwise" else 1):
            raise InvalidRequestError("training= needs at least two files for a pairwise test")
        return {"key": designs.token(secret, "training"), "video": None, "cards": cards}
    row = _training_row(review, training)
    cards = [
        entry
        for card in row.cards
        if (
            entry := _card(
                review, card, designs.token(secret, f"training|{card_token(secret, card)}"), files
            )
        )
        is not None
    ]
    return {
        "key": designs.token(secret, "training"),
        "video": _video(review, row, files),
        "cards": sorted(cards, key=lambda c: str(c["key"])),
    }


def _training_row(review: Board, training: Any) -> board.Row:
    rows = review._base_rows
    if not rows:
        raise InvalidRequestError("the board has no rows to train with")
    if training is True:
        return rows[0]
    for row in rows:
        with contextlib.suppress(TypeError, ValueError):
            if row.value == training or display_label(row.value) == str(training):
                return row
    raise InvalidRequestError(
        f"training={training!r} is not a row of the board (a value of {review.by!r}), True for "
        "the first row, or a list of audio files"
    )


def write_test(
    review: Board,
    path: str | os.PathLike[str],
    *,
    title: str = "Listening test",
    instructions: str | None = None,
    submit_url: str | None = None,
    training: Any = None,
) -> Path:
    """Write the board's test to `path` (whole or not at all) and return it."""
    if submit_url is not None:
        try:
            submit_origin(submit_url)
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from None
    if instructions is not None and not isinstance(instructions, str):
        raise InvalidRequestError("instructions are text (paragraphs split by blank lines)")
    target = Path(path)
    if target.is_dir():
        target = target / f"{review.test_id}.html"
    review.wait(None)
    test, files = build_test(review, training=training, submit_url=submit_url)
    script, style = page_code()
    size = files.size() + len(script) + len(style)
    if size > WARN_BYTES:
        warnings.warn(
            f"the test file will be about {size / 1e6:.0f} MB (over {WARN_BYTES / 1e6:.0f} MB): "
            "slow to open and hard to send; fewer or shorter files, or a compressed format, help",
            stacklevel=3,
        )
    parts = listening_test_page(
        title=title,
        instructions=instructions,
        test=test,
        files=list(files.data.items()),
        script=script,
        style=style,
        submit_url=submit_url,
    )
    _write_whole(target, parts)
    return target


def _write_whole(target: Path, parts: Iterator[str]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        with open(partial, "w", encoding="utf-8", newline="\n") as handle:
            for part in parts:
                handle.write(part)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
