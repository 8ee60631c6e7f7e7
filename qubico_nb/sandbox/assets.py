"""Files that ship with the sandbox (the CC0 demo clip), served under ``/assets/``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
#: The 8 s demo clip (made by scripts/make-demo-video; CC0, see assets/LICENSE).
DEMO_VIDEO = "demo.mp4"
#: Only these files are served: a fixed list, never a path built from a request.
SERVED = (DEMO_VIDEO,)


@lru_cache(maxsize=len(SERVED))
def asset_bytes(name: str) -> bytes | None:
    """The bytes of a shipped asset, read once; None for a name that is not one."""
    if name not in SERVED:
        return None
    path = ASSETS_DIR / name
    return path.read_bytes() if path.is_file() else None
