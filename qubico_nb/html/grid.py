"""The compare grid: a row per value of `by`, a column per value of `across`, a player per task."""

from __future__ import annotations

import html as _html
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._constants import SYNC_CONFIDENT
from ..frames import ERROR_STATUS
from ..models import Status, file_extension
from .core import (
    display_label,
    ellipsize,
    esc,
    inline_image,
    media_url,
    player_source,
    style,
    unplayable_reason,
    url_as_text,
)

#: The compare grid's rules (compare.css). Text uses JupyterLab's font colours (4.5:1 or more on
#: its light and dark backgrounds, see tests/test_html_grid.py) and inherits the host's colour
#: elsewhere; red marks problems only as a border, never as the colour of text.
COMPARE_STYLE = style("compare.css")

#: A header or accessible name is cut to this many characters (a prompt can be megabytes).
_LABEL_LIMIT = 300
_ARIA_LIMIT = 80


def compare_grid(
    frame: pd.DataFrame,
    *,
    by: str,
    across: str,
    columns: Sequence[str] = (),
    sources: dict[Any, str] | None = None,
    base_url: str | None = None,
    page_paths: Sequence[str] = (),
    thumbnails: bool | None = None,
    notes: Sequence[str] = (),
) -> str:
    """One row per value of `by`, one column per value of `across`; each cell a player per task.

    Headers say what they are (``seed = 1``); the row's value is in its header, never repeated in
    a cell, and a fact every task shares is said once above the grid. A row that could not be
    fetched (status ``error``) is listed under the grid instead of getting a row and a column.
    `sources` maps a frame index to the source `qubico_nb.playback` chose for it (checked
    again by `player_source`), used instead of the row's URL; `base_url` and `page_paths` go to
    `media_url`. With a ``peaks`` column (from `qubico_nb.audio.analyze`) each cell gets a
    waveform unless `thumbnails` is False. `notes` are shown under the grid, escaped.
    """
    size = len(frame)
    present = set(frame.columns)

    def values(name: str) -> list[Any]:
        return _values(frame[name]) if name in present else [None] * size

    status = [str(v).lower() if v is not None else "unknown" for v in values("status")]
    ids, errors, urls = values("task_id"), values("error"), values("audio_url")
    kinds = values("kind")  # per-work frames say what a file is
    outputs, output_kinds = values("output_url"), values("output_kind")
    rows_by, cols_by = values(by), values(across)
    peaks = values("peaks") if thumbnails is not False and "peaks" in present else None
    synced = "av_offset_s" in present  # measured by analyze(video=True)
    offsets, confidences = values("av_offset_s"), values("av_sync_confidence")
    sync_errors = values("av_sync_error")
    labels = frame.index.tolist()
    facts = [c for c in dict.fromkeys(columns) if c in present and c not in (by, across)]
    fact_values = {c: values(c) for c in facts}

    grid: dict[Any, dict[Any, list[int]]] = {}
    variants: dict[Any, Any] = {}
    failed_rows: list[int] = []
    for i in range(size):
        if status[i] == ERROR_STATUS:
            failed_rows.append(i)
            continue
        column_key = _key(cols_by[i])
        variants.setdefault(column_key, cols_by[i])
        grid.setdefault(_key(rows_by[i]), {}).setdefault(column_key, []).append(i)
    shown = size - len(failed_rows)
    row_keys, column_keys = _na_last(grid), _na_last(variants)
    first_row = {key: cells[next(iter(cells))][0] for key, cells in grid.items()}

    # A fact every shown task shares is said once, in the caption.
    common: list[str] = []
    if shown > 1:
        for name in list(facts):
            distinct = {
                _key(v) for i, v in enumerate(fact_values[name]) if status[i] != ERROR_STATUS
            }
            if len(distinct) == 1:
                facts.remove(name)
                (only,) = distinct
                if only is not None:  # a fact no task has is not worth a line
                    common.append(
                        _fact(
                            name,
                            next(
                                v
                                for i, v in enumerate(fact_values[name])
                                if status[i] != ERROR_STATUS
                            ),
                        )
                    )

    out: list[str] = [COMPARE_STYLE, '<div class="qnb-card">', '<table class="qnb-compare">']
    if common:
        out.append(f"<caption>every task: {' · '.join(common)}</caption>")
    out.append("<thead><tr><td></td>")
    out.extend(f'<th scope="col">{_fact(across, variants[k])}</th>' for k in column_keys)
    out.append("</tr></thead><tbody>")
    sources = sources or {}
    said_and_written: dict[tuple[str, type, Any], tuple[str, str]] = {}

    def described(name: str, value: Any) -> tuple[str, str]:
        """A fact as a screen reader says it (``steps 20``) and as it is shown (escaped)."""
        memo_key = (name, type(value), _key(value))
        found = said_and_written.get(memo_key)
        if found is None:
            written = _fact(name, value, limit=_ARIA_LIMIT)
            found = said_and_written[memo_key] = (
                _html.unescape(written).replace(" = ", " ", 1),
                written,
            )
        return found

    for row_key in row_keys:
        row_value = rows_by[first_row[row_key]]
        out.append(f'<tr><th scope="row">{_fact(by, row_value, limit=_LABEL_LIMIT)}</th>')
        row_name = ellipsize(display_label(row_value), _ARIA_LIMIT)
        cells = grid[row_key]
        for column_key in column_keys:
            members = cells.get(column_key)
            if not members:
                out.append('<td class="qnb-empty">—</td>')
                continue
            out.append("<td>")
            column_name = f"{across} {ellipsize(display_label(variants[column_key]), _ARIA_LIMIT)}"
            for i in members:
                spoken, shown_facts = [row_name, column_name], []
                for name in facts:
                    value = fact_values[name][i]
                    if value is not None:
                        said, written = described(name, value)
                        spoken.append(said)
                        shown_facts.append(written)
                aria = ", ".join(spoken)
                player = _cell_player(
                    status[i],
                    urls[i],
                    errors[i],
                    sources.get(labels[i]),
                    f"audio: {aria}",
                    base_url,
                    page_paths,
                    kinds[i],
                ) or _cell_output(
                    status[i], outputs[i], output_kinds[i] or kinds[i], aria, base_url, page_paths
                )
                wave = (
                    waveform_svg(peaks[i], width=220, label=f"waveform: {aria}")
                    if peaks is not None
                    else ""
                )
                meta = (
                    f'<div class="qnb-facts">{" · ".join(shown_facts)}</div>' if shown_facts else ""
                )
                if synced:
                    meta += sync_line(offsets[i], confidences[i], sync_errors[i])
                out.append(f"<div>{wave}{player}{meta}</div>")
            out.append("</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    problems = [
        f"<li>could not show: <code>{esc(ellipsize(display_label(ids[i]), _LABEL_LIMIT))}</code>: "
        f"{esc(ellipsize(str(errors[i]), 2000) if errors[i] is not None else 'no reason')}"
        "</li>"
        for i in failed_rows
    ]
    problems.extend(f"<li>{esc(note)}</li>" for note in notes)
    if problems:
        out.append(f'<ul class="qnb-notes">{"".join(problems)}</ul>')
    out.append("</div>")
    return "".join(out)


def sync_line(offset: Any, confidence: Any, error: Any) -> str:
    """How late the sound lands on its video (``sound 42.5 ms late``), marked unsure under
    `SYNC_CONFIDENT`; why there is no offset when there is none (empty without either)."""
    if not _number(offset):
        return (
            f'<div class="qnb-facts qnb-sync">sync: {esc(ellipsize(str(error), 200))}</div>'
            if error is not None
            else ""
        )
    sure = float(confidence) if _number(confidence) else 0.0
    title = f"av_offset_s {float(offset):+.3f}, confidence {sure:.2f}"
    text = sync_text(offset, confidence)
    return f'<div class="qnb-facts qnb-sync" title="{esc(title)}">{esc(text)}</div>'


#: Offsets beyond this (seconds) are no measurement of ours: said as such, not as 300 digits.
_SYNC_SHOWN_MAX_S = 60.0


def sync_text(offset: Any, confidence: Any) -> str | None:
    """An offset as every view says it (``sound 42.5 ms late``, ``(unsure)`` under
    `SYNC_CONFIDENT`); None when there is no finite offset."""
    if not _number(offset):
        return None
    ms = float(offset) * 1000
    if abs(ms) > _SYNC_SHOWN_MAX_S * 1000:
        return "sound offset out of range"
    text = f"sound {abs(ms):.1f} ms {'late' if ms > 0 else 'early'}" if round(ms, 1) else "in sync"
    sure = float(confidence) if _number(confidence) else 0.0
    return text + " (unsure)" if sure < SYNC_CONFIDENT else text


def _number(value: Any) -> bool:
    return (
        isinstance(value, (int, float, np.number))
        and not isinstance(value, bool)
        and bool(np.isfinite(value))
    )


def _cell_player(
    status: str,
    url: Any,
    error: Any,
    source: Any,
    label: str,
    base_url: str | None,
    page_paths: Sequence[str],
    kind: Any = None,
) -> str:
    """The player of one task in a cell, or why there is none (pending, failed, no audio)."""
    chosen = player_source(source, page_paths=page_paths) if source is not None else None
    if chosen is not None:
        return _audio_tag(chosen, label=label)
    if isinstance(url, str) and url:
        safe = media_url(url, base_url=base_url, page_paths=page_paths)
        if safe is not None:
            return _audio_tag(safe, label=label)
        return _unplayable(url, "audio", base_url)
    if error is not None:
        return f'<div class="qnb-why">{esc(status)}: {esc(ellipsize(str(error), 2000))}</div>'
    if Status.parse(status).is_running:
        return f'<div class="qnb-why qnb-wait">{esc(status)}: no audio yet</div>'
    return ""


def _cell_output(
    status: str,
    url: Any,
    kind: Any,
    aria: str,
    base_url: str | None,
    page_paths: Sequence[str],
) -> str:
    """A task's first file when it has no audio: an image, a video, or a link to anything else,
    by the same URL rules as audio; or why there is nothing to show."""
    kind = str(kind) if kind is not None else "file"
    if not isinstance(url, str) or not url or kind == "audio":  # audio plays from audio_url
        return f'<div class="qnb-why">{esc(status)}: no audio file</div>'
    safe = media_url(url, base_url=base_url, page_paths=page_paths)
    if kind == "image":
        safe = safe or inline_image(url)
    if safe is None:
        return _unplayable(url, kind, base_url)
    label = esc(f"{kind}: {aria}")
    if kind == "image":
        return f'<img class="qnb-image" src="{esc(safe)}" width="200" alt="{label}">'
    if kind == "video":
        return (
            f'<video controls preload="none" width="240" src="{esc(safe)}" '
            f'aria-label="{label}"></video>'
        )
    ext = file_extension(url)
    return (
        f'<a href="{esc(safe)}" target="_blank" rel="noopener noreferrer" '
        f'aria-label="{label}">{esc(ext[1:] if ext else kind)} file</a>'
    )


def _audio_tag(src: str, *, preload: str = "none", label: object = None) -> str:
    """The element for a `src` that is already safe (checked, or built by us)."""
    name = f' aria-label="{esc(label)}"' if label else ""
    return f'<audio controls preload="{esc(preload)}" src="{esc(src)}"{name}></audio>'


def _unplayable(url: object, kind: str, base_url: str | None) -> str:
    if not isinstance(url, str) or not url.strip():
        return f'<span class="qnb-why">no playable {esc(kind)} URL</span>'
    return (
        f'<span class="qnb-why">{esc(kind)} not played: '
        f"{esc(unplayable_reason(url, base_url=base_url))} {url_as_text(url)}</span>"
    )


def waveform_svg(peaks: Any, *, width: int = 160, height: int = 32, label: str = "") -> str:
    """A small inline SVG of a waveform from (min, max) pairs scaled to -127..127.

    One ``<path>`` of vertical bars, one per 2 pixels, integer coordinates in relative moves, so
    a thumbnail stays under ~1 KB. Empty text for missing or malformed peaks.
    """
    if peaks is None or width < 2 or height < 2:
        return ""
    try:
        pairs = np.asarray(peaks, dtype=np.float64)
    except (TypeError, ValueError):
        return ""
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) == 0 or not np.isfinite(pairs).all():
        return ""
    pairs = np.clip(pairs, -127, 127)
    bars = max(1, min(len(pairs), width // 2))
    starts = (np.arange(bars) * len(pairs)) // bars
    low = np.minimum.reduceat(np.minimum(pairs[:, 0], pairs[:, 1]), starts)
    high = np.maximum.reduceat(np.maximum(pairs[:, 0], pairs[:, 1]), starts)
    middle, scale = height / 2, (height / 2 - 1) / 127
    tops = np.rint(middle - high * scale).astype(int)
    bottoms = np.maximum(np.rint(middle - low * scale).astype(int), tops + 1)
    step = width / bars
    xs = np.rint(np.arange(bars) * step + step / 2).astype(int)
    commands = [f"M{xs[0]} {tops[0]}v{bottoms[0] - tops[0]}"]
    for i in range(1, bars):
        commands.append(f"m{xs[i] - xs[i - 1]} {tops[i] - bottoms[i - 1]}v{bottoms[i] - tops[i]}")
    path = "".join(commands).replace(" -", "-")
    name = f' aria-label="{esc(ellipsize(label, _ARIA_LIMIT + 20))}"' if label else ""
    return (
        f'<svg class="qnb-wave" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img"{name}>'
        f'<path d="{path}" fill="none" stroke="currentColor" stroke-width="1.5"/></svg>'
    )


def _values(series: pd.Series) -> list[Any]:
    """A column as a list with every missing value (None, NaN, NA, NaT) as None."""
    missing = series.isna().tolist()
    return [None if gone else value for value, gone in zip(series.tolist(), missing, strict=True)]


def _key(value: Any) -> Any:
    """A dict key for a cell value (unhashable values by their text)."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _na_last(keyed: dict[Any, Any]) -> list[Any]:
    """Keys in first-seen order, the missing value (None) last."""
    keys = [k for k in keyed if k is not None]
    return keys + ([None] if None in keyed else [])


def _fact(name: str, value: Any, *, limit: int = _LABEL_LIMIT) -> str:
    """``name = value`` (escaped); ``duration_s`` reads ``duration = 0.2 s``."""
    if name.endswith("_s") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{esc(name[:-2])} = {value:.1f} s"
    return f"{esc(name)} = {esc(ellipsize(display_label(value), limit))}"
