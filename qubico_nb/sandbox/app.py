"""`Sandbox`: the local Qubico-compatible server's public face (options, lifecycle, counters)."""

from __future__ import annotations

import re
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterable
from typing import Any, Literal, get_args

from .._net import is_loopback_host
from .assets import DEMO_VIDEO
from .audio import AUDIO_FORMATS
from .endpoints import PLANS, Endpoints
from .faults import FaultPlan, FaultRule
from .render import Renderer
from .server import SandboxHTTPServer
from .webhooks import Delivery, WebhookDispatcher
from .world import PRESETS, REALISTIC_PROCESSING_S, World

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
    ) -> None:
        if schema not in SCHEMAS:
            raise ValueError(f"schema must be one of {SCHEMAS}, got {schema!r}")
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {preset!r}")
        if audio_format not in AUDIO_FORMATS:
            raise ValueError(
                f"audio_format must be one of {tuple(AUDIO_FORMATS)}, got {audio_format!r}"
            )
        if not 8000 <= sample_rate <= 192000:
            raise ValueError(f"sample_rate must be 8000..192000 Hz, got {sample_rate}")
        if not 0 < audio_seconds <= 60:
            raise ValueError(f"audio_seconds must be in (0, 60], got {audio_seconds}")
        if plan not in PLANS:
            raise ValueError(f"plan must be one of {PLANS}, got {plan!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be from 0 to 65535 (0 picks a free one), got {port}")
        if not socket_timeout_s > 0:
            raise ValueError(f"socket_timeout_s must be positive, got {socket_timeout_s}")
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
        self.rate_limiter = _RateLimiter(rate_limit_per_s) if rate_limit_per_s else None
        self.world = World(
            pending_s=default_pending if pending_s is None else pending_s,
            processing_s=default_processing if processing_s is None else processing_s,
            processing_by_model=(
                REALISTIC_PROCESSING_S if preset == "realistic" and processing_s is None else None
            ),
            audio_seconds=audio_seconds,
            balance_usd=balance_usd,
            concurrency_limit=concurrency_limit,
        )
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
        if self.exposed_without_key:
            warnings.warn(
                f"the sandbox listens on {self.host}, beyond this machine, with no api_key: "
                "anyone who can reach it can use it; set api_key or bind 127.0.0.1",
                UserWarning,
                stacklevel=2,
            )
        server = SandboxHTTPServer((self.host, self.port), self)
        self._server = server
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
