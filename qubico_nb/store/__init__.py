"""What must outlive a kernel: finished tasks (SQLite), fetched files and review verdicts.

This package owns those files, their locking and their corruption handling; nothing else opens them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

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


def private_folder(path: Path) -> Path:
    """Make `path` (and its parents) if missing; one we make is readable by its owner only, since
    what is cached came with the user's key (task answers, files)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
