"""`Client`: the one place that talks to Qubico's task API (or a sandbox); it returns `Task`s."""

from __future__ import annotations

import base64
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

import requests

from . import catalogue
from ._constants import (
    API_KEY_ENV,
    API_KEY_ENVS,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    MP4_DATA_URI_PREFIX,
    SANDBOX_KEY_ENV,
)
from ._media import audio_media_type, is_mp4, mp4_duration_s
from ._net import file_url, is_loopback_url
from ._retry import Clock, RetryPolicy, SystemClock, next_poll, pause_until
from ._transport import Transport, check_api_url
from .cache import TaskCache, request_key
from .errors import (
    TRANSIENT_ERRORS,
    ConfigurationError,
    InvalidRequestError,
    ProtocolError,
    TaskFailedError,
    WaitTimeoutError,
)
from .models import Status, Task
from .store.tasks import TaskStore, scope_for

log = logging.getLogger("qubico_nb")

LIVE_UPLOAD_URL = "https://upload.theapi.app/api/ephemeral_resource"
_LIVE_HOSTS = ("api.piapi.ai", "api.goapi.ai")
MMAUDIO_MODEL = catalogue.MMAUDIO.name
MMAUDIO_TASK_TYPE = catalogue.MMAUDIO.default_task_type
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: Local media files up to this size go inline as a data: URI; larger ones are uploaded first.
INLINE_VIDEO_BYTES = 1024 * 1024
#: The length `generate_music` asks ACE-Step for unless told otherwise (the service's own
#: default is not documented; see docs/models/ace-step.md).
DEFAULT_MUSIC_SECONDS = 30.0

TimeLike = datetime | date | int | float


def _env(*names: str) -> str | None:
    """The first of these environment variables that is set, without surrounding whitespace."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


class Client:
    """A client for the Qubico / PiAPI task API.

    ``api_key`` defaults to ``$QUBICO_API_KEY`` (or ``$PIAPI_API_KEY``), except for a server on
    this machine (a sandbox), which never gets the live key from the environment: it gets
    ``$QUBICO_SANDBOX_API_KEY`` or a placeholder unless you pass ``api_key``. ``base_url`` to
    ``$QUBICO_BASE_URL`` or https://api.piapi.ai (``http(s)://host[:port][/path]``, nothing
    more). ``timeout`` is the total deadline of one request: connect, redirects, headers and
    body. ``poll_interval`` is how often `wait` asks (tests set it to 0); ``max_retries`` bounds
    the retries of one request. ``clock`` replaces the time source (tests).

    Finished tasks are remembered, since they never change: ``cache_size`` of them in memory (0
    turns all caching off) and every one on disk, shared by the user's kernels
    (``$QUBICO_NB_CACHE_DIR`` moves the folder; ``cache=False`` keeps nothing on disk;
    ``cache="path.sqlite3"`` picks the file). Entries are filed under the API and a one-way hash
    of the key, never the key.

    The API key is sent only to the base URL's origin (and the upload URL's), never over plain
    HTTP to another machine unless ``allow_insecure_http``; a redirect to another origin is
    refused with `ProtocolError` rather than followed with or without the key.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        upload_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        retry_backoff: float = 0.5,
        poll_interval: float = 1.0,
        allow_insecure_http: bool = False,
        cache_size: int = 1024,
        cache: bool | str | os.PathLike[str] = True,
        session: requests.Session | None = None,
        clock: Clock | None = None,
    ) -> None:
        given_key, api_key = api_key, None  # one local holds the key; cleared on any error
        try:
            base = check_api_url(base_url or _env(BASE_URL_ENV) or DEFAULT_BASE_URL)
            if upload_url:
                upload_url = check_api_url(upload_url, "upload_url")
            if (
                not timeout > 0
                or max_retries < 0
                or not poll_interval >= 0
                or not retry_backoff >= 0
            ):
                raise InvalidRequestError(
                    "timeout must be > 0; max_retries, retry_backoff and poll_interval >= 0"
                )
            # The live key from the environment never goes to a server on this machine (a
            # sandbox, or whoever owns that port on a shared host): there the sandbox's key is
            # used (any text unless it was started with --api-key). Pass api_key= to mean it.
            if given_key is None:
                given_key = (
                    _env(*API_KEY_ENVS)
                    if not is_loopback_url(base)
                    else _env(SANDBOX_KEY_ENV) or "sandbox"
                )
            given_key = _check_key(given_key)
        except BaseException:
            given_key = None  # error trackers record the locals of every frame a raise passes
            raise
        self.poll_interval = poll_interval
        #: Where waits and deadlines read the time; tests pass a fake one.
        self.clock = clock or SystemClock()
        #: The one retry table, shared by the transport and the batch helpers.
        self.retry_policy = RetryPolicy(max_retries=max_retries, backoff_s=retry_backoff)
        self._transport = Transport(
            base,
            given_key,
            timeout=timeout,
            allow_insecure_http=allow_insecure_http,
            policy=self.retry_policy,
            clock=self.clock,
            session=session,
        )
        del given_key  # the transport holds it; no frame of ours does
        #: Finished tasks: ``cache_size`` in memory, all of them on disk (``cache``: True for
        #: the user's cache folder, a path for another file, False for none).
        self.cache = TaskCache(
            cache_size,
            store=_task_store(cache, cache_size, base, self._transport.key_fingerprint),
            stale_if_holding=self._transport.key_secrets,
        )
        if upload_url:
            self.upload_url = upload_url
        elif urlsplit(base).hostname in _LIVE_HOSTS:
            self.upload_url = LIVE_UPLOAD_URL
        else:
            self.upload_url = f"{base}/api/ephemeral_resource"

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def clock(self) -> Clock:
        """Where waits and deadlines read the time (``Client(clock=...)``; tests pass a fake)."""
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._clock = clock
        if hasattr(self, "_transport"):
            self._transport.clock = clock

    @property
    def retry_policy(self) -> RetryPolicy:
        """The one retry table, shared by the transport and the batch helpers."""
        return self._retry_policy

    @retry_policy.setter
    def retry_policy(self, policy: RetryPolicy) -> None:
        self._retry_policy = policy
        if hasattr(self, "_transport"):
            self._transport.policy = policy

    @property
    def timeout(self) -> float:
        """The total deadline of one request, in seconds."""
        return self._transport.timeout

    @property
    def is_sandbox(self) -> bool:
        """True when the client talks to a server on this machine (a sandbox, usually)."""
        return is_loopback_url(self.base_url)

    def __repr__(self) -> str:
        transport = getattr(self, "_transport", None)  # also while __init__ is raising
        if transport is None:
            return "Client(<not set up>)"
        return f"Client(base_url={transport.base_url!r}, api_key={transport.masked_key})"

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> None:
        raise TypeError("a Client holds an API key and is not picklable; make a new one")

    # -- tasks ---------------------------------------------------------------------------------
    def get_task(
        self, task_id: str, *, deadline: float | None = None, use_cache: bool = True
    ) -> Task:
        """Fetch a task by id (a finished one comes from the cache unless `use_cache` is False).

        `deadline` is a time on ``client.clock`` by which the call ends, retries included. An
        answer that holds another task than the one asked for is a `ProtocolError`, never cached.
        """
        task_id = _check_task_id(task_id)
        if use_cache and (known := self.cache.get(task_id)) is not None:
            return known
        body = self._transport.request_json(
            "GET",
            f"/api/v1/task/{quote(task_id, safe='')}",
            deadline=deadline,
            what=f"get task {task_id!r}",
        )
        task = Task.from_dict(body)
        if task.id != task_id:
            raise ProtocolError(
                f"asked for task {task_id!r} but the answer is task {task.id[:100]!r}; not used"
            )
        return self._remember(task)

    def _remember(self, task: Task) -> Task:
        self.cache.put(task)
        return task

    def create_task(
        self,
        model: str,
        task_type: str,
        input: Mapping[str, Any],
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> Task:
        """Create a task of any model; it is never sent twice, so it is never paid twice.

        If it was sent but its answer was lost (cut off, timed out, not JSON, a 502/504), the
        task may exist and be billed: `CreateOutcomeUnknownError` says so, with ``sent_at`` to
        find it through `history` before sending it again.
        """
        if not isinstance(input, Mapping):
            raise InvalidRequestError(f"input must be a dict, got {type(input).__name__}")
        self.cache.hold_secret(webhook_secret)  # kept off the disk wherever it is echoed
        sent = dict(input)
        body = {
            "model": model,
            "task_type": task_type,
            "input": sent,
            "config": {
                "webhook_config": {"endpoint": webhook_url or "", "secret": webhook_secret or ""}
            },
        }
        answer = self._transport.request_json(
            "POST", "/api/v1/task", json=body, idempotent=False, what=f"create {model} task"
        )
        task = Task.from_dict(answer)
        self.cache.note_request(request_key(model, task_type, sent), task.id)
        return task

    def generate_audio(
        self,
        video: str | os.PathLike[str],
        prompt: str,
        *,
        negative_prompt: str | None = None,
        steps: int | None = None,
        seed: int | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> Task:
        """Create an MMAudio (video to sound) task; `video` is a URL, a data: URI or a local MP4."""
        payload = _inputs(
            prompt=prompt, negative_prompt=negative_prompt, video=video, steps=steps, seed=seed
        )
        return self._create_checked(catalogue.MMAUDIO, None, payload, webhook_url, webhook_secret)

    def generate_music(
        self,
        style_prompt: str,
        lyrics: str | None = None,
        *,
        duration: float | None = DEFAULT_MUSIC_SECONDS,
        negative_prompt: str | None = None,
        style_audio: str | os.PathLike[str] | None = None,
        task_type: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        **more: Any,
    ) -> Task:
        """Create an ACE-Step (text to music) task: a style prompt, lyrics (``[verse]``,
        ``[chorus]`` tags; ``"[inst]"`` for none) and a `duration` of 10-240 s.

        `task_type` is ``txt2audio`` (the default), ``audio2audio`` (restyle `style_audio`),
        ``edit`` or ``extend`` (their inputs, e.g. ``audio=`` or ``right_extend_duration=``, go
        in `more`). Media inputs take a URL, a data: URI or a local audio file. Every input is
        checked against the documented limits before anything is sent.
        """
        spec = catalogue.ACE_STEP
        task = self._task_spec(spec, task_type)
        payload = _inputs(
            style_prompt=style_prompt,
            lyrics=lyrics,
            negative_prompt=negative_prompt,
            style_audio=style_audio,
            **more,
        )
        if duration is not None and task.input("duration") is not None:
            payload["duration"] = duration
        return self._create_checked(spec, task.name, payload, webhook_url, webhook_secret)

    def generate_song(
        self,
        style_prompt: str | None = None,
        lyrics: str | None = None,
        *,
        style_audio: str | os.PathLike[str] | None = None,
        task_type: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> Task:
        """Create a DiffRhythm (lyrics to song) task from a style prompt, timestamped lyrics
        (``"[00:10.00] first line"``, one per line) and/or a reference recording; at least one.

        `task_type` is ``txt2audio-base`` (a song of up to 95 s, the default) or
        ``txt2audio-full`` (up to 285 s); both cost $0.02.
        """
        spec = catalogue.DIFFRHYTHM
        payload = _inputs(style_prompt=style_prompt, lyrics=lyrics, style_audio=style_audio)
        task = self._task_spec(spec, task_type)
        return self._create_checked(spec, task.name, payload, webhook_url, webhook_secret)

    def speak(
        self,
        text: str,
        ref_audio: str | os.PathLike[str],
        *,
        ref_text: str | None = None,
        speed: float | None = None,
        remove_silence: bool | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> Task:
        """Create a TTS (F5-TTS, zero-shot) task: `text` (at most 10000 characters) spoken in
        the voice of `ref_audio` (3-30 s of one voice: a URL, a data: URI or a local file).

        `ref_text` is what the reference says (transcribed by the service when absent). Priced
        at $0.025 per 1000 characters.
        """
        spec = catalogue.TTS
        payload = _inputs(
            gen_text=text,
            ref_audio=ref_audio,
            ref_text=ref_text,
            speed=speed,
            remove_silence=remove_silence,
        )
        return self._create_checked(spec, None, payload, webhook_url, webhook_secret)

    def cancel(self, task_or_id: Task | str) -> Task:
        """Cancel a task that has not started yet (``pending``), and return it as it now is.

        The service cancels only pending tasks: a task already processing (or done) is refused
        with `BadRequestError` carrying the server's reason. A cancelled task is charged nothing
        and ends as failed (``raw_status`` says ``cancelled``).
        """
        task_id = task_or_id.id if isinstance(task_or_id, Task) else _check_task_id(task_or_id)
        self._transport.request_json(
            "DELETE", f"/api/v1/task/{quote(task_id, safe='')}", what=f"cancel task {task_id!r}"
        )
        return self.get_task(task_id, use_cache=False)

    def _task_spec(
        self, spec: catalogue.ModelSpec, task_type: str | None
    ) -> catalogue.TaskTypeSpec:
        try:
            return spec.task_type(task_type)
        except catalogue.InputError as err:
            raise InvalidRequestError(str(err)) from None

    def _create_checked(
        self,
        spec: catalogue.ModelSpec,
        task_type: str | None,
        payload: dict[str, Any],
        webhook_url: str | None,
        webhook_secret: str | None,
    ) -> Task:
        """Check `payload` against the catalogue, turn local media files into what the API
        takes (inline or uploaded), then create the task."""
        task = self._task_spec(spec, task_type)
        media = [n for n in payload if (i := task.input(n)) is not None and i.kind in _MEDIA]
        # Everything but the files first: a bad prompt never waits for an upload.
        checked_input(
            spec,
            task.name,
            {k: v for k, v in payload.items() if k not in media},
            missing_ok=tuple(media),
        )
        payload = checked_input(spec, task.name, self.prepare_media_inputs(task, payload))
        return self.create_task(
            spec.name, task.name, payload, webhook_url=webhook_url, webhook_secret=webhook_secret
        )

    def prepare_media_inputs(
        self, task: catalogue.TaskTypeSpec, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """`payload` with each media input that names a local file replaced by what to send."""
        out = dict(payload)
        for name, value in payload.items():
            spec = task.input(name)
            if spec is None or value is None:
                continue
            if spec.kind == "video":
                out[name] = self.prepare_video(value)
            elif spec.kind == "audio":
                out[name] = self.prepare_audio(value)
        return out

    def wait(
        self,
        task_or_id: Task | str,
        *,
        timeout: float = 600.0,
        poll_interval: float | None = None,
        on_update: Callable[[Task], None] | None = None,
        raise_on_failure: bool = False,
    ) -> Task:
        """Poll until the task completes or fails, for at most `timeout` seconds in all.

        Polls keep a fixed schedule (start + k * poll_interval; a slow answer skips a tick, never
        bunches two), so it returns within one interval plus one request of the task ending, and
        within `timeout` plus one request's deadline in all. Passing network trouble (timeouts,
        5xx, 429) is waited out until the deadline; an unknown status keeps polling but never
        past it.
        """
        last = task_or_id if isinstance(task_or_id, Task) else None
        task_id = last.id if last is not None else _check_task_id(task_or_id)
        interval = self.poll_interval if poll_interval is None else poll_interval
        if not timeout > 0 or not interval >= 0:
            raise InvalidRequestError("timeout must be > 0 and poll_interval >= 0")
        clock = self.clock
        start = clock.monotonic()
        deadline = start + timeout
        trouble: Exception | None = None
        while last is None or not last.is_done:
            if clock.monotonic() >= deadline:
                raise WaitTimeoutError(
                    task_id, last.raw_status if last else None, timeout
                ) from trouble
            try:
                task = self.get_task(task_id, deadline=deadline)
            except TRANSIENT_ERRORS as err:
                trouble = err
                log.warning("still waiting for task %r after: %s", task_id, err)
                # Never spin on a failing server, even with poll_interval=0.
                pause_until(
                    clock, next_poll(start, max(interval, 0.05), clock.monotonic()), deadline
                )
                continue
            if on_update is not None and task != last:
                on_update(task)
            last = task
            if not task.is_done:
                pause_until(clock, next_poll(start, interval, clock.monotonic()), deadline)
        if raise_on_failure and last.status is Status.FAILED:
            raise TaskFailedError(last)
        return last

    def history(
        self,
        *,
        model: str | None = None,
        since: TimeLike | None = None,
        until: TimeLike | None = None,
        page_size: int = 100,
    ) -> Iterator[Task]:
        """All past tasks, newest first, fetched lazily page by page."""
        if (
            isinstance(page_size, bool)
            or not isinstance(page_size, int)
            or not 1 <= page_size <= 100
        ):
            raise InvalidRequestError(
                f"page_size must be an integer from 1 to 100, got {page_size!r}"
            )
        params: dict[str, Any] = {
            "page_size": page_size,
            "model": model or "",
            "start_time": _unix(since, "since"),
            "end_time": _unix(until, "until"),
        }
        return self._pages(params)

    def _pages(self, params: dict[str, Any]) -> Iterator[Task]:
        """Pages until one is short or empty, `total` is reached, or a page brings no task not
        seen before (a server that ignores ``page`` would otherwise be asked forever)."""
        page = 1
        seen = 0
        yielded: set[str] = set()  # tasks created while paging shift later pages: skip repeats
        while True:
            fresh = 0
            body = self._transport.request_json(
                "GET",
                "/api/open/tasks/histories",
                params={**params, "page": page},
                what=f"task history page {page}",
            )
            listing = body.get("data") if isinstance(body.get("data"), dict) else {}
            found = listing.get("data")
            items: list[Any] = found if isinstance(found, list) else []
            for item in items:
                task = self._remember(Task.from_dict(item))
                if task.id not in yielded:
                    yielded.add(task.id)
                    fresh += 1
                    yield task
            seen += len(items)
            total = listing.get("total")
            if (
                not items
                or not fresh
                or (isinstance(total, int) and seen >= total)
                or len(items) < params["page_size"]
            ):
                return
            page += 1

    # -- account and files ---------------------------------------------------------------------
    def account(self) -> dict[str, Any]:
        """Account info: balance (``equivalent_in_usd``), plan, limits."""
        return dict(
            self._transport.request_json("GET", "/account/info", what="account info").get("data")
            or {}
        )

    def active_tasks(self) -> dict[str, Any]:
        """Pending and processing tasks per model family."""
        return dict(
            self._transport.request_json("GET", "/account/active_tasks", what="active tasks").get(
                "data"
            )
            or {}
        )

    def upload(
        self, path_or_bytes: str | os.PathLike[str] | bytes, file_name: str | None = None
    ) -> str:
        """Upload a file (at most 10 MB, kept 24 h) and return its public URL."""
        if isinstance(path_or_bytes, (bytes, bytearray)):
            data = bytes(path_or_bytes)
            name = file_name or "upload.bin"
        else:
            path = Path(path_or_bytes)
            if not path.is_file():
                raise InvalidRequestError(f"no file to upload at {path}")
            data = path.read_bytes()
            name = file_name or path.name
        if len(data) > MAX_UPLOAD_BYTES:
            raise InvalidRequestError(
                f"{name} is {len(data) / 1e6:.1f} MB; uploads take at most 10 MB: trim or "
                "compress it, or host it yourself and pass its URL"
            )
        body = {"file_name": name, "file_data": base64.b64encode(data).decode()}
        answer = self._transport.request_json(
            "POST", self.upload_url, json=body, what=f"upload {name}"
        )
        url = (
            (answer.get("data") or {}).get("url") if isinstance(answer.get("data"), dict) else None
        )
        if not isinstance(url, str) or not url:
            raise ProtocolError(f"upload {name}: the answer has no data.url")
        return url

    def fetch_file(
        self,
        url: str,
        sink: BinaryIO,
        on_bytes: Callable[[int], None] | None = None,
        *,
        max_bytes: int | None = None,
        on_headers: Callable[[Mapping[str, str]], None] | None = None,
    ) -> int:
        """Stream a generated file into `sink` (no API key is sent); returns the byte count.

        `url` may be relative (see `file_url`). One try may last ``timeout`` plus a second per
        16 KiB received: anything faster than 16 KiB/s on average finishes, a server that
        trickles bytes is cut. More than `max_bytes` (default 512 MiB, counted after
        decompression) raises `ResponseTooLargeError`. `on_headers` is called with the answer's
        headers (e.g. ``headers["Content-Type"]``) before its body is written; an exception it
        raises stops the download and propagates.
        """
        return self._transport.fetch_file(
            self.file_url(url), sink, on_bytes=on_bytes, on_headers=on_headers, max_bytes=max_bytes
        )

    def file_url(self, url: str) -> str:
        """Where this kernel fetches a work's file from (relative URLs against the API's base;
        a hub's proxy path to the loopback sandbox itself): see `qubico_nb._net.file_url`."""
        return file_url(url, self.base_url)

    def prepare_audio(self, audio: str | os.PathLike[str]) -> str:
        """What to send as a reference recording: a URL or data:audio URI as is, a small local
        WAV/MP3/FLAC/Ogg file inline, a big one uploaded (at most 10 MB)."""
        if isinstance(audio, str) and audio.startswith(("http://", "https://", "data:")):
            return audio
        if not isinstance(audio, (str, os.PathLike)):
            raise InvalidRequestError(
                f"audio must be an http(s) URL, a data:audio URI or a local file, got "
                f"{type(audio).__name__}"
            )
        path = Path(audio)
        if not path.is_file():
            raise InvalidRequestError(
                "audio must be an http(s) URL, a data:audio URI or a local audio file; "
                f"there is no file at {str(path)[:200]!r}"
            )
        data = path.read_bytes()
        media_type = audio_media_type(data)
        if media_type is None:
            raise InvalidRequestError(f"{path.name} is not a WAV, MP3, FLAC or Ogg audio file")
        if len(data) <= INLINE_VIDEO_BYTES:
            return f"data:{media_type};base64," + base64.b64encode(data).decode()
        return self.upload(path)

    def prepare_video(self, video: str | os.PathLike[str]) -> str:
        """What to send as ``input.video``: a URL as is, a small MP4 inline, a big one uploaded."""
        if isinstance(video, str) and video.startswith(("http://", "https://")):
            return video
        if isinstance(video, str) and video.startswith("data:"):
            prefix = MP4_DATA_URI_PREFIX
            if not video.startswith(prefix):
                raise InvalidRequestError(f"a video data URI must start with '{prefix}'")
            if len(video) - len(prefix) > math.ceil(MAX_UPLOAD_BYTES * 4 / 3):
                raise InvalidRequestError("the video data URI holds more than 10 MB")
            return video
        path = Path(video)
        if not path.is_file():
            raise InvalidRequestError(
                f"video must be an http(s) URL, a data:video/mp4 URI or a local MP4 file; "
                f"there is no file at {str(path)[:200]!r}"
            )
        data = path.read_bytes()
        if not is_mp4(data):
            raise InvalidRequestError(f"{path.name} is not an MP4 file (MMAudio takes MP4)")
        seconds = mp4_duration_s(data)
        longest = _MMAUDIO_VIDEO.max_seconds
        if seconds is not None and longest is not None and seconds > longest:
            warnings.warn(
                f"{path.name} lasts {seconds:.1f} s; MMAudio uses at most {longest:g} s of video",
                stacklevel=3,
            )
        if len(data) <= INLINE_VIDEO_BYTES:
            return MP4_DATA_URI_PREFIX + base64.b64encode(data).decode()
        return self.upload(path)


def _task_store(
    cache: bool | str | os.PathLike[str],
    cache_size: int,
    base_url: str,
    key_fingerprint: str | None,
) -> TaskStore | None:
    """The on-disk store behind the memory cache; filed under the API and the key's one-way
    fingerprint (the key itself never reaches this frame)."""
    if cache is False or cache_size == 0:
        return None
    path = None if cache is True else Path(cache)
    return TaskStore(path, scope=scope_for(base_url, key_fingerprint))


_MMAUDIO_VIDEO = catalogue.MMAUDIO.task_type().input("video") or catalogue.InputSpec("", "video")
_MEDIA = ("video", "audio")


def mmaudio_input(
    prompt: str,
    *,
    negative_prompt: str | None = None,
    steps: int | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """An MMAudio ``input`` dict without the video, checked against the API's limits."""
    payload = _inputs(prompt=prompt, negative_prompt=negative_prompt, steps=steps, seed=seed)
    return checked_input(catalogue.MMAUDIO, None, payload, missing_ok=("video",))


def checked_input(
    model: str | catalogue.ModelSpec,
    task_type: str | None,
    payload: Mapping[str, Any],
    *,
    missing_ok: tuple[str, ...] = (),
) -> dict[str, Any]:
    """`payload` checked against the catalogue's documented inputs and limits (a copy), or an
    `InvalidRequestError` that names the bad input and the limit."""
    try:
        return catalogue.check_input(model, task_type, payload, missing_ok=missing_ok)
    except catalogue.InputError as err:
        raise InvalidRequestError(str(err)) from None


def _inputs(**given: Any) -> dict[str, Any]:
    """The inputs given (None means "not given": the service's default applies)."""
    return {name: value for name, value in given.items() if value is not None}


def _check_task_id(task_id: object) -> str:
    """A task id fit to send: refused before anything is sent when it could name another path
    (``.``, ``..``, slashes) or carries control characters."""
    if not isinstance(task_id, str) or not task_id.strip():
        raise InvalidRequestError(f"task_id must be a non-empty string, got {task_id!r}"[:200])
    task_id = task_id.strip()
    if (
        task_id in (".", "..")
        or "/" in task_id
        or "\\" in task_id
        or not task_id.isprintable()
        or len(task_id) > 200
    ):
        raise InvalidRequestError(
            f"task_id {task_id[:100]!r} is not a task id: ids hold no slashes or control "
            "characters, are not '.' or '..', and have at most 200 characters"
        )
    return task_id


def _check_key(key: str | None) -> str | None:
    """An API key as given, or a ConfigurationError that says what is wrong (never the key)."""
    problem = _key_problem(key)
    if problem:
        del key  # error trackers record the locals of every frame a raise passes
        raise ConfigurationError(problem)
    return key


def _key_problem(key: object) -> str:
    if key is None:
        return ""
    if not isinstance(key, str):
        return f"api_key must be a string, got {type(key).__name__}"
    if not key:
        return f"api_key is empty: pass the key, or None to read {API_KEY_ENV}"
    if key != key.strip():
        return (
            "the API key starts or ends with whitespace (a newline from a file, a space "
            "from a copy): strip it, e.g. Client(api_key=open(path).read().strip())"
        )
    if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        return (
            "the API key holds spaces, control or non-ASCII characters, which no HTTP "
            "header can carry; check what was pasted"
        )
    return ""


def _unix(value: TimeLike | None, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        raise InvalidRequestError(f"{name} must be a datetime or Unix seconds")
    if isinstance(value, (int, float)):
        return str(int(value))
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return str(int(aware.timestamp()))
    if isinstance(value, date):
        return str(
            int(datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp())
        )
    raise InvalidRequestError(f"{name} must be a datetime, a date or Unix seconds")
