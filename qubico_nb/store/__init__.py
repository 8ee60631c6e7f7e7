"""What must outlive a kernel: finished tasks (SQLite), fetched files and review verdicts.

This package owns those files, their locking and their corruption handling; nothing else opens them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO

from .._constants import CACHE_DIR_ENV


def cache_root() -> Path:
    """``$QUBICO_NB_CACHE_DIR``, else the platform's user cache folder for ``qubico-nb``."""
    configured = os.environ.get(CACHE_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "qubico-nb" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "qubico-nb"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "qubico-nb"


def sandbox_tasks_file() -> Path:
    """Where the embedded and the demo sandboxes keep their tasks, so a restarted one knows
    them (see `qubico_nb.sandbox.Sandbox`'s ``tasks_file``)."""
    return cache_root() / "sandbox-tasks.jsonl"


def private_folder(path: Path) -> Path:
    """Make `path` (and its parents) if missing; every folder made here, on the way too, is for
    its owner only (0700), since what is cached came with the user's key (task answers, files).
    Folders that were already there are left as they are."""
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # another process made it in between, or it is not a folder
            if not folder.is_dir():
                raise
            continue
        folder.chmod(0o700)  # the umask may have taken bits away; never adds any
    return path


def private_file(path: Path) -> BinaryIO:
    """A new file at `path` opened for writing, readable by its owner only (0600); it must not
    exist yet (a link planted there is refused, never followed)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.fdopen(os.open(path, flags, 0o600), "wb")
