"""The task card: one task's status, grouped metadata and players (viewer and static view)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..frames import short_video
from ..models import Task, Work
from .core import (
    absolute_media_url,
    error_box,
    esc,
    inline_image,
    player_source,
    shorten,
    style,
)

#: The viewer's own styles (viewer.css): JupyterLab's theme variables (light and dark) with
#: fallbacks for pages without them, so every text keeps at least 4.5:1 contrast.
VIEWER_STYLE = style("viewer.css")

STATUS_COLOURS = {
    "pending": "#8a6d00",
    "staged": "#8a6d00",
    "processing": "#1f5fbf",
    "completed": "#1e7b34",
    "failed": "#b3261e",
    "error": "#b3261e",
    "unknown": "#555555",
}


def status_badge(status: str | None) -> str:
    """The status as a coloured pill (white text on each colour: at least 4.5:1)."""
    name = shorten((status or "unknown").lower(), 40)
    colour = STATUS_COLOURS.get(name, STATUS_COLOURS["unknown"])
    return (
        f'<span class="qnb-badge qnb-badge-{esc(name)}" title="status" '
        f'style="background:{colour};color:#fff">'
        f"{esc(name)}</span>"
    )


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
    safe = player_source(source, page_paths=page_paths)
    if safe is None and work.kind == "image":  # an image sent inline (Flux's image_base64)
        safe = inline_image(source) or inline_image(work.playable_url)
    name = esc(label)
    if safe is None:
        return (
            f'<span class="qnb-url-text" aria-label="{name}">{esc(work.kind)} file: '
            f"{esc(short_video(shorten(work.playable_url, 300)))} (not a playable address)</span>"
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
