"""Progress bars: a notebook bar in Jupyter, text in a terminal, nothing when disabled."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm


def progress_bar(total: int, description: str, enabled: bool = True) -> Any:
    """A tqdm bar (tqdm.auto picks the widget bar in a kernel); disabled ones draw nothing."""
    return tqdm(
        total=total, desc=description, disable=not enabled or total == 0, leave=True, unit="task"
    )
