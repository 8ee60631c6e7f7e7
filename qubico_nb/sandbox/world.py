"""The sandbox's in-memory world: validation, the clock-driven lifecycle, uploads, the account."""

from __future__ import annotations

import base64
import binascii
import itertools
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .. import catalogue
from .._media import audio_media_type, mp4_duration_s

#: MMAudio, the model the sandbox first served (the seed page's model).
MODEL = catalogue.MMAUDIO.name
#: The model family, as history filters and the active-tasks list name it.
MODEL_FAMILY = catalogue.MMAUDIO.family
TASK_TYPE = catalogue.MMAUDIO.default_task_type
CONSUME_UNITS_PER_USD = 10_000_000
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: A media URL containing this word (or, for a task without media, its main text) makes the
#: task fail the way the live service does.
FAIL_TRIGGER = "corrupt"
FAIL_MESSAGE = "failed to get valid video"
#: What a task whose reference recording cannot be read fails with.
AUDIO_FAIL_MESSAGE = "failed to get valid audio"
#: What a task with nothing but text fails with when its text names the trigger.
TEXT_FAIL_MESSAGE = "generation failed"
#: The seed a task gets when none is sent (the service draws a random one).
SANDBOX_SEED = 42
#: What a cancelled task reports as its error.
CANCEL_MESSAGE = "task canceled before it started"
#: How long each model's tasks run under the ``realistic`` preset, from the estimates Qubico's
#: pages give (https://qubico.ai/docs/models/<model>: MMAudio 45 s, DiffRhythm 81 s, F5-TTS 8 s;
#: ACE-Step gives none: its own figure, about 20 s of GPU per minute of music, is used).
REALISTIC_PROCESSING_S: dict[str, float] = {
    catalogue.MMAUDIO.name: 20.0,
    catalogue.ACE_STEP.name: 30.0,
    catalogue.DIFFRHYTHM.name: 80.0,
    catalogue.TTS.name: 8.0,
}
#: Finds the bytes behind a URL the sandbox itself serves (its demo clip, an upload), else None.
LocalFiles = Callable[[str], bytes | None]

PRESETS: dict[str, tuple[float, float]] = {
    "instant": (0.0, 0.0),
    "fast": (0.05, 0.25),
    "realistic": (1.0, 20.0),
}


class RequestError(Exception):
    """A request the service would refuse: answered with ``status`` and ``{"code", "message"}``."""

    def __init__(
        self,
        status: int,
        message: str,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.headers = dict(headers or {})


@dataclass
class SandboxTask:
    """One task as the sandbox holds it; its status is derived from the clock when read.

    ``seconds`` is how long its audio is (MMAudio: the video's length; music: the length asked
    for or fixed by the task type); ``cost_usd`` is its price by the catalogue's rule, frozen
    when it is created and refunded if it fails or is cancelled.
    """

    task_id: str
    number: int
    input: dict[str, Any]
    created_wall_ns: int
    created_mono: float
    pending_s: float
    processing_s: float
    seconds: float
    model: str = MODEL
    task_type: str = TASK_TYPE
    cost_usd: float = 0.0
    webhook: dict[str, str] = field(default_factory=lambda: {"endpoint": "", "secret": ""})
    fails: bool = False
    fail_message: str = FAIL_MESSAGE
    #: When (on the monotonic clock) it was cancelled, if it was.
    cancelled_mono: float | None = None

    @property
    def spec(self) -> catalogue.ModelSpec:
        return catalogue.model_spec(self.model)

    @property
    def family(self) -> str:
        return self.spec.family

    @property
    def consume(self) -> int:
        return int(round(self.cost_usd * CONSUME_UNITS_PER_USD))

    def phase(self, now_mono: float) -> str:
        if self.cancelled_mono is not None and now_mono >= self.cancelled_mono:
            return "cancelled"
        age = now_mono - self.created_mono
        if age < self.pending_s:
            return "pending"
        if age < self.pending_s + self.processing_s:
            return "processing"
        return "failed" if self.fails else "completed"

    def started_ns(self) -> int:
        return self.created_wall_ns + int(self.pending_s * 1e9)

    def ended_ns(self) -> int:
        if self.cancelled_mono is not None:
            return self.created_wall_ns + int((self.cancelled_mono - self.created_mono) * 1e9)
        return self.created_wall_ns + int((self.pending_s + self.processing_s) * 1e9)


def format_time(ns: int | None, offset_minutes: int = 0) -> str:
    """RFC 3339 with nanoseconds, as the live service writes it; None is the zero time."""
    if ns is None:
        return "0001-01-01T00:00:00Z"
    tz = timezone(timedelta(minutes=offset_minutes))
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz).strftime("%Y-%m-%dT%H:%M:%S")
    if offset_minutes == 0:
        suffix = "Z"
    else:
        sign = "+" if offset_minutes > 0 else "-"
        hours, minutes = divmod(abs(offset_minutes), 60)
        suffix = f"{sign}{hours:02d}:{minutes:02d}"
    return f"{stamp}.{frac:09d}{suffix}"


@dataclass(frozen=True)
class CreateRequest:
    """A create the sandbox accepted: the model, task type, input (with the service's defaults
    filled in), the length of its media input when known, and whether the task will fail."""

    spec: catalogue.ModelSpec
    task_type: str
    input: dict[str, Any]
    media_seconds: float | None
    fails: bool
    fail_message: str


def validate_create(body: object, local_file: LocalFiles | None = None) -> CreateRequest:
    """Check a create body as the service does, by the catalogue's documented inputs."""
    if not isinstance(body, dict):
        raise RequestError(400, "request body must be a JSON object")
    raw = body.get("input")
    try:
        spec = catalogue.model_spec(body.get("model"))
        if body.get("model") != spec.name:  # the service takes the full name, as spelled
            raise catalogue.InputError(
                f"model must be one of {', '.join(repr(m) for m in catalogue.MODELS)}, "
                f"got {body.get('model')!r}"[:300]
            )
        task = spec.task_type(body.get("task_type"))
        if not isinstance(raw, dict):
            raise RequestError(400, "input is required and must be an object")
        catalogue.check_input(spec, task.name, raw, prefix="input.")
    except catalogue.InputError as err:
        raise RequestError(400, str(err)) from None
    clean = catalogue.with_defaults(spec, task.name, raw)
    if task.input("seed") is not None and clean.get("seed", clean.get("seeds")) is None:
        clean["seed"] = SANDBOX_SEED  # the service draws one; the sandbox's is fixed
    seconds, fails, message = _check_media(task, clean, local_file)
    if not fails and not any(_media_inputs(task, clean)):
        fails = FAIL_TRIGGER in str(clean.get(spec.main_text) or "").lower()
        message = TEXT_FAIL_MESSAGE
    return CreateRequest(spec, task.name, clean, seconds, fails, message)


def _media_inputs(task: catalogue.TaskTypeSpec, given: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, value) of each media input given."""
    found: list[tuple[str, str]] = []
    for name, value in given.items():
        spec = task.input(name)
        if spec is not None and spec.kind in ("video", "audio") and isinstance(value, str):
            found.append((spec.kind, value))
    return found


def _check_media(
    task: catalogue.TaskTypeSpec, given: dict[str, Any], local_file: LocalFiles | None
) -> tuple[float | None, bool, str]:
    """(seconds of the video, whether the task fails, why) from the media inputs."""
    seconds: float | None = None
    for kind, value in _media_inputs(task, given):
        message = FAIL_MESSAGE if kind == "video" else AUDIO_FAIL_MESSAGE
        if value.startswith(("http://", "https://")):
            data = local_file(value) if local_file is not None else None
            if data is None:
                if FAIL_TRIGGER in value.lower():
                    return seconds, True, message
                continue
        else:
            data = catalogue.media_bytes(value)
        readable, length = _read_media(kind, data)
        if not readable:
            return seconds, True, message
        if kind == "video":
            seconds = length
    return seconds, False, ""


def _read_media(kind: str, data: bytes | None) -> tuple[bool, float | None]:
    if data is None:
        return False, None
    if kind == "video":
        length = mp4_duration_s(data)
        return length is not None, length
    return audio_media_type(data) is not None, None


class World:
    """All sandbox state, guarded by one lock; time comes from injectable clocks."""

    def __init__(
        self,
        *,
        pending_s: float,
        processing_s: float,
        audio_seconds: float,
        balance_usd: float = 10.0,
        concurrency_limit: int | None = None,
        processing_by_model: dict[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ns: Callable[[], int] = time.time_ns,
        on_change: Callable[[SandboxTask], None] | None = None,
    ) -> None:
        #: Called with a task once it is made, and again if it is cancelled (outside the lock).
        self.on_change = on_change
        self.pending_s = pending_s
        self.processing_s = processing_s
        #: Per model, how long its tasks run instead of `processing_s` (the realistic preset).
        self.processing_by_model = dict(processing_by_model or {})
        self.audio_seconds = audio_seconds
        self.starting_balance_usd = balance_usd
        self.concurrency_limit = concurrency_limit
        self.clock = clock
        self.wall_clock_ns = wall_clock_ns
        self._lock = threading.Lock()
        self._tasks: dict[str, SandboxTask] = {}
        self._numbers = itertools.count(1000)
        self._uploads: dict[str, tuple[bytes, str]] = {}

    @property
    def balance_usd(self) -> float:
        """The starting balance minus every task that has not failed or been cancelled.

        A task's price is frozen when it is created and refunded if it fails, as the service does.
        """
        now = self.clock()
        with self._lock:
            spent = sum(t.cost_usd for t in self._tasks.values() if t.phase(now) not in _REFUNDED)
        return self.starting_balance_usd - spent

    @balance_usd.setter
    def balance_usd(self, value: float) -> None:
        self.starting_balance_usd += value - self.balance_usd

    def create(self, body: object, local_file: LocalFiles | None = None) -> SandboxTask:
        request = validate_create(body, local_file)
        seconds = self._output_seconds(request)
        media_seconds = request.media_seconds
        if request.spec is catalogue.MMAUDIO and media_seconds is None:
            media_seconds = self.audio_seconds  # a video it cannot read is billed as its audio
        quote = catalogue.price(
            request.spec, request.task_type, request.input, media_seconds=media_seconds
        )
        webhook = {"endpoint": "", "secret": ""}
        config = body.get("config") if isinstance(body, dict) else None
        hook = config.get("webhook_config") if isinstance(config, dict) else None
        if isinstance(hook, dict):
            webhook = {k: str(hook.get(k) or "") for k in ("endpoint", "secret")}
        with self._lock:
            if self.concurrency_limit is not None:
                now = self.clock()
                active = sum(1 for t in self._tasks.values() if not _done(t.phase(now)))
                if active >= self.concurrency_limit:
                    raise RequestError(
                        429,
                        f"concurrency limit reached: {active} tasks pending or processing "
                        f"(plan allows {self.concurrency_limit}); retry when one finishes",
                        retry_after=max(self.pending_s + self.processing_s, 0.1),
                    )
            task = SandboxTask(
                task_id=str(uuid.uuid4()),
                number=next(self._numbers),
                input=request.input,
                created_wall_ns=self.wall_clock_ns(),
                created_mono=self.clock(),
                pending_s=self.pending_s,
                processing_s=self.processing_by_model.get(request.spec.name, self.processing_s),
                seconds=seconds,
                model=request.spec.name,
                task_type=request.task_type,
                cost_usd=quote.usd,
                webhook=webhook,
                fails=request.fails,
                fail_message=request.fail_message,
            )
            self._tasks[task.task_id] = task
        if self.on_change is not None:
            self.on_change(task)
        return task

    def _output_seconds(self, request: CreateRequest) -> float:
        """How long the task's audio is, before the sandbox's own cap (`audio_seconds`)."""
        if request.spec is catalogue.MMAUDIO:
            return request.media_seconds or self.audio_seconds
        if request.spec is catalogue.TTS:
            text = str(request.input.get(request.spec.main_text) or "")
            return max(1.0, len(text) * SPEECH_SECONDS_PER_CHARACTER)
        asked = catalogue.requested_seconds(request.spec, request.task_type, request.input)
        if request.task_type == "extend":
            task = request.spec.task_type(request.task_type)
            asked = self.audio_seconds + sum(
                float(catalogue.value_of(task, request.input, name) or 0)
                for name in ("left_extend_duration", "right_extend_duration")
            )
        return asked or self.audio_seconds

    def cancel(self, task_id: str) -> SandboxTask:
        """Cancel a pending task, as the service does; a task already started is refused."""
        task = self.get(task_id)
        with self._lock:
            now = self.clock()
            phase = task.phase(now)
            if phase == "cancelled":
                return task
            if phase != "pending":
                raise RequestError(
                    400,
                    f"task {task_id} is {phase} and can no longer be canceled; only pending "
                    "tasks can be",
                )
            task.cancelled_mono = now
            task.fails = True
            task.fail_message = CANCEL_MESSAGE
        if self.on_change is not None:
            self.on_change(task)
        return task

    def restore(self, tasks: list[SandboxTask]) -> None:
        """Take back tasks an earlier sandbox made (ones already here stay as they are)."""
        with self._lock:
            for task in tasks:
                self._tasks.setdefault(task.task_id, task)
            start = max((t.number for t in self._tasks.values()), default=999) + 1
            self._numbers = itertools.count(max(start, next(self._numbers)))

    def get(self, task_id: str) -> SandboxTask:
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None:
            raise RequestError(404, f"task not found: {task_id}")
        return task

    def tasks(self) -> list[SandboxTask]:
        with self._lock:
            return list(self._tasks.values())

    def phase(self, task: SandboxTask) -> str:
        return task.phase(self.clock())

    def active_counts(self) -> tuple[list[SandboxTask], int, int]:
        now = self.clock()
        active = [t for t in self.tasks() if not _done(t.phase(now))]
        pending = sum(1 for t in active if t.phase(now) == "pending")
        return active, pending, len(active) - pending

    def add_upload(self, body: object) -> str:
        if not isinstance(body, dict):
            raise RequestError(400, "request body must be a JSON object")
        name = body.get("file_name")
        data = body.get("file_data")
        if not isinstance(name, str) or not name.strip():
            raise RequestError(400, "file_name is required, e.g. 'clip.mp4'")
        if not isinstance(data, str) or not data:
            raise RequestError(400, "file_data is required: base64 text or a data: URI")
        if data.startswith("data:"):
            _, _, data = data.partition(",")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(400, "file_data is not valid base64") from None
        if len(raw) > MAX_UPLOAD_BYTES:
            raise RequestError(400, f"file is {len(raw)} bytes; the limit is {MAX_UPLOAD_BYTES}")
        ext = re.sub(r"[^a-z0-9]", "", name.rsplit(".", 1)[-1].lower())[:8] if "." in name else ""
        key = f"{uuid.uuid4()}.{ext or 'bin'}"
        with self._lock:
            self._uploads[key] = (raw, name)
        return key

    def upload(self, key: str) -> bytes | None:
        with self._lock:
            found = self._uploads.get(key)
        return found[0] if found else None


def _done(phase: str) -> bool:
    return phase in FINAL_PHASES


#: Phases a task never leaves.
FINAL_PHASES = ("completed", "failed", "cancelled")
#: Phases whose frozen price is given back.
_REFUNDED = ("failed", "cancelled")
#: About how fast speech goes (14 characters a second), for the length of a TTS task's audio.
SPEECH_SECONDS_PER_CHARACTER = 1 / 14
