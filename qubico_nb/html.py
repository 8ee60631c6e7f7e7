"""Every HTML string qubico_nb shows is built here, from Tasks or frames. Pure functions.

The one place to audit for injection: every text goes through `esc`, every media or link URL
through `media_url` (http(s) or a relative path only; quotes and brackets percent-encoded).
"""

from __future__ import annotations

import base64
import html as _html
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import pandas as pd

from .frames import short_video
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
    """The status as a coloured pill (white text on each colour: at least 4.5:1)."""
    name = shorten((status or "unknown").lower(), 40)
    colour = STATUS_COLOURS.get(name, STATUS_COLOURS["unknown"])
    return (f'<span class="qnb-badge qnb-badge-{esc(name)}" title="status" '
            f'style="background:{colour};color:#fff">'
            f'{esc(name)}</span>')


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
    """An error line (shortened: a server can send megabytes), announced to screen readers."""
    return (f'<div class="qnb-error" role="alert">{esc(shorten(message))}</div>'
            if message else "")


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
    """A task's facts in groups (task, input, timing, usage, output), long texts shortened."""
    groups = [(name, [(label, value) for label, value in rows if value not in (None, "")])
              for name, rows in _metadata_groups(task)]
    body = "".join(
        f'<tbody class="qnb-meta-group"><tr><th colspan="2" scope="rowgroup" '
        f'class="qnb-meta-group-head">{esc(name)}</th></tr>'
        + "".join(f'<tr><th scope="row">{esc(label)}</th><td>{esc(shorten(value))}</td></tr>'
                  for label, value in rows)
        + "</tbody>"
        for name, rows in groups if rows)
    return f'<table class="qnb-meta-table">{body}</table>'


def times_line(task: Task) -> str:
    return (f'<span class="qnb-times">queued {esc(duration_text(task.queued_s))} · '
            f'ran {esc(duration_text(task.ran_s))}</span>')


def task_card(task: Task | None, *, players: bool = True,
              sources: Sequence[str | None] | None = None) -> str:
    """A static view of one task (the fallback where no widget can render): badge, table, files.

    `sources` are the player sources per work (`viewer_player`); without them, each work's
    URL plays when it is an absolute http(s) URL and is shown as text otherwise.
    """
    if task is None:
        return f'{VIEWER_STYLE}<div class="qnb-card qnb-viewer">no task loaded</div>'
    parts = [VIEWER_STYLE, '<div class="qnb-card qnb-viewer">',
             f"<div><b>Task</b> <code>{esc(shorten(task.id, 200))}</code> "
             f"{status_badge(task.status.value)} {times_line(task)}</div>"]
    if task.error:
        parts.append(error_box(task.error.message))
    parts.append(f'<div class="qnb-meta">{metadata_table(task)}</div>')
    for index, work in enumerate(task.works):
        source = sources[index] if sources is not None and index < len(sources) else \
            absolute_media_url(work.playable_url)
        inner = viewer_player(work, source, label=work_label(task, index)) if players else ""
        parts.append(f'<div class="qnb-player">{inner}</div>')
    parts.append("</div>")
    return "".join(parts)


#: The viewer's own styles: JupyterLab's theme variables (light and dark) with fallbacks for
#: pages without them, so every text keeps at least 4.5:1 contrast.
VIEWER_STYLE = """<style>
.qnb-viewer{--qnb-fg:var(--jp-content-font-color1,#1a1a1a);
--qnb-error:var(--jp-error-color1,#b3261e);--qnb-border:var(--jp-border-color2,#c8c8c8);
color:var(--qnb-fg);font-family:var(--jp-ui-font-family,sans-serif);font-size:13px}
@media (prefers-color-scheme:dark){.qnb-viewer{--qnb-fg:var(--jp-content-font-color1,#f0f0f0);
--qnb-error:var(--jp-error-color1,#ff8a80);--qnb-border:var(--jp-border-color2,#555)}}
.qnb-viewer .qnb-badge{display:inline-block;padding:1px 8px;border-radius:9px;color:#fff;
font-weight:600}
.qnb-viewer .qnb-meta-table{border-collapse:collapse;margin:4px 0;color:var(--qnb-fg)}
.qnb-viewer .qnb-meta-table td,.qnb-viewer .qnb-meta-table th{border:1px solid var(--qnb-border);
padding:2px 6px;text-align:left;vertical-align:top;max-width:40em;overflow-wrap:anywhere;
color:var(--qnb-fg)}
.qnb-viewer .qnb-meta-table th{font-weight:600;white-space:nowrap}
.qnb-viewer .qnb-meta-group-head{font-size:11px;text-transform:uppercase;letter-spacing:.04em}
.qnb-viewer .qnb-error{color:var(--qnb-error);white-space:pre-wrap;font-weight:600;
border-left:3px solid var(--qnb-error);padding-left:6px;margin:2px 0}
.qnb-viewer .qnb-url-text{font-family:var(--jp-code-font-family,monospace);
overflow-wrap:anywhere}
</style>"""

#: How much of one text the viewer shows (the whole text stays on the Task).
SHORT_TEXT_CHARS = 2000


def shorten(value: object, limit: int = SHORT_TEXT_CHARS) -> str:
    """`value` as text, cut to `limit` characters plus a note of how many more there are."""
    text = "" if _is_na(value) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def local_time_text(moment: datetime | None) -> str | None:
    """A time in this machine's time zone, to the second, with the zone's name."""
    if moment is None:
        return None
    local = moment.astimezone() if moment.tzinfo else moment
    zone = local.strftime("%Z") or local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {zone}".strip()


def duration_text(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds:.1f} s"


def _metadata_groups(task: Task) -> list[tuple[str, list[tuple[str, object]]]]:
    known = {"prompt", "negative_prompt", "seed", "seeds", "steps", "video"}
    extra = [(str(key).replace("_", " ").capitalize(), _plain(value))
             for key, value in task.input.items() if key not in known]
    usage = task.usage
    raw_status = task.raw_status if task.raw_status.lower() != task.status.value else None
    outputs = [(f"File {index + 1}", " · ".join(part for part in (
        work.kind, None if work.duration_s is None else duration_text(work.duration_s),
        work.content_type) if part)) for index, work in enumerate(task.works)]
    return [
        ("Task", [("Task id", task.id), ("Model", task.model), ("Type", task.task_type),
                  ("Server status", raw_status)]),
        ("Input", [("Prompt", task.prompt), ("Negative prompt", task.negative_prompt),
                   ("Seed", task.seed), ("Steps", task.steps),
                   ("Video", short_video(task.video)), *extra]),
        ("Timing", [("Created", local_time_text(task.created_at)),
                    ("Started", local_time_text(task.started_at)),
                    ("Ended", local_time_text(task.ended_at)),
                    ("Queued", None if task.queued_s is None else duration_text(task.queued_s)),
                    ("Ran", None if task.ran_s is None else duration_text(task.ran_s))]),
        ("Usage", [] if usage is None else [
            ("Cost", None if usage.cost_usd is None else f"${usage.cost_usd:.4f}"),
            ("Held while running", None if task.is_done else usage.frozen),
            ("Billing", usage.type)]),
        ("Output", [("Files", len(task.works) if task.works or task.is_done else None),
                    *outputs]),
    ]


def _plain(value: object) -> object:
    """Nested input values as compact JSON-ish text (shortened later)."""
    if isinstance(value, (dict, list, tuple)):
        return short_video(str(value)) if str(value).startswith("data:") else str(value)
    return short_video(value) if isinstance(value, str) else value


def absolute_media_url(url: object) -> str | None:
    """`url` as a ``src`` only when it is an absolute http(s) URL (else None: shown as text)."""
    try:  # urlsplit raises on some malformed URLs ("http://[::1")
        safe = media_url(url)
        return safe if safe is not None and urlsplit(safe).scheme in ("http", "https") else None
    except ValueError:
        return None


def work_label(task: Task, index: int) -> str:
    """The accessible name of a task's player: what it is and whose."""
    kind = task.works[index].kind if index < len(task.works) else "file"
    noun = {"audio": "Generated audio", "video": "Generated video",
            "image": "Generated image"}.get(kind, "Generated file")
    count = f" {index + 1} of {len(task.works)}" if len(task.works) > 1 else ""
    return f"{noun}{count} for task {shorten(task.id, 80)}"


def viewer_player(work: Work, source: str | None, *, label: str) -> str:
    """One work's player for the viewer, named for screen readers.

    `source` is what the browser loads: a safe http(s) or relative URL, or a
    ``data:audio/...`` URI we built; None shows the server's URL as text (nothing loads).
    """
    try:
        safe = source if _is_embedded(source) else media_url(source)
    except ValueError:  # urlsplit raises on some malformed URLs
        safe = None
    name = esc(label)
    if safe is None:
        return (f'<span class="qnb-url-text" aria-label="{name}">{esc(work.kind)} file: '
                f"{esc(shorten(work.playable_url, 300))} (not a playable address)</span>")
    src = esc(safe)
    if work.kind == "audio":
        return (f'<audio class="qnb-audio" controls preload="none" src="{src}" '
                f'aria-label="{name}" title="{name}"></audio>')
    if work.kind == "video":
        return (f'<video class="qnb-video" controls preload="none" width="320" src="{src}" '
                f'aria-label="{name}" title="{name}"></video>')
    if work.kind == "image":
        return f'<img class="qnb-image" src="{src}" width="240" alt="{name}">'
    return f'<a href="{src}" target="_blank" rel="noopener noreferrer">{name}</a>'


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
