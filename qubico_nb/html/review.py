"""The review board's static view: what a saved notebook shows where the widget cannot render
(GitHub, nbviewer). Built only from the board's synced state (already blind where it must be),
so it can reveal nothing the widget state does not."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from ..store.verdicts import MARK_FIELDS
from .core import display_label, esc, style

REVIEW_STYLE = style("review-static.css")
#: Columns of the static waveform image (two bytes of state each are drawn as one line).
REVIEW_SVG_COLUMNS = 84


def review_waveform_svg(peaks_b64: object, *, columns: int = REVIEW_SVG_COLUMNS) -> str:
    """A small inline SVG of a waveform from base64 int8 (min, max) pairs; '' if unreadable."""
    if not isinstance(peaks_b64, str) or not peaks_b64:
        return ""
    try:
        raw = base64.b64decode(peaks_b64, validate=True)
    except ValueError:
        return ""
    pairs = [
        (
            int.from_bytes(raw[i : i + 1], "big", signed=True),
            int.from_bytes(raw[i + 1 : i + 2], "big", signed=True),
        )
        for i in range(0, len(raw) - 1, 2)
    ]
    if not pairs:
        return ""
    step = max(1, -(-len(pairs) // columns))
    parts = []
    for x, start in enumerate(range(0, len(pairs), step)):
        chunk = pairs[start : start + step]
        low, high = min(p[0] for p in chunk), max(p[1] for p in chunk)
        top, bottom = 20 - high * 19 // 127, 20 - low * 19 // 127
        parts.append(f"M{x * 2} {top}V{max(bottom, top + 1)}")
    width = 2 * len(parts)
    return (
        f'<svg viewBox="0 0 {width} 40" preserveAspectRatio="none" role="img" '
        f'aria-label="waveform"><path d="{"".join(parts)}" '
        'stroke="currentColor" stroke-width="1.4" opacity="0.75"/></svg>'
    )


def review_board(
    rows: Sequence[dict[str, Any]],
    marks: dict[str, Any],
    *,
    title: object = "",
    scale: Sequence[float] = (1, 5),
    blind: bool = False,
    rater: object = "",
) -> str:
    """The static review board: per row its cards, each a waveform image (or why there is
    none) and the rater's verdict so far. Every text escaped."""
    low, high = (scale[0], scale[1]) if len(scale) == 2 else (1, 5)
    head = (
        f"<div><b>{esc(title or 'review')}</b> · rater {esc(rater)}"
        f"{' · blind' if blind else ''} · scale {esc(display_label(low))}–"
        f"{esc(display_label(high))}"
        " <i>(static view: run the notebook to listen and rate)</i></div>"
    )
    body: list[str] = []
    for row in rows:
        cards: list[str] = []
        for card in row.get("cards", []):
            mark = marks.get(str(card.get("key")), {}) if isinstance(marks, dict) else {}
            picture = (
                review_waveform_svg(card.get("peaks"))
                or f'<div class="qnb-rs-why">{esc(_why_no_waveform(card))}</div>'
            )
            verdict = [
                esc(text)
                for name, shown in MARK_FIELDS.items()
                if shown is not None and isinstance(mark, dict) and name in mark
                for text in [shown(mark[name])]
                if text
            ]
            cards.append(
                f'<div class="qnb-rs-card"><b>{esc(card.get("label"))}</b>'
                f'<div class="qnb-rs-why">{esc(card.get("detail"))}</div>{picture}'
                f'<div class="qnb-rs-v">{" · ".join(verdict) or "not rated"}</div></div>'
            )
        body.append(
            f'<div class="qnb-rs-row"><h4>{esc(row.get("label"))}</h4>'
            f'<div class="qnb-rs-cards">{"".join(cards)}</div></div>'
        )
    return f'{REVIEW_STYLE}<div class="qnb-rs">{head}{"".join(body)}</div>'


def _why_no_waveform(card: dict[str, Any]) -> object:
    if card.get("status") == "ready":  # measured with no peaks: a MUSHRA card, never drawn
        return "" if "duration" in card else "waveform not measured yet"
    return card.get("reason") or card.get("status")
