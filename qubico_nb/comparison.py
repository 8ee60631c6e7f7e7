"""`compare`: batches of generations side by side, as HTML that works without a kernel."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

import pandas as pd

from . import html
from .batch import tabulate_tasks
from .client import Client
from .connection import default_client
from .errors import InvalidRequestError
from .frames import ERROR_STATUS
from .models import Task
from .playback import Playback

DEFAULT_COLUMNS = ("steps", "duration_s")
#: What to do when `embed=True` finds no local copies to embed.
EMBED_NEEDS_DOWNLOAD = (
    "embed=True found no local copies to embed: run download(table) first, "
    "then compare(downloaded_table, embed=True); playing from URLs for now"
)

#: What to do when `thumbnails=True` finds no waveforms to draw.
THUMBNAILS_NEED_PEAKS = (
    "thumbnails=True needs a 'peaks' column: run qubico_nb.analyze(table) "
    "first, then compare(analyzed_table)"
)


class Comparison:
    """A grid of players: one row per `by` value, one column per `across` value."""

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        by: str,
        across: str,
        columns: Sequence[str],
        sources: dict[Any, str],
        base_url: str | None = None,
        page_paths: Sequence[str] = (),
        thumbnails: bool | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        self.frame = frame
        self.by = by
        self.across = across
        self.columns = tuple(columns)
        #: Relative URLs in the frame are resolved against this (the API's base), if known.
        self.base_url = base_url
        self.thumbnails = thumbnails
        #: Notices shown under the grid (e.g. what embedding needs).
        self.notes = tuple(notes)
        self._sources = sources
        self._page_paths = tuple(page_paths)

    def to_html(self) -> str:
        return html.compare_grid(
            self.frame,
            by=self.by,
            across=self.across,
            columns=self.columns,
            sources=self._sources,
            base_url=self.base_url,
            page_paths=self._page_paths,
            thumbnails=self.thumbnails,
            notes=self.notes,
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    @property
    def failed(self) -> pd.DataFrame:
        """The rows that could not be fetched (listed under the grid), with their reasons."""
        if "status" not in self.frame.columns:
            return self.frame.iloc[0:0]
        return self.frame[(self.frame["status"] == ERROR_STATUS).fillna(False).astype(bool)]

    def pivot(self) -> pd.DataFrame:
        """The grid as a frame of statuses (a plain-text view)."""
        shown = self.frame.drop(index=self.failed.index)
        if shown.empty:
            return pd.DataFrame()
        return shown.pivot_table(
            index=self.by,
            columns=self.across,
            values="status",
            aggfunc=lambda s: ",".join(map(str, s)),
            dropna=False,
        )

    def __repr__(self) -> str:
        failed = len(self.failed)
        return (
            f"Comparison(by={self.by!r}, across={self.across!r}, {len(self.frame)} tasks"
            f"{f', {failed} could not be shown' if failed else ''})\n"
            f"{self.pivot().to_string() if not self.frame.empty else ''}"
        )


def _sources(frame: pd.DataFrame, playback: Playback, *, saved_copies: bool) -> dict[Any, str]:
    """The browser's source for each audio row (`qubico_nb.playback`), by frame index; a row
    without one shows its URL as text (the grid plays audio only)."""
    if "audio_url" not in frame.columns and not saved_copies:
        return {}
    size = len(frame)

    def column(name: str) -> list[Any]:
        return frame[name].tolist() if name in frame.columns else [None] * size

    copies = column("local_path") if saved_copies else [None] * size
    sources: dict[Any, str] = {}
    for index, url, copy, kind in zip(
        frame.index, column("audio_url"), copies, column("kind"), strict=True
    ):
        if isinstance(kind, str) and kind != "audio":
            continue
        source = playback.source(
            url if isinstance(url, str) else None,
            saved_copy=copy if isinstance(copy, str) else None,
            kind="audio",
        )
        if source is not None:
            sources[index] = source
    return sources


def compare(
    tasks_or_frame: pd.DataFrame | Iterable[Task | str],
    *,
    by: str = "prompt",
    across: str = "seed",
    columns: Sequence[str] = DEFAULT_COLUMNS,
    client: Client | None = None,
    base_url: str | None = None,
    local: bool = True,
    embed: bool = False,
    embed_limit_mb: float | None = None,
    thumbnails: bool | None = None,
) -> Comparison:
    """Compare generations side by side: rows by `by` (e.g. prompt), columns `across` (seed,
    steps, model, or any column).

    Players load nothing until played (``preload="none"``). Where each file plays from is
    `qubico_nb.playback`'s rule: with a ``local_path`` column (from `download`) and `local`, the
    saved copy, by its path where the host serves the notebook's folder and the copy lies under
    it (JupyterLab, Notebook 7), else embedded; `embed=True` embeds every saved copy; a file on
    the kernel's loopback that the browser cannot reach (a hub without jupyter-server-proxy) is
    embedded too, with one warning. All embedded files share one budget, `embed_limit_mb`
    (default 20 MB); the rest play from their URLs. Relative file URLs are resolved against
    `base_url` (default: `client`'s); without either they are shown as text. Rows that could
    not be fetched are listed under the grid. After `qubico_nb.audio.analyze` (a ``peaks``
    column) each cell shows a waveform (`thumbnails`); after ``analyze(table, video=True)`` (an
    ``av_offset_s`` column) it says how late the sound lands on the video (``sound 42.5 ms
    late``, marked unsure below `qubico_nb.audio.CONFIDENT`), or why that was not measured.
    """
    if isinstance(tasks_or_frame, pd.DataFrame):
        frame = tasks_or_frame.copy()
    else:
        client = client or default_client()
        frame = tabulate_tasks(tasks_or_frame, client=client, progress=False)
    if base_url is None and client is not None:
        base_url = client.base_url
    for name in (by, across):
        if name not in frame.columns:
            raise InvalidRequestError(
                f"no column {name!r} to compare by; choose from {', '.join(frame.columns)}"
            )
    limit_bytes = None if embed_limit_mb is None else int(embed_limit_mb * 1024 * 1024)

    def fetch(url: str, sink: BinaryIO, *, max_bytes: int) -> int:
        return (client or default_client()).fetch_file(url, sink, max_bytes=max_bytes)

    playback = Playback(base_url=base_url, fetch=fetch, limit_bytes=limit_bytes, embed_saved=embed)
    sources = _sources(
        frame, playback, saved_copies="local_path" in frame.columns and (local or embed)
    )
    embedder = playback.embedder
    notes: list[str] = []
    if embedder.skipped:
        warnings.warn(
            f"embedded files up to {embedder.limit_bytes / 2**20:.3g} MB; {embedder.skipped} "
            "more play from their URLs (raise embed_limit_mb to embed them too)",
            stacklevel=2,
        )
    if embed and not playback.saved_copies:
        warnings.warn(EMBED_NEEDS_DOWNLOAD, stacklevel=2)
        notes.append(EMBED_NEEDS_DOWNLOAD)
    if thumbnails and "peaks" not in frame.columns:
        warnings.warn(THUMBNAILS_NEED_PEAKS, stacklevel=2)
    return Comparison(
        frame,
        by=by,
        across=across,
        columns=columns,
        sources=sources,
        base_url=base_url,
        page_paths=playback.page_paths,
        thumbnails=thumbnails,
        notes=notes,
    )
