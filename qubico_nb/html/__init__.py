"""Every HTML string qubico_nb shows is built in this package, from Tasks, frames or a widget's
state: pure functions, one place to audit for injection.

- `core`: escaping, URL checks and the text rules every view shares (read it first);
- `task`: the task card (the viewer and its static view);
- `grid`: the compare grid;
- `review`: the review board's static view.

Each view's CSS is a file beside its module.
"""

from __future__ import annotations

from .core import (
    SHORT_TEXT_CHARS,
    absolute_media_url,
    audio_data_uri,
    display_label,
    error_box,
    esc,
    inline_image,
    is_na,
    local_source,
    media_url,
    player_source,
    shorten,
)
from .grid import COMPARE_STYLE, compare_grid, sync_line, sync_text, waveform_svg
from .review import review_board, review_waveform_svg
from .task import (
    VIEWER_STYLE,
    duration_text,
    local_time_text,
    metadata_table,
    status_badge,
    task_card,
    times_line,
    viewer_player,
    work_label,
)

__all__ = [
    "COMPARE_STYLE",
    "SHORT_TEXT_CHARS",
    "VIEWER_STYLE",
    "absolute_media_url",
    "audio_data_uri",
    "compare_grid",
    "display_label",
    "duration_text",
    "error_box",
    "esc",
    "inline_image",
    "is_na",
    "local_source",
    "local_time_text",
    "media_url",
    "metadata_table",
    "player_source",
    "review_board",
    "review_waveform_svg",
    "shorten",
    "status_badge",
    "sync_line",
    "sync_text",
    "task_card",
    "times_line",
    "viewer_player",
    "waveform_svg",
    "work_label",
]
