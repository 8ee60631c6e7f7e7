"""The board's front-end as the page gets it: one ES module joined from the files in
``static/board/`` in a fixed order (no build step), after the message table, and its style."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from . import protocol

STATIC = Path(__file__).resolve().parent.parent / "static"
BOARD = STATIC / "board"
#: The module's files, joined in this order: helpers first, the lifecycle hooks last. Each may
#: use what an earlier one defines; none imports (they become one module).
MODULE_FILES = (
    "dom.js",
    "keys.js",
    "verdicts.js",
    "draw.js",
    "playback.js",
    "session.js",
    "view.js",
    "main.js",
)
STYLE_FILE = "board.css"
#: The small module a saved notebook keeps: it asks the kernel for the rest.
LOADER = STATIC / "loader.js"


def board_code() -> dict[str, str]:
    """The board's ES module and CSS, with a version that changes when either does."""
    paths = [BOARD / name for name in (*MODULE_FILES, STYLE_FILE)]
    return _joined(tuple((p, p.stat().st_mtime_ns) for p in paths))


@functools.lru_cache(maxsize=2)
def _joined(stamped: tuple[tuple[Path, int], ...]) -> dict[str, str]:
    *modules, (style, _) = stamped
    parts = [protocol.js_prelude()]
    for path, _ in modules:
        parts.append(f"// ---- {path.name} ----\n{path.read_text('utf-8')}")
    js = "\n".join(parts)
    css = style.read_text("utf-8")
    version = hashlib.sha256((js + css).encode()).hexdigest()[:12]
    return {"js": js, "css": css, "version": version}
