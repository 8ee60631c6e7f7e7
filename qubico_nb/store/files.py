"""The on-disk cache of fetched files, by URL: a generated file is fetched once per machine.

Each entry is ``<sha256 of the URL>.<ext>`` plus a ``.json`` sidecar holding the URL, size and
SHA-256 of the content, both written to a ``.part`` name and renamed, so a reader sees whole
entries or none. A read checks size and hash; a damaged entry is dropped and fetched again. The
folder is kept under ``max_bytes`` by removing the least recently used entries. When the folder
cannot be used at all, the cache warns once and keeps files in memory only (never a failure).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from .._constants import CACHE_DIR_ENV, MEDIA_TYPES
from . import cache_root, private_file, private_folder

#: The folder (under the cache root) that holds fetched files.
FILES_FOLDER = "files"
#: Entries beyond this many bytes in all are removed, least recently used first.
DEFAULT_MAX_BYTES = 1 << 30
_SIDECAR = ".json"
#: Partial files older than this are leftovers of a crashed writer.
_STALE_PART_S = 3600.0
_ENTRY_NAME = re.compile(r"^[0-9a-f]{64}\.")

Fetch = Callable[[str, BinaryIO], Any]


def default_files_dir() -> Path:
    """Where `FileCache` keeps files unless told otherwise: ``<cache root>/files``."""
    return cache_root() / FILES_FOLDER


def url_key(url: str) -> str:
    """The entry name of a URL: the SHA-256 of the whole URL (query included), in hex."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def _extension(url: str) -> str:
    """A known media extension from the URL's path (so a cached file opens in any player)."""
    suffix = Path(urlsplit(url).path).suffix.lower()
    return suffix if suffix in MEDIA_TYPES else ".bin"


class FileCache:
    """Fetched files on disk, keyed by URL; thread-safe and safe across processes.

    ``folder`` defaults to `default_files_dir` (read when the cache is made); ``max_bytes`` caps
    the folder's size (a file larger than the cap is returned but not kept).
    ``FileCache(enabled=False)`` keeps nothing on disk.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str] | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        enabled: bool = True,
    ) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.folder = Path(folder) if folder is not None else default_files_dir()
        self.max_bytes = max_bytes
        self.enabled = enabled
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._warned: set[str] = set()  # each kind of trouble is told once

    def __repr__(self) -> str:
        state = "" if self.enabled else ", disabled"
        return (
            f"FileCache({str(self.folder)!r}, max_bytes={self.max_bytes}{state}, "
            f"hits={self.hits}, misses={self.misses})"
        )

    # -- reading ---------------------------------------------------------------------------------
    def path(self, url: str) -> Path | None:
        """The cached file of `url` if there is a whole, unchanged one (it is not re-hashed)."""
        if not self.enabled:
            return None
        data_path, meta_path = self._paths(url)
        meta = self._read_meta(meta_path)
        if meta is None or meta.get("url") != url:
            return None
        try:
            if data_path.stat().st_size != meta.get("size"):
                return None
        except OSError:
            return None
        return data_path

    def get(self, url: str) -> bytes | None:
        """The cached bytes of `url`, or None; a damaged entry is removed (with one warning)."""
        if not self.enabled:
            return None
        data_path, meta_path = self._paths(url)
        meta = self._read_meta(meta_path)
        if meta is None:
            return None
        try:
            data = data_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            self._give_up(f"cannot read {data_path}: {err}")
            return None
        if (
            meta.get("url") != url
            or meta.get("size") != len(data)
            or meta.get("sha256") != hashlib.sha256(data).hexdigest()
        ):
            self._warn(
                "damaged",
                f"dropped a damaged entry of the file cache ({data_path.name}); "
                "it will be fetched again",
            )
            self._remove(url)
            return None
        with contextlib.suppress(OSError):
            os.utime(data_path)  # least recently used goes first
        return data

    def _read_meta(self, meta_path: Path) -> dict[str, Any] | None:
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable sidecar: the entry counts as damaged
        return meta if isinstance(meta, dict) else {}

    # -- writing ---------------------------------------------------------------------------------
    def put(self, url: str, data: bytes) -> Path | None:
        """Keep `data` as the file of `url`; returns its path, or None when it was not kept."""
        if not self.enabled or len(data) > self.max_bytes:
            return None
        data_path, meta_path = self._paths(url)
        meta = {
            "url": url,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "saved_at": time.time(),
        }
        try:
            private_folder(data_path.parent)
            _write_atomic(data_path, data)
            _write_atomic(meta_path, json.dumps(meta).encode("utf-8"))
        except OSError as err:
            self._give_up(f"cannot write to {self.folder}: {err}")
            return None
        self._trim(keep=data_path)
        return data_path

    def fetch(self, url: str, fetch: Fetch) -> bytes:
        """The bytes of `url`: from the cache, else streamed by ``fetch(url, sink)`` and kept.

        ``fetch`` is typically ``client.fetch_file``; its errors propagate and nothing is kept.
        """
        cached = self.get(url)
        if cached is not None:
            with self._lock:
                self.hits += 1
            return cached
        with self._lock:
            self.misses += 1
        sink = io.BytesIO()
        fetch(url, sink)
        data = sink.getvalue()
        self.put(url, data)
        return data

    def discard(self, url: str) -> None:
        """Forget the file of `url` (e.g. bytes that turned out not to be what was expected)."""
        if self.enabled:
            self._remove(url)

    def clear(self) -> None:
        """Remove every entry (and stray partial files) of this folder."""
        for entry in self._entries():
            entry.unlink(missing_ok=True)

    # -- housekeeping ----------------------------------------------------------------------------
    def _paths(self, url: str) -> tuple[Path, Path]:
        key = url_key(url)
        return self.folder / f"{key}{_extension(url)}", self.folder / f"{key}{_SIDECAR}"

    def _remove(self, url: str) -> None:
        for path in self._paths(url):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)

    def _entries(self) -> list[Path]:
        try:
            return [
                Path(entry.path)
                for entry in os.scandir(self.folder)
                if entry.is_file() and _ENTRY_NAME.match(entry.name)
            ]
        except OSError:
            return []

    def _trim(self, keep: Path) -> None:
        """Remove least recently used entries until the folder fits in ``max_bytes``."""
        sizes: dict[str, int] = {}
        used: dict[str, float] = {}
        files: dict[str, list[Path]] = {}
        for path in self._entries():
            try:
                info = path.stat()
            except OSError:
                continue
            if path.name.endswith(".part"):
                if time.time() - info.st_mtime > _STALE_PART_S:
                    with contextlib.suppress(OSError):
                        path.unlink(missing_ok=True)
                continue
            stem = path.name.split(".", 1)[0]
            files.setdefault(stem, []).append(path)
            sizes[stem] = sizes.get(stem, 0) + info.st_size
            if not path.name.endswith(_SIDECAR):
                used[stem] = info.st_mtime
        total = sum(sizes.values())
        if total <= self.max_bytes:
            return
        protected = keep.name.split(".", 1)[0]
        for stem in sorted(sizes, key=lambda s: used.get(s, 0.0)):
            if total <= self.max_bytes:
                break
            if stem == protected:
                continue
            for path in files[stem]:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            total -= sizes[stem]

    def _warn(self, kind: str, message: str) -> None:
        with self._lock:
            if kind in self._warned:
                return
            self._warned.add(kind)
        warnings.warn(message, RuntimeWarning, stacklevel=3)

    def _give_up(self, reason: str) -> None:
        """The folder cannot be used: say so once, and keep files in memory from now on."""
        self.enabled = False
        self._warn(
            "off",
            f"the file cache is off for this session ({reason}); files are kept in "
            f"memory only. Set {CACHE_DIR_ENV} to a writable folder to keep them.",
        )


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with private_file(partial) as handle:
            handle.write(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
