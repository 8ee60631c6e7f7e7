"""`analyze`: fetch every audio work of a table (once per machine, by URL) and add its measures."""

from __future__ import annotations

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
) -> pd.DataFrame:
    """The table with each audio work's measures added (see `ANALYSIS_COLUMNS`).

    Takes a frame from `tabulate_tasks` (``per="work"`` or ``per="task"``), or Tasks and/or ids
    (tabulated per work). Each file is fetched with ``client.fetch_file`` (default: the client
    `connect()` made) and kept in the on-disk `FileCache` (``cache=False``: memory only), so a
    second run fetches nothing. The server's ``duration_s`` is left as it is; what the file
    really holds is ``measured_duration_s``. A row that cannot be analyzed (not completed, not
    audio, cannot be fetched or decoded) gets ``analysis_error`` saying why; the rest go on.
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

    reasons: list[str | None] = []
    wanted: dict[str, list[int]] = {}  # each URL is fetched and analyzed once
    for position, row in enumerate(frame.to_dict("records")):
        reason = _skip_reason(row, url_column)
        reasons.append(reason)
        if reason is None:
            wanted.setdefault(str(row[url_column]), []).append(position)

    results: dict[str, AudioAnalysis | str] = {}
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
                return url, analyze_file(data, peaks=peaks)
            except (QubicoError, ValueError, RuntimeError, MemoryError, OSError) as err:
                files.discard(url)  # a glitch of the server's must not stick: fetch it anew
                return url, f"could not analyze the file: {err}"

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
    return _with_columns(frame, per_row, reasons)


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


__all__ = ["ANALYSIS_COLUMNS", "analyze"]
