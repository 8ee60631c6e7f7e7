"""What a task *is*: `Task`, `Work`, `Status`, read from either API schema or a webhook payload.

Pure: no I/O, no pandas, no widgets. `Task.from_dict` accepts the envelope
``{code, data, message}``, a bare ``data`` object, or a webhook ``{timestamp, data}``, in the seed
page's schema or the unified one, and raises only `ProtocolError` for input it cannot read.
"""

from __future__ import annotations

import json
import math
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from .errors import ProtocolError

#: Money in ``usage.consume`` is counted in units of 1e-7 USD (a $0.02 task shows 200000).
USD_PER_CONSUME_UNIT = 1e-7

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Status(str, Enum):
    """A task's state; `Status.parse` folds the spellings servers use onto these six."""

    PENDING = "pending"
    STAGED = "staged"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @property
    def is_done(self) -> bool:
        """True for the states a task never leaves (completed, failed)."""
        return self in (Status.COMPLETED, Status.FAILED)

    @classmethod
    def parse(cls, raw: object) -> Status:
        if not isinstance(raw, str):
            return cls.UNKNOWN
        return _STATUS_ALIASES.get(raw.strip().lower().replace(" ", "_"), cls.UNKNOWN)

    def __str__(self) -> str:
        return self.value


_STATUS_ALIASES = {
    **{word: Status.PENDING for word in ("pending", "queued", "waiting", "submitted", "created")},
    "staged": Status.STAGED,
    **{word: Status.PROCESSING for word in ("processing", "running", "in_progress", "started")},
    **{word: Status.COMPLETED for word in ("completed", "complete", "success", "succeeded",
                                           "finished", "done")},
    # A cancelled task will never produce output: it ends like a failed one (raw_status keeps it).
    **{word: Status.FAILED for word in ("failed", "failure", "error", "cancelled", "canceled")},
}

# -- timestamps ------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$"
)


def parse_time(value: object) -> datetime | None:
    """A timezone-aware UTC datetime, or None for missing, zero ("0001-01-01...") or unreadable.

    Accepts RFC 3339 with any fraction (nanoseconds are cut to microseconds), ``Z`` or offsets,
    and Unix times in seconds, milliseconds, microseconds or nanoseconds.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return _from_unix(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _from_unix(float(text))
    match = _RFC3339.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if year <= 1:
        return None
    fraction = (match.group(7) or "0")[:6].ljust(6, "0")
    tz = timezone.utc
    if match.group(9):
        minutes = int(match.group(10)) * 60 + int(match.group(11))
        tz = timezone(timedelta(minutes=minutes if match.group(9) == "+" else -minutes))
    try:
        stamp = datetime(year, month, day, hour, minute, min(second, 59), int(fraction), tz)
    except ValueError:
        return None
    return stamp.astimezone(timezone.utc)


def _from_unix(number: float) -> datetime | None:
    if not math.isfinite(number) or number <= 0:
        return None
    for scale in (1.0, 1e3, 1e6, 1e9):  # seconds, ms, us, ns: pick the one that lands before 2300
        seconds = number / scale
        if seconds < 10_413_792_000:
            try:
                return datetime.fromtimestamp(seconds, timezone.utc)
            except (OverflowError, OSError, ValueError):
                return None
    return None


# -- small coercions -------------------------------------------------------------------------


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _positive(value: object) -> float | None:
    number = _number(value)
    return number if number and number > 0 else None


# -- the model -------------------------------------------------------------------------------

_EXTRA_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac",
                ".ogg": "audio/ogg", ".m4a": "audio/mp4", ".mp4": "video/mp4",
                ".webm": "video/webm", ".mov": "video/quicktime", ".png": "image/png",
                ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
                ".gif": "image/gif", ".glb": "model/gltf-binary"}


def guess_content_type(url: str) -> str | None:
    """The media type a file URL's extension suggests, or None."""
    path = urlsplit(url).path.lower() if "://" in url else url.lower().split("?")[0]
    ext = "." + path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
    if not ext:
        return None
    return _EXTRA_TYPES.get(ext) or mimetypes.guess_type("x" + ext)[0]


def _kind(content_type: str | None, hint: str | None = None) -> str:
    major = (content_type or "").split("/", 1)[0]
    if major in ("audio", "video", "image"):
        return major
    return hint or "other"


@dataclass(frozen=True)
class Work:
    """One generated file: where it is, what it is, and how long or large."""

    url: str
    url_without_watermark: str | None = None
    content_type: str | None = None
    kind: str = "other"
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    cover_url: str | None = None

    @property
    def playable_url(self) -> str:
        """The file to play or download: the one without a watermark where there is one."""
        return self.url_without_watermark or self.url

    @classmethod
    def from_url(cls, url: str, *, content_type: str | None = None, hint: str | None = None,
                 **fields: Any) -> Work:
        content_type = content_type or guess_content_type(url)
        return cls(url=url, content_type=content_type, kind=_kind(content_type, hint), **fields)


@dataclass(frozen=True)
class Usage:
    """What a task costs: ``frozen`` is held while it runs, ``consume`` is charged (1e-7 USD)."""

    frozen: int | None = None
    consume: int | None = None
    type: str | None = None

    @property
    def cost_usd(self) -> float | None:
        return None if self.consume is None else round(self.consume * USD_PER_CONSUME_UNIT, 10)


@dataclass(frozen=True)
class TaskError:
    """Why a task failed, in the server's words."""

    message: str
    code: int | None = None
    raw_message: str | None = None


@dataclass(frozen=True)
class Task:
    """One task as the API reported it at one moment; build it with `Task.from_dict`."""

    id: str
    status: Status
    raw_status: str
    model: str | None = None
    task_type: str | None = None
    input: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    usage: Usage | None = None
    works: tuple[Work, ...] = ()
    error: TaskError | None = None
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False, repr=False)

    def __hash__(self) -> int:
        return hash((self.id, self.raw_status, self.ended_at))

    def __repr__(self) -> str:
        prompt = self.prompt if self.prompt is None or len(self.prompt) <= 40 else (
            self.prompt[:39] + "…")
        return (f"Task(id={self.id!r}, status={self.status.value!r}, model={self.model!r}, "
                f"prompt={prompt!r}, works={len(self.works)})")

    # -- derived fields ------------------------------------------------------------------------
    @property
    def is_done(self) -> bool:
        return self.status.is_done

    @property
    def prompt(self) -> str | None:
        return _text(self.input.get("prompt"))

    @property
    def negative_prompt(self) -> str | None:
        return _text(self.input.get("negative_prompt"))

    @property
    def seed(self) -> int | None:
        return _int(self.input.get("seed", self.input.get("seeds")))

    @property
    def steps(self) -> int | None:
        return _int(self.input.get("steps"))

    @property
    def video(self) -> str | None:
        return _text(self.input.get("video"))

    @property
    def queued_s(self) -> float | None:
        """Seconds from creation to start, or None when either is unknown."""
        return _seconds_between(self.created_at, self.started_at)

    @property
    def ran_s(self) -> float | None:
        """Seconds from start to end, or None when either is unknown."""
        return _seconds_between(self.started_at, self.ended_at)

    @property
    def audio(self) -> Work | None:
        """The first audio work, if any."""
        return next((w for w in self.works if w.kind == "audio"), None)

    # -- conversion ----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, obj: object) -> Task:
        """Read a task from an API answer, a bare ``data`` object or a webhook payload."""
        data = _unwrap(obj)
        try:
            return _parse(data)
        except ProtocolError:
            raise
        except Exception as err:  # a shape no case foresaw: still only ProtocolError escapes
            raise ProtocolError(f"could not read the task: {type(err).__name__}: {err}") from err

    def to_dict(self) -> dict[str, Any]:
        """The normalized fields, JSON-ready (times as ISO 8601 strings)."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id, "model": self.model, "task_type": self.task_type,
            "status": self.status.value, "raw_status": self.raw_status, "is_done": self.is_done,
            "input": dict(self.input), "prompt": self.prompt,
            "negative_prompt": self.negative_prompt, "seed": self.seed, "steps": self.steps,
            "video": self.video, "created_at": iso(self.created_at),
            "started_at": iso(self.started_at), "ended_at": iso(self.ended_at),
            "queued_s": self.queued_s, "ran_s": self.ran_s,
            "usage": None if self.usage is None else {
                "frozen": self.usage.frozen, "consume": self.usage.consume,
                "cost_usd": self.usage.cost_usd, "type": self.usage.type},
            "works": [
                {"url": w.url, "url_without_watermark": w.url_without_watermark,
                 "content_type": w.content_type, "kind": w.kind, "duration_s": w.duration_s,
                 "width": w.width, "height": w.height, "cover_url": w.cover_url}
                for w in self.works
            ],
            "error": None if self.error is None else {
                "code": self.error.code, "message": self.error.message,
                "raw_message": self.error.raw_message},
        }


def _seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    seconds = (end - start).total_seconds()
    return seconds if seconds >= 0 else None  # a clock that ran backwards tells us nothing


# -- parsing ---------------------------------------------------------------------------------


def _unwrap(obj: object) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise ProtocolError(
            f"expected a JSON object holding a task, got {type(obj).__name__}")
    if "task_id" not in obj and "data" in obj:
        code = obj.get("code")
        message = _text(obj.get("message")) or ""
        if code is not None and _int(code) not in (0, 200):
            raise ProtocolError(
                f"the answer carries error code {code!r}: {message or 'no message'}")
        data = obj.get("data")
        if not isinstance(data, Mapping):
            raise ProtocolError(f"the answer holds no task (data is {type(data).__name__}); "
                                f"message: {message or 'none'}")
        obj = data
    if _text(obj.get("task_id")) in (None, ""):
        keys = ", ".join(sorted(str(k) for k in obj)[:8]) or "none"
        raise ProtocolError(f"expected a task object with a 'task_id'; got keys: {keys}")
    return obj


def _parse(data: Mapping[str, Any]) -> Task:
    legacy = _map(data.get("task"))
    task_info = _map(legacy.get("taskInfo"))
    raw_status = _text(data.get("status")) or ""
    meta = _map(data.get("meta"))
    metadata = _map(data.get("metadata"))
    times = meta if meta else metadata
    return Task(
        id=str(_text(data.get("task_id"))),
        status=Status.parse(raw_status),
        raw_status=raw_status,
        model=_text(data.get("model")) or _legacy_model(_text(legacy.get("type"))),
        task_type=_text(data.get("task_type")) or _text(task_info.get("type")),
        input=MappingProxyType(_parse_input(data.get("input"), task_info)),
        created_at=parse_time(times.get("created_at")) or parse_time(legacy.get("createTime")),
        started_at=parse_time(times.get("started_at")),
        ended_at=parse_time(times.get("ended_at")),
        usage=_parse_usage(meta, metadata),
        works=_parse_works(data),
        error=_parse_error(data.get("error")),
        raw=MappingProxyType(dict(data)),
    )


def _legacy_model(task_type: str | None) -> str | None:
    """The seed schema names only the family ("mmaudio"); the unified one says "Qubico/mmaudio"."""
    if not task_type or task_type == "string":
        return None
    return task_type if "/" in task_type else f"Qubico/{task_type}"


def _parse_input(value: object, task_info: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if isinstance(value, Mapping):
        found = {str(k): v for k, v in value.items()}
    elif isinstance(value, str) and value.strip():
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = None
        found = {str(k): v for k, v in decoded.items()} if isinstance(decoded, dict) else {
            "raw": value}
    # The seed schema also lists the arguments and input files of the legacy task record.
    arguments = task_info.get("arguments")
    for item in arguments if isinstance(arguments, list) else ():
        name = _text(_map(item).get("name"))
        if name and name not in found:
            found[name] = _map(item).get("value")
    inputs = task_info.get("inputs")
    for item in inputs if isinstance(inputs, list) else ():
        name, url = _text(_map(item).get("name")), _text(_map(item).get("url"))
        if name and url and name not in found:
            found[name] = url
    return found


def _parse_usage(meta: Mapping[str, Any], metadata: Mapping[str, Any]) -> Usage | None:
    usage = _map(meta.get("usage"))
    if usage:
        return Usage(frozen=_int(usage.get("frozen")), consume=_int(usage.get("consume")),
                     type=_text(usage.get("type")))
    if "quota_usage" in metadata or "quota_frozen" in metadata:
        return Usage(frozen=_int(metadata.get("quota_frozen")),
                     consume=_int(metadata.get("quota_usage")))
    return None


_KIND_HINTS = ("audio", "video", "image")


def _parse_works(data: Mapping[str, Any]) -> tuple[Work, ...]:
    works: list[Work] = []
    listed = data.get("works")
    for item in listed if isinstance(listed, list) else ():
        entry = _map(item)
        resource = _map(entry.get("resource"))
        url = _text(resource.get("resource")) or _text(resource.get("resourceWithoutWatermark"))
        if not url:
            continue
        width, height = _int(resource.get("width")), _int(resource.get("height"))
        works.append(Work.from_url(
            url,
            content_type=_text(entry.get("contentType")) or None,
            hint=_hint(_text(entry.get("type"))),
            url_without_watermark=_text(resource.get("resourceWithoutWatermark")) or None,
            duration_s=_positive(resource.get("duration")),
            width=width or None,
            height=height or None,
            cover_url=_text(_map(entry.get("cover")).get("resource")) or None,
        ))
    output = data.get("output")
    for key, value in _map(output).items():
        hint = _hint(str(key))
        urls = value if isinstance(value, list) else [value]
        for url in urls:
            if isinstance(url, str) and _looks_like_file(str(key), url):
                works.append(Work.from_url(url, hint=hint))
    return tuple(works)


def _hint(name: str | None) -> str | None:
    lowered = (name or "").lower()
    return next((kind for kind in _KIND_HINTS if kind in lowered), None)


def _looks_like_file(key: str, value: str) -> bool:
    if not value.startswith(("http://", "https://", "/")):
        return False
    lowered = key.lower()
    return lowered.endswith(("url", "urls")) or _hint(lowered) is not None or lowered in (
        "file", "files", "result")


def _parse_error(value: object) -> TaskError | None:
    error = _map(value)
    message = _text(error.get("message")) or ""
    raw_message = _text(error.get("raw_message")) or ""
    code = _int(error.get("code"))
    if not message and not raw_message and not code:
        return None
    return TaskError(message=message or raw_message, code=code, raw_message=raw_message or None)
