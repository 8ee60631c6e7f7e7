"""`compare`: batches of generations side by side, as HTML that works without a kernel."""

from __future__ import annotations

import io
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
from .errors import InvalidRequestError, QubicoError
from .frames import ERROR_STATUS
from .models import Task, guess_content_type

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
        proxied: dict[Any, str] | None = None,
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
        #: What the grid shows: the frame, with loopback URLs as the hub's proxy serves them.
        self._shown = frame
        if proxied:
            self._shown = frame.copy()
            urls = self._shown["audio_url"].astype(object)
            for index, path in proxied.items():
                urls[index] = path
            self._shown["audio_url"] = urls

    def to_html(self) -> str:
        return html.compare_grid(
            self._shown,
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


def _relative_to_cwd(path_text: str) -> str | None:
    """The path relative to the kernel's folder (where the notebook is), or None if outside it."""
    path = Path(path_text).resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return None


class _Embedder:
    """Puts audio bytes into the page within one budget for the whole grid."""

    def __init__(self, limit_bytes: int, client: Client | None) -> None:
        self.limit_bytes = limit_bytes
        self.left = limit_bytes
        self.skipped = 0  # files left out: over the budget, or could not be fetched
        self._client = client

    def local(self, path: Path, content_type: str | None) -> str | None:
        size = path.stat().st_size
        if size > self.left:
            self.skipped += 1
            return None
        self.left -= size
        return html.audio_data_uri(path.read_bytes(), content_type)

    def remote(self, url: str, content_type: str | None) -> str | None:
        if self.left <= 0:
            self.skipped += 1
            return None
        client = self._client = self._client or default_client()
        sink = io.BytesIO()
        try:
            client.fetch_file(url, sink, max_bytes=self.left)
        except (QubicoError, OSError):
            self.skipped += 1
            return None
        self.left -= sink.tell()
        return html.audio_data_uri(sink.getvalue(), content_type or guess_content_type(url))


def _local_sources(
    frame: pd.DataFrame, embed: bool, embedder: _Embedder, sources: dict[Any, str]
) -> int:
    """Sources for the rows with a saved audio copy (from `download`); returns how many saved
    copies exist. A copy plays by its path where the host serves the notebook's folder, and is
    embedded where it does not (Voila, VS Code, Colab) or when `embed` asks."""
    found = 0
    embed_all = embed or _hosts.local_file_plan() == "embed"
    for index, path_text in frame["local_path"].items():
        if not isinstance(path_text, str) or not os.path.isfile(path_text):
            continue
        found += 1
        content_type = guess_content_type(path_text)
        if content_type is not None and not content_type.startswith("audio/"):
            continue  # a per-work table's image or video: the grid plays audio only
        if embed_all:
            source = embedder.local(Path(path_text), content_type)
        else:
            relative = _relative_to_cwd(path_text)  # None: outside what the server serves
            source = quote(relative) if relative is not None else None
        if source is not None:
            sources[index] = source
    return found


def _remote_sources(
    frame: pd.DataFrame, base_url: str | None, embedder: _Embedder, sources: dict[Any, str]
) -> dict[Any, str]:
    """Where the browser cannot load a file URL as it is (a sandbox on the kernel's loopback
    seen from a hub, Colab or a remote VS Code): the hub's proxied path (returned, by index) or
    the audio embedded into `sources`, as the viewer does (`_hosts.playback_plan`)."""
    proxied: dict[Any, str] = {}
    if "audio_url" not in frame.columns or _hosts.loopback_plays_as_is():
        return proxied
    kinds = frame["kind"].tolist() if "kind" in frame.columns else [None] * len(frame)
    for index, raw, kind in zip(frame.index, frame["audio_url"].tolist(), kinds, strict=True):
        if (
            index in sources
            or not isinstance(raw, str)
            or (isinstance(kind, str) and kind != "audio")
        ):
            continue
        url = _hosts.resolve_url(raw, base_url)
        if url is None:
            continue
        plan = _hosts.playback_plan(url)
        if plan == "proxy":
            proxied[index] = _hosts.proxied_url(url)
        elif plan == "embed":
            _hosts.warn_loopback_embedding(stacklevel=4)
            source = embedder.remote(url, None)
            if source is not None:
                sources[index] = source
    return proxied


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

    Players load nothing until played (``preload="none"``). With a ``local_path`` column (from
    `download`) they play the local copy (`local`): by its path when it lies under the notebook's
    folder and the host serves it (JupyterLab, Notebook 7), embedded where it does not (Voila,
    VS Code, Colab). `embed=True` embeds every local copy. Files a browser cannot reach by URL
    (a sandbox on the kernel's loopback, seen from a hub without jupyter-server-proxy) are
    embedded too, with one warning. All embedded files share one budget, `embed_limit_mb`
    (default 20 MB); the rest play from their URLs. Relative file URLs are resolved against
    `base_url` (default: `client`'s); without either they are shown as text. Rows that could
    not be fetched are listed under the grid. After `qubico_nb.audio.analyze` (a ``peaks``
    column) each cell shows a waveform (`thumbnails`).
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
    limit_bytes = (
        _hosts.EMBED_LIMIT_BYTES if embed_limit_mb is None else int(embed_limit_mb * 1024 * 1024)
    )
    embedder = _Embedder(limit_bytes, client)
    sources: dict[Any, str] = {}
    notes: list[str] = []
    found = 0  # local copies that exist
    if "local_path" in frame.columns and (local or embed):
        found = _local_sources(frame, embed, embedder, sources)
    proxied = _remote_sources(frame, base_url, embedder, sources)
    if embedder.skipped:
        warnings.warn(
            f"embedded files up to {limit_bytes / 2**20:.3g} MB; {embedder.skipped} "
            "more play from their URLs (raise embed_limit_mb to embed them too)",
            stacklevel=2,
        )
    if embed and not found:
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
        page_paths=_hosts.page_paths(),
        thumbnails=thumbnails,
        notes=notes,
        proxied=proxied,
    )
