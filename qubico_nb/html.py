"""Every HTML string qubico_nb shows is built here, from Tasks or frames. Pure functions.

The one place to audit for injection: every text goes through `esc`, every media or link URL
through `media_url` (http(s) or a relative path only; quotes and brackets percent-encoded).
"""

from __future__ import annotations

import base64
import html as _html
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import pandas as pd

from .frames import task_metadata
from .models import Task, Work

STATUS_COLOURS = {
    "pending": "#8a6d00", "staged": "#8a6d00", "processing": "#1f5fbf",
    "completed": "#1e7b34", "failed": "#b3261e", "error": "#b3261e", "unknown": "#555555",
}

STYLE = """<style>
.qnb-card{font-family:var(--jp-ui-font-family,sans-serif);font-size:13px}
.qnb-badge{display:inline-block;padding:1px 8px;border-radius:9px;color:#fff;font-weight:600}
.qnb-meta-table{border-collapse:collapse;margin:4px 0}
.qnb-meta-table td,.qnb-meta-table th{border:1px solid #ddd;padding:2px 6px;text-align:left;
vertical-align:top;max-width:40em;overflow-wrap:anywhere}
.qnb-error{color:#b3261e;white-space:pre-wrap}
.qnb-compare{border-collapse:collapse}
.qnb-compare td,.qnb-compare th{border:1px solid #ddd;padding:4px;vertical-align:top}
.qnb-cell-meta{color:#555;font-size:11px}
</style>"""


def esc(value: object) -> str:
    """Escaped text for HTML content or a quoted attribute; None and NA become ''."""
    if _is_na(value):
        return ""
    return _html.escape(str(value), quote=True)


def media_url(url: object) -> str | None:
    """`url` made safe for a ``src``/``href``: http(s) or relative only, else None."""
    if not isinstance(url, str) or not url.strip():
        return None
    text = url.strip()
    scheme = urlsplit(text).scheme.lower()
    if scheme not in ("", "http", "https"):
        return None
    if not scheme and text.startswith("//"):
        return None  # protocol-relative: would follow the page to any host
    # Percent-encode what could end an attribute or open a tag; keep URL syntax intact.
    return quote(text, safe="/:?#[]@!$&()*+,;=%-._~")


def status_badge(status: str | None) -> str:
    name = (status or "unknown").lower()
    colour = STATUS_COLOURS.get(name, STATUS_COLOURS["unknown"])
    return (f'<span class="qnb-badge qnb-badge-{esc(name)}" '
            f'style="background:{colour}">{esc(name)}</span>')


def link(url: object, text: object) -> str:
    safe = media_url(url)
    if safe is None:
        return esc(text)
    return f'<a href="{esc(safe)}" target="_blank" rel="noopener noreferrer">{esc(text)}</a>'


def audio_player(url: object, *, preload: str = "none", title: object = None) -> str:
    """An ``<audio>`` element (with a link as fallback); empty text for an unsafe URL."""
    safe = media_url(url) if not _is_embedded(url) else str(url)
    if safe is None:
        return '<span class="qnb-error">no playable audio URL</span>'
    label = f' title="{esc(title)}"' if title else ""
    return (f'<audio class="qnb-audio" controls preload="{esc(preload)}" src="{esc(safe)}"'
            f'{label}>{link(safe if not _is_embedded(url) else None, "audio file")}</audio>')


def video_player(url: object, *, preload: str = "none") -> str:
    safe = media_url(url)
    if safe is None:
        return '<span class="qnb-error">no playable video URL</span>'
    return (f'<video class="qnb-video" controls preload="{esc(preload)}" width="320" '
            f'src="{esc(safe)}">{link(safe, "video file")}</video>')


def work_player(work: Work, *, preload: str = "none") -> str:
    if work.kind == "audio":
        return audio_player(work.playable_url, preload=preload)
    if work.kind == "video":
        return video_player(work.playable_url, preload=preload)
    if work.kind == "image":
        safe = media_url(work.playable_url)
        return f'<img src="{esc(safe)}" width="240" alt="generated image">' if safe else ""
    return link(work.playable_url, "generated file")


def audio_data_uri(data: bytes, content_type: str | None = "audio/wav") -> str:
    """File bytes as a ``data:audio/...`` URI (only ever on request: it grows the notebook)."""
    mime = content_type if content_type and content_type.startswith("audio/") else "audio/wav"
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def embedded_audio(data: bytes, content_type: str = "audio/wav") -> str:
    """A player whose bytes live in the page."""
    return audio_player(audio_data_uri(data, content_type), preload="auto")


def _is_embedded(url: object) -> bool:
    return isinstance(url, str) and url.startswith("data:audio/") and ";base64," in url


def error_box(message: object) -> str:
    return f'<div class="qnb-error">{esc(message)}</div>' if message else ""


def table(frame: pd.DataFrame, *, css_class: str = "qnb-meta-table", header: bool = True) -> str:
    """A frame as an escaped HTML table (every header and cell escaped)."""
    head = ""
    if header:
        head = "<thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in frame.columns) + \
               "</tr></thead>"
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False, name=None)
    )
    return f'<table class="{esc(css_class)}">{head}<tbody>{body}</tbody></table>'


def metadata_table(task: Task) -> str:
    return table(task_metadata(task), header=False)


def times_line(task: Task) -> str:
    def fmt(seconds: float | None) -> str:
        return "–" if seconds is None else f"{seconds:.1f} s"

    return (f'<span class="qnb-times">queued {esc(fmt(task.queued_s))} · '
            f'ran {esc(fmt(task.ran_s))}</span>')


def task_card(task: Task | None, *, players: bool = True) -> str:
    """A static view of one task (the fallback where no widget can render): badge, table, files."""
    if task is None:
        return f'{STYLE}<div class="qnb-card qnb-viewer">no task loaded</div>'
    parts = [STYLE, '<div class="qnb-card qnb-viewer">',
             f"<div><b>Task</b> <code>{esc(task.id)}</code> {status_badge(task.status.value)} "
             f"{times_line(task)}</div>"]
    if task.error:
        parts.append(error_box(task.error.message))
    parts.append(f'<div class="qnb-meta">{metadata_table(task)}</div>')
    for index, work in enumerate(task.works):
        inner = work_player(work) if players else ""
        parts.append(f'<div class="qnb-player">{inner} '
                     f'{link(work.playable_url, f"file {index + 1}")}</div>')
    parts.append("</div>")
    return "".join(parts)


def compare_grid(
    frame: pd.DataFrame,
    *,
    by: str,
    across: str,
    columns: Sequence[str] = (),
    sources: dict[Any, str] | None = None,
) -> str:
    """One row per value of `by`, one column per value of `across`; each cell players + facts.

    `sources` maps a frame index to a player source to use instead of the row's URL (a local
    file or embedded bytes).
    """
    groups = _ordered(frame[by]) if len(frame) else []
    variants = _ordered(frame[across]) if len(frame) else []
    head = f"<tr><th>{esc(by)} \\ {esc(across)}</th>" + "".join(
        f"<th>{esc(_label(v))}</th>" for v in variants) + "</tr>"
    body: list[str] = []
    for group in groups:
        cells = [f"<th>{esc(_label(group))}</th>"]
        in_group = frame[_matches(frame[by], group)]
        for variant in variants:
            hits = in_group[_matches(in_group[across], variant)]
            cells.append("<td>" + ("".join(
                _cell(index, row, columns, sources) for index, row in hits.iterrows()
            ) or "—") + "</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'{STYLE}<table class="qnb-card qnb-compare"><thead>{head}</thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _cell(index: Any, row: pd.Series, columns: Iterable[str],
          sources: dict[Any, str] | None) -> str:
    source = (sources or {}).get(index)
    url = row.get("audio_url")
    status = row.get("status")
    if source is not None:
        player = audio_player(source, preload="none")
    elif isinstance(url, str) and url:
        player = audio_player(url, preload="none")
    else:
        player = error_box(row.get("error") or f"no audio ({esc(status)})")
    facts = " · ".join(f"{esc(c)}={esc(_label(row.get(c)))}" for c in columns if c in row)
    return (f'<div class="qnb-player">{player}'
            f'<div class="qnb-cell-meta">{status_badge(str(status) if status else None)} '
            f"{facts}</div></div>")


def _ordered(series: pd.Series) -> list[Any]:
    """Distinct values in first-seen order, NA last (as one value)."""
    seen: list[Any] = []
    has_na = False
    for value in series:
        if _is_na(value):
            has_na = True
        elif value not in seen:
            seen.append(value)
    return seen + ([None] if has_na else [])


def _matches(series: pd.Series, value: Any) -> pd.Series:
    if value is None:
        return series.isna()
    return (series == value).fillna(False).astype(bool)


def _is_na(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return value is None
    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def _label(value: Any) -> str:
    if _is_na(value):
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# -- review board: static view --
# What a saved notebook shows where the review widget cannot render (GitHub, nbviewer): the
# board's synced state (already blind where it must be) as a grid of waveform images and
# verdicts. Built only from that state, so it can reveal nothing the widget state does not.

REVIEW_STYLE = """<style>
.qnb-rs{font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;
color:var(--jp-ui-font-color1,#1a1a1a)}
.qnb-rs-row{margin:6px 0}.qnb-rs-row>h4{margin:2px 0;font-size:13px}
.qnb-rs-cards{display:flex;flex-wrap:wrap;gap:6px}
.qnb-rs-card{border:1px solid var(--jp-border-color1,#8a8a8a);border-radius:4px;padding:4px;
width:176px}
.qnb-rs-card svg{display:block;width:168px;height:40px}
.qnb-rs-why{color:var(--jp-ui-font-color2,#555);font-size:12px}
.qnb-rs-v{font-size:12px}
</style>"""
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
    pairs = [(int.from_bytes(raw[i:i + 1], "big", signed=True),
              int.from_bytes(raw[i + 1:i + 2], "big", signed=True))
             for i in range(0, len(raw) - 1, 2)]
    if not pairs:
        return ""
    step = max(1, -(-len(pairs) // columns))
    parts = []
    for x, start in enumerate(range(0, len(pairs), step)):
        chunk = pairs[start:start + step]
        low, high = min(p[0] for p in chunk), max(p[1] for p in chunk)
        top, bottom = 20 - high * 19 // 127, 20 - low * 19 // 127
        parts.append(f"M{x * 2} {top}V{max(bottom, top + 1)}")
    width = 2 * len(parts)
    return (f'<svg viewBox="0 0 {width} 40" preserveAspectRatio="none" role="img" '
            f'aria-label="waveform"><path d="{"".join(parts)}" '
            'stroke="currentColor" stroke-width="1.4" opacity="0.75"/></svg>')


def review_board(rows: Sequence[dict[str, Any]], marks: dict[str, Any], *, title: object = "",
                 scale: Sequence[float] = (1, 5), blind: bool = False,
                 rater: object = "") -> str:
    """The static review board: per row its cards, each a waveform image (or why there is
    none) and the rater's verdict so far. Every text escaped."""
    low, high = (scale[0], scale[1]) if len(scale) == 2 else (1, 5)
    head = (f"<div><b>{esc(title or 'review')}</b> · rater {esc(rater)}"
            f"{' · blind' if blind else ''} · scale {esc(_label(low))}–{esc(_label(high))}"
            " <i>(static view: run the notebook to listen and rate)</i></div>")
    body: list[str] = []
    for row in rows:
        cards: list[str] = []
        for card in row.get("cards", []):
            mark = marks.get(str(card.get("key")), {}) if isinstance(marks, dict) else {}
            picture = review_waveform_svg(card.get("peaks")) or \
                f'<div class="qnb-rs-why">{esc(card.get("reason") or card.get("status"))}</div>'
            verdict = []
            if isinstance(mark, dict):
                if mark.get("score") is not None:
                    verdict.append(f"score {esc(_label(mark.get('score')))}")
                if mark.get("best"):
                    verdict.append("★ best")
                if mark.get("note"):
                    verdict.append(f"“{esc(mark.get('note'))}”")
            cards.append(
                f'<div class="qnb-rs-card"><b>{esc(card.get("label"))}</b>'
                f'<div class="qnb-rs-why">{esc(card.get("detail"))}</div>{picture}'
                f'<div class="qnb-rs-v">{" · ".join(verdict) or "not rated"}</div></div>')
        body.append(f'<div class="qnb-rs-row"><h4>{esc(row.get("label"))}</h4>'
                    f'<div class="qnb-rs-cards">{"".join(cards)}</div></div>')
    return f'{REVIEW_STYLE}<div class="qnb-rs">{head}{"".join(body)}</div>'
