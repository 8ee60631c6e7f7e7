"""Webhook delivery: POST ``{"timestamp", "data"}`` to a task's endpoint as its status changes.

As the live service does, a task may be delivered several times (processing, then completed or
failed), with the secret echoed in ``x-webhook-secret``. The sandbox delivers only to loopback
endpoints, and follows redirects only to loopback: anything else is recorded, never sent.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .._net import is_loopback_url as _is_loopback
from .world import SandboxTask, World


@dataclass(frozen=True)
class Delivery:
    """One webhook attempt, for tests to read: where, which phase, and what came back."""

    task_id: str
    endpoint: str
    phase: str
    status: int | None
    note: str = ""


def is_loopback_url(url: str) -> bool:
    """An http(s) URL on this machine: the only places the sandbox delivers to."""
    return urlsplit(url).scheme in ("http", "https") and _is_loopback(url)


class _LoopbackOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to another loopback URL; anything else ends the delivery."""

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if not is_loopback_url(newurl):
            raise urllib.error.HTTPError(
                req.full_url,
                code,
                f"redirect to a non-loopback URL refused: {newurl[:200]}",
                headers,
                fp,
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_LoopbackOnlyRedirects)


class WebhookDispatcher:
    """A thread that notices phase changes, and one sender thread per endpoint.

    Each endpoint gets its own queue, so a slow or stuck receiver delays only its own
    deliveries, never another endpoint's; one endpoint still gets its phases in order.
    """

    def __init__(
        self,
        world: World,
        render: Callable[[SandboxTask, str], dict[str, Any]],
        interval_s: float = 0.05,
        timeout_s: float = 5.0,
    ) -> None:
        self.world = world
        self.render = render
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.deliveries: list[Delivery] = []
        self._sent: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._queues: dict[str, queue.SimpleQueue[tuple[SandboxTask, str] | None]] = {}
        self._senders: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="qubico-sandbox-webhooks", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 1)
            self._thread = None
        with self._lock:
            queues, self._queues = list(self._queues.values()), {}
            senders, self._senders = self._senders, []
        for waiting in queues:
            waiting.put(None)
        for sender in senders:
            sender.join(timeout=0.1)  # a stuck receiver's thread is a daemon: not waited for

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            for task in self.world.tasks():
                endpoint = task.webhook.get("endpoint", "")
                if not endpoint:
                    continue
                phase = self.world.phase(task)
                if phase == "pending" or self._sent.get(task.task_id) == phase:
                    continue
                self._sent[task.task_id] = phase
                if not is_loopback_url(endpoint):
                    self._record(
                        Delivery(
                            task.task_id,
                            endpoint,
                            phase,
                            None,
                            "skipped: the sandbox only calls loopback endpoints",
                        )
                    )
                    continue
                self._queue_for(endpoint).put((task, phase))

    def _queue_for(self, endpoint: str) -> queue.SimpleQueue[tuple[SandboxTask, str] | None]:
        with self._lock:
            found = self._queues.get(endpoint)
            if found is None:
                found = self._queues[endpoint] = queue.SimpleQueue()
                sender = threading.Thread(
                    target=self._send_all,
                    args=(endpoint, found),
                    name="qubico-sandbox-webhook-sender",
                    daemon=True,
                )
                self._senders.append(sender)
                sender.start()
            return found

    def _send_all(
        self, endpoint: str, waiting: queue.SimpleQueue[tuple[SandboxTask, str] | None]
    ) -> None:
        while True:
            item = waiting.get()
            if item is None or self._stop.is_set():
                return
            self._deliver(item[0], endpoint, item[1])

    def _deliver(self, task: SandboxTask, endpoint: str, phase: str) -> None:
        body = json.dumps({"timestamp": int(time.time()), "data": self.render(task, phase)})
        request = urllib.request.Request(  # noqa: S310 - http(s) loopback only, checked above
            endpoint,
            data=body.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "x-webhook-secret": task.webhook.get("secret", ""),
            },
        )
        try:
            with _OPENER.open(request, timeout=self.timeout_s) as answer:
                self._record(Delivery(task.task_id, endpoint, phase, answer.status))
        except urllib.error.HTTPError as err:
            note = str(err.reason) if "refused" in str(err.reason) else ""
            self._record(Delivery(task.task_id, endpoint, phase, err.code, note))
        except (urllib.error.URLError, OSError) as err:
            self._record(Delivery(task.task_id, endpoint, phase, None, f"failed: {err}"))

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)
