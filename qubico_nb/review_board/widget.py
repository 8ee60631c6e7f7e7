"""`review()` and `Review`: the judging board, an anywidget over board, media, store and stats.

Python holds the truth (layout, file bytes, verdicts); the browser (``static/board/``) draws
and plays. What travels between them is written down once, in `protocol`. Audio and video
bytes travel as message buffers, never as synced state: they stay out of the saved notebook,
play where a file URL is unreachable from the browser, and in blind mode no URL or file name
reaches the page. Files are measured on background threads (`loading.Jobs`), so `review()`
returns at once; verdicts go to disk on a thread of their own (`saving.VerdictWriter`), so no
message waits on the store's lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import math
import os
import random
import secrets
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import anywidget
import pandas as pd
import traitlets

from .. import html
from .._constants import RATER_ENV
from ..audio import encode_peaks
from ..batch import tabulate_tasks
from ..client import Client
from ..errors import InvalidRequestError, QubicoError
from ..models import Task
from ..store.verdicts import (
    SCORE_LIMIT,
    SUFFIX,
    VERDICT_COLUMNS,
    Verdict,
    VerdictStore,
    latest,
    now_iso,
    verdict_frame,
)
from . import analysis, board, choices, designs, media, protocol, stats
from .assets import LOADER, board_code
from .loading import Jobs
from .saving import Batch, VerdictWriter

__all__ = ["VERDICT_COLUMNS", "Review", "board_code", "default_rater", "review"]

_UNSET: Any = object()
#: Per-card figures shown when the board is not blind, if the table has them (one decimal).
#: Source videos kept in memory at once (most recent first out).
_VIDEOS_KEPT = 3
#: Anchors made from a reference kept in memory at once (most recent first out).
_DERIVED_KEPT = 8
#: Pauses between pushes of the layout while files are measured (seconds): first, longest.
_PUSH_FIRST_S, _PUSH_MAX_S = 0.3, 3.0


def default_rater() -> str:
    """``$QUBICO_RATER``, else the login name, else "anonymous"."""
    name = os.environ.get(RATER_ENV)
    if name:
        return name
    try:
        return getpass.getuser() or "anonymous"
    except Exception:  # no login name (containers): any name will do
        return "anonymous"


class Review(anywidget.AnyWidget):
    """A listening room: rows of candidates, one transport per row, verdicts kept on disk.

    Make one with `review()`. Rate with the mouse or keys in the board, or `rate()` here; read
    the results with `verdicts`, `to_frame()` and `summary()`.
    """

    # Only a small loader is synced (and saved with the notebook); the board's code and style
    # come from the kernel as a message when a view renders (see static/loader.js).
    _esm = LOADER

    title = traitlets.Unicode("").tag(sync=True)
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    scale = traitlets.List(traitlets.Float(), default_value=[1.0, 5.0]).tag(sync=True)
    blind = traitlets.Bool(False).tag(sync=True)
    revealed = traitlets.Bool(False).tag(sync=True)
    rater = traitlets.Unicode("").tag(sync=True)
    #: The current rater's marks by card key (the verdict fields in `MARK_FIELDS`).
    marks = traitlets.Dict().tag(sync=True)
    #: Why the last verdict from the board was not saved ("" once one is).
    message = traitlets.Unicode("").tag(sync=True)
    #: Play each card at its level-matching gain (on by default when blind).
    level_match = traitlets.Bool(False).tag(sync=True)
    #: Verdicts in the store (latest per rater and task) for tasks that are not on this board.
    off_board = traitlets.Int(0).tag(sync=True)
    #: Cards whose files are still being measured.
    measuring = traitlets.Int(0).tag(sync=True)
    #: The test design: "score", "mushra" or "pairwise" (see `designs`).
    design = traitlets.Unicode("score").tag(sync=True)
    #: Whether a pairwise test offers "no preference".
    no_preference = traitlets.Bool(True).tag(sync=True)
    #: Who has judged on this board and how far: [{rater, answered, total}], by name.
    raters = traitlets.List(traitlets.Dict()).tag(sync=True)

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        by: str,
        across: str,
        blind: bool,
        store: VerdictStore,
        rater: str,
        client: Client | None,
        scale: tuple[float, float],
        name: str,
        shuffle_seed: int,
        level_match: bool | None = None,
        history: Iterable[Verdict] | None = None,
        max_workers: int = 2,
        design: str = "score",
        references: dict[Any, str] | None = None,
        anchors: Sequence[str] = (),
        no_preference: bool = True,
    ) -> None:
        self.frame = frame
        self.by, self.across, self.name = by, across, name
        self.store = store
        self.shuffle_seed = shuffle_seed
        self.anchors = tuple(anchors)
        self._client = client
        self._lock = threading.RLock()
        self._base_rows = board.build_rows(
            frame,
            by=by,
            across=across,
            blind=blind,
            shuffle_seed=shuffle_seed,
            references=references,
            anchors=self.anchors,
        )
        self.has_reference = references is not None
        self._secret = designs.secret_for(
            c.task_id for r in self._base_rows for c in r.cards if c.role == board.CANDIDATE
        )
        #: The test's id: the same board (tasks, design, scale, reference) has the same id in
        #: every session; an exported test's results carry it (`import_verdicts` checks it).
        self.test_id = designs.identify(
            self._secret,
            {
                "name": name,
                "design": design,
                "scale": [float(scale[0]), float(scale[1])],
                "no_preference": no_preference if design == "pairwise" else None,
                "rows": [
                    [
                        html.display_label(row.value),
                        [c.source for c in sorted(row.cards, key=lambda c: c.rank)],
                    ]
                    for row in self._base_rows
                ],
            },
        )
        self._rows = self._layout(design, blind, rater)
        self._cards = {card.key: card for row in self._rows for card in row.cards}
        self._row_of = {card.key: row for row in self._rows for card in row.cards}
        self._by_task: dict[str, board.Card] = {}
        for card in self._cards.values():
            if card.rated:
                self._by_task.setdefault(card.task_id, card)
        self._group_cards: dict[str, list[board.Card]] = {}
        for card in self._cards.values():
            self._group_cards.setdefault(card.group, []).append(card)
        self._media: dict[str, media.Media] = {}  # by card source: cards of one file share it
        self._gains: dict[str, float | None] = {}  # by card source
        self._derived: OrderedDict[str, bytes] = OrderedDict()  # anchors made in the kernel
        self._measuring = {card.source: threading.Lock() for card in self._cards.values()}
        self._videos: OrderedDict[str, bytes | None] = OrderedDict()
        self._asked: dict[str, set[Hashable]] = {}  # per page: its latest list
        self._sent: dict[str, set[Hashable]] = {}  # per page: sent since it last asked
        self._push_timer: threading.Timer | None = None
        self._push_pause = _PUSH_FIRST_S
        self._latest = latest(store.read(scale=scale) if history is None else history)
        self._writer = VerdictWriter(store, on_saved=self._saved, on_waiting=self._waiting)
        self._refused_after = 0
        super().__init__(
            title=name,
            scale=[float(scale[0]), float(scale[1])],
            blind=blind,
            rater=rater,
            level_match=blind if level_match is None else level_match,
            design=design,
            no_preference=no_preference,
        )
        self.off_board = sum(1 for (_, task) in self._latest if task not in self._by_task)
        self.measuring = self._unmeasured()
        self.rows = self._row_state()
        self.marks = self._marks()
        self.raters = self._progress()
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "code": self._on_code,
            "media": self._on_media,
            "rate": self._on_rate,
            "reveal": self._on_reveal,
        }
        self.on_msg(self._on_message)
        self.add_class("qnb-review")
        self._jobs = Jobs(self._work, workers=max_workers)
        self._jobs.background(("measure", c.key) for c in self._one_card_per_file())

    def _layout(self, design: str, blind: bool, rater: str) -> list[board.Row]:
        """The rows the page shows: the table's rows, or for a pairwise test each row's pairs
        (in the order of the rater's slot; shuffled within the row when blind)."""
        if design != "pairwise":
            return self._base_rows
        slot = designs.rater_slot(self.test_id, rater)
        rows: list[board.Row] = []
        for number, row in enumerate(self._base_rows):
            schedule = designs.pair_schedule(len(row.cards), row=number, slot=slot)
            if blind:
                random.Random(f"{self.shuffle_seed}:{number}:pairs").shuffle(schedule)
            rows.extend(board.pair_trials(row, schedule, blind=blind))
        return rows

    def _one_card_per_file(self) -> list[board.Card]:
        """A playable card of each file (cards of one file share its measures)."""
        seen: dict[str, board.Card] = {}
        for card in self._cards.values():
            if card.status == board.READY:
                seen.setdefault(card.source, card)
        return list(seen.values())

    def _unmeasured(self) -> int:
        return sum(1 for c in self._one_card_per_file() if c.source not in self._media)

    # -- measuring files in the background -----------------------------------------------------
    def wait(self, timeout: float | None = 60.0) -> bool:
        """Wait until every file is measured and the board shows all of it (the board measures
        in the background, so `review()` returns at once); True if done within `timeout`."""
        done = self._jobs.idle(timeout)
        if done:
            self._push_rows()
        return done

    def _work(self, item: Hashable) -> None:
        kind, key = item if isinstance(item, tuple) else ("", "")
        if kind == "measure":
            self._measure(self._cards[key])
        elif kind == "audio":
            self._send_audio(self._cards[key])
            self._mark_sent(item)
        elif kind == "drawing":
            self._send_drawing(self._cards[key])
            self._mark_sent(item)
        elif kind == "video":
            self._send_video(key)
            self._mark_sent(item)

    def _measure(self, card: board.Card) -> media.Media | None:
        """The card's measures, made once per file (a card that cannot be measured becomes
        missing, with every card of its file)."""
        with self._measuring[card.source]:
            if card.source in self._media or card.status != board.READY:
                return self._media.get(card.source)
            try:
                data = self._card_bytes(card)
                measured = media.measure(data, card.audio_url or card.local_path, self._blind_now())
            except Exception as exc:  # one bad file never breaks the board
                reason = f"could not load audio ({type(exc).__name__}: {exc})"[:300]
                with self._lock:
                    for same in self._cards.values():
                        if same.source == card.source:
                            same.status = board.MISSING
                            same.reason = same.identity["reason"] = reason
                measured = None
            with self._lock:
                if measured is not None:
                    self._media[card.source] = measured
                self._level_group(card.group)
                self.measuring = self._unmeasured()
            self._layout_changed()
            return measured

    def _card_bytes(self, card: board.Card) -> bytes:
        """The file a card plays: its own, or for an anchor the reference low-passed here
        (made once; a few are kept)."""
        if card.anchor is None:
            return media.fetch_bytes(card.audio_url, card.local_path, self._client)
        with self._lock:
            if card.source in self._derived:
                self._derived.move_to_end(card.source)
                return self._derived[card.source]
        from ..audio.anchors import anchor_wav

        data = anchor_wav(
            media.fetch_bytes(card.audio_url, card.local_path, self._client), card.anchor
        )
        with self._lock:
            self._derived[card.source] = data
            while len(self._derived) > _DERIVED_KEPT:
                self._derived.popitem(last=False)
        return data

    def _level_group(self, group: str) -> None:
        """Once every playable file of a row is measured, its level-matching gains (one per
        file: a pairwise row's pairs play each file at the same gain)."""
        playable = [c for c in self._group_cards.get(group, []) if c.status == board.READY]
        sources = list(dict.fromkeys(c.source for c in playable))
        if any(source not in self._media for source in sources):
            return
        gains = media.level_gains(
            [self._media[s].lufs for s in sources], [self._media[s].peak_dbfs for s in sources]
        )
        self._gains.update(dict(zip(sources, gains, strict=True)))

    def _layout_changed(self) -> None:
        """Push the layout now when nothing is left to measure, else soon (coalesced)."""
        with self._lock:
            if self.measuring == 0:
                self._push_rows()
            elif self._push_timer is None:
                self._push_timer = threading.Timer(self._push_pause, self._push_rows)
                self._push_timer.daemon = True
                self._push_timer.start()
                self._push_pause = min(self._push_pause * 2, _PUSH_MAX_S)

    def _push_rows(self) -> None:
        with self._lock:
            if self._push_timer is not None:
                self._push_timer.cancel()
                self._push_timer = None
            self.rows = self._row_state()

    # -- synced state --------------------------------------------------------------------------
    def _shows_identity(self) -> bool:
        return not self.blind or self.revealed

    def _row_state(self) -> list[dict[str, Any]]:
        shown = self._shows_identity()
        out: list[dict[str, Any]] = []
        for row in self._rows:
            cards = []
            for card in row.cards:
                measured = self._media.get(card.source)
                reference = card.role == board.REFERENCE
                item: dict[str, Any] = {
                    "key": card.key,
                    "position": card.position,
                    "status": card.status,
                    "label": "Reference"
                    if reference
                    else card.position + (f" · {card.identity['label']}" if shown else ""),
                    "detail": card.identity["detail"] if shown else "",
                    "reason": card.reason if shown else board.generic_reason(card.status),
                }
                if reference:
                    item["role"] = "reference"
                if shown:
                    item["task_id"] = card.task_id
                    item["figures"] = self._figures(card, measured)
                if measured is not None:
                    item["duration"] = round(measured.duration_s, 3)
                    if designs.draws_waveforms(self.design):
                        item["peaks"] = encode_peaks(media.reduce_peaks(measured.peaks))
                gain = self._gains.get(card.source)
                if gain is not None:
                    item["gain_db"] = gain
                cards.append(item)
            # The video itself goes as a message (bytes, or its URL as a fallback): no URL here.
            out.append(
                {
                    "key": row.key,
                    "label": row.identity_label if shown else row.label,
                    "video": bool(row.video_url),
                    "cards": cards,
                }
            )
        return out

    def _figures(self, card: board.Card, measured: media.Media | None) -> list[str]:
        """What the card's measures say, one decimal, when the board may name things."""
        out = []
        if measured is not None and math.isfinite(measured.lufs):
            out.append(f"{measured.lufs:.1f} LUFS")
        known = card.index is not None and card.index in self.frame.index
        values = self.frame.loc[card.index] if known else None
        if values is not None:
            sync = html.sync_text(values.get("av_offset_s"), values.get("av_sync_confidence"))
            if sync is not None:
                out.append(sync)
        return [figure.replace("-", "\u2212") for figure in out]  # a minus sign, as the page writes

    def _marks(self) -> dict[str, dict[str, Any]]:
        """The rater's marks by card key; a pair's choice is on its first card. Answers that
        name tasks (a pairwise verdict's pairs) never reach the page."""
        out: dict[str, dict[str, Any]] = {}
        if self.design == "pairwise":
            for row in self._rows:
                first, second = row.cards
                chosen = choices.choice_between(
                    self._latest.get((self.rater, first.task_id)), second.task_id
                )
                if chosen is not None:
                    out[first.key] = {"answers": {"choice": chosen}}
            return out
        for key, card in self._cards.items():
            verdict = self._latest.get((self.rater, card.task_id)) if card.rated else None
            if verdict is not None:
                mark = verdict.mark()
                mark["answers"] = {k: v for k, v in verdict.answers.items() if k != "pairs"}
                out[key] = mark
        return out

    def _progress(self) -> list[dict[str, Any]]:
        """Per rater with a verdict here, how many of the board's judgements they made: scores
        (score and MUSHRA designs) or pairs chosen (pairwise), out of how many there are."""
        rated = {c.task_id for c in self._cards.values() if c.rated}
        answered: dict[str, int] = {}
        with self._lock:
            for (who, task_id), verdict in self._latest.items():
                if task_id not in rated:
                    continue
                if self.design == "pairwise":
                    count = sum(1 for other, _ in choices.presented(verdict) if other in rated)
                else:
                    count = int(verdict.score is not None)
                answered[who] = answered.get(who, 0) + count
        total = len(self._rows) if self.design == "pairwise" else len(rated)
        return [
            {"rater": who, "answered": answered[who], "total": total}
            for who in sorted(answered, key=str.casefold)
        ]

    @traitlets.observe("rater")
    def _rater_changed(self, change: dict[str, Any]) -> None:
        if hasattr(self, "_latest"):
            with self._lock:
                self.marks = self._marks()

    # -- messages from the page (see protocol.py) --------------------------------------------
    def _on_message(self, _widget: Any, content: Any, _buffers: Sequence[bytes]) -> None:
        """Dispatch a page's message; never waits on a file or the store's lock."""
        try:
            kind, content = protocol.check_incoming(content)
        except ValueError as exc:
            if isinstance(content, dict) and content.get("type") == "rate":
                self._refuse(content.get("seq"), str(exc))
            return
        self._handlers[kind](content)

    def _on_code(self, content: dict[str, Any]) -> None:
        self.send(protocol.message("code", **board_code()))

    def _on_media(self, content: dict[str, Any]) -> None:
        """A page's list of what it still wants. What was sent to that page since it last
        asked is not sent again (it may be on its way); what it no longer lists is forgotten,
        so asking again later (after letting a file go) sends it again."""
        keys, rows, page = content["keys"], content["rows"], content["page"]
        if not (isinstance(keys, list) and isinstance(rows, list) and isinstance(page, str)):
            return
        cards = [k for k in keys if isinstance(k, str) and k in self._cards]
        items: list[Hashable] = [("audio", k) for k in cards]  # playable first
        items += [("video", r) for r in rows if isinstance(r, str)]
        items += [("drawing", k) for k in cards]
        with self._lock:
            self._asked[page] = set(items)
            sent = self._sent.setdefault(page, set())
            sent &= self._asked[page]
            wanted = [item for item in items if item not in sent]
        self._jobs.want(page, wanted)

    def _mark_sent(self, item: Hashable) -> None:
        """`item` went out (to every page: messages are broadcast)."""
        with self._lock:
            for page, asked in self._asked.items():
                if item in asked:
                    self._sent.setdefault(page, set()).add(item)

    def _on_rate(self, content: dict[str, Any]) -> None:
        seq = content["seq"]
        card = self._cards.get(content["key"]) if isinstance(content["key"], str) else None
        if card is None:
            self._refuse(seq, f"no card {content['key']!r} on this board")
            return
        try:
            if self.design == "pairwise":
                verdicts = self._choice_verdicts(card, self.rater, content.get("answers", _UNSET))
            else:
                verdicts = self._verdicts_for(
                    card,
                    self.rater,
                    score=content.get("score", _UNSET),
                    best=content.get("best", _UNSET),
                    note=content.get("note", _UNSET),
                    answers=content.get("answers", _UNSET),
                )
        except InvalidRequestError as exc:
            self._refuse(seq, str(exc))
            return
        playback = content.get("playback")  # how this card plays on the page
        verdicts = [
            dataclasses.replace(v, gain_db=media.gain_heard(v.gain_db, playback))
            if v.task_id == card.task_id
            else v
            for v in verdicts
        ]
        self._keep(verdicts, tag=seq)

    def _on_reveal(self, content: dict[str, Any]) -> None:
        self.reveal()

    def _refuse(self, seq: Any, why: str) -> None:
        with self._lock:
            self.message = f"not saved: {why}"[:300]
            self._refused_after = self._writer.submitted  # cleared by a later verdict saved
            self.marks = self._marks()  # the board shows what is really kept
        self.send(protocol.message("ack", seq=str(seq), state="refused", why=why[:300]))

    def _saved(self, batch: Batch) -> None:
        with self._lock:
            if self.message and batch.number > self._refused_after:
                self.message = ""
        if batch.tag is not None:
            self.send(protocol.message("ack", seq=str(batch.tag), state="saved"))

    def _waiting(self, batch: Batch, why: str) -> None:
        if batch.tag is not None:
            self.send(protocol.message("ack", seq=str(batch.tag), state="waiting", why=why[:300]))

    def _send_audio(self, card: board.Card) -> None:
        """The card's file, at once: the page can play it before the kernel has measured it."""
        if card.status != board.READY:
            return
        try:
            data = self._card_bytes(card)
            mime, sent = media.page_audio(
                data, card.audio_url or card.local_path, self._blind_now()
            )
        except Exception:  # measuring it will say why, on the card
            self._measure(card)
            return
        self.send(protocol.message("media", key=card.key, mime=mime), buffers=[sent])

    def _send_drawing(self, card: board.Card) -> None:
        """The card's fine waveform and spectrogram (the file measured first, once). A MUSHRA
        board's drawing is empty: a picture would show which card is the hidden reference."""
        measured = self._measure(card)
        if measured is None:
            return
        if not designs.draws_waveforms(self.design):
            message = protocol.message("drawing", key=card.key, spectrogram=[0, 0])
            self.send(message, buffers=[b"", b""])
            return
        self.send(
            protocol.message(
                "drawing",
                key=card.key,
                spectrogram=[int(n) for n in measured.spectrogram.shape],
            ),
            buffers=[measured.spectrogram.tobytes(), measured.peaks.tobytes()],
        )

    def _send_video(self, row_key: str) -> None:
        """A row's source video as bytes (plays where its URL is unreachable from the browser);
        the URL itself when the kernel cannot fetch it either, except on a blind board before
        Reveal (a URL can name what a card is: that row then shows no video)."""
        row = next((r for r in self._rows if r.key == row_key), None)
        if row is None or not row.video_url:
            return
        data = self._video_bytes(row.video_url)
        if data is not None:
            try:
                data = media.page_bytes(data, "video/mp4", self._blind_now())
            except ValueError:  # it cannot go blind: the row shows no video until Reveal
                return
            self.send(protocol.message("video", row=row.key, mime="video/mp4"), buffers=[data])
        elif not self._blind_now():
            self.send(protocol.message("video", row=row.key, url=row.video_url))

    def _video_bytes(self, url: str) -> bytes | None:
        with self._lock:
            if url in self._videos:
                self._videos.move_to_end(url)
                return self._videos[url]
        try:
            data: bytes | None = media.fetch_video(url, self._client)
        except Exception:  # the browser may still reach the URL itself
            data = None
        with self._lock:
            self._videos[url] = data
            while len(self._videos) > _VIDEOS_KEPT:
                self._videos.popitem(last=False)
        return data

    def _blind_now(self) -> bool:
        return bool(self.blind and not self.revealed)

    # -- verdicts ------------------------------------------------------------------------------
    def rate(
        self,
        task_id: str,
        *,
        score: Any = _UNSET,
        best: bool | None = None,
        note: str | None = None,
        answers: dict[str, Any] | None = None,
        rater: str | None = None,
    ) -> Verdict:
        """Record a verdict, as a click in the board does: only the given fields change.

        `score` must be a finite number within the review's scale (``None`` clears it);
        ``best=True`` makes this card the row's pick and clears the rater's earlier pick in
        that row. The verdict is on disk when this returns, unless another process holds the
        store's lock past its wait (about 2 s): then it is kept in memory and written in the
        background (a warning says so; `unsaved` counts such verdicts), and later calls do not
        wait again while the store is still busy.
        """
        card = self._by_task.get(str(task_id))
        if card is None:
            raise InvalidRequestError(f"task {task_id!r} is not on this board")
        verdicts = self._verdicts_for(
            card,
            rater or self.rater,
            score=score,
            best=_UNSET if best is None else best,
            note=_UNSET if note is None else note,
            answers=_UNSET if answers is None else answers,
        )
        self._wait_saved(self._keep(verdicts, tag=None))
        return verdicts[0]

    def _wait_saved(self, batch: Batch) -> None:
        if not self._writer.wait_saved(batch):
            warnings.warn(
                f"not saved yet: {self.store} is locked by another process; the verdict is "
                "kept in memory and written as soon as the lock is free",
                stacklevel=3,
            )

    @property
    def unsaved(self) -> int:
        """Verdicts kept in memory that are not on disk yet (the store was busy)."""
        return self._writer.waiting

    def _verdicts_for(
        self, card: board.Card, who: str, *, score: Any, best: Any, note: Any, answers: Any
    ) -> list[Verdict]:
        """The verdict a change makes (and the picks it clears); InvalidRequestError if the
        change is not one this board can store."""
        if score is not _UNSET and score is not None:
            if isinstance(score, bool) or not isinstance(score, (int, float)):
                raise InvalidRequestError(f"score must be a number, got {score!r}")
            try:
                number = float(score)
            except OverflowError:
                raise InvalidRequestError("score is too large to be a number") from None
            if not math.isfinite(number):
                raise InvalidRequestError(f"score must be a finite number, got {score!r}")
            low, high = self.scale
            if not low <= number <= high:
                raise InvalidRequestError(
                    f"score {number:g} is outside the scale {low:g}..{high:g}"
                )
            score = number
        if best is not _UNSET and not isinstance(best, bool):
            raise InvalidRequestError(f"best must be true or false, got {best!r}")
        if note is not _UNSET and not isinstance(note, str):
            raise InvalidRequestError("note must be text")
        if answers is not _UNSET and not (
            isinstance(answers, dict) and all(isinstance(k, str) for k in answers)
        ):
            raise InvalidRequestError("answers must be an object with text keys")
        if not card.rated:
            raise InvalidRequestError("the open reference is listened to, not rated")
        if self.design == "pairwise":
            raise InvalidRequestError("a pairwise board records choices: use choose()")
        with self._lock:
            old = self._latest.get((who, card.task_id)) or Verdict(task_id=card.task_id, rater=who)
            common = self._common(who)
            changes = {
                name: value
                for name, value in (
                    ("score", score),
                    ("best", best),
                    ("note", note),
                    ("answers", answers),
                )
                if value is not _UNSET
            }
            verdicts = [
                dataclasses.replace(
                    old,
                    position=card.position,
                    gain_db=self._gain_for(card),
                    **common,
                    **changes,
                )
            ]
            if verdicts[0].best:
                for other in self._row_of[card.key].cards:
                    previous = self._latest.get((who, other.task_id))
                    if other is not card and previous is not None and previous.best:
                        verdicts.append(dataclasses.replace(previous, best=False, **common))
        for verdict in verdicts:
            try:
                verdict.check()  # the store reads back only what its readers accept
            except ValueError as exc:
                raise InvalidRequestError(f"the verdict cannot be stored: {exc}") from None
        return verdicts

    def _gain_for(self, card: board.Card) -> float | None:
        """The gain the card plays at now: its level-matching gain, or 0 dB when off."""
        return self._gains.get(card.source) if self.level_match else 0.0

    def _common(self, who: str) -> dict[str, Any]:
        """The fields every verdict made now shares."""
        return {
            "rater": who,
            "rated_at": now_iso(),
            "blind": self._blind_now(),  # after Reveal, not blind
            "review": self.name,
            "shuffle_seed": self.shuffle_seed if self.blind else None,
        }

    def _choice_verdicts(self, card: board.Card, who: str, answers: Any) -> list[Verdict]:
        """The two verdicts a pairwise choice makes (one per task of the pair); the page sends
        it on the pair's first card as ``answers={"choice": ...}``."""
        row = self._row_of[card.key]
        if card is not row.cards[0]:
            raise InvalidRequestError("a pair's choice is sent on its first card")
        if not isinstance(answers, dict) or set(answers) != {"choice"}:
            raise InvalidRequestError('a pairwise verdict is answers={"choice": ...}')
        try:
            choice = choices.check_choice(answers["choice"], no_preference=self.no_preference)
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from None
        first, second = row.cards
        with self._lock:
            common = self._common(who)
            made = []
            for this, other, is_first in ((first, second, True), (second, first, False)):
                old = self._latest.get((who, this.task_id)) or Verdict(
                    task_id=this.task_id, rater=who
                )
                made.append(
                    choices.with_choice(
                        old,
                        other.task_id,
                        first=is_first,
                        choice=choice,
                        position=None,
                        gain_db=self._gain_for(this),
                        **common,
                    )
                )
        return made

    def choose(
        self, first: str, second: str, choice: str | None, *, rater: str | None = None
    ) -> list[Verdict]:
        """Record a pairwise choice, as the board's buttons do: between the tasks `first` and
        `second` (heard in that order), "a" (the first is better), "b" or "tie" (no
        preference), or None to clear it. Both tasks' verdicts are on disk when this returns
        (as for `rate`)."""
        if self.design != "pairwise":
            raise InvalidRequestError("choose() is for a pairwise board; use rate()")
        row = next(
            (
                r
                for r in self._rows
                if {r.cards[0].task_id, r.cards[1].task_id} == {str(first), str(second)}
            ),
            None,
        )
        if row is None:
            raise InvalidRequestError(f"no pair of {first!r} and {second!r} on this board")
        if row.cards[0].task_id != str(first):  # shown the other way round on this board
            choice = {"a": "b", "b": "a"}.get(choice, choice) if choice else choice
        verdicts = self._choice_verdicts(row.cards[0], rater or self.rater, {"choice": choice})
        self._wait_saved(self._keep(verdicts, tag=None))
        return verdicts

    def _keep(self, verdicts: list[Verdict], *, tag: object) -> Batch:
        """Remember the verdicts at once (marks, results) and queue them for the disk."""
        with self._lock:
            for item in verdicts:
                self._latest[(item.rater, item.task_id)] = item
            if verdicts[0].rater == self.rater:
                self.marks = self._marks()
            self.raters = self._progress()
            return self._writer.submit(verdicts, tag)

    def refresh(self) -> int:
        """Fetch again the tasks whose cards have no audio yet (still running, or a file that
        could not be loaded) and show those that are ready now; returns how many now play."""
        from ..connection import default_client
        from ..frames import tasks_to_frame

        client = self._client or default_client()
        ready = 0
        for card in self._cards.values():
            if card.status not in (board.PENDING, board.MISSING):
                continue
            try:
                task = client.get_task(card.task_id)
            except QubicoError as exc:
                card.reason = card.identity["reason"] = f"could not refresh: {exc}"[:300]
                continue
            fresh = tasks_to_frame([task]).iloc[0]
            status, reason = board.card_status(fresh.to_dict())
            url = fresh["audio_url"]
            with self._lock:
                card.audio_url = url if isinstance(url, str) else None
                card.status, card.reason = status, reason
                card.identity["reason"] = reason
            if status == board.READY and self._measure(card) is not None:
                ready += 1
            self._update_frame(card.task_id, fresh)
        self._push_rows()
        return ready

    def _update_frame(self, task_id: str, fresh: pd.Series) -> None:
        at = self.frame.index[(self.frame["task_id"] == task_id).fillna(False).astype(bool)]
        for column in (
            "status",
            "audio_url",
            "duration_s",
            "error",
            "ended_at",
            "ran_s",
            "cost_usd",
            "n_works",
        ):
            if column in self.frame.columns and column in fresh.index:
                with contextlib.suppress(TypeError, ValueError):  # a column the caller retyped
                    self.frame.loc[at, column] = fresh[column]

    def reveal(self) -> None:
        """Show what each card is (blind mode); verdicts made so far keep their positions."""
        with self._lock:
            self.revealed = True
            self.rows = self._row_state()

    @property
    def verdicts(self) -> pd.DataFrame:
        """The latest verdict per rater and task on this board (all raters), oldest first."""
        with self._lock:
            items = [v for (_, task_id), v in self._latest.items() if task_id in self._by_task]
        items.sort(key=lambda v: pd.Timestamp(v.rated_at))
        return verdict_frame(items)

    def to_frame(self, *, rater: str | None = None, by: str | None = None) -> pd.DataFrame:
        """The board's verdicts as the frame `qubico_nb.listening` reads (`analysis` has each
        design's shape); `rater` keeps only that rater's verdicts.

        Score and MUSHRA boards: the input table with the verdict columns joined on
        ``task_id``, one row per task and rater (a task nobody rated keeps one row with empty
        verdicts); a MUSHRA board with a reference adds a row per rater for the hidden
        reference and each anchor, their condition (``"hidden reference"``, ``"anchor
        lp3.5k"``) in column `by` (default: `across`). Pairwise boards: one row per pair
        judged, with ``a``/``b`` the two tasks' values of `by` in the order heard and
        ``choice`` "a", "b" or "tie". Pass it on as ``listening.report(frame, by,
        item=board.by)``; the board's `report` does just that.
        """
        by = self._compared(by)
        verdicts = self.verdicts
        if rater is not None:
            verdicts = verdicts[verdicts["rater"] == rater]
        if self.design == "pairwise":
            with self._lock:
                latest_ = dict(self._latest)
            if rater is not None:
                latest_ = {k: v for k, v in latest_.items() if k[0] == rater}
            return analysis.pairs_frame(self.frame, latest_, self._by_task, by=by, item=self.by)
        values = {row.key: row.value for row in self._rows}
        with _as_request_error():
            return analysis.scores_frame(
                self.frame, verdicts, self._cards.values(), values, by=by, item=self.by
            )

    def _compared(self, by: str | None) -> str:
        """The column conditions are read from: `by`, or the board's `across`."""
        by = by or self.across
        if by not in self.frame.columns:
            raise InvalidRequestError(
                f"no column {by!r} to compare by; choose from "
                f"{', '.join(map(str, self.frame.columns))}"
            )
        return by

    def _listening_frame(self, by: str | None, *, best: bool = False) -> tuple[pd.DataFrame, str]:
        """The frame the listening functions read, and the compared column. Pairs of two
        cards with the same value of `by` say nothing between conditions: left out, with a
        warning."""
        by = self._compared(by)
        if best:
            if self.design != "score":
                raise InvalidRequestError(
                    f"best picks belong to design='score', not {self.design!r}"
                )
            return analysis.shown_frame(self.frame, self.verdicts), by
        frame = self.to_frame(by=by)
        if self.design == "pairwise":
            same = analysis.same_condition(frame)
            if same.any():
                warnings.warn(
                    f"{int(same.sum())} judged pair(s) compare two cards with the same {by} "
                    f"value; they are left out of the analysis by {by!r}",
                    stacklevel=3,
                )
                frame = frame[~same].reset_index(drop=True)
        return frame, by

    def report(
        self,
        by: str | None = None,
        exclude: Iterable[Hashable] = (),
        *,
        best: bool = False,
        level: float = 0.95,
        n_resamples: int | None = None,
        seed: int | None = 0,
    ) -> pd.DataFrame:
        """The figures a paper reports, one row per condition (the values of column `by`,
        default `across`), from every rater's verdicts: `qubico_nb.listening.report`.

        Score and MUSHRA boards: raters, items, verdicts, mean, median, sd and a `level`
        interval that resamples raters and items (a pigeonhole bootstrap: scores by one rater,
        or of one item, are not independent). Pairwise boards: wins, ties, losses and the
        Bradley-Terry strength ("no preference" counts as a tie). ``best=True`` (score
        boards): the best picks' Luce strength. `exclude`: raters to leave out (names, or
        `screen_raters`' result as it is). Where the table has ``cost_usd``, the columns
        ``cost_usd`` and ``mean_usd`` say what each condition's generations cost.
        ``result.attrs["test"]`` names the test (a MUSHRA board without a reference says it
        was reference-free).
        """
        from .. import listening

        frame, by = self._listening_frame(by, best=best)
        with _as_request_error():
            result = listening.report(
                frame,
                by,
                exclude=exclude,
                design="best" if best else "auto",
                level=level,
                n_resamples=n_resamples,
                seed=seed,
                item=self.by,
            )
        result.index.name = by
        result = analysis.with_costs(result, self.frame, by)
        result.attrs["test"] = self._test_description()
        return result

    def compare_conditions(
        self, by: str | None = None, exclude: Iterable[Hashable] = (), *, alpha: float = 0.05
    ) -> pd.DataFrame:
        """Every pair of conditions (values of `by`, default `across`) over the rows both were
        judged in: Wilcoxon signed-rank with Holm-corrected p, the rank-biserial effect and
        the direction; Friedman's test in ``result.attrs["friedman"]`` when there are more
        than two: `qubico_nb.listening.compare_conditions`, each row of the board an item."""
        from .. import listening

        frame, by = self._listening_frame(by)
        with _as_request_error():
            return listening.compare_conditions(
                frame, by, exclude=exclude, alpha=alpha, item=self.by
            )

    def agreement(
        self,
        by: str | None = None,
        exclude: Iterable[Hashable] = (),
        *,
        level: float = 0.95,
        n_resamples: int = 1000,
    ) -> pd.DataFrame:
        """How far the raters agree: Krippendorff's alpha (interval level for scores,
        nominal for pairwise choices) with a bootstrap interval over the board's rows, one
        row: `qubico_nb.listening.agreement`."""
        from .. import listening

        frame, by = self._listening_frame(by)
        with _as_request_error():
            return listening.agreement(
                frame, by, exclude=exclude, level=level, n_resamples=n_resamples, item=self.by
            )

    def screen_raters(
        self, by: str | None = None, *, min_correlation: float | None = None
    ) -> pd.DataFrame:
        """Raters to leave out, one row each with ``excluded``; pass the result to
        ``report(exclude=...)``: `qubico_nb.listening.screen_raters`.

        A MUSHRA board with a reference screens by ITU-R BS.1534-3 (the hidden reference
        scored below 90 in more than 15% of the rows; with the ``lp7k`` anchor, that anchor
        above 90 as well). Other score boards: a rater whose scores correlate with the other
        raters' below `min_correlation` (Spearman; three raters or more). Pairwise boards
        have no scores to screen: see `agreement`.
        """
        from .. import listening

        if self.design == "pairwise":
            raise InvalidRequestError(
                "screen_raters reads scores; a pairwise test has none (agreement() says how "
                "far its raters agree)"
            )
        frame, by = self._listening_frame(by)
        options: dict[str, Any] = {"item": self.by}
        if min_correlation is not None:
            options["min_correlation"] = min_correlation
        if self.design == "mushra" and self.has_reference:
            options["reference"] = designs.HIDDEN_REFERENCE
            if "lp7k" in self.anchors:  # BS.1534-3's mid-range anchor
                options["anchor"] = board.anchor_label("lp7k")
        with _as_request_error():
            return listening.screen_raters(frame, by, **options)

    def plot(
        self,
        by: str | None = None,
        exclude: Iterable[Hashable] = (),
        *,
        best: bool = False,
        path: str | os.PathLike[str] | None = None,
        title: str | None = None,
    ) -> Any:
        """The picture a paper shows: per condition the mean (or strength) and its interval,
        as `report` computes them; a matplotlib Figure, also saved to `path` (.png or .svg):
        `qubico_nb.listening.plot`. Needs ``pip install 'qubico-nb[plot]'``."""
        from .. import listening

        frame, by = self._listening_frame(by, best=best)
        with _as_request_error():
            return listening.plot(
                frame,
                by,
                design="best" if best else "auto",
                exclude=exclude,
                path=path,
                title=title or self.name,
                item=self.by,
            )

    def _test_description(self) -> str:
        return analysis.describe(
            self.design,
            scale=self.scale,
            reference=self.has_reference,
            anchors=self.anchors,
            no_preference=self.no_preference,
        )

    def summary(self, by: str | None = None, *, level: float = 0.95) -> pd.DataFrame:
        """Per value of `by` (default: `across`): scores counted, mean, t interval at
        `level`, best picks and their share of all best picks.

        The interval is Student's t (`scipy.stats.t`), treating every score as independent;
        it is empty (NA) for a group with fewer than two scores. That holds for one rater's
        quick look while judging; with several raters their scores are not independent and
        the interval is too narrow: `report` is the figure to publish.
        """
        if self.design == "pairwise":
            raise InvalidRequestError("a pairwise board has no scores to summarize; use report()")
        by = by or self.across
        table = self.to_frame()
        if by not in table.columns:
            raise InvalidRequestError(
                f"no column {by!r} to summarize by; choose from "
                f"{', '.join(map(str, table.columns))}"
            )
        total_best = int(table["best"].fillna(False).astype(bool).sum())
        records = []
        for group in board.ordered(table[by]):
            part = (
                table[table[by].isna()]
                if group is None
                else table[(table[by] == group).fillna(False).astype(bool)]
            )
            scores = [float(s) for s in part["score"].dropna()]
            mean, low, high = stats.mean_interval(scores, level)
            picks = int(part["best"].fillna(False).astype(bool).sum())
            records.append(
                {
                    by: group,
                    "n": len(scores),
                    "mean": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "best": picks,
                    "best_share": picks / total_best if total_best else math.nan,
                }
            )
        out = pd.DataFrame(
            records, columns=[by, "n", "mean", "ci_low", "ci_high", "best", "best_share"]
        )
        for name in ("mean", "ci_low", "ci_high", "best_share"):
            out[name] = out[name].astype("Float64").mask(out[name].isna())
        return out.set_index(by)

    # -- listening tests that leave the notebook --------------------------------------------
    def export_html(
        self,
        path: str | os.PathLike[str],
        *,
        instructions: str | None = None,
        submit_url: str | None = None,
        training: Any = None,
        title: str = "Listening test",
    ) -> Path:
        """Write this board as one self-contained HTML file for raters without Python, and
        return its path (a folder: ``<test id>.html`` in it).

        The page plays every file from inside itself (metadata removed) and fetches nothing;
        it is always blind, shuffles rows and cards per rater (from the name typed, or
        ``?rater=`` in its URL), asks for every card to be heard (and rated, or a pair
        chosen) before the next row, keeps each answer in the browser's storage, and on
        Finish saves ``<test id>-<rater>.json`` (and POSTs it to `submit_url`, as
        ``text/plain`` JSON: the server must answer with ``Access-Control-Allow-Origin``).
        `instructions` is shown first (paragraphs split by blank lines); `training` adds a
        practice row whose answers are not kept: True (the first row), a value of `by`, or a
        list of audio files. Warns over 200 MB. Bring results back with `import_verdicts`.
        """
        from .export import write_test

        return write_test(
            self,
            path,
            title=title,
            instructions=instructions,
            submit_url=submit_url,
            training=training,
        )

    def import_verdicts(
        self, paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
    ) -> pd.DataFrame:
        """Bring back the result files of this board's exported test (files, or folders of
        ``*.json``): each is checked against this test (its id, design, scale and card keys),
        its shown positions mapped back to tasks, and its verdicts appended to the store in
        one write. All or nothing: a file of another test (or damaged) raises
        InvalidRequestError naming it, and nothing is imported. Of a rater's several
        submissions the latest is kept (the summary and a warning say which were not);
        verdicts already imported are not added again. Returns one row per file: file, rater,
        finished_at, trials, verdicts (added), status. `verdicts` then holds every rater.
        """
        from .results import import_results

        verdicts, summary = import_results(self, paths)
        if verdicts:
            self.store.append_many(verdicts)
        with self._lock:
            for item in verdicts:
                self._latest[(item.rater, item.task_id)] = item
            self.marks = self._marks()
            self.raters = self._progress()
        return summary

    def close(self) -> None:
        """Stop the board's background work (queued verdicts are still written) and close it."""
        self._jobs.close()
        if self._writer.flush(self.store.lock_timeout + 1.0):
            self._writer.close()
        super().close()

    # -- display -------------------------------------------------------------------------------
    def to_html(self) -> str:
        """The static board (no kernel needed): waveform images and the verdicts so far."""
        return html.review_board(
            self.rows,
            self.marks,
            title=self.title,
            scale=self.scale,
            blind=self._blind_now(),
            rater=self.rater,
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data or {})
        data["text/html"] = self.to_html()
        data["text/plain"] = repr(self)
        return data, metadata

    def __repr__(self) -> str:
        cards = len(self._cards) if hasattr(self, "_cards") else 0
        rows = len(self._rows) if hasattr(self, "_rows") else 0
        mode = "blind, " if self.blind and not self.revealed else ""
        return f"Review({self.title!r}, {mode}{rows} rows, {cards} cards, rater={self.rater!r})"


def _frame(
    tasks_or_frame: pd.DataFrame | Iterable[Task | str], client: Client | None
) -> pd.DataFrame:
    if isinstance(tasks_or_frame, pd.DataFrame):
        return tasks_or_frame.copy()
    return tabulate_tasks(tasks_or_frame, client=client, progress=False)


def _one_row_per_task(frame: pd.DataFrame) -> pd.DataFrame:
    """A per-work table (from `analyze` or ``per="work"``) becomes one audio row per task.

    Verdicts are kept per task, so a task with several audio files shows its first (with a
    warning); its non-audio works (images, videos) have nothing to listen to and are dropped.
    """
    if not frame["task_id"].duplicated().any():
        return frame
    if "kind" in frame.columns:
        is_audio = (frame["kind"] == "audio").fillna(False).astype(bool)
        has_audio = frame["task_id"].isin(frame.loc[is_audio, "task_id"])
        frame = frame[is_audio | ~has_audio]
    repeated = frame["task_id"].duplicated()
    if repeated.any():
        warnings.warn(
            f"{int(repeated.sum())} task(s) have more than one audio file; the board "
            "shows the first of each (verdicts are kept per task)",
            stacklevel=3,
        )
        frame = frame[~repeated]
    return frame


def _store(store: VerdictStore | str | os.PathLike[str] | None, name: str) -> VerdictStore:
    if isinstance(store, VerdictStore):
        return store
    if store is None:
        return VerdictStore(Path.cwd() / f"{name}{SUFFIX}")
    return VerdictStore(store)


def _check_scale(scale: Any) -> tuple[float, float]:
    if (
        not isinstance(scale, (tuple, list))
        or len(scale) != 2
        or not all(
            isinstance(v, (int, float))
            and not isinstance(v, bool)
            and math.isfinite(v)
            and abs(v) <= SCORE_LIMIT
            for v in scale
        )
        or not scale[0] < scale[1]
    ):
        raise InvalidRequestError(
            f"scale must be (low, high) with low < high, each within ±{SCORE_LIMIT:g}, "
            f"got {scale!r}"
        )
    return float(scale[0]), float(scale[1])


@contextlib.contextmanager
def _as_request_error() -> Iterator[None]:
    """A listening function's ValueError (it says what to fix) raised as the board's
    InvalidRequestError, without the chained traceback."""
    try:
        yield
    except InvalidRequestError:
        raise
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from None


def review(
    tasks_or_frame: pd.DataFrame | Iterable[Task | str],
    *,
    by: str = "prompt",
    across: str = "seed",
    blind: bool = False,
    store: VerdictStore | str | os.PathLike[str] | None = None,
    rater: str | None = None,
    client: Client | None = None,
    scale: tuple[float, float] | None = None,
    name: str = "review",
    shuffle_seed: int | None = None,
    level_match: bool | None = None,
    design: str = "score",
    reference: Any = None,
    anchors: Sequence[str] = (),
    no_preference: bool = True,
) -> Review:
    """A board to judge generations: rows by `by`, candidates `across`, verdicts kept on disk.

    Each card shows its waveform (spectrogram on a toggle); one clock per row keeps the
    position to the sample when you switch cards (Web Audio, with a short crossfade), loops a
    passage, and drives the row's source video, muted. `level_match` (default: on when
    `blind`) plays each card at the gain that brings it to its row's median loudness
    (BS.1770), recorded with each verdict. Verdicts are appended to `store` (default:
    ``<name>.verdicts.jsonl`` next to the notebook) as they are made, and restored when the
    review is made again. `blind` shows cards as A, B, C in an order shuffled by
    `shuffle_seed` (recorded; reused from the store for the same `name` if not given) and
    hides what they are until Reveal. `rater` defaults to ``$QUBICO_RATER`` or the login
    name. Files are measured in the background: the board is usable at once, and
    `Review.wait()` waits for every waveform.

    `design` is the test:

    - ``"score"`` (default): a score per card on `scale` (default 1-5), a best pick per row and
      a note: an ACR/MOS test;
    - ``"mushra"``: a 0-100 slider per card. With `reference` (a column of the table, a
      mapping ``{by value: URL or file}``, or a list with one per row) each row starts with
      that file as an open reference, hides the same file among the cards, and adds
      `anchors` made from it (``("lp3.5k", "lp7k")``: low-passed as ITU-R BS.1534-3
      describes); without one it is a reference-free MUSHRA-style test. Its cards show a
      plain timeline, never a waveform or spectrogram (they would give the hidden reference
      away);
    - ``"pairwise"``: two cards at a time and a forced choice ("no preference" too, unless
      ``no_preference=False``), every pair of a row once, its order counterbalanced across
      rows and raters (`designs.pair_schedule`).

    `Review.export_html` turns the board into one HTML file for raters without Python, and
    `Review.import_verdicts` brings their results back.
    """
    design = _check_design(design, reference, anchors, scale)
    low, high = _check_scale(
        designs.MUSHRA_SCALE if design == "mushra" else (1, 5) if scale is None else scale
    )
    frame = _frame(tasks_or_frame, client)
    for column in ("task_id", by, across):
        if column not in frame.columns:
            raise InvalidRequestError(
                f"no column {column!r} to review by; choose from "
                f"{', '.join(map(str, frame.columns))}"
            )
    frame = _one_row_per_task(frame)
    try:
        references = (
            None
            if reference is None
            else board.reference_locations(frame, by=by, reference=reference)
        )
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from None
    verdict_store = _store(store, name)
    history = verdict_store.read(scale=(low, high))  # read once: one warning for bad lines
    if shuffle_seed is None and blind:
        earlier = [
            v.shuffle_seed
            for v in history
            if v.review == name and v.blind and v.shuffle_seed is not None
        ]
        shuffle_seed = earlier[-1] if earlier else secrets.randbelow(2**31)
    return Review(
        frame,
        by=by,
        across=across,
        blind=blind,
        store=verdict_store,
        rater=rater or default_rater(),
        client=client,
        scale=(low, high),
        name=name,
        shuffle_seed=shuffle_seed or 0,
        level_match=level_match,
        history=history,
        design=design,
        references=references,
        anchors=anchors,
        no_preference=no_preference,
    )


def _check_design(
    design: object, reference: Any, anchors: Sequence[str], scale: tuple[float, float] | None
) -> str:
    try:
        checked = designs.check_design(design)
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from None
    if checked != "mushra" and (reference is not None or anchors):
        raise InvalidRequestError(
            f"reference= and anchors= belong to design='mushra', not {checked!r}"
        )
    if anchors and reference is None:
        raise InvalidRequestError(
            "anchors are made from the reference: give reference= (a column, or a file per row)"
        )
    if isinstance(anchors, str):
        raise InvalidRequestError(f"anchors is a list of names, e.g. ({anchors!r},)")
    from ..audio.anchors import cutoff_hz

    for name in anchors:
        try:
            cutoff_hz(name)
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from None
    if len(set(anchors)) != len(anchors):
        raise InvalidRequestError(f"anchors lists a name twice: {list(anchors)}")
    if checked == "mushra" and scale is not None and tuple(scale) != designs.MUSHRA_SCALE:
        raise InvalidRequestError(f"a MUSHRA test scores 0-100; leave scale= out (got {scale!r})")
    return checked
