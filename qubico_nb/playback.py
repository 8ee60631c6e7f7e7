"""Where the browser gets a file: the one rule `TaskViewer`, `compare` and the board follow.

In this order, a file plays from:

1. its saved copy (from `download`), by a path relative to the notebook, where the notebook's
   server serves the notebook's folder (JupyterLab, Notebook 7) and the copy lies under it;
2. its saved copy's bytes in the page, where the host serves no files (Voila, VS Code, Colab),
   where the copy lies outside the notebook's folder, or when the caller asks (`embed_saved`);
3. the server's URL as it is, where the browser can reach it;
4. the hub's proxy path, for a URL on the kernel's loopback that jupyter-server-proxy forwards;
5. the server's bytes, fetched through the client and put in the page, where the browser cannot
   reach the kernel's loopback at all (a hub without jupyter-server-proxy, Colab, remote VS Code).

Bytes go into the page for audio only, within one budget per view (`EMBED_LIMIT_BYTES`: a
task in the viewer, a whole grid in `compare`). The host facts behind each step are
`qubico_nb._hosts`'s; the HTML layer checks every source again before it is put into ``src``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import _hosts
from ._constants import EMBED_LIMIT_BYTES as EMBED_LIMIT_BYTES
from .errors import QubicoError
from .html import audio_data_uri, media_url
from .models import WorkKind, guess_content_type

log = logging.getLogger("qubico_nb")

#: Writes a file's bytes into a sink, at most `max_bytes` of them (`Client.fetch_file`).
FetchFile = Callable[..., Any]


class Embedder:
    """Puts audio bytes into the page, within one budget shared by every file of a view."""

    def __init__(self, limit_bytes: int | None = None, fetch: FetchFile | None = None) -> None:
        self.limit_bytes = EMBED_LIMIT_BYTES if limit_bytes is None else limit_bytes
        self.left = self.limit_bytes
        #: Files left out: over the budget, or their bytes could not be fetched.
        self.skipped = 0
        self._fetch = fetch

    def saved(self, path: Path, content_type: str | None) -> str | None:
        """A saved file as a ``data:audio/...`` URI, or None when it does not fit the budget."""
        size = path.stat().st_size
        if size > self.left:
            self.skipped += 1
            return None
        self.left -= size
        return audio_data_uri(path.read_bytes(), content_type)

    def fetched(self, url: str, content_type: str | None) -> str | None:
        """The file at `url`, fetched through the client, as a ``data:audio/...`` URI; None when
        nothing may be fetched, it does not fit the budget, or it cannot be fetched."""
        if self._fetch is None:
            return None
        if self.left <= 0:
            self.skipped += 1
            return None
        sink = io.BytesIO()
        try:  # over the budget: ResponseTooLargeError, a QubicoError
            self._fetch(url, sink, max_bytes=self.left)
        except (QubicoError, OSError) as err:
            log.info("could not embed %s: %s", url[:200], type(err).__name__)
            self.skipped += 1
            return None
        data = sink.getvalue()
        self.left -= len(data)
        return audio_data_uri(data, content_type or guess_content_type(url))


class Playback:
    """The browser's source for each file of one view (a task, a grid), by the rule above.

    `base_url` resolves relative file URLs (the API's base; None: they are shown as text).
    `fetch` gets a loopback file's bytes where they must be embedded (`Client.fetch_file`;
    None: such files are not played). `embed_saved` puts every saved copy's bytes into the
    page. The host is read once, when the view is made.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        fetch: FetchFile | None = None,
        limit_bytes: int | None = None,
        embed_saved: bool = False,
    ) -> None:
        self.base_url = base_url
        self.embedder = Embedder(limit_bytes, fetch)
        self.page_paths = _hosts.page_paths()
        self._embed_saved = embed_saved or _hosts.local_file_plan() == "embed"
        self._as_is = _hosts.loopback_plays_as_is()
        #: Saved copies that exist, among those asked about.
        self.saved_copies = 0

    def source(
        self,
        url: object,
        *,
        saved_copy: str | None = None,
        kind: WorkKind | None = None,
        content_type: str | None = None,
    ) -> str | None:
        """What the browser loads for one file: a saved copy's path, a ``data:audio`` URI, an
        http(s) URL or a path under the hub's proxy; None when it can load nothing."""
        if saved_copy:
            found = self.saved(saved_copy, kind=kind, content_type=content_type)
            if found is not None:
                return found
        return self.served(url, kind=kind, content_type=content_type)

    def saved(
        self, path_text: str, *, kind: WorkKind | None = None, content_type: str | None = None
    ) -> str | None:
        """A saved copy by its path under the notebook's folder, or its bytes (steps 1-2)."""
        path = Path(path_text)
        if not path.is_file():
            return None
        self.saved_copies += 1
        if not self._embed_saved:
            relative = _relative_to_cwd(path)
            if relative is not None:
                return quote(relative)
        content_type = content_type or guess_content_type(path.name)
        if not _is_audio(kind, content_type):
            return None
        return self.embedder.saved(path, content_type)

    def served(
        self, url: object, *, kind: WorkKind | None = None, content_type: str | None = None
    ) -> str | None:
        """The server's file: its URL, the hub's proxy path, or its bytes (steps 3-5)."""
        if self._as_is:  # every file plays by its URL: one check, no plan per file
            return media_url(url, base_url=self.base_url, page_paths=self.page_paths)
        resolved = _hosts.resolve_url(url, self.base_url)
        if resolved is None:
            return None
        plan = _hosts.playback_plan(resolved)
        try:
            if plan == "proxy":
                return media_url(_hosts.proxied_url(resolved), page_paths=self.page_paths)
            if plan == "url":
                return media_url(resolved, page_paths=self.page_paths)
        except ValueError:  # urlsplit raises on some malformed URLs ("http://[::1")
            return None
        _hosts.warn_loopback_embedding(stacklevel=4)
        if not _is_audio(kind, content_type or guess_content_type(resolved)):
            return None
        return self.embedder.fetched(resolved, content_type)


def announce_embedding(base_url: str) -> None:
    """Warn now (in the user's cell) when the files of the API at `base_url` will be embedded,
    rather than later from a background thread that shows them."""
    if _hosts.playback_plan(base_url) == "embed":
        _hosts.warn_loopback_embedding(stacklevel=3)


def _is_audio(kind: WorkKind | None, content_type: str | None) -> bool:
    if kind is not None:
        return kind == "audio"
    return content_type is None or content_type.startswith("audio/")


def _relative_to_cwd(path: Path) -> str | None:
    """The path relative to the kernel's folder (where the notebook is), or None outside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return None


__all__ = ["EMBED_LIMIT_BYTES", "Embedder", "FetchFile", "Playback", "announce_embedding"]
