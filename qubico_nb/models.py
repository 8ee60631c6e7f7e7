"""What a task *is*: `Task`, `Work`, `Status`, read from either API schema or a webhook payload.

Pure: no I/O, no pandas, no widgets. `Task.from_dict` accepts the envelope
``{code, data, message}``, a bare ``data`` object, or a webhook ``{timestamp, data}``, in the seed
page's schema or the unified one, and raises only `ProtocolError` for input it cannot read.
"""

from __future__ import annotations

import base64
import json
import math
import mimetypes
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from enum import Enum
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal

from ._coerce import EMPTY, as_int, as_mapping, as_positive, as_text
from ._constants import MEDIA_TYPES
from ._media import image_media_type
from .errors import ProtocolError

#: Money in ``usage.consume`` is counted in units of 1e-7 USD (a $0.02 task shows 200000).
USD_PER_CONSUME_UNIT = 1e-7
_CONSUME_UNITS_PER_USD = 10_000_000

#: What a generated file is, from its media type (or, failing that, the key or type naming it).
WorkKind = Literal["audio", "video", "image", "other"]

#: How deeply an answer may nest. Real answers nest about 5 levels; anything past this limit is
#: refused, so every Task can be pickled, deep-copied and dumped without a RecursionError.
MAX_NESTING = 100


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

    @property
    def is_running(self) -> bool:
        """True for the states on the way to an end (pending, staged, processing): no output yet,
        and worth asking again. UNKNOWN is neither running nor done."""
        return self in (Status.PENDING, Status.STAGED, Status.PROCESSING)

    @classmethod
    def parse(cls, raw: object) -> Status:
        """The state a server's spelling means; UNKNOWN for anything unrecognized."""
        if not isinstance(raw, str):
            return cls.UNKNOWN
        known = _STATUS_ALIASES.get(raw)
        if known is not None:
            return known
        return _STATUS_ALIASES.get(raw.strip().lower().replace(" ", "_"), cls.UNKNOWN)

    def __str__(self) -> str:
        return self.value


_STATUS_ALIASES = {
    **{word: Status.PENDING for word in ("pending", "queued", "waiting", "submitted", "created")},
    "staged": Status.STAGED,
    **{
        word: Status.PROCESSING
        for word in ("processing", "running", "in_progress", "started", "starting")
    },
    **{
        word: Status.COMPLETED
        for word in ("completed", "complete", "success", "succeeded", "finished", "done")
    },
    # A cancelled task will never produce output: it ends like a failed one (raw_status keeps it).
    **{word: Status.FAILED for word in ("failed", "failure", "error", "cancelled", "canceled")},
}
# The title-case spellings the seed schema sends, found without normalizing the text first.
_STATUS_ALIASES.update(
    {word.capitalize(): status for word, status in list(_STATUS_ALIASES.items())}
)

# -- timestamps ------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$"
)


_UNIX_NUMBER = re.compile(r"\d{1,30}(\.\d{1,30})?")
#: Parsed timestamp texts (a table of tasks repeats many: zero times, shared creation seconds).
_TIME_CACHE: dict[str, datetime | None] = {}
_TIME_CACHE_LIMIT = 8192


def parse_time(value: object) -> datetime | None:
    """A timezone-aware UTC datetime, or None for missing, zero ("0001-01-01...") or unreadable.

    Accepts RFC 3339 with any fraction (nanoseconds are cut to microseconds), ``Z`` or offsets,
    and Unix times in seconds, milliseconds, microseconds or nanoseconds.
    """
    if type(value) is str:
        cached = _TIME_CACHE.get(value, _MISS)
        if cached is not _MISS:
            return cached  # type: ignore[return-value]
        if len(value) > 64:  # no timestamp is this long; do not cache or scan it
            return None
        parsed = _parse_time_text(value)
        if len(_TIME_CACHE) >= _TIME_CACHE_LIMIT:
            _TIME_CACHE.clear()
        _TIME_CACHE[value] = parsed
        return parsed
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            return _from_unix(float(value))
        except OverflowError:  # an integer too large for a float
            return None
    if isinstance(value, str):
        return _parse_time_text(str(value))
    return None


_MISS = object()


def _parse_time_text(value: str) -> datetime | None:
    text = value.strip()
    if _UNIX_NUMBER.fullmatch(text):
        return _from_unix(float(text))
    if len(text) >= 20 and text[4] == "-" and text[10] in "Tt " and text[-1] in "Zz":
        try:  # the C parser takes the common form; the pattern below handles every other
            stamp = datetime.fromisoformat(text[:-1])
        except ValueError:
            stamp = None
        if stamp is not None and stamp.tzinfo is None and stamp.year > 1:
            return stamp.replace(tzinfo=timezone.utc)
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


#: 2300-01-01T00:00:00Z in Unix seconds: no task is that late, so a larger number is in finer units.
_YEAR_2300_S = 10_413_792_000


def _from_unix(number: float) -> datetime | None:
    if not math.isfinite(number) or number <= 0:
        return None
    for scale in (1.0, 1e3, 1e6, 1e9):  # seconds, ms, us, ns: pick the one that lands before 2300
        seconds = number / scale
        if seconds < _YEAR_2300_S:
            try:
                return datetime.fromtimestamp(seconds, timezone.utc)
            except (OverflowError, OSError, ValueError):
                return None
    return None


# -- the model -------------------------------------------------------------------------------


def file_extension(url: str) -> str | None:
    """The lower-case extension (``.wav``) of a URL's or path's last segment, or None.

    The query and fragment are ignored, and so is a host name (``https://example.com`` has none).
    """
    path = url.partition("?")[0].partition("#")[0]
    _, sep, rest = path.partition("://")
    if sep:
        _, slash, path = rest.partition("/")
        if not slash:
            return None
    segment = path.rpartition("/")[2].rpartition("\\")[2]
    _, dot, ext = segment.rpartition(".")
    if not dot or not ext or len(ext) > 10:
        return None
    return "." + ext.lower()


def guess_content_type(url: str) -> str | None:
    """The media type a file URL's extension suggests, or None."""
    ext = file_extension(url)
    return None if ext is None else _type_of_extension(ext)


@lru_cache(maxsize=256)
def _type_of_extension(ext: str) -> str | None:
    return MEDIA_TYPES.get(ext) or mimetypes.guess_type("x" + ext)[0]


_KINDS: tuple[WorkKind, ...] = ("audio", "video", "image")


def _kind(content_type: str | None, hint: WorkKind | None = None) -> WorkKind:
    if content_type is None or len(content_type) > 128:
        return _find_kind(content_type, hint)
    return _known_kind(content_type, hint)


def _find_kind(content_type: str | None, hint: WorkKind | None) -> WorkKind:
    if content_type:
        major = content_type.split("/", 1)[0].strip().lower()
        for kind in _KINDS:
            if major == kind:
                return kind
    return hint or "other"


#: A table has a handful of media types: each is read once.
_known_kind = lru_cache(maxsize=256)(_find_kind)


@dataclass(frozen=True, slots=True)
class Work:
    """One generated file: where it is, what it is, and how long or large."""

    url: str
    url_without_watermark: str | None = None
    content_type: str | None = None
    kind: WorkKind = "other"
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    cover_url: str | None = None

    @property
    def playable_url(self) -> str:
        """The file to play or download: the one without a watermark where there is one."""
        return self.url_without_watermark or self.url

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        content_type: str | None = None,
        hint: WorkKind | None = None,
        **other_fields: Any,
    ) -> Work:
        """A work whose media type, when not given, is guessed from the URL's extension."""
        content_type = content_type or guess_content_type(url)
        return cls(
            url=url, content_type=content_type, kind=_kind(content_type, hint), **other_fields
        )


@dataclass(frozen=True, slots=True)
class Usage:
    """What a task costs: ``frozen`` is held while it runs, ``consume`` is charged (1e-7 USD)."""

    frozen: int | None = None
    consume: int | None = None
    type: str | None = None

    @property
    def cost_usd(self) -> float | None:
        """The charge in US dollars, or None when unknown (or too large to be a real charge)."""
        if self.consume is None or not -_INT64_LIMIT < self.consume < _INT64_LIMIT:
            return None
        return self.consume / _CONSUME_UNITS_PER_USD  # one correctly rounded division


_INT64_LIMIT = 2**63


@dataclass(frozen=True, slots=True)
class TaskError:
    """Why a task failed, in the server's words."""

    message: str
    code: int | None = None
    raw_message: str | None = None


@dataclass(frozen=True, slots=True)
class Task:
    """One task as the API reported it at one moment; build it with `Task.from_dict`.

    ``raw`` is a read-only view of the answer's ``data`` object as received (not a copy).
    """

    id: str
    status: Status
    raw_status: str
    model: str | None = None
    task_type: str | None = None
    input: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    usage: Usage | None = None
    works: tuple[Work, ...] = ()
    error: TaskError | None = None
    raw: Mapping[str, Any] = field(default_factory=lambda: EMPTY, compare=False, repr=False)

    def __hash__(self) -> int:
        return hash((self.id, self.raw_status, self.ended_at))

    def __reduce__(self) -> tuple[Any, ...]:
        # Read-only mapping views cannot be pickled; they travel as dicts and are wrapped again.
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        state["input"], state["raw"] = dict(self.input), dict(self.raw)
        return (_rebuild_task, (state,))

    def __repr__(self) -> str:
        prompt = (
            self.prompt
            if self.prompt is None or len(self.prompt) <= 40
            else (self.prompt[:39] + "…")
        )
        return (
            f"Task(id={self.id!r}, status={self.status.value!r}, model={self.model!r}, "
            f"prompt={prompt!r}, works={len(self.works)})"
        )

    # -- derived fields ------------------------------------------------------------------------
    @property
    def is_done(self) -> bool:
        return self.status.is_done

    @property
    def prompt(self) -> str | None:
        return as_text(self.input.get("prompt"))

    @property
    def negative_prompt(self) -> str | None:
        return as_text(self.input.get("negative_prompt"))

    @property
    def seed(self) -> int | None:
        return as_int(self.input.get("seed", self.input.get("seeds")))

    @property
    def steps(self) -> int | None:
        return as_int(self.input.get("steps"))

    @property
    def video(self) -> str | None:
        return as_text(self.input.get("video"))

    @property
    def queued_s(self) -> float | None:
        """Seconds from creation to start, or None when either is unknown."""
        return seconds_between(self.created_at, self.started_at)

    @property
    def ran_s(self) -> float | None:
        """Seconds from start to end, or None when either is unknown."""
        return seconds_between(self.started_at, self.ended_at)

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
        except Exception as err:
            # A shape no case foresaw is a bug in this parser, but it must not sink a batch.
            # ``__cause__`` keeps the original, so the property test can tell it from a refusal.
            raise ProtocolError(f"could not read the task: {type(err).__name__}: {err}") from err

    def to_dict(self) -> dict[str, Any]:
        """The normalized fields, JSON-ready (times as ISO 8601 strings)."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "model": self.model,
            "task_type": self.task_type,
            "status": self.status.value,
            "raw_status": self.raw_status,
            "is_done": self.is_done,
            "input": dict(self.input),
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "seed": self.seed,
            "steps": self.steps,
            "video": self.video,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "queued_s": self.queued_s,
            "ran_s": self.ran_s,
            "usage": None
            if self.usage is None
            else {
                "frozen": self.usage.frozen,
                "consume": self.usage.consume,
                "cost_usd": self.usage.cost_usd,
                "type": self.usage.type,
            },
            "works": [
                {
                    "url": w.url,
                    "url_without_watermark": w.url_without_watermark,
                    "content_type": w.content_type,
                    "kind": w.kind,
                    "duration_s": w.duration_s,
                    "width": w.width,
                    "height": w.height,
                    "cover_url": w.cover_url,
                }
                for w in self.works
            ],
            "error": None
            if self.error is None
            else {
                "code": self.error.code,
                "message": self.error.message,
                "raw_message": self.error.raw_message,
            },
        }


# A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, which is about
# half the cost of reading a task. The parser makes its objects the way ``__init__`` would, but
# through the slot descriptors directly; every field is set (unpacking fails at import if a
# field is added without a setter here), and a test checks the result equals ``__init__``'s.
_new = object.__new__


def _slot_setters(cls: type) -> tuple[Any, ...]:
    return tuple(getattr(cls, f.name).__set__ for f in fields(cls))


(
    _set_task_id,
    _set_task_status,
    _set_task_raw_status,
    _set_task_model,
    _set_task_type,
    _set_task_input,
    _set_task_created_at,
    _set_task_started_at,
    _set_task_ended_at,
    _set_task_usage,
    _set_task_works,
    _set_task_error,
    _set_task_raw,
) = _slot_setters(Task)
(
    _set_work_url,
    _set_work_url_without_watermark,
    _set_work_content_type,
    _set_work_kind,
    _set_work_duration_s,
    _set_work_width,
    _set_work_height,
    _set_work_cover_url,
) = _slot_setters(Work)
_set_usage_frozen, _set_usage_consume, _set_usage_type = _slot_setters(Usage)
#: The slot descriptors of the fields that are read through a property (set just below).
_INPUT_SLOT, _RAW_SLOT, _WORKS_SLOT = (Task.__dict__[name] for name in ("input", "raw", "works"))
_get_task_input = _INPUT_SLOT.__get__
_get_raw_slot, _set_raw_slot = _RAW_SLOT.__get__, _RAW_SLOT.__set__


class _AnswerText(str):
    """The JSON text of a stored answer, in a task's ``raw`` slot until ``raw`` is first read
    (a table of stored tasks never reads it; decoding every answer was half of reading them)."""

    __slots__ = ()


def assemble_task(
    task_id: str,
    raw_status: str,
    model: str | None,
    task_type: str | None,
    given: Mapping[str, Any],
    created_at: datetime | None,
    started_at: datetime | None,
    ended_at: datetime | None,
    usage: Usage | None,
    works: tuple[Work, ...],
    error: TaskError | None,
    raw: Mapping[str, Any] | str,
) -> Task:
    """A Task from fields already read and checked, made as ``__init__`` would, the fast way
    (the parser's and the store's snapshots' way). `given` is the input mapping itself (each
    read of ``input`` views it read-only); `raw` may be the answer's JSON text, decoded when
    ``raw`` is first read."""
    task: Task = _new(Task)
    _set_task_id(task, task_id)
    _set_task_status(task, Status.parse(raw_status))
    _set_task_raw_status(task, raw_status)
    _set_task_model(task, model)
    _set_task_type(task, task_type)
    _set_task_input(task, given)
    _set_task_created_at(task, created_at)
    _set_task_started_at(task, started_at)
    _set_task_ended_at(task, ended_at)
    _set_task_usage(task, usage)
    _set_task_works(task, works)
    _set_task_error(task, error)
    _set_task_raw(task, _AnswerText(raw) if type(raw) is str else raw)
    return task


def assemble_work(
    url: str,
    url_without_watermark: str | None,
    content_type: str | None,
    kind: WorkKind,
    duration_s: float | None,
    width: int | None,
    height: int | None,
    cover_url: str | None,
) -> Work:
    """A Work from fields already read and checked, the fast way (see `assemble_task`)."""
    work: Work = _new(Work)
    _set_work_url(work, url)
    _set_work_url_without_watermark(work, url_without_watermark)
    _set_work_content_type(work, content_type)
    _set_work_kind(work, kind)
    _set_work_duration_s(work, duration_s)
    _set_work_width(work, width)
    _set_work_height(work, height)
    _set_work_cover_url(work, cover_url)
    return work


def input_of(task: Task) -> Mapping[str, Any]:
    """The task's input mapping itself, not a read-only view of it: for bulk readers (a frame
    of thousands of tasks, a snapshot) that only read it."""
    return _get_task_input(task)


def _get_task_raw(task: Task) -> Mapping[str, Any]:
    """The mapping in a task's ``raw`` slot (a stored answer's text is decoded here, once)."""
    value = _get_raw_slot(task)
    if type(value) is _AnswerText:
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as err:
            raise ProtocolError(
                f"the stored answer of task {task.id!r} cannot be read "
                f"({type(err).__name__}); clear the task cache"
            ) from err
        if type(value) is not dict:
            raise ProtocolError(
                f"the stored answer of task {task.id!r} is not an object; clear the task cache"
            )
        _set_raw_slot(task, value)
    return value


def _read_only(name: str, slot: Any, get: Any = None) -> property:
    """`Task.input` and `Task.raw`: the slot keeps the dict as parsed, and each read gives a
    read-only view of it. A view made at parse time would be one more object per task for the
    cyclic garbage collector to scan; at 100,000 tasks that scanning was a third of the parse."""
    get, put = get or slot.__get__, slot.__set__

    def view(self: Task) -> Mapping[str, Any]:
        value = get(self)
        return value if type(value) is MappingProxyType else MappingProxyType(value)

    return property(view, put, doc=f"A read-only view of the task's {name} (not a copy).")


#: In the ``works`` slot of a parsed task: the works are read from ``raw`` when first asked.
_UNPARSED: Any = object()


def _lazy_works(slot: Any) -> property:
    """`Task.works`, read from the answer on first access and then kept. Two objects per task
    (the tuple and the work) made at parse time kept the collector busy for a third of a large
    parse; a table reads them later in one pass (`tasks_to_frame`), with the collector paused.
    Reading works never fails on any JSON (the property test in test_models checks it); should
    a bug make it fail, the error is a ProtocolError as `Task.from_dict` would have raised."""
    get, put = slot.__get__, slot.__set__

    def works(self: Task) -> tuple[Work, ...]:
        value = get(self)
        if value is not _UNPARSED:
            return value
        try:
            value = _parse_works(_get_task_raw(self))
        except Exception as err:
            raise ProtocolError(
                f"could not read the task's works: {type(err).__name__}: {err}"
            ) from err
        put(self, value)
        return value

    return property(works, put, doc="The generated files, in the order the answer lists them.")


_get_task_works = _WORKS_SLOT.__get__
setattr(Task, "works", _lazy_works(_WORKS_SLOT))  # noqa: B010 (a slot, replaced)
setattr(Task, "input", _read_only("input", _INPUT_SLOT))  # noqa: B010 (a slot, replaced)
_RAW_PROPERTY = _read_only("raw (the answer's data object)", _RAW_SLOT, _get_task_raw)
setattr(Task, "raw", _RAW_PROPERTY)  # noqa: B010 (a slot, replaced)

#: Usage and TaskError values repeat across a table (the same price, the same failure); they are
#: immutable, so equal ones are shared: fewer objects to keep and for the collector to scan.
_SHARED: dict[tuple[Any, ...], Any] = {}
_SHARED_LIMIT = 4096


def shared_usage(frozen: int | None, consume: int | None, type_: str | None) -> Usage:
    """A Usage of these values, shared with every equal one made before (see `_SHARED`)."""
    key = ("usage", frozen, consume, type_)
    usage: Usage | None = _SHARED.get(key)
    if usage is None:
        usage = _new(Usage)
        _set_usage_frozen(usage, frozen)
        _set_usage_consume(usage, consume)
        _set_usage_type(usage, type_)
        _share(key, usage)
    return usage


def shared_error(message: str, code: int | None, raw_message: str | None) -> TaskError:
    """A TaskError of these values, shared with equal short ones made before (see `_SHARED`)."""
    key = ("error", message, code, raw_message)
    error: TaskError | None = _SHARED.get(key)
    if error is None:
        error = TaskError(message=message, code=code, raw_message=raw_message)
        if len(message) + len(raw_message or "") <= 1024:  # a long text is not worth keeping
            _share(key, error)
    return error


def _share(key: tuple[Any, ...], value: Any) -> None:
    if len(_SHARED) >= _SHARED_LIMIT:
        _SHARED.clear()
    _SHARED[key] = value


def _rebuild_task(state: dict[str, Any]) -> Task:
    state["input"] = MappingProxyType(state["input"])
    state["raw"] = MappingProxyType(state["raw"])
    return Task(**state)


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from `start` to `end`; None when either is unknown or the clock ran backwards."""
    if start is None or end is None:
        return None
    seconds = (end - start).total_seconds()
    return seconds if seconds >= 0 else None  # a clock that ran backwards tells us nothing


# -- parsing ---------------------------------------------------------------------------------


def _unwrap(obj: object) -> Mapping[str, Any]:
    if type(obj) is not dict and not isinstance(obj, Mapping):
        raise ProtocolError(f"expected a JSON object holding a task, got {type(obj).__name__}")
    if "task_id" not in obj and "data" in obj:
        code = obj.get("code")
        message = as_text(obj.get("message")) or ""
        if code is not None and as_int(code) not in (0, 200):
            raise ProtocolError(
                f"the answer carries error code {code!r}: {message or 'no message'}"
            )
        data = obj.get("data")
        if not isinstance(data, Mapping):
            raise ProtocolError(
                f"the answer holds no task (data is {type(data).__name__}); "
                f"message: {message or 'none'}"
            )
        obj = data
    if as_text(obj.get("task_id")) in (None, ""):
        keys = ", ".join(sorted(str(k)[:40] for k in obj)[:8]) or "none"
        raise ProtocolError(f"expected a task object with a 'task_id'; got keys: {keys}")
    _refuse_deep_nesting(obj, "the task")
    return obj


def _refuse_deep_nesting(root: object, what: str) -> None:
    """ProtocolError when `root` nests more than MAX_NESTING levels.

    Recursive, but at most MAX_NESTING frames deep (a tenth of Python's default limit), and
    only containers are visited: about twice as fast as a level-by-level walk.
    """
    try:
        _walk(root, MAX_NESTING)
    except _TooDeep:
        raise ProtocolError(
            f"{what} nests more than {MAX_NESTING} levels deep; "
            "no API answer does, so it is refused"
        ) from None


class _TooDeep(Exception):
    pass


def _walk(node: Any, levels_left: int) -> None:
    if levels_left == 0:
        raise _TooDeep
    kind = type(node)
    for child in node.values() if kind is dict else node if kind is list else _children(node):
        kind = type(child)
        if kind is dict or kind is list:
            if child or levels_left == 1:  # an empty one is a leaf, unless past the limit
                _walk(child, levels_left - 1)
        elif kind not in _LEAVES:
            _walk(child, levels_left - 1)


def _children(node: object) -> Iterable[Any]:
    if isinstance(node, Mapping):
        return node.values()
    if isinstance(node, (list, tuple)):
        return node
    return ()


_LEAVES = frozenset({str, int, float, bool, type(None)})


def _parse(data: Mapping[str, Any]) -> Task:
    get = data.get
    legacy = as_mapping(get("task"))
    task_info = as_mapping(legacy.get("taskInfo")) if legacy else EMPTY
    raw_status = as_text(get("status")) or ""
    meta = as_mapping(get("meta"))
    metadata = as_mapping(get("metadata"))
    times = meta or metadata
    return assemble_task(
        str(as_text(get("task_id"))),
        raw_status,
        as_text(get("model")) or _legacy_model(as_text(legacy.get("type"))),
        as_text(get("task_type")) or as_text(task_info.get("type")),
        _parse_input(get("input"), task_info),
        parse_time(times.get("created_at")) or parse_time(legacy.get("createTime")),
        parse_time(times.get("started_at")),
        parse_time(times.get("ended_at")),
        _parse_usage(meta, metadata),
        _UNPARSED,  # the works are read from ``raw`` when first asked (see _lazy_works)
        _parse_error(get("error")),
        data if type(data) is dict else dict(data),
    )


def _legacy_model(task_type: str | None) -> str | None:
    """The seed schema names only the family ("mmaudio"); the unified one says "Qubico/mmaudio"."""
    if not task_type or task_type == "string":
        return None
    return task_type if "/" in task_type else f"Qubico/{task_type}"


def _parse_input(value: object, task_info: Mapping[str, Any]) -> Mapping[str, Any]:
    found: Mapping[str, Any] = EMPTY
    if type(value) is dict:
        found = value  # JSON keys are text: kept as is (a read-only view of it), not copied
    elif isinstance(value, Mapping):
        found = {str(k): v for k, v in value.items()}
    elif isinstance(value, str) and value.strip():
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            decoded = None
        if isinstance(decoded, dict):
            _refuse_deep_nesting(decoded, "the task's input")
            found = {str(k): v for k, v in decoded.items()}
        else:
            found = {"raw": value}
    if not task_info:
        return found
    # The seed schema also lists the arguments and input files of the legacy task record.
    found = dict(found)
    arguments = task_info.get("arguments")
    for item in arguments if isinstance(arguments, list) else ():
        name = as_text(as_mapping(item).get("name"))
        if name and name not in found:
            found[name] = as_mapping(item).get("value")
    inputs = task_info.get("inputs")
    for item in inputs if isinstance(inputs, list) else ():
        name, url = as_text(as_mapping(item).get("name")), as_text(as_mapping(item).get("url"))
        if name and url and name not in found:
            found[name] = url
    return found


def _parse_usage(meta: Mapping[str, Any], metadata: Mapping[str, Any]) -> Usage | None:
    usage = as_mapping(meta.get("usage"))
    if usage:
        frozen, consume, kind = usage.get("frozen"), usage.get("consume"), usage.get("type")
        if type(frozen) is int and type(consume) is int and type(kind) is str:  # the usual
            return shared_usage(frozen, consume, kind)
        return shared_usage(as_int(frozen), as_int(consume), as_text(kind))
    if "quota_usage" in metadata or "quota_frozen" in metadata:
        return shared_usage(
            as_int(metadata.get("quota_frozen")), as_int(metadata.get("quota_usage")), None
        )
    return None


def _parse_works(data: Mapping[str, Any]) -> tuple[Work, ...]:
    works: list[Work] = []
    listed = data.get("works")
    for item in listed if isinstance(listed, list) else ():
        entry = as_mapping(item)
        resource = as_mapping(entry.get("resource"))
        url = as_text(resource.get("resource")) or as_text(resource.get("resourceWithoutWatermark"))
        if not url:
            continue
        works.append(
            _work(
                url,
                as_text(entry.get("contentType")) or None,
                _hint(as_text(entry.get("type"))),
                url_without_watermark=as_text(resource.get("resourceWithoutWatermark")) or None,
                duration_s=as_positive(resource.get("duration")),
                width=as_int(resource.get("width")) or None,
                height=as_int(resource.get("height")) or None,
                cover_url=as_text(as_mapping(entry.get("cover")).get("resource")) or None,
            )
        )
    output = data.get("output")
    for key, value in as_mapping(output).items():
        name = str(key)
        urls = value if isinstance(value, list) else (value,)
        for url in urls:
            if isinstance(url, str) and _looks_like_file(name, url):
                works.append(_work(url, None, _hint(name)))
            elif isinstance(url, str) and name.lower().endswith("_base64"):
                inline = image_data_uri(url)
                if inline is not None:  # an image sent as its bytes (Flux's image_base64)
                    works.append(_work(inline, inline[5 : inline.index(";")], "image"))
    return tuple(works)


_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def image_data_uri(value: str) -> str | None:
    """A PNG, JPEG, GIF or WebP sent as base64 (bare or as a ``data:image/...`` URI), as a
    ``data:image/<type>;base64,`` URI; None for anything else (SVG can carry scripts: never)."""
    payload = value.partition(",")[2] if value.startswith("data:") else value
    payload = payload.strip()
    if not _BASE64_TEXT.fullmatch(payload):
        return None
    try:
        head = base64.b64decode(payload[:16] + "=" * (-len(payload[:16]) % 4))
    except ValueError:
        return None
    media_type = image_media_type(head)
    return None if media_type is None else f"data:{media_type};base64,{payload}"


def _work(
    url: str,
    content_type: str | None,
    hint: WorkKind | None,
    *,
    url_without_watermark: str | None = None,
    duration_s: float | None = None,
    width: int | None = None,
    height: int | None = None,
    cover_url: str | None = None,
) -> Work:
    """`Work.from_url`, built the fast way (`assemble_work`)."""
    content_type = content_type or guess_content_type(url)
    return assemble_work(
        url,
        url_without_watermark,
        content_type,
        _kind(content_type, hint),
        duration_s,
        width,
        height,
        cover_url,
    )


def _hint(name: str | None) -> WorkKind | None:
    """The kind a key or type name suggests ("audio_url" -> audio)."""
    if not name:
        return None
    return _short_hint(name) if len(name) <= 64 else _find_hint(name)


def _find_hint(name: str) -> WorkKind | None:
    lowered = name.lower()
    return next((kind for kind in _KINDS if kind in lowered), None)


_short_hint = lru_cache(maxsize=1024)(_find_hint)


def _looks_like_file(key: str, value: str) -> bool:
    """True for a URL under a key that names a file (``audio_url``, ``video``, ``files``)."""
    if not value.startswith(("http://", "https://", "/")):
        return False
    return _names_a_file(key) if len(key) <= 64 else _key_names_a_file(key)


def _key_names_a_file(key: str) -> bool:
    lowered = key.lower()
    return (
        lowered.endswith(("url", "urls"))
        or _hint(lowered) is not None
        or lowered in ("file", "files", "result")
    )


_names_a_file = lru_cache(maxsize=1024)(_key_names_a_file)


def _parse_error(value: object) -> TaskError | None:
    if isinstance(value, str):  # some servers send the message alone
        return shared_error(value, None, None) if value.strip() else None
    error = as_mapping(value)
    if (
        error.get("message") in _BLANK_TEXT
        and error.get("raw_message") in _BLANK_TEXT
        and error.get("code") in _NO_CODE
    ):  # a finished task's empty error, at once
        return None
    message = as_text(error.get("message")) or ""
    raw_message = as_text(error.get("raw_message")) or ""
    code = as_int(error.get("code"))
    if not message and not raw_message and not code:
        return None
    return shared_error(message or raw_message, code, raw_message or None)


_BLANK_TEXT = ("", None)
_NO_CODE = (0, None)
