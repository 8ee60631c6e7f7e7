"""`Client`: the one place that talks to Qubico's task API (or a sandbox); it returns `Task`s."""

from __future__ import annotations

import base64
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

import requests

from ._media import is_mp4, mp4_duration_s
from ._retry import Clock, RetryPolicy, SystemClock
from ._transport import Transport, is_loopback
from .cache import TaskCache
from .errors import (
    TRANSIENT_ERRORS,
    InvalidRequestError,
    ProtocolError,
    TaskFailedError,
    WaitTimeoutError,
)
from .models import Status, Task
from .store.tasks import TaskStore, scope_for

log = logging.getLogger("qubico_nb")

DEFAULT_BASE_URL = "https://api.piapi.ai"
LIVE_UPLOAD_URL = "https://upload.theapi.app/api/ephemeral_resource"
_LIVE_HOSTS = ("api.piapi.ai", "api.goapi.ai")
MMAUDIO_MODEL = "Qubico/mmaudio"
MMAUDIO_TASK_TYPE = "video2audio"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: Local videos up to this size go inline as a data: URI; larger ones are uploaded first.
INLINE_VIDEO_BYTES = 1024 * 1024
MAX_VIDEO_SECONDS = 30.0

TimeLike = datetime | date | int | float


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


class Client:
    """A client for the Qubico / PiAPI task API.

    ``api_key`` defaults to ``$QUBICO_API_KEY`` (or ``$PIAPI_API_KEY``); ``base_url`` to
    ``$QUBICO_BASE_URL`` or https://api.piapi.ai. ``poll_interval`` is how often `wait` asks
    (tests set it to 0); ``max_retries`` bounds the retries of one request. Finished tasks are
    remembered, since they never change: ``cache_size`` of them in memory (0 turns all caching
    off) and every one on disk, shared by the user's kernels (``$QUBICO_NB_CACHE_DIR`` moves the
    folder; ``cache=False`` keeps nothing on disk; ``cache="path.sqlite3"`` picks the file).
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
        base = (base_url or _env("QUBICO_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
            raise InvalidRequestError(f"base_url must be an http(s) URL, got {base!r}")
        if timeout <= 0 or max_retries < 0 or poll_interval < 0 or retry_backoff < 0:
            raise InvalidRequestError(
                "timeout must be > 0; max_retries, retry_backoff and poll_interval >= 0")
        self.poll_interval = poll_interval
        #: Where waits and deadlines read the time; tests pass a fake one.
        self.clock: Clock = clock or SystemClock()
        #: The one retry table, shared by the transport and the batch helpers.
        self.retry_policy = RetryPolicy(max_retries=max_retries, backoff_s=retry_backoff)
        #: Finished tasks: ``cache_size`` in memory, all of them on disk (``cache``: True for
        #: the user's cache folder, a path for another file, False for none).
        self.cache = TaskCache(cache_size, store=_task_store(
            cache, cache_size, base, api_key or _env("QUBICO_API_KEY", "PIAPI_API_KEY")))
        self._transport = Transport(
            base, api_key or _env("QUBICO_API_KEY", "PIAPI_API_KEY"),
            timeout=timeout, max_retries=max_retries, retry_backoff=retry_backoff,
            allow_insecure_http=allow_insecure_http, session=session,
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
    def is_sandbox(self) -> bool:
        """True when the client talks to a server on this machine (a sandbox, usually)."""
        return is_loopback(self.base_url)

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, api_key={self._transport.masked_key})"

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> None:
        raise TypeError("a Client holds an API key and is not picklable; make a new one")

    # -- tasks ---------------------------------------------------------------------------------
    def get_task(self, task_id: str, *, deadline: float | None = None,
                 use_cache: bool = True) -> Task:
        """Fetch a task by id (a finished one comes from the cache unless `use_cache` is False)."""
        task_id = _check_task_id(task_id)
        if use_cache and (known := self.cache.get(task_id)) is not None:
            return known
        body = self._transport.request_json(
            "GET", f"/api/v1/task/{quote(task_id, safe='')}", deadline=deadline,
            what=f"get task {task_id}")
        return self._remember(Task.from_dict(body))

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
        """Create a task of any model; it is never sent twice, so it is never paid twice."""
        if not isinstance(input, Mapping):
            raise InvalidRequestError(f"input must be a dict, got {type(input).__name__}")
        body = {
            "model": model,
            "task_type": task_type,
            "input": dict(input),
            "config": {"webhook_config": {"endpoint": webhook_url or "",
                                          "secret": webhook_secret or ""}},
        }
        answer = self._transport.request_json(
            "POST", "/api/v1/task", json=body, idempotent=False, what=f"create {model} task")
        return Task.from_dict(answer)

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
        payload = mmaudio_input(prompt, negative_prompt=negative_prompt, steps=steps, seed=seed)
        payload["video"] = self.prepare_video(video)
        return self.create_task(MMAUDIO_MODEL, MMAUDIO_TASK_TYPE, payload,
                                webhook_url=webhook_url, webhook_secret=webhook_secret)

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

        Passing network trouble (timeouts, 5xx, 429) is waited out until the deadline; an
        unknown status keeps polling but never past it.
        """
        last = task_or_id if isinstance(task_or_id, Task) else None
        task_id = last.id if last is not None else _check_task_id(task_or_id)
        interval = self.poll_interval if poll_interval is None else poll_interval
        if timeout <= 0 or interval < 0:
            raise InvalidRequestError("timeout must be > 0 and poll_interval >= 0")
        deadline = time.monotonic() + timeout
        trouble: Exception | None = None
        while last is None or not last.is_done:
            if time.monotonic() >= deadline:
                raise WaitTimeoutError(task_id, last.raw_status if last else None, timeout) \
                    from trouble
            try:
                task = self.get_task(task_id, deadline=deadline)
            except TRANSIENT_ERRORS as err:
                trouble = err
                log.warning("still waiting for task %s after: %s", task_id, err)
                self.sleep(min(max(interval, 0.05), max(deadline - time.monotonic(),
                                                                   0)))
                continue
            if on_update is not None and task != last:
                on_update(task)
            last = task
            if not task.is_done:
                pause = min(interval, deadline - time.monotonic())
                if pause > 0:
                    self.sleep(pause)
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
        if isinstance(page_size, bool) or not isinstance(page_size, int) or \
                not 1 <= page_size <= 100:
            raise InvalidRequestError(f"page_size must be an integer from 1 to 100, "
                                      f"got {page_size!r}")
        params: dict[str, Any] = {"page_size": page_size, "model": model or "",
                                  "start_time": _unix(since, "since"),
                                  "end_time": _unix(until, "until")}
        return self._pages(params)

    def _pages(self, params: dict[str, Any]) -> Iterator[Task]:
        page = 1
        seen = 0
        yielded: set[str] = set()  # tasks created while paging shift later pages: skip repeats
        while True:
            body = self._transport.request_json(
                "GET", "/api/open/tasks/histories", params={**params, "page": page},
                what=f"task history page {page}")
            listing = body.get("data") if isinstance(body.get("data"), dict) else {}
            found = listing.get("data")
            items: list[Any] = found if isinstance(found, list) else []
            for item in items:
                task = self._remember(Task.from_dict(item))
                if task.id not in yielded:
                    yielded.add(task.id)
                    yield task
            seen += len(items)
            total = listing.get("total")
            if not items or (isinstance(total, int) and seen >= total) or \
                    len(items) < params["page_size"]:
                return
            page += 1

    # -- account and files ---------------------------------------------------------------------
    def account(self) -> dict[str, Any]:
        """Account info: balance (``equivalent_in_usd``), plan, limits."""
        return dict(self._transport.request_json("GET", "/account/info", what="account info")
                    .get("data") or {})

    def active_tasks(self) -> dict[str, Any]:
        """Pending and processing tasks per model family."""
        return dict(self._transport.request_json(
            "GET", "/account/active_tasks", what="active tasks").get("data") or {})

    def upload(self, path_or_bytes: str | os.PathLike[str] | bytes,
               file_name: str | None = None) -> str:
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
                "compress it, or host it yourself and pass its URL")
        body = {"file_name": name, "file_data": base64.b64encode(data).decode()}
        answer = self._transport.request_json("POST", self.upload_url, json=body,
                                              what=f"upload {name}")
        url = (answer.get("data") or {}).get("url") if isinstance(answer.get("data"), dict) \
            else None
        if not isinstance(url, str) or not url:
            raise ProtocolError(f"upload {name}: the answer has no data.url")
        return url

    def sleep(self, seconds: float) -> None:
        """Pause between polls on the client's clock (tests pass one that does not wait)."""
        self.clock.sleep(seconds)

    def fetch_file(self, url: str, sink: BinaryIO,
                   on_bytes: Callable[[int], None] | None = None) -> int:
        """Stream a generated file into `sink` (no API key is sent); returns the byte count."""
        return self._transport.fetch_file(url, sink, on_bytes=on_bytes)

    def prepare_video(self, video: str | os.PathLike[str]) -> str:
        """What to send as ``input.video``: a URL as is, a small MP4 inline, a big one uploaded."""
        if isinstance(video, str) and video.startswith(("http://", "https://")):
            return video
        if isinstance(video, str) and video.startswith("data:"):
            prefix = "data:video/mp4;base64,"
            if not video.startswith(prefix):
                raise InvalidRequestError("a video data URI must start with "
                                          f"'{prefix}'")
            if len(video) - len(prefix) > math.ceil(MAX_UPLOAD_BYTES * 4 / 3):
                raise InvalidRequestError("the video data URI holds more than 10 MB")
            return video
        path = Path(video)
        if not path.is_file():
            raise InvalidRequestError(
                f"video must be an http(s) URL, a data:video/mp4 URI or a local MP4 file; "
                f"there is no file at {str(path)[:200]!r}")
        data = path.read_bytes()
        if not is_mp4(data):
            raise InvalidRequestError(f"{path.name} is not an MP4 file (MMAudio takes MP4)")
        seconds = mp4_duration_s(data)
        if seconds is not None and seconds > MAX_VIDEO_SECONDS:
            warnings.warn(f"{path.name} lasts {seconds:.1f} s; MMAudio uses at most "
                          f"{MAX_VIDEO_SECONDS:g} s of video", stacklevel=3)
        if len(data) <= INLINE_VIDEO_BYTES:
            return "data:video/mp4;base64," + base64.b64encode(data).decode()
        return self.upload(path)


def _task_store(cache: bool | str | os.PathLike[str], cache_size: int, base_url: str,
                api_key: str | None) -> TaskStore | None:
    """The on-disk store behind the memory cache; filed under the API and a hash of the key."""
    if cache is False or cache_size == 0:
        return None
    path = None if cache is True else Path(cache)
    return TaskStore(path, scope=scope_for(base_url, api_key))


def mmaudio_input(prompt: str, *, negative_prompt: str | None = None, steps: int | None = None,
                  seed: int | None = None) -> dict[str, Any]:
    """An MMAudio ``input`` dict without the video, checked against the API's limits."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequestError("prompt must be a non-empty string")
    if len(prompt) > 500:
        raise InvalidRequestError(f"prompt is {len(prompt)} characters; the limit is 500")
    payload: dict[str, Any] = {"prompt": prompt}
    if negative_prompt is not None:
        if not isinstance(negative_prompt, str):
            raise InvalidRequestError("negative_prompt must be a string")
        if len(negative_prompt) > 200:
            raise InvalidRequestError(
                f"negative_prompt is {len(negative_prompt)} characters; the limit is 200")
        payload["negative_prompt"] = negative_prompt
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, int) or not 20 <= steps <= 50:
            raise InvalidRequestError(f"steps must be an integer from 20 to 50, got {steps!r}")
        payload["steps"] = steps
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidRequestError(f"seed must be an integer, got {seed!r}")
        payload["seed"] = seed
    return payload


def _check_task_id(task_id: object) -> str:
    if not isinstance(task_id, str) or not task_id.strip():
        raise InvalidRequestError(f"task_id must be a non-empty string, got {task_id!r}")
    return task_id.strip()


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
        return str(int(datetime(value.year, value.month, value.day,
                                tzinfo=timezone.utc).timestamp()))
    raise InvalidRequestError(f"{name} must be a datetime, a date or Unix seconds")
