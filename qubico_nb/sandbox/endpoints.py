"""What each sandbox endpoint does, apart from HTTP: parsed request in, status and JSON out.

`server.py` routes a request (``routes.py``), reads its body and writes the answer; everything
the service would decide (validation, the task, the page of history, the file's bytes) is here.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qs, urlsplit

from .. import catalogue
from . import routes
from .assets import asset_bytes
from .audio import AUDIO_FORMATS
from .render import Renderer, audio_seconds
from .sync import DEMO_EVENTS, OFFSET_RANGE_S, events_of, render_synced_audio, true_offset_s
from .tracks import task_audio
from .world import FINAL_PHASES, RequestError, SandboxTask, World

#: Media types of the files the sandbox serves, by extension.
CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "mp4": "video/mp4", "png": "image/png"}
HISTORY_PAGE_SIZE_DEFAULT = 10
HISTORY_PAGE_SIZE_MAX = 100
#: Account plans; uploads need more than the free one ("Insufficient plan level", 403).
PLANS = ("free", "creator", "pro")


#: An endpoint method: (endpoints, path params, query string, parsed JSON body) -> answer.
_Handler = Callable[["Endpoints", dict[str, str], str, Any], "dict[str, Any] | bytes"]


class Settings(Protocol):
    """What the endpoints read from the sandbox that owns them."""

    # read-only here (properties), so the owner may narrow their types (Literal schemas, plans)
    @property
    def schema(self) -> str: ...

    @property
    def audio_seconds(self) -> float: ...

    @property
    def sample_rate(self) -> int: ...

    @property
    def audio_format(self) -> str: ...

    @property
    def plan(self) -> str: ...

    @property
    def tz_minutes(self) -> int: ...

    @property
    def title_case_status(self) -> bool: ...

    @property
    def world(self) -> World: ...

    @property
    def file_base_url(self) -> str: ...

    @property
    def url(self) -> str: ...

    def renderer(self) -> Renderer: ...


@dataclass(frozen=True)
class FileBody:
    """A file to serve: its bytes and media type."""

    data: bytes
    content_type: str


def model_matches(asked: str, model: str = catalogue.MMAUDIO.name) -> bool:
    """Whether a history ``model`` filter names `model` as the service does.

    By full model name or family (``Qubico/mmaudio`` or ``mmaudio``), case-insensitive, never by
    substring: ``a`` or ``audio`` matches nothing.
    """
    found = catalogue.find_model(asked)
    return found is not None and found.name == model


#: Phases after which a task never changes again, so its rendering can be kept.
_FINAL_PHASES = FINAL_PHASES
#: Renderings of finished tasks kept at most (about 2 KB each); past it the memo starts over.
_MEMO_LIMIT = 50_000


class Endpoints:
    """The service's behaviour per endpoint, over the sandbox's world.

    A finished task never changes, so its rendering (and its encoded Get Task answer) is made
    once per set of render settings: polling a finished task costs a dict lookup, not a render.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._memo: dict[tuple[object, ...], tuple[dict[str, Any], bytes]] = {}

    @property
    def world(self) -> World:
        return self.settings.world

    def _settings_key(self) -> tuple[object, ...]:
        s = self.settings
        return (
            s.schema,
            s.file_base_url,
            s.audio_seconds,
            s.audio_format,
            s.tz_minutes,
            s.title_case_status,
        )

    def _finished(
        self, task: SandboxTask, phase: str, renderer: Renderer | None
    ) -> tuple[dict[str, Any], bytes]:
        key = (task.task_id, phase, *self._settings_key())
        found = self._memo.get(key)
        if found is None:
            renderer = renderer or self.settings.renderer()
            data = renderer.render(self.settings.schema, task, phase)
            encoded = json.dumps(self._envelope(data, task_schema=True)).encode()
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            found = self._memo[key] = (data, encoded)
        return found

    def _render(self, task: SandboxTask, renderer: Renderer | None = None) -> dict[str, Any]:
        phase = self.world.phase(task)
        if phase in _FINAL_PHASES:
            return self._finished(task, phase, renderer)[0]
        renderer = renderer or self.settings.renderer()
        return renderer.render(self.settings.schema, task, phase)

    def _task_answer(self, task: SandboxTask) -> bytes:
        phase = self.world.phase(task)
        if phase in _FINAL_PHASES:
            return self._finished(task, phase, None)[1]
        data = self.settings.renderer().render(self.settings.schema, task, phase)
        return json.dumps(self._envelope(data, task_schema=True)).encode()

    def _envelope(self, data: Any, *, task_schema: bool = False) -> dict[str, Any]:
        # The seed page answers task calls with code 0; everything else says 200.
        code = 0 if task_schema and self.settings.schema == "seed" else 200
        return {"code": code, "data": data, "message": "success"}

    def handle(self, endpoint: str, params: dict[str, str], query: str, body: Any) -> bytes:
        """The encoded JSON answer (HTTP 200) of an API endpoint, or a `RequestError`."""
        handler = self._handlers.get(endpoint)
        if handler is None:
            raise RequestError(404, f"no such endpoint: {endpoint}")
        answer = handler(self, params, query, body)
        return answer if isinstance(answer, bytes) else json.dumps(answer).encode()

    # -- the endpoints -------------------------------------------------------------------------
    def create(self, params: dict[str, str], query: str, body: Any) -> bytes:
        return self._task_answer(self.world.create(body, local_file=self.local_file))

    def get(self, params: dict[str, str], query: str, body: Any) -> bytes:
        return self._task_answer(self.world.get(params["task_id"]))

    def history(self, params: dict[str, str], query: str, body: Any) -> dict[str, Any]:
        args = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        page = _int_arg(args, "page", 1)
        size = _int_arg(args, "page_size", HISTORY_PAGE_SIZE_DEFAULT)
        if page < 1:
            raise RequestError(400, f"page starts at 1, got {page}")
        if not 1 <= size <= HISTORY_PAGE_SIZE_MAX:
            raise RequestError(
                400, f"page_size must be from 1 to {HISTORY_PAGE_SIZE_MAX}, got {size}"
            )
        start = _int_arg(args, "start_time", None)
        end = _int_arg(args, "end_time", None)
        model = args.get("model", "")
        chosen = []
        newest_first = sorted(
            self.world.tasks(), key=lambda t: (t.created_wall_ns, t.number), reverse=True
        )
        for task in newest_first:
            if model.strip() and not model_matches(model, task.model):
                continue
            created_s = task.created_wall_ns / 1e9
            if (start is None or created_s >= start) and (end is None or created_s <= end):
                chosen.append(task)
        renderer = self.settings.renderer()
        rows = [self._render(t, renderer) for t in chosen[(page - 1) * size : page * size]]
        return self._envelope({"data": rows, "page": page, "size": size, "total": len(chosen)})

    def account(self, params: dict[str, str], query: str, body: Any) -> dict[str, Any]:
        world = self.world
        balance = world.balance_usd
        return self._envelope(
            {
                "account_name": "sandbox",
                "account_id": "sandbox-0001",
                "equivalent_in_usd": round(balance, 7),
                "credits": int(balance * 1_000_000),
                "plan": self.settings.plan,
                "concurrency_limit": world.concurrency_limit,
            }
        )

    def active(self, params: dict[str, str], query: str, body: Any) -> dict[str, Any]:
        active, _, _ = self.world.active_counts()
        renderer = self.settings.renderer()
        families: dict[str, dict[str, Any]] = {}
        for model in catalogue.MODELS.values():
            mine = [t for t in active if t.model == model.name]
            if not mine and model is not catalogue.MMAUDIO:
                continue  # MMAudio is always listed, as the service lists the families in use
            phases = [self.world.phase(t) for t in mine]
            families[model.family] = {
                "pending_count": phases.count("pending"),
                "processing_count": phases.count("processing"),
                "active_tasks": [
                    renderer.render("unified", t, p) for t, p in zip(mine, phases, strict=True)
                ],
            }
        return self._envelope(families)

    def cancel(self, params: dict[str, str], query: str, body: Any) -> dict[str, Any]:
        task = self.world.cancel(params["task_id"])
        return {"code": 200, "message": f"task {task.task_id} canceled"}

    def upload(self, params: dict[str, str], query: str, body: Any) -> dict[str, Any]:
        if self.settings.plan == "free":
            raise RequestError(403, "Insufficient plan level: uploads need a paid plan")
        key = self.world.add_upload(body)
        return self._envelope({"url": f"{self.settings.file_base_url}/ephemeral/{key}"})

    def sync(self, params: dict[str, str], query: str, body: Any) -> dict[str, Any]:
        """Sandbox only: the true audio-video offset of a task on the demo clip (else null)."""
        task = self.world.get(params["task_id"])
        known = self._on_demo_clip(task)
        return self._envelope(
            {
                "task_id": task.task_id,
                "offset_s": true_offset_s(task.input["prompt"], task.input["seed"])
                if known
                else None,
                "events_s": [at for at, _ in DEMO_EVENTS] if known else [],
                "offset_range_s": list(OFFSET_RANGE_S),
            }
        )

    _handlers: ClassVar[dict[str, _Handler]] = {
        "create": create,
        "get": get,
        "history": history,
        "account": account,
        "active": active,
        "upload": upload,
        "cancel": cancel,
        "sync": sync,
    }

    # -- files ---------------------------------------------------------------------------------
    def file(self, kind: str, name: str) -> FileBody:
        """A CDN file: a task's audio (``temp``), an upload (``ephemeral``) or a shipped asset."""
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        content_type = CONTENT_TYPES.get(ext, "application/octet-stream")
        if kind == "assets":
            data = asset_bytes(name)
            if data is None:
                raise RequestError(404, f"no such file: {name}")
            return FileBody(data, content_type)
        if kind == "ephemeral":
            found = self.world.upload(name)
            if found is None:
                raise RequestError(404, f"no such file: {name}")
            return FileBody(found, content_type)
        return FileBody(self._task_audio(name), content_type)

    def _task_audio(self, name: str) -> bytes:
        task_id, _, ext = name.rpartition(".")
        if ext != AUDIO_FORMATS[self.settings.audio_format].extension:
            raise RequestError(404, f"no such file: {name}")
        task = self.world.get(task_id)
        if self.world.phase(task) != "completed":
            raise RequestError(404, f"no such file yet: {name}")
        seconds = audio_seconds(task, self.settings.audio_seconds)
        if self._on_demo_clip(task):
            return render_synced_audio(
                task.input["prompt"],
                task.input["negative_prompt"],
                task.input["seed"],
                task.input["steps"],
                seconds,
                self.settings.sample_rate,
                self.settings.audio_format,
            )
        return task_audio(
            task,
            seconds,
            self.settings.sample_rate,
            self.settings.audio_format,
        )

    def _on_demo_clip(self, task: SandboxTask) -> bool:
        """Whether a task is MMAudio's on the demo clip, whose sound lands on its events."""
        return task.model == catalogue.MMAUDIO.name and bool(events_of(self._video_bytes(task)))

    def _video_bytes(self, task: SandboxTask) -> bytes | None:
        """The bytes of a task's video when the sandbox holds them (its own file, a data URI)."""
        video = str(task.input.get("video") or "")
        if not video.startswith("data:"):
            return self.local_file(video)
        try:
            return base64.b64decode(video.partition(",")[2], validate=True)
        except (binascii.Error, ValueError):
            return None

    def local_file(self, url: str) -> bytes | None:
        """The bytes behind a URL that points at this sandbox's own files, else None.

        So a task whose video is the demo clip or an upload is billed and cut to its real length.
        """
        parts = urlsplit(url)
        ours = {urlsplit(self.settings.url).netloc, urlsplit(self.settings.file_base_url).netloc}
        if parts.netloc not in ours - {""}:
            return None
        found = routes.match("GET", parts.path)
        if found.route is None or found.route.endpoint != "file":
            return None
        if found.params["kind"] == "assets":
            return asset_bytes(found.params["name"])
        if found.params["kind"] == "ephemeral":
            return self.world.upload(found.params["name"])
        return None


def _int_arg(args: dict[str, str], name: str, default: int | None) -> Any:
    text = args.get(name, "")
    if text == "":
        return default
    if len(text) > 18 or not text.lstrip("-").isdigit() or not text.isascii():
        raise RequestError(400, f"{name} must be an integer, got {text[:40]!r}")
    return int(text)
