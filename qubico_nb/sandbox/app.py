"""`Sandbox`: the local Qubico-compatible server's public face (options, lifecycle, counters)."""

from __future__ import annotations

import math
import os
import re
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Literal, get_args

from .._net import is_loopback_host
from .assets import DEMO_VIDEO
from .audio import AUDIO_FORMATS
from .endpoints import PLANS, Endpoints
from .faults import FaultPlan, FaultRule
from .journal import TaskJournal
from .render import Renderer
from .server import SandboxHTTPServer
from .webhooks import Delivery, WebhookDispatcher
from .world import PRESETS, REALISTIC_PROCESSING_S, SandboxTask, World

#: Which response schema the sandbox speaks (see the API contract): the seed page's or today's.
Schema = Literal["seed", "unified"]
#: How long tasks pend and run: at once, briefly (tests), or like the live service.
Preset = Literal["instant", "fast", "realistic"]
#: The file format of the works.
AudioFormatName = Literal["wav", "mp3"]
#: A plan: its concurrency and whether uploads are allowed.
Plan = Literal["free", "creator", "pro"]
SCHEMAS: tuple[Schema, ...] = get_args(Schema)
DEFAULT_MAX_BODY_BYTES = 15 * 1024 * 1024
#: A connection that sends nothing for this long is closed (a slow or stuck client).
DEFAULT_SOCKET_TIMEOUT_S = 30.0


def _parse_offset(offset: str | int) -> int:
    """Minutes east of UTC from ``Z``, ``+08:00``, ``-0530`` or an int."""
    if isinstance(offset, int):
        return offset
    if offset in ("Z", "z", ""):
        return 0
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", offset)
    if not match or int(match.group(2)) > 23 or int(match.group(3)) > 59:
        raise ValueError(f"timezone offset must look like 'Z' or '+08:00', got {offset!r}")
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    return minutes if match.group(1) == "+" else -minutes


class OptionError(ValueError):
    """A `Sandbox` option the sandbox cannot work with: ``option`` names the parameter and
    ``problem`` says what to give instead (the command line names its own flag with it)."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"{option} {problem}")
        self.option = option
        self.problem = problem


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _at_least(low: float, *, whole: bool = False, optional: bool = False) -> Callable[[Any], bool]:
    kind = _whole if whole else _real
    return lambda value: (optional and value is None) or (kind(value) and value >= low)


def _within(low: float, high: float, *, whole: bool = False) -> Callable[[Any], bool]:
    kind = _whole if whole else _real
    return lambda value: kind(value) and low <= value <= high


#: What each checked option must be; the one place these rules live (the CLI reports them).
_OPTION_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "host": (
        lambda v: isinstance(v, str) and bool(v.strip()),
        "must be an address such as 127.0.0.1",
    ),
    "port": (_within(0, 65535, whole=True), "must be from 0 to 65535 (0 picks a free one)"),
    "schema": (lambda v: v in SCHEMAS, f"must be one of {SCHEMAS}"),
    "preset": (lambda v: v in PRESETS, f"must be one of {tuple(PRESETS)}"),
    "pending_s": (_at_least(0, optional=True), "must be 0 or more seconds"),
    "processing_s": (_at_least(0, optional=True), "must be 0 or more seconds"),
    "audio_seconds": (lambda v: _real(v) and 0 < v <= 60, "must be in (0, 60]"),
    "sample_rate": (
        _within(8000, 192000, whole=True),
        "must be a whole number of Hz from 8000 to 192000",
    ),
    "audio_format": (lambda v: v in AUDIO_FORMATS, f"must be one of {tuple(AUDIO_FORMATS)}"),
    "latency_ms": (_at_least(0), "must be 0 or more milliseconds"),
    "jitter_ms": (_at_least(0), "must be 0 or more milliseconds"),
    "fault_seed": (_whole, "must be a whole number"),
    "rate_limit_per_s": (
        lambda v: v is None or (_real(v) and v > 0),
        "must be more than 0 requests a second (leave it out for no limit)",
    ),
    "concurrency_limit": (
        _at_least(1, whole=True, optional=True),
        "must be a whole number of at least 1 (leave it out for no limit)",
    ),
    "balance_usd": (_real, "must be a finite number"),
    "plan": (lambda v: v in PLANS, f"must be one of {PLANS}"),
    "max_body_bytes": (_at_least(1, whole=True), "must be a whole number of at least 1"),
    "socket_timeout_s": (lambda v: _real(v) and v > 0, "must be positive"),
}


def _check_options(**given: Any) -> None:
    """Refuse, before anything starts, every value that would break the sandbox: a negative
    delay (its threads would die on every request), a rate limit that answers 429 to
    everything, a concurrency limit that refuses every create, a number that is not finite."""
    for name, value in given.items():
        accepts, problem = _OPTION_RULES[name]
        if not accepts(value):
            raise OptionError(name, f"{problem}, got {value!r}")


class _RateLimiter:
    """A token bucket of `per_second` requests; answers how long to wait when empty."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.tokens = per_second
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.per_second, self.tokens + (now - self.stamp) * self.per_second)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.per_second


class Sandbox:
    """A local Qubico-compatible server: ``with Sandbox() as sb: ... sb.url``.

    schema: ``"seed"`` answers like the seed page (code 0, works[]), ``"unified"`` like today's API.
    It serves every model of `qubico_nb.catalogue` (MMAudio, ACE-Step, DiffRhythm, TTS), each
    with its documented inputs, limits and price; music tasks get chords and a beat, TTS tasks
    speech-like syllables. A file is at most ``audio_seconds`` long (a 4-minute song is cut, so
    tests stay cheap); the price follows the length asked for.
    preset: ``"instant"``, ``"fast"`` (tests, the default) or ``"realistic"`` (~1 s pending,
    then each model's typical run: MMAudio 20 s, ACE-Step 30 s, DiffRhythm 80 s, TTS 8 s);
    ``pending_s`` / ``processing_s`` override it.
    api_key: when set, API calls without ``x-api-key: <api_key>`` get 401 (files stay public).
    audio_format: ``"wav"`` (default) or ``"mp3"`` (as the live service serves its audio models).
    plan: the account's plan; on ``"free"`` uploads are refused with 403, as on the service.
    socket_timeout_s: a connection idle (or trickling) this long is closed.
    A task created with ``config.webhook_config.endpoint`` gets ``{"timestamp", "data"}`` POSTed
    there as it starts and ends (loopback endpoints only; see `webhook_deliveries`).
    A media URL containing ``corrupt`` (or a data URI that is not an MP4 / audio file) makes
    the task fail; so does ``corrupt`` in the main text of a task without media.
    A pending task can be cancelled (DELETE on its task URL); once processing, that is a 400.
    The sandbox serves a short CC0 clip at `demo_video_url`; a task on it is 8.0 s long.
    tasks_file: keep every task in this file (JSON lines) and take back the ones there on
    start, so a sandbox started again (after a kernel restart, at any port) answers for the
    tasks an earlier one made; several sandboxes may share the file. None keeps them in memory.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        schema: Schema = "seed",
        preset: Preset = "fast",
        pending_s: float | None = None,
        processing_s: float | None = None,
        audio_seconds: float = 8.0,
        sample_rate: int = 44100,
        audio_format: AudioFormatName = "wav",
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        faults: Iterable[FaultRule] = (),
        fault_seed: int = 0,
        rate_limit_per_s: float | None = None,
        concurrency_limit: int | None = None,
        balance_usd: float = 10.0,
        plan: Plan = "creator",
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        socket_timeout_s: float = DEFAULT_SOCKET_TIMEOUT_S,
        public_url: str | None = None,
        timezone_offset: str | int = "Z",
        title_case_status: bool = False,
        tasks_file: str | os.PathLike[str] | None = None,
    ) -> None:
        _check_options(
            host=host,
            port=port,
            schema=schema,
            preset=preset,
            pending_s=pending_s,
            processing_s=processing_s,
            audio_seconds=audio_seconds,
            sample_rate=sample_rate,
            audio_format=audio_format,
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            fault_seed=fault_seed,
            rate_limit_per_s=rate_limit_per_s,
            concurrency_limit=concurrency_limit,
            balance_usd=balance_usd,
            plan=plan,
            max_body_bytes=max_body_bytes,
            socket_timeout_s=socket_timeout_s,
        )
        default_pending, default_processing = PRESETS[preset]
        self.host = host
        self.port = port
        self.api_key = api_key
        self.schema = schema
        self.sample_rate = sample_rate
        self.audio_seconds = audio_seconds
        self.audio_format = audio_format
        self.plan = plan
        self.max_body_bytes = max_body_bytes
        self.socket_timeout_s = socket_timeout_s
        self.public_url = public_url
        self.tz_minutes = _parse_offset(timezone_offset)
        self.title_case_status = title_case_status
        self.faults = FaultPlan(faults, seed=fault_seed)
        if latency_ms or jitter_ms:
            self.faults.add(FaultRule("latency", ms=latency_ms, jitter_ms=jitter_ms))
        self.rate_limiter = _RateLimiter(rate_limit_per_s) if rate_limit_per_s is not None else None
        self.world = World(
            pending_s=default_pending if pending_s is None else pending_s,
            processing_s=default_processing if processing_s is None else processing_s,
            processing_by_model=(
                REALISTIC_PROCESSING_S if preset == "realistic" and processing_s is None else None
            ),
            audio_seconds=audio_seconds,
            balance_usd=balance_usd,
            concurrency_limit=concurrency_limit,
            on_change=self._keep if tasks_file is not None else None,
        )
        self.journal = TaskJournal(tasks_file) if tasks_file is not None else None
        self.endpoints = Endpoints(self)
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._webhooks = WebhookDispatcher(
            self.world, lambda task, phase: self.renderer().render(self.schema, task, phase)
        )

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def exposed_without_key(self) -> bool:
        """True when the sandbox listens beyond loopback and anyone may use it."""
        return self.api_key is None and not is_loopback_host(self.host)

    def start(self) -> Sandbox:
        """Listen and serve in a background thread (OSError when the port cannot be used)."""
        if self._server is not None:
            return self
        server = SandboxHTTPServer((self.host, self.port), self)  # a bad host fails here
        if self.exposed_without_key:  # said once it is true, never before a refusal
            warnings.warn(
                f"the sandbox listens on {self.host}, beyond this machine, with no api_key: "
                "anyone who can reach it can use it; set api_key or bind 127.0.0.1",
                UserWarning,
                stacklevel=2,
            )
        self._server = server
        if self.journal is not None:  # before the first request: the old tasks are known
            self.world.restore(self.journal.read(self.url, self.world.clock, time.time_ns()))
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="qubico-sandbox",
            daemon=True,
        )
        self._thread.start()
        self._webhooks.start()
        return self

    def stop(self) -> None:
        self._webhooks.stop()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self._server else "stopped"
        return f"Sandbox({state}, schema={self.schema!r}, auth={'on' if self.api_key else 'off'})"

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running: call start() or use 'with Sandbox()'")
        host, port = self._server.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def file_base_url(self) -> str:
        return (self.public_url or self.url).rstrip("/")

    @property
    def demo_video_url(self) -> str:
        """The absolute URL of the shipped demo clip (8 s, CC0), served with Range support.

        It uses `public_url` when that is absolute (a proxy the browser can reach), else `url`.
        """
        base = (
            self.public_url
            if (self.public_url or "").startswith(("http://", "https://"))
            else self.url
        )
        return f"{(base or '').rstrip('/')}/assets/{DEMO_VIDEO}"

    def _keep(self, task: SandboxTask) -> None:
        if self.journal is not None:
            self.journal.append(task, [self.url, self.public_url or ""])

    # -- faults and counters -----------------------------------------------------------------
    def inject(self, kind: str, **options: Any) -> FaultRule:
        """Add a fault rule at run time, e.g. ``sb.inject("error", status=503, count=2)``."""
        return self.faults.add(FaultRule(kind, **options))

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def requests(self) -> Counter[str]:
        """Requests received so far per endpoint (create, get, history, ..., file, other)."""
        with self._counts_lock:
            return Counter(self._counts)

    @property
    def webhook_deliveries(self) -> list[Delivery]:
        """Every webhook the sandbox sent (or skipped), oldest first."""
        return self._webhooks.snapshot()

    def reset_counters(self) -> None:
        with self._counts_lock:
            self._counts.clear()

    def _count(self, endpoint: str) -> None:
        with self._counts_lock:
            self._counts[endpoint] += 1

    def renderer(self) -> Renderer:
        return Renderer(
            public_url=self.file_base_url,
            audio_seconds=self.audio_seconds,
            tz_minutes=self.tz_minutes,
            title_case=self.title_case_status,
            audio_format=self.audio_format,
        )

    def serve_forever(self) -> None:
        """Run in the foreground until interrupted (the CLI's ``qubico-nb sandbox``)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
