"""`compare`: batches of generations side by side, as HTML that works without a kernel."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from . import _hosts, html
from .batch import tabulate_tasks
from .client import Client
from .connection import default_client
from .errors import InvalidRequestError
from .frames import ERROR_STATUS
from .models import Task, guess_content_type

DEFAULT_COLUMNS = ("steps", "duration_s")
#: Embedding puts file bytes into the notebook: capped, and only on request.
DEFAULT_EMBED_LIMIT_MB = 20.0
#: What to do when `embed=True` finds no local copies to embed.
EMBED_NEEDS_DOWNLOAD = ("embed=True found no local copies to embed: run download(table) first, "
                        "then compare(downloaded_table, embed=True); playing from URLs for now")

#: What to do when `thumbnails=True` finds no waveforms to draw.
THUMBNAILS_NEED_PEAKS = ("thumbnails=True needs a 'peaks' column: run qubico_nb.analyze(table) "
                         "first, then compare(analyzed_table)")


class Comparison:
    """A grid of players: one row per `by` value, one column per `across` value."""

    def __init__(self, frame: pd.DataFrame, *, by: str, across: str, columns: Sequence[str],
                 sources: dict[Any, str], base_url: str | None = None,
                 page_paths: Sequence[str] = (), thumbnails: bool | None = None,
                 notes: Sequence[str] = ()) -> None:
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
        return html.compare_grid(self.frame, by=self.by, across=self.across,
                                 columns=self.columns, sources=self._sources,
                                 base_url=self.base_url, page_paths=self._page_paths,
                                 thumbnails=self.thumbnails, notes=self.notes)

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
        return shown.pivot_table(index=self.by, columns=self.across, values="status",
                                 aggfunc=lambda s: ",".join(map(str, s)), dropna=False)

    def __repr__(self) -> str:
        failed = len(self.failed)
        return (f"Comparison(by={self.by!r}, across={self.across!r}, {len(self.frame)} tasks"
                f"{f', {failed} could not be shown' if failed else ''})\n"
                f"{self.pivot().to_string() if not self.frame.empty else ''}")


def _relative_to_cwd(path_text: str) -> str | None:
    """The path relative to the kernel's folder (where the notebook is), or None if outside it."""
    path = Path(path_text).resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return None


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
    embed_limit_mb: float = DEFAULT_EMBED_LIMIT_MB,
    thumbnails: bool | None = None,
) -> Comparison:
    """Compare generations side by side: rows by `by` (e.g. prompt), columns `across` (seed,
    steps, model, or any column).

    Players load nothing until played (``preload="none"``). With a ``local_path`` column (from
    `download`) they play the local copy (`local`) when it lies under the notebook's folder, where
    Jupyter can serve it; `embed=True` puts file bytes into the page, up to `embed_limit_mb`.
    Relative file URLs are resolved against `base_url` (default: `client`'s); without either they
    are shown as text. Rows that could not be fetched are listed under the grid. After
    `qubico_nb.audio.analyze` (a ``peaks`` column) each cell shows a waveform (`thumbnails`).
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
                f"no column {name!r} to compare by; choose from {', '.join(frame.columns)}")
    sources: dict[Any, str] = {}
    notes: list[str] = []
    found = 0  # local copies that exist
    if "local_path" in frame.columns and (local or embed):
        budget = int(embed_limit_mb * 1024 * 1024)
        skipped = 0
        for index, path_text in frame["local_path"].items():
            if not isinstance(path_text, str) or not os.path.isfile(path_text):
                continue
            found += 1
            content_type = guess_content_type(path_text)
            if content_type is not None and not content_type.startswith("audio/"):
                continue  # a per-work table's image or video: the grid plays audio only
            if embed:
                size = Path(path_text).stat().st_size
                if size > budget:
                    skipped += 1
                    continue
                budget -= size
                sources[index] = html.audio_data_uri(Path(path_text).read_bytes(),
                                                     content_type)
            else:
                relative = _relative_to_cwd(path_text)
                if relative is not None:  # the notebook's server can serve it
                    sources[index] = quote(relative)
        if skipped:
            warnings.warn(f"embedded files up to {embed_limit_mb:g} MB; {skipped} more play "
                          "from their URLs (raise embed_limit_mb to embed them too)",
                          stacklevel=2)
    if embed and not found:
        warnings.warn(EMBED_NEEDS_DOWNLOAD, stacklevel=2)
        notes.append(EMBED_NEEDS_DOWNLOAD)
    if thumbnails and "peaks" not in frame.columns:
        warnings.warn(THUMBNAILS_NEED_PEAKS, stacklevel=2)
    return Comparison(frame, by=by, across=across, columns=columns, sources=sources,
                      base_url=base_url, page_paths=_hosts.page_paths(), thumbnails=thumbnails,
                      notes=notes)
