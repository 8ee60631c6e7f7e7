"""`review()` and `Review`: the judging board, an anywidget over board, media, store and stats.

Python holds the truth (layout, file bytes, verdicts); the browser (``static/review.js``) draws
and plays. Audio bytes travel as custom-message buffers, never as synced state: they stay out of
the saved notebook, play where a file URL is unreachable from the browser, and in blind mode no
URL or file name reaches the page.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import hashlib
import math
import os
import secrets
import threading
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import pandas as pd
import traitlets

from .. import html
from .._constants import RATER_ENV
from .._workers import Workers
from ..audio import encode_peaks
from ..batch import tabulate_tasks
from ..client import Client
from ..errors import InvalidRequestError, QubicoError
from ..models import Task
from ..store.verdicts import SUFFIX, Verdict, VerdictStore, now_iso
from . import board, media, stats

STATIC = Path(__file__).resolve().parent.parent / "static"
#: Columns of `Review.verdicts`, with their dtypes.
VERDICT_COLUMNS: dict[str, str] = {
    "task_id": "string",
    "rater": "string",
    "score": "Float64",
    "best": "boolean",
    "note": "string",
    "rated_at": "datetime64[ns, UTC]",
    "blind": "boolean",
    "position": "string",
}
_UNSET: Any = object()


@functools.lru_cache(maxsize=1)
def _read_code(js_path: Path, css_path: Path, stamp: tuple[float, float]) -> dict[str, str]:
    js, css = js_path.read_text("utf-8"), css_path.read_text("utf-8")
    version = hashlib.sha256((js + css).encode()).hexdigest()[:12]
    return {"js": js, "css": css, "version": version}


def board_code() -> dict[str, str]:
    """The board's ES module and CSS, with a version that changes when either file does."""
    js, css = STATIC / "review.js", STATIC / "review.css"
    return _read_code(js, css, (js.stat().st_mtime, css.stat().st_mtime))


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
    _esm = STATIC / "loader.js"

    title = traitlets.Unicode("").tag(sync=True)
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    scale = traitlets.List(traitlets.Float(), default_value=[1.0, 5.0]).tag(sync=True)
    blind = traitlets.Bool(False).tag(sync=True)
    revealed = traitlets.Bool(False).tag(sync=True)
    rater = traitlets.Unicode("").tag(sync=True)
    #: The current rater's verdicts by card key: {"score", "best", "note"}.
    marks = traitlets.Dict().tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)

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
        max_workers: int = 4,
    ) -> None:
        self.frame = frame
        self.by, self.across, self.name = by, across, name
        self.store = store
        self.shuffle_seed = shuffle_seed
        self._client = client
        self._lock = threading.RLock()
        self._rows = board.build_rows(
            frame, by=by, across=across, blind=blind, shuffle_seed=shuffle_seed
        )
        self._cards = {card.key: card for row in self._rows for card in row.cards}
        self._by_task = {card.task_id: card for card in self._cards.values()}
        self._media: dict[str, media.Media] = {}
        self._videos: dict[str, bytes | None] = {}
        self._load_all(max_workers)
        self._latest = store.latest()
        super().__init__(
            title=name, scale=[float(scale[0]), float(scale[1])], blind=blind, rater=rater
        )
        self.rows = self._row_state()
        self.marks = self._marks()
        self.on_msg(self._on_message)
        self.add_class("qnb-review")

    # -- loading -------------------------------------------------------------------------------
    def _load_all(self, max_workers: int) -> None:
        ready = [card for card in self._cards.values() if card.status == board.READY]

        def one(card: board.Card) -> tuple[board.Card, media.Media | None, str]:
            try:
                return card, media.load(card.audio_url, card.local_path, self._client), ""
            except Exception as exc:  # one bad file never breaks the board
                return card, None, f"{type(exc).__name__}: {exc}"[:300]

        with Workers(max_workers) as pool:
            for card, loaded, error in pool.map(one, ready):
                if loaded is None:
                    card.status = board.MISSING
                    card.reason = card.identity["reason"] = f"could not load audio ({error})"
                else:
                    self._media[card.key] = loaded

    # -- synced state --------------------------------------------------------------------------
    def _shows_identity(self) -> bool:
        return not self.blind or self.revealed

    def _row_state(self) -> list[dict[str, Any]]:
        shown = self._shows_identity()
        out: list[dict[str, Any]] = []
        for row in self._rows:
            cards = []
            for card in row.cards:
                loaded = self._media.get(card.key)
                item: dict[str, Any] = {
                    "key": card.key,
                    "position": card.position,
                    "status": card.status,
                    "label": card.position + (f" · {card.identity['label']}" if shown else ""),
                    "detail": card.identity["detail"] if shown else "",
                    "reason": card.reason if shown else board.generic_reason(card.status),
                }
                if shown:
                    item["task_id"] = card.task_id
                if loaded is not None:
                    item["duration"] = round(loaded.duration_s, 3)
                    item["peaks"] = encode_peaks(media.reduce_peaks(loaded.peaks))
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

    def _marks(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key, card in self._cards.items():
            verdict = self._latest.get((self.rater, card.task_id))
            if verdict is not None:
                out[key] = {"score": verdict.score, "best": verdict.best, "note": verdict.note}
        return out

    @traitlets.observe("rater")
    def _rater_changed(self, change: dict[str, Any]) -> None:
        if hasattr(self, "_latest"):
            self.marks = self._marks()

    # -- messages from the browser ----------------------------------------------------------
    def _on_message(self, _widget: Any, content: Any, _buffers: Sequence[bytes]) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        saved = True
        try:
            if kind == "code":
                self.send({"type": "code", **board_code()})
            elif kind == "media":
                keys = content.get("keys")
                self._send_media(keys if isinstance(keys, list) else list(self._media))
                rows = content.get("rows")
                self._send_videos(rows if isinstance(rows, list) else [])
            elif kind == "rate":
                card = self._cards.get(str(content.get("key")))
                if card is None:
                    return
                score = content.get("score", _UNSET)
                self.rate(
                    card.task_id,
                    score=_UNSET if score is _UNSET else score,
                    best=content.get("best") if isinstance(content.get("best"), bool) else None,
                    note=content.get("note") if isinstance(content.get("note"), str) else None,
                )
                self.message = ""
            elif kind == "reveal":
                self.reveal()
        except (OSError, ValueError, InvalidRequestError) as exc:
            saved = False
            self.message = f"not saved: {exc}"[:300]
            self.marks = self._marks()  # the board shows what is really stored
        finally:
            if kind == "rate" and isinstance(content.get("seq"), str):
                # the board says "saved" only for what was: a refused verdict is acked as not ok
                self.send({"type": "ack", "seq": content["seq"], "ok": saved})

    def _send_media(self, keys: Iterable[Any]) -> None:
        for key in keys:
            loaded = self._media.get(str(key))
            if loaded is None:
                continue
            spectrogram = loaded.spectrogram
            shape = [0, 0] if spectrogram is None else [int(n) for n in spectrogram.shape]
            buffers = [
                loaded.data,
                b"" if spectrogram is None else spectrogram.tobytes(),
                loaded.peaks.tobytes(),
            ]
            self.send(
                {"type": "media", "key": str(key), "mime": loaded.mime, "spectrogram": shape},
                buffers=buffers,
            )

    def _send_videos(self, row_keys: Iterable[Any]) -> None:
        """Each row's source video as bytes (plays where its URL is unreachable from the
        browser); the URL itself when the kernel cannot fetch it either, except on a blind
        board before Reveal (a URL can name what a card is: that row then shows no video)."""
        for row in self._rows:
            if row.key not in row_keys or not row.video_url:
                continue
            with self._lock:
                if row.video_url not in self._videos:
                    try:
                        self._videos[row.video_url] = media.fetch_video(row.video_url, self._client)
                    except Exception:  # the browser may still reach the URL itself
                        self._videos[row.video_url] = None
                data = self._videos[row.video_url]
            if data is None:
                if self.blind and not self.revealed:
                    continue
                self.send({"type": "video", "row": row.key, "url": row.video_url})
            else:
                self.send({"type": "video", "row": row.key, "mime": "video/mp4"}, buffers=[data])

    # -- verdicts ------------------------------------------------------------------------------
    def rate(
        self,
        task_id: str,
        *,
        score: Any = _UNSET,
        best: bool | None = None,
        note: str | None = None,
        rater: str | None = None,
    ) -> Verdict:
        """Record a verdict, as a click in the board does: only the given fields change.

        `score` must lie within the review's scale (``None`` clears it); ``best=True`` makes
        this card the row's pick and clears the rater's earlier pick in that row. The verdict is
        appended to the store before this returns.
        """
        card = self._by_task.get(str(task_id))
        if card is None:
            raise InvalidRequestError(f"task {task_id!r} is not on this board")
        who = rater or self.rater
        if score is not _UNSET and score is not None:
            if (
                isinstance(score, bool)
                or not isinstance(score, (int, float))
                or not math.isfinite(score)
            ):
                raise InvalidRequestError(f"score must be a number, got {score!r}")
            low, high = self.scale
            if not low <= score <= high:
                raise InvalidRequestError(f"score {score:g} is outside the scale {low:g}..{high:g}")
        if note is not None and not isinstance(note, str):
            raise InvalidRequestError("note must be text")
        with self._lock:
            old = self._latest.get((who, card.task_id))
            common: dict[str, Any] = {
                "rater": who,
                "rated_at": now_iso(),
                "blind": bool(self.blind and not self.revealed),  # after Reveal, not blind
                "review": self.name,
                "shuffle_seed": self.shuffle_seed if self.blind else None,
            }
            verdict = Verdict(
                task_id=card.task_id,
                position=card.position,
                score=(old.score if old else None)
                if score is _UNSET
                else (None if score is None else float(score)),
                best=(old.best if old else False) if best is None else bool(best),
                note=(old.note if old else "") if note is None else note,
                **common,
            )
            changed = [verdict]
            if verdict.best:
                for other in self._rows[int(card.row_key[1:])].cards:
                    previous = self._latest.get((who, other.task_id))
                    if other is not card and previous is not None and previous.best:
                        changed.append(
                            Verdict(
                                task_id=other.task_id,
                                position=other.position,
                                score=previous.score,
                                best=False,
                                note=previous.note,
                                **common,
                            )
                        )
            self.store.append_many(changed)
            for item in changed:
                self._latest[(who, item.task_id)] = item
            if who == self.rater:
                self.marks = self._marks()
        return verdict

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
            status, reason = board.card_status(fresh)
            url = fresh["audio_url"]
            card.audio_url = url if isinstance(url, str) else None
            if status == board.READY:
                try:
                    self._media[card.key] = media.load(card.audio_url, card.local_path, client)
                    ready += 1
                except Exception as exc:  # one bad file never breaks the board
                    status, reason = (
                        board.MISSING,
                        f"could not load audio ({type(exc).__name__}: {exc})"[:300],
                    )
            card.status, card.reason = status, reason
            card.identity["reason"] = reason
            self._update_frame(card.task_id, fresh)
        with self._lock:
            self.rows = self._row_state()
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
        """The latest verdict per rater and task on this board (all raters)."""
        items = [v for (_, task_id), v in self._latest.items() if task_id in self._by_task]
        items.sort(key=lambda v: v.rated_at)
        data = {name: [getattr(v, name) for v in items] for name in VERDICT_COLUMNS}
        columns = {}
        for name, dtype in VERDICT_COLUMNS.items():
            if dtype.startswith("datetime"):
                columns[name] = pd.Series(
                    pd.to_datetime(data[name], utc=True, format="ISO8601"), dtype=dtype
                )
            else:
                columns[name] = pd.Series(
                    [pd.NA if v is None else v for v in data[name]], dtype=dtype
                )
        return pd.DataFrame(columns, columns=list(VERDICT_COLUMNS))

    def to_frame(self, *, rater: str | None = None) -> pd.DataFrame:
        """The input table with the verdict columns joined on ``task_id``.

        One row per task and rater (a task nobody rated keeps one row with empty verdicts);
        `rater` keeps only that rater's verdicts.
        """
        verdicts = self.verdicts
        if rater is not None:
            verdicts = verdicts[verdicts["rater"] == rater]
        left = self.frame.copy()
        left["task_id"] = left["task_id"].astype("string")
        clash = [c for c in verdicts.columns if c != "task_id" and c in left.columns]
        return left.merge(
            verdicts, on="task_id", how="left", suffixes=("", "_verdict") if clash else ("_x", "_y")
        )

    def summary(self, by: str | None = None, *, level: float = 0.95) -> pd.DataFrame:
        """Per value of `by` (default: `across`): scores counted, mean, t interval at
        `level`, best picks and their share of all best picks.

        The interval is Student's t (exact quantile, computed without scipy); it is empty (NA)
        for a group with fewer than two scores.
        """
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

    # -- display -------------------------------------------------------------------------------
    def to_html(self) -> str:
        """The static board (no kernel needed): waveform images and the verdicts so far."""
        return html.review_board(
            self.rows,
            self.marks,
            title=self.title,
            scale=self.scale,
            blind=self.blind and not self.revealed,
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


def review(
    tasks_or_frame: pd.DataFrame | Iterable[Task | str],
    *,
    by: str = "prompt",
    across: str = "seed",
    blind: bool = False,
    store: VerdictStore | str | os.PathLike[str] | None = None,
    rater: str | None = None,
    client: Client | None = None,
    scale: tuple[float, float] = (1, 5),
    name: str = "review",
    shuffle_seed: int | None = None,
) -> Review:
    """A board to judge generations: rows by `by`, candidates `across`, verdicts kept on disk.

    Each card shows its waveform (spectrogram on a toggle); one transport per row keeps the
    position when you switch cards, and plays the row's source video muted and in sync. Verdicts
    (score on `scale`, best in row, note) are appended to `store` (default:
    ``<name>.verdicts.jsonl`` next to the notebook) as they are made, and restored when the
    review is made again. `blind` shows cards as A, B, C in an order shuffled by
    `shuffle_seed` (recorded; reused from the store for the same `name` if not given) and hides
    what they are until Reveal. `rater` defaults to ``$QUBICO_RATER`` or the login name.
    """
    frame = _frame(tasks_or_frame, client)
    for column in ("task_id", by, across):
        if column not in frame.columns:
            raise InvalidRequestError(
                f"no column {column!r} to review by; choose from "
                f"{', '.join(map(str, frame.columns))}"
            )
    frame = _one_row_per_task(frame)
    if (
        len(scale) != 2
        or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in scale)
        or not scale[0] < scale[1]
    ):
        raise InvalidRequestError(f"scale must be (low, high) with low < high, got {scale!r}")
    verdict_store = _store(store, name)
    if shuffle_seed is None and blind:
        earlier = [
            v.shuffle_seed
            for v in verdict_store.read()
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
        scale=(float(scale[0]), float(scale[1])),
        name=name,
        shuffle_seed=shuffle_seed or 0,
    )
