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

from .._media import mp4_duration_s

MODEL = "Qubico/mmaudio"
#: The model family, as history filters and the active-tasks list name it.
MODEL_FAMILY = "mmaudio"
TASK_TYPE = "video2audio"
PRICE_PER_VIDEO_SECOND_USD = 0.0005
MAX_BILLED_SECONDS = 30.0
CONSUME_UNITS_PER_USD = 10_000_000
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: A video URL containing this word makes the task fail the way the live service does.
FAIL_TRIGGER = "corrupt"
FAIL_MESSAGE = "failed to get valid video"
#: Seeds are 64-bit integers on the service; a larger number is a bad request, not a crash.
SEED_RANGE = (-(2**63), 2**63 - 1)
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
    """One task as the sandbox holds it; its status is derived from the clock when read."""

    task_id: str
    number: int
    input: dict[str, Any]
    created_wall_ns: int
    created_mono: float
    pending_s: float
    processing_s: float
    video_seconds: float
    webhook: dict[str, str] = field(default_factory=lambda: {"endpoint": "", "secret": ""})
    fails: bool = False

    @property
    def cost_usd(self) -> float:
        return PRICE_PER_VIDEO_SECOND_USD * min(self.video_seconds, MAX_BILLED_SECONDS)

    @property
    def consume(self) -> int:
        return int(round(self.cost_usd * CONSUME_UNITS_PER_USD))

    def phase(self, now_mono: float) -> str:
        age = now_mono - self.created_mono
        if age < self.pending_s:
            return "pending"
        if age < self.pending_s + self.processing_s:
            return "processing"
        return "failed" if self.fails else "completed"

    def started_ns(self) -> int:
        return self.created_wall_ns + int(self.pending_s * 1e9)

    def ended_ns(self) -> int:
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


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_create(
    body: object, local_file: LocalFiles | None = None
) -> tuple[dict[str, Any], float | None, bool]:
    """Check a create body as the service does: (input with defaults, video seconds, fails)."""
    if not isinstance(body, dict):
        raise RequestError(400, "request body must be a JSON object")
    if body.get("model") != MODEL:
        raise RequestError(400, f"model must be '{MODEL}', got {body.get('model')!r}")
    if body.get("task_type") != TASK_TYPE:
        raise RequestError(400, f"task_type must be '{TASK_TYPE}', got {body.get('task_type')!r}")
    raw = body.get("input")
    if not isinstance(raw, dict):
        raise RequestError(400, "input is required and must be an object")
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise RequestError(400, "input.prompt is required and must be a non-empty string")
    if len(prompt) > 500:
        raise RequestError(400, f"input.prompt must be at most 500 characters, got {len(prompt)}")
    negative = raw.get("negative_prompt", "")
    if negative is None:
        negative = ""
    if not isinstance(negative, str):
        raise RequestError(400, "input.negative_prompt must be a string")
    if len(negative) > 200:
        raise RequestError(
            400, f"input.negative_prompt must be at most 200 characters, got {len(negative)}"
        )
    steps = raw.get("steps", 25)
    if not _is_int(steps) or not 20 <= steps <= 50:
        raise RequestError(400, f"input.steps must be an integer from 20 to 50, got {steps!r}")
    seed = raw.get("seed", 42)
    if not _is_int(seed) or not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        shown = repr(seed) if not _is_int(seed) or abs(seed) < 10**30 else "a larger number"
        raise RequestError(400, f"input.seed must be an integer (64-bit), got {shown}")
    video = raw.get("video")
    seconds, fails = _check_video(video, local_file)
    clean = {
        "prompt": prompt,
        "negative_prompt": negative,
        "video": video,
        "steps": steps,
        "seed": seed,
    }
    return clean, seconds, fails


_DATA_URI = re.compile(r"^data:video/mp4;base64,(?P<payload>.*)$", re.DOTALL)


def _check_video(video: object, local_file: LocalFiles | None) -> tuple[float | None, bool]:
    if not isinstance(video, str) or not video:
        raise RequestError(400, "input.video is required: an http(s) URL or a data:video/mp4 URI")
    if video.startswith(("http://", "https://")):
        data = local_file(video) if local_file is not None else None
        if data is not None:
            seconds = mp4_duration_s(data)
            return seconds, seconds is None
        return None, FAIL_TRIGGER in video.lower()
    match = _DATA_URI.match(video)
    if not match:
        raise RequestError(400, "input.video must be an http(s) URL or 'data:video/mp4;base64,...'")
    try:
        data = base64.b64decode(match.group("payload"), validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "input.video data URI is not valid base64") from None
    seconds = mp4_duration_s(data)
    return seconds, seconds is None


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
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.pending_s = pending_s
        self.processing_s = processing_s
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
        """The starting balance minus every task that has not failed.

        A task's price is frozen when it is created and refunded if it fails, as the service does.
        """
        now = self.clock()
        with self._lock:
            spent = sum(t.cost_usd for t in self._tasks.values() if t.phase(now) != "failed")
        return self.starting_balance_usd - spent

    @balance_usd.setter
    def balance_usd(self, value: float) -> None:
        self.starting_balance_usd += value - self.balance_usd

    def create(self, body: object, local_file: LocalFiles | None = None) -> SandboxTask:
        clean, seconds, fails = validate_create(body, local_file)
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
                input=clean,
                created_wall_ns=self.wall_clock_ns(),
                created_mono=self.clock(),
                pending_s=self.pending_s,
                processing_s=self.processing_s,
                video_seconds=seconds if seconds is not None else self.audio_seconds,
                webhook=webhook,
                fails=fails,
            )
            self._tasks[task.task_id] = task
        return task

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
    return phase in ("completed", "failed")
