"""Every HTML string qubico_nb shows is built here, from Tasks or frames. Pure functions.

The one place to audit for injection: every text goes through `esc`; every media or link URL a
server sent goes through `media_url` (absolute http(s), or a relative one resolved against a
known base; anything odd is shown as text, never put into ``src``/``href``). The only other
sources are ones we built: ``data:audio/...`` URIs from bytes and paths of local copies.
"""

from __future__ import annotations

import base64
import html as _html
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import SplitResult, quote, urljoin, urlsplit

import numpy as np
import pandas as pd

from ._constants import AUDIO_DATA_URI_PREFIX
from .frames import ERROR_STATUS, short_video
from .models import Task, Work

STATUS_COLOURS = {
    "pending": "#8a6d00",
    "staged": "#8a6d00",
    "processing": "#1f5fbf",
    "completed": "#1e7b34",
    "failed": "#b3261e",
    "error": "#b3261e",
    "unknown": "#555555",
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
    if isinstance(value, str):
        return _html.escape(value, quote=True)
    if _is_na(value):
        return ""
    return _html.escape(str(value), quote=True)


#: Characters that make a URL odd: controls, spaces inside, and the backslash (browsers read it
#: as a slash, so ``/\\evil`` would leave the page's host).
_ODD_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
#: What may stay literal in a URL we put into an attribute (quotes and brackets are encoded).
_URL_SAFE = "/:?#[]@!$&()*+,;=%-._~"
#: The common case, decided without a full parse: http(s), a plain host, an optional port, and
#: only characters `quote` would keep (so the answer is the text itself).
_PLAIN_HTTP_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::(\d{1,5}))?(?:[/?#][A-Za-z0-9/:?#\[\]@!$&()*+,;=%._~-]*)?",
    re.IGNORECASE,
)
#: A URL shown as text is cut to this many characters.
_URL_TEXT_LIMIT = 200


def media_url(
    url: object, *, base_url: str | None = None, page_paths: Sequence[str] = ()
) -> str | None:
    """A URL a server sent, made safe for ``src``/``href``; None where it must be shown as text.

    Absolute http(s) URLs pass (percent-encoded where they could end an attribute). A relative
    URL is resolved against `base_url` (the API's base, when known); one under one of
    `page_paths` (paths the notebook's own server serves, e.g. JupyterHub's ``.../proxy/``) stays
    relative to the page. Everything else is None: other schemes (``javascript:``, ``data:``),
    protocol-relative ``//host``, userinfo, control characters, spaces and backslashes.
    """
    if not isinstance(url, str):
        return None
    text = url.strip(" ")
    plain = _PLAIN_HTTP_URL.fullmatch(text)
    if plain is not None and (plain.group(1) is None or 0 < int(plain.group(1)) < 65536):
        return text
    return _checked_url(text, base_url, page_paths)


def _checked_url(text: str, base_url: str | None, page_paths: Sequence[str]) -> str | None:
    """`media_url` by a full parse (what the plain-URL shortcut must agree with)."""
    parts = _split(text)
    if parts is None:
        return None
    if parts.scheme:
        return _absolute_http(text, parts)
    if text.startswith("//"):
        return None  # protocol-relative: would follow the page to any host
    if text.startswith("/") and any(text.startswith(p) for p in page_paths if p.startswith("/")):
        return quote(text, safe=_URL_SAFE)
    if base_url:
        joined = urljoin(base_url.rstrip("/") + "/", text)
        joined_parts = _split(joined)
        if joined_parts is not None and _absolute_http(base_url, _split(base_url)):
            return _absolute_http(joined, joined_parts)
    return None


def _split(text: str) -> SplitResult | None:
    """`text` split into URL parts, or None when it is empty, odd or unparseable."""
    if not text or _ODD_URL_CHARS.search(text):
        return None
    try:
        return urlsplit(text)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 host
        return None


def _absolute_http(text: str, parts: SplitResult | None) -> str | None:
    if parts is None or parts.scheme.lower() not in ("http", "https"):
        return None
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
        host = parts.hostname
    except ValueError:  # a port that is not a number, or out of range
        return None
    if not port_ok or not host or "@" in parts.netloc:
        return None
    return quote(text, safe=_URL_SAFE)


def url_as_text(url: object) -> str:
    """A URL that is not put into ``src``/``href``, escaped (and shortened) for reading."""
    text = str(url)
    if len(text) > _URL_TEXT_LIMIT:
        text = text[:_URL_TEXT_LIMIT] + "…"
    return f'<code class="qnb-url">{esc(text)}</code>'


def unplayable_reason(url: object, *, base_url: str | None = None) -> str:
    """Why `media_url` refused `url`, in words a user can act on."""
    text = str(url).strip(" ")
    parts = _split(text)
    if parts is not None and not parts.scheme and not text.startswith("//") and not base_url:
        return "relative URL, and the API's address is unknown (pass client= or base_url=)"
    return "not an http(s) URL: shown, not played"


def status_badge(status: str | None) -> str:
    """The status as a coloured pill (white text on each colour: at least 4.5:1)."""
    name = shorten((status or "unknown").lower(), 40)
    colour = STATUS_COLOURS.get(name, STATUS_COLOURS["unknown"])
    return (
        f'<span class="qnb-badge qnb-badge-{esc(name)}" title="status" '
        f'style="background:{colour};color:#fff">'
        f"{esc(name)}</span>"
    )


def link(url: object, text: object, *, base_url: str | None = None) -> str:
    """A link that opens in a new tab; an odd URL is shown as text instead."""
    safe = media_url(url, base_url=base_url)
    if safe is None:
        return esc(text) + (f" {url_as_text(url)}" if isinstance(url, str) and url else "")
    return f'<a href="{esc(safe)}" target="_blank" rel="noopener noreferrer">{esc(text)}</a>'


def audio_player(
    url: object, *, preload: str = "none", title: object = None, base_url: str | None = None
) -> str:
    """An ``<audio>`` element for a URL a server sent, named `title` for screen readers;
    an odd URL is shown as text with the reason."""
    safe = media_url(url, base_url=base_url)
    if safe is None:
        return _unplayable(url, "audio", base_url)
    return _audio_tag(safe, preload=preload, label=title)


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


def video_player(
    url: object, *, preload: str = "none", title: object = None, base_url: str | None = None
) -> str:
    safe = media_url(url, base_url=base_url)
    if safe is None:
        return _unplayable(url, "video", base_url)
    name = f' aria-label="{esc(title)}"' if title else ""
    return (
        f'<video class="qnb-video" controls preload="{esc(preload)}" width="320" '
        f'src="{esc(safe)}"{name}></video>'
    )


def work_player(work: Work, *, preload: str = "none", base_url: str | None = None) -> str:
    if work.kind == "audio":
        return audio_player(
            work.playable_url, preload=preload, title="generated audio", base_url=base_url
        )
    if work.kind == "video":
        return video_player(
            work.playable_url, preload=preload, title="generated video", base_url=base_url
        )
    if work.kind == "image":
        safe = media_url(work.playable_url, base_url=base_url)
        if safe is None:
            return _unplayable(work.playable_url, "image", base_url)
        return f'<img src="{esc(safe)}" width="240" alt="generated image">'
    return link(work.playable_url, "generated file", base_url=base_url)


def audio_data_uri(data: bytes, content_type: str | None = "audio/wav") -> str:
    """File bytes as a ``data:audio/...`` URI (only ever on request: it grows the notebook)."""
    mime = (
        content_type
        if content_type and re.fullmatch(r"audio/[\w.+-]+", content_type)
        else "audio/wav"
    )
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def embedded_audio(data: bytes, content_type: str = "audio/wav", *, title: object = None) -> str:
    """A player whose bytes live in the page."""
    return _audio_tag(audio_data_uri(data, content_type), preload="auto", label=title)


def _is_embedded(url: object) -> bool:
    """A ``data:audio/...;base64,`` URI as `audio_data_uri` builds it."""
    return (
        isinstance(url, str)
        and url.startswith(AUDIO_DATA_URI_PREFIX)
        and re.match(r"data:audio/[\w.+-]+;base64,", url) is not None
    )


def local_source(source: object) -> str | None:
    """A player source we built (a local copy's relative path or a ``data:audio`` URI), checked
    once more: only those two shapes pass, percent-encoded where needed."""
    if _is_embedded(source):
        return str(source)
    if not isinstance(source, str) or source.startswith(("/", " ")):
        return None
    parts = _split(source.replace(" ", "%20"))
    if parts is None or parts.scheme:
        return None
    return quote(source, safe=_URL_SAFE)


def error_box(message: object) -> str:
    """An error line (shortened: a server can send megabytes), announced to screen readers."""
    return f'<div class="qnb-error" role="alert">{esc(shorten(message))}</div>' if message else ""


def table(frame: pd.DataFrame, *, css_class: str = "qnb-meta-table", header: bool = True) -> str:
    """A frame as an escaped HTML table (every header and cell escaped)."""
    head = ""
    if header:
        head = (
            "<thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in frame.columns) + "</tr></thead>"
        )
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False, name=None)
    )
    return f'<table class="{esc(css_class)}">{head}<tbody>{body}</tbody></table>'


def metadata_table(task: Task) -> str:
    """A task's facts in groups (task, input, timing, usage, output), long texts shortened."""
    groups = [
        (name, [(label, value) for label, value in rows if value not in (None, "")])
        for name, rows in _metadata_groups(task)
    ]
    body = "".join(
        f'<tbody class="qnb-meta-group"><tr><th colspan="2" scope="rowgroup" '
        f'class="qnb-meta-group-head">{esc(name)}</th></tr>'
        + "".join(
            f'<tr><th scope="row">{esc(label)}</th><td>{esc(shorten(value))}</td></tr>'
            for label, value in rows
        )
        + "</tbody>"
        for name, rows in groups
        if rows
    )
    return f'<table class="qnb-meta-table">{body}</table>'


def times_line(task: Task) -> str:
    return (
        f'<span class="qnb-times">queued {esc(duration_text(task.queued_s))} · '
        f"ran {esc(duration_text(task.ran_s))}</span>"
    )


def task_card(
    task: Task | None,
    *,
    players: bool = True,
    sources: Sequence[str | None] | None = None,
    page_paths: Sequence[str] = (),
) -> str:
    """A static view of one task (the fallback where no widget can render): badge, table, files.

    `sources` are the player sources per work (`viewer_player`); without them, each work's
    URL plays when it is an absolute http(s) URL and is shown as text otherwise.
    """
    if task is None:
        return f'{VIEWER_STYLE}<div class="qnb-card qnb-viewer">no task loaded</div>'
    parts = [
        VIEWER_STYLE,
        '<div class="qnb-card qnb-viewer">',
        f"<div><b>Task</b> <code>{esc(shorten(task.id, 200))}</code> "
        f"{status_badge(task.status.value)} {times_line(task)}</div>",
    ]
    if task.error:
        parts.append(error_box(task.error.message))
    parts.append(f'<div class="qnb-meta">{metadata_table(task)}</div>')
    for index, work in enumerate(task.works):
        source = (
            sources[index]
            if sources is not None and index < len(sources)
            else absolute_media_url(work.playable_url)
        )
        inner = (
            viewer_player(work, source, label=work_label(task, index), page_paths=page_paths)
            if players
            else ""
        )
        parts.append(f'<div class="qnb-player">{inner}</div>')
    parts.append("</div>")
    return "".join(parts)


#: The compare grid's own rules, after `STYLE`. Text uses JupyterLab's font colours (4.5:1 or
#: more on its light and dark backgrounds, see tests/test_html.py) and inherits the host's colour
#: elsewhere; red marks problems only as a border, never as the colour of text.
COMPARE_STYLE = """<style>
.qnb-compare{border-collapse:collapse;color:var(--jp-ui-font-color1,inherit)}
.qnb-compare td,.qnb-compare th{border:1px solid var(--jp-border-color2,#ccc);padding:4px;
vertical-align:top;text-align:left}
.qnb-compare th{font-weight:600;max-width:24em;overflow-wrap:anywhere}
.qnb-compare caption{text-align:left;color:var(--jp-ui-font-color2,inherit);padding:2px 0}
.qnb-compare .qnb-facts{color:var(--jp-ui-font-color2,inherit);font-size:12px}
.qnb-compare .qnb-why,.qnb-notes li{color:var(--jp-ui-font-color1,inherit);white-space:pre-wrap;
border-left:3px solid var(--jp-error-color1,#d32f2f);padding-left:4px;overflow-wrap:anywhere}
.qnb-compare .qnb-wait{border-left-color:var(--jp-border-color1,#999)}
.qnb-compare audio{display:block;width:220px;height:32px}
.qnb-compare td>div+div{margin-top:6px}
.qnb-wave{display:block;color:var(--jp-ui-font-color2,currentColor)}
.qnb-notes{list-style:none;padding:0;margin:4px 0}
</style>"""

#: Statuses that mean "not finished yet".
_WAITING = frozenset({"pending", "staged", "processing", "queued", "running", "starting"})
#: A header or accessible name is cut to this many characters (a prompt can be megabytes).
_LABEL_LIMIT = 300
_ARIA_LIMIT = 80

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
    extra = [
        (str(key).replace("_", " ").capitalize(), _plain(value))
        for key, value in task.input.items()
        if key not in known
    ]
    usage = task.usage
    raw_status = task.raw_status if task.raw_status.lower() != task.status.value else None
    outputs = [
        (
            f"File {index + 1}",
            " · ".join(
                part
                for part in (
                    work.kind,
                    None if work.duration_s is None else duration_text(work.duration_s),
                    work.content_type,
                )
                if part
            ),
        )
        for index, work in enumerate(task.works)
    ]
    return [
        (
            "Task",
            [
                ("Task id", task.id),
                ("Model", task.model),
                ("Type", task.task_type),
                ("Server status", raw_status),
            ],
        ),
        (
            "Input",
            [
                ("Prompt", task.prompt),
                ("Negative prompt", task.negative_prompt),
                ("Seed", task.seed),
                ("Steps", task.steps),
                ("Video", short_video(task.video)),
                *extra,
            ],
        ),
        (
            "Timing",
            [
                ("Created", local_time_text(task.created_at)),
                ("Started", local_time_text(task.started_at)),
                ("Ended", local_time_text(task.ended_at)),
                ("Queued", None if task.queued_s is None else duration_text(task.queued_s)),
                ("Ran", None if task.ran_s is None else duration_text(task.ran_s)),
            ],
        ),
        (
            "Usage",
            []
            if usage is None
            else [
                ("Cost", None if usage.cost_usd is None else f"${usage.cost_usd:.4f}"),
                ("Held while running", None if task.is_done else usage.frozen),
                ("Billing", usage.type),
            ],
        ),
        ("Output", [("Files", len(task.works) if task.works or task.is_done else None), *outputs]),
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
    noun = {"audio": "Generated audio", "video": "Generated video", "image": "Generated image"}.get(
        kind, "Generated file"
    )
    count = f" {index + 1} of {len(task.works)}" if len(task.works) > 1 else ""
    return f"{noun}{count} for task {shorten(task.id, 80)}"


def viewer_player(
    work: Work, source: str | None, *, label: str, page_paths: Sequence[str] = ()
) -> str:
    """One work's player for the viewer, named for screen readers.

    `source` is what the browser loads: an absolute http(s) URL, a path under one of
    `page_paths` (the hub's proxy), a local copy's relative path or a ``data:audio/...`` URI we
    built; None shows the server's URL as text (nothing loads).
    """
    safe = media_url(source, page_paths=page_paths) or local_source(source)
    name = esc(label)
    if safe is None:
        return (
            f'<span class="qnb-url-text" aria-label="{name}">{esc(work.kind)} file: '
            f"{esc(shorten(work.playable_url, 300))} (not a playable address)</span>"
        )
    src = esc(safe)
    if work.kind == "audio":
        return (
            f'<audio class="qnb-audio" controls preload="none" src="{src}" '
            f'aria-label="{name}" title="{name}"></audio>'
        )
    if work.kind == "video":
        return (
            f'<video class="qnb-video" controls preload="none" width="320" src="{src}" '
            f'aria-label="{name}" title="{name}"></video>'
        )
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
    base_url: str | None = None,
    page_paths: Sequence[str] = (),
    thumbnails: bool | None = None,
    notes: Sequence[str] = (),
) -> str:
    """One row per value of `by`, one column per value of `across`; each cell a player per task.

    Headers say what they are (``seed = 1``); the row's value is in its header, never repeated in
    a cell, and a fact every task shares is said once above the grid. A row that could not be
    fetched (status ``error``) is listed under the grid instead of getting a row and a column.
    `sources` maps a frame index to a player source we built (a local copy's path or a
    ``data:audio`` URI) used instead of the row's URL; `base_url` and `page_paths` go to
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
    rows_by, cols_by = values(by), values(across)
    peaks = values("peaks") if thumbnails is not False and "peaks" in present else None
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

    out: list[str] = [STYLE, COMPARE_STYLE, '<div class="qnb-card">', '<table class="qnb-compare">']
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
        row_name = _short(_label(row_value), _ARIA_LIMIT)
        cells = grid[row_key]
        for column_key in column_keys:
            members = cells.get(column_key)
            if not members:
                out.append('<td class="qnb-empty">—</td>')
                continue
            out.append("<td>")
            column_name = f"{across} {_short(_label(variants[column_key]), _ARIA_LIMIT)}"
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
                )
                wave = (
                    waveform_svg(peaks[i], width=220, label=f"waveform: {aria}")
                    if peaks is not None
                    else ""
                )
                meta = (
                    f'<div class="qnb-facts">{" · ".join(shown_facts)}</div>' if shown_facts else ""
                )
                out.append(f"<div>{wave}{player}{meta}</div>")
            out.append("</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    problems = [
        f"<li>could not show: <code>{esc(_short(_label(ids[i]), _LABEL_LIMIT))}</code>: "
        f"{esc(_short(str(errors[i]), 2000) if errors[i] is not None else 'no reason')}"
        "</li>"
        for i in failed_rows
    ]
    problems.extend(f"<li>{esc(note)}</li>" for note in notes)
    if problems:
        out.append(f'<ul class="qnb-notes">{"".join(problems)}</ul>')
    out.append("</div>")
    return "".join(out)


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
    local = local_source(source) if source is not None else None
    if local is not None:
        return _audio_tag(local, label=label)
    if isinstance(url, str) and url:
        safe = media_url(url, base_url=base_url, page_paths=page_paths)
        if safe is not None:
            return _audio_tag(safe, label=label)
        return _unplayable(url, "audio", base_url)
    if error is not None:
        return f'<div class="qnb-why">{esc(status)}: {esc(_short(str(error), 2000))}</div>'
    if status in _WAITING:
        return f'<div class="qnb-why qnb-wait">{esc(status)}: no audio yet</div>'
    what = f"{kind} file, not audio" if kind is not None and kind != "audio" else "no audio file"
    return f'<div class="qnb-why">{esc(status)}: {esc(what)}</div>'


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
    name = f' aria-label="{esc(_short(label, _ARIA_LIMIT + 20))}"' if label else ""
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
    return f"{esc(name)} = {esc(_short(_label(value), limit))}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_na(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return value is None
    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def _label(value: Any) -> str:
    if isinstance(value, str):
        return value
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
        f"{' · blind' if blind else ''} · scale {esc(_label(low))}–{esc(_label(high))}"
        " <i>(static view: run the notebook to listen and rate)</i></div>"
    )
    body: list[str] = []
    for row in rows:
        cards: list[str] = []
        for card in row.get("cards", []):
            mark = marks.get(str(card.get("key")), {}) if isinstance(marks, dict) else {}
            picture = (
                review_waveform_svg(card.get("peaks"))
                or f'<div class="qnb-rs-why">{esc(card.get("reason") or card.get("status"))}</div>'
            )
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
                f'<div class="qnb-rs-v">{" · ".join(verdict) or "not rated"}</div></div>'
            )
        body.append(
            f'<div class="qnb-rs-row"><h4>{esc(row.get("label"))}</h4>'
            f'<div class="qnb-rs-cards">{"".join(cards)}</div></div>'
        )
    return f'{REVIEW_STYLE}<div class="qnb-rs">{head}{"".join(body)}</div>'
