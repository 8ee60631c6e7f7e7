"""`analyze`: fetch every audio work of a table (once per machine, by URL) and add its measures."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._progress import progress_bar
from .._workers import Workers
from ..errors import InvalidRequestError, QubicoError
from ..models import Task
from ..store.files import FileCache
from .analysis import DEFAULT_PEAKS, AudioAnalysis, analyze_file

if TYPE_CHECKING:
    from ..client import Client
    from .sync import SyncEstimate
    from .video_events import VisualEvents

#: Columns `analyze` adds, with their dtypes. ``lufs`` is <NA> where BS.1770 does not define it
#: (under 0.4 s, over 5 channels) and -inf for silence; ``peaks`` holds int8 (n, 2) arrays.
ANALYSIS_COLUMNS: dict[str, str] = {
    "measured_duration_s": "Float64",
    "sample_rate": "Int64",
    "channels": "Int64",
    "peak_dbfs": "Float64",
    "rms_dbfs": "Float64",
    "lufs": "Float64",
    "clipped_fraction": "Float64",
    "silent_fraction": "Float64",
    "peaks": "object",
    "analysis_error": "string",
}

#: Columns ``analyze(..., video=True)`` adds: the audio-video offset against the task's source
#: video (positive: the sound is late; see `qubico_nb.audio.sync_offset`), its confidence (0-1),
#: and why a row has no offset.
SYNC_COLUMNS: dict[str, str] = {
    "av_offset_s": "Float64",
    "av_sync_confidence": "Float64",
    "av_sync_error": "string",
}

_MEASURES = {
    "measured_duration_s": "duration_s",
    "sample_rate": "sample_rate",
    "channels": "channels",
    "peak_dbfs": "peak_dbfs",
    "rms_dbfs": "rms_dbfs",
    "lufs": "lufs",
    "clipped_fraction": "clipped_fraction",
    "silent_fraction": "silent_fraction",
    "peaks": "peaks",
}


def analyze(
    tasks_or_frame: pd.DataFrame | Task | str | Iterable[Task | str],
    *,
    client: Client | None = None,
    progress: bool = True,
    max_workers: int = 4,
    cache: FileCache | bool = True,
    peaks: int = DEFAULT_PEAKS,
    video: bool = False,
    max_offset_s: float = 1.0,
) -> pd.DataFrame:
    """The table with each audio work's measures added (see `ANALYSIS_COLUMNS`).

    Takes a frame from `tabulate_tasks` (``per="work"`` or ``per="task"``), or Tasks and/or ids
    (tabulated per work). Each file is fetched with ``client.fetch_file`` (default: the client
    `connect()` made) and kept in the on-disk `FileCache` (``cache=False``: memory only), so a
    second run fetches nothing. The server's ``duration_s`` is left as it is; what the file
    really holds is ``measured_duration_s``. A row that cannot be analyzed (not completed, not
    audio, cannot be fetched or decoded) gets ``analysis_error`` saying why; the rest go on.

    ``video=True`` (needs ``pip install 'qubico-nb[video]'``) also measures each sound's offset
    against its task's source video (`SYNC_COLUMNS`; within ±``max_offset_s``): each video is
    fetched and decoded once however many rows share it; a row without an offset says why in
    ``av_sync_error``.
    """
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise InvalidRequestError(f"max_workers must be a positive integer, got {max_workers!r}")
    frame = _frame(tasks_or_frame, client=client, progress=progress)
    url_column = "url" if "url" in frame.columns else "audio_url"
    if url_column not in frame.columns:
        raise InvalidRequestError(
            "the frame needs a url (or audio_url) column: make it with tabulate_tasks"
        )
    files = cache if isinstance(cache, FileCache) else FileCache(enabled=bool(cache))
    videos = _Videos(files, max_offset_s) if video else None

    reasons: list[str | None] = []
    wanted: dict[str, list[int]] = {}  # each URL is fetched and analyzed once
    for position, row in enumerate(frame.to_dict("records")):
        reason = _skip_reason(row, url_column)
        reasons.append(reason)
        if reason is None:
            wanted.setdefault(str(row[url_column]), []).append(position)

    sources = {
        url: _text(frame.iloc[positions[0]].get("video")) for url, positions in wanted.items()
    }
    results: dict[str, AudioAnalysis | str] = {}
    synced: dict[str, SyncEstimate | str] = {}
    if wanted:
        if client is None:
            from ..connection import default_client

            client = default_client()
        fetch_file = client.fetch_file

        def one(url: str) -> tuple[str, AudioAnalysis | str]:
            try:
                data: bytes | Path = files.fetch(url, fetch_file)
            except (QubicoError, OSError) as err:
                return url, f"could not fetch the file: {err}"
            data = files.path(url) or data  # kept on disk: measured from there, in blocks
            try:
                analysis: AudioAnalysis | str = analyze_file(data, peaks=peaks)
            except (QubicoError, ValueError, RuntimeError, MemoryError, OSError) as err:
                files.discard(url)  # a glitch of the server's must not stick: fetch it anew
                return url, f"could not analyze the file: {err}"
            if videos is not None:
                synced[url] = videos.offset(sources[url], data, fetch_file)
            return url, analysis

        with (
            progress_bar(len(wanted), "analyzing", progress) as bar,
            Workers(min(max_workers, len(wanted))) as pool,
        ):
            for url, result in pool.map(one, list(wanted)):
                results[url] = result
                bar.update(1)

    per_row: list[AudioAnalysis | None] = [None] * len(frame)
    for url, positions in wanted.items():
        for position in positions:
            result = results[url]
            if isinstance(result, str):
                reasons[position] = result
            else:
                per_row[position] = result
    frame = _with_columns(frame, per_row, reasons)
    if videos is not None:
        sync_rows: list[SyncEstimate | str] = [reason or "not measured" for reason in reasons]
        for url, positions in wanted.items():
            for position in positions:
                sync_rows[position] = synced.get(url, reasons[position] or "not measured")
        _with_sync_columns(frame, sync_rows)
    return frame


class _Videos:
    """Source videos fetched and measured once each (one lock per URL), for many sounds."""

    def __init__(self, files: FileCache, max_offset_s: float) -> None:
        from .sync import check_max_offset
        from .video_events import require_av

        require_av()  # a clear ImportError before anything is fetched
        check_max_offset(max_offset_s)
        self.files = files
        self.max_offset_s = max_offset_s
        self._events: dict[str, VisualEvents | str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def events(self, url: str, fetch_file: Any) -> VisualEvents | str:
        from .video_events import video_events

        with self._lock:
            lock = self._locks.setdefault(url, threading.Lock())
        with lock:
            found = self._events.get(url)
            if found is None:
                try:
                    found = video_events(self.files.fetch(url, fetch_file), name=url)
                except (QubicoError, OSError) as err:
                    found = f"could not measure the source video: {err}"
                except (ValueError, RuntimeError, MemoryError) as err:
                    self.files.discard(url)
                    found = f"could not measure the source video: {err}"
                self._events[url] = found
            return found

    def offset(self, video: str | None, audio: bytes | Path, fetch_file: Any) -> SyncEstimate | str:
        from .sync import offset_against

        if video is None:
            return "the task has no source video"
        if not video.startswith(("http://", "https://")):
            return "the source video was sent inline (data: URI), which the table does not keep"
        events = self.events(video, fetch_file)
        if isinstance(events, str):
            return events
        try:
            return offset_against(events, audio, max_offset_s=self.max_offset_s)
        except (QubicoError, ValueError, RuntimeError, MemoryError, OSError) as err:
            return f"could not measure the offset: {err}"


def _with_sync_columns(frame: pd.DataFrame, rows: list[SyncEstimate | str]) -> None:
    offsets: list[Any] = []
    confidences: list[Any] = []
    errors: list[str | None] = []
    for row in rows:
        if isinstance(row, str):
            offsets.append(pd.NA)
            confidences.append(pd.NA)
            errors.append(row)
        else:
            offsets.append(pd.NA if math.isnan(row.offset_s) else row.offset_s)
            confidences.append(row.confidence)
            errors.append(row.reason)
    frame["av_offset_s"] = pd.Series(offsets, dtype="Float64", index=frame.index)
    frame["av_sync_confidence"] = pd.Series(confidences, dtype="Float64", index=frame.index)
    frame["av_sync_error"] = pd.array(errors, dtype="string")


def _frame(source: Any, *, client: Client | None, progress: bool) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source.copy()
    from ..batch import tabulate_tasks

    items = [source] if isinstance(source, (Task, str)) else list(source)
    return tabulate_tasks(items, client=client, per="work", progress=progress)


def _text(value: Any) -> str | None:
    return (
        None
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))
        else str(value)
    )


def _skip_reason(row: Mapping[Any, Any], url_column: str) -> str | None:
    """Why a row has nothing to analyze, or None when it has an audio file to fetch."""
    status = _text(row.get("status"))
    error = _text(row.get("error"))
    if status == "error":
        return f"task could not be fetched: {error or 'no reason given'}"
    if status == "failed":
        return f"task failed: {error or 'no reason given'}"
    if status is not None and status != "completed":
        return f"task is {status}, not completed: wait for it (wait_all), then analyze again"
    if _text(row.get(url_column)) is None:
        return "task has no audio file"
    kind = _text(row.get("kind"))
    if kind is not None and kind != "audio":
        return f"not audio: this work is a {kind} file"
    return None


def _with_columns(
    frame: pd.DataFrame, results: list[AudioAnalysis | None], reasons: list[str | None]
) -> pd.DataFrame:
    for column, attribute in _MEASURES.items():
        values = [None if r is None else getattr(r, attribute) for r in results]
        if ANALYSIS_COLUMNS[column] == "object":
            cells = np.empty(len(values), dtype=object)
            for position, value in enumerate(values):  # one array per cell, not a 3-D block
                cells[position] = value
            frame[column] = cells
        else:
            frame[column] = pd.Series(
                [pd.NA if v is None else v for v in values],
                dtype=ANALYSIS_COLUMNS[column],
                index=frame.index,
            )
    frame["analysis_error"] = pd.array(reasons, dtype="string")
    return frame


__all__ = ["ANALYSIS_COLUMNS", "SYNC_COLUMNS", "analyze"]
