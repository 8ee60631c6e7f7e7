"""Webhook delivery: POST ``{"timestamp", "data"}`` to a task's endpoint as its status changes.

As the live service does, a task may be delivered several times (processing, then completed or
failed), with the secret echoed in ``x-webhook-secret``. The sandbox delivers only to loopback
endpoints: anything else is recorded as skipped, never sent.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

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
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookDispatcher:
    """A background thread that notices phase changes and posts them, one try each."""

    def __init__(self, world: World, render: Callable[[SandboxTask, str], dict[str, Any]],
                 interval_s: float = 0.05, timeout_s: float = 5.0) -> None:
        self.world = world
        self.render = render
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.deliveries: list[Delivery] = []
        self._sent: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="qubico-sandbox-webhooks",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 1)
            self._thread = None

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
                self._deliver(task, endpoint, phase)

    def _deliver(self, task: SandboxTask, endpoint: str, phase: str) -> None:
        if not is_loopback_url(endpoint):
            self._record(Delivery(task.task_id, endpoint, phase, None,
                                  "skipped: the sandbox only calls loopback endpoints"))
            return
        body = json.dumps({"timestamp": int(time.time()), "data": self.render(task, phase)})
        request = urllib.request.Request(  # noqa: S310 - http(s) loopback only, checked above
            endpoint, data=body.encode(), method="POST",
            headers={"Content-Type": "application/json",
                     "x-webhook-secret": task.webhook.get("secret", "")})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:  # noqa: S310
                self._record(Delivery(task.task_id, endpoint, phase, answer.status))
        except urllib.error.HTTPError as err:
            self._record(Delivery(task.task_id, endpoint, phase, err.code))
        except (urllib.error.URLError, OSError) as err:
            self._record(Delivery(task.task_id, endpoint, phase, None, f"failed: {err}"))

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)
