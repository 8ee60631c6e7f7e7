"""Sandbox webhooks: delivered to loopback as the task starts and ends, secret echoed."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from qubico_nb.sandbox import Sandbox

from .conftest import create_body, wait_until


class Receiver:
    """A loopback HTTP server that keeps every POST it gets."""

    def __init__(self) -> None:
        received: list[tuple[dict[str, str], Any]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                headers = {k.lower(): v for k, v in self.headers.items()}
                received.append((headers, json.loads(self.rfile.read(length))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver()
    yield box
    box.close()


def with_hook(endpoint: str, secret: str = "s3cret", **overrides: Any) -> dict[str, Any]:
    body = create_body(**overrides)
    body["config"] = {"webhook_config": {"endpoint": endpoint, "secret": secret}}
    return body


def test_delivers_each_phase_with_the_secret(receiver: Receiver) -> None:
    with Sandbox(pending_s=0.05, processing_s=0.15, schema="unified") as sb:
        answer = requests.post(f"{sb.url}/api/v1/task", json=with_hook(receiver.url), timeout=5)
        task_id = answer.json()["data"]["task_id"]
        wait_until(lambda: len(receiver.received) == 2)
        phases = [body["data"]["status"] for _, body in receiver.received]
        assert phases == ["processing", "completed"]
        headers, last = receiver.received[-1]
        assert headers["x-webhook-secret"] == "s3cret"
        assert set(last) == {"timestamp", "data"} and "code" not in last
        assert last["data"]["task_id"] == task_id
        assert last["data"]["output"]["audio_url"].endswith(".wav")
        # the sandbox records a delivery once the receiver's answer is back: wait for that too
        wait_until(lambda: len(sb.webhook_deliveries) == 2)
        assert [d.status for d in sb.webhook_deliveries] == [204, 204]


def test_failed_tasks_are_delivered_too(receiver: Receiver) -> None:
    with Sandbox(preset="instant") as sb:
        body = with_hook(receiver.url, video="https://x/corrupt.mp4")
        requests.post(f"{sb.url}/api/v1/task", json=body, timeout=5)
        wait_until(lambda: len(receiver.received) == 1)
        assert receiver.received[0][1]["data"]["status"] == "failed"


def test_only_loopback_endpoints_are_called() -> None:
    with Sandbox(preset="instant") as sb:
        requests.post(
            f"{sb.url}/api/v1/task", json=with_hook("https://hooks.example.com/x"), timeout=5
        )
        wait_until(lambda: len(sb.webhook_deliveries) == 1)
        (delivery,) = sb.webhook_deliveries
        assert delivery.status is None and delivery.note.startswith("skipped")


def test_unreachable_endpoint_is_recorded_not_fatal() -> None:
    with Sandbox(preset="instant") as sb:
        requests.post(f"{sb.url}/api/v1/task", json=with_hook("http://127.0.0.1:9/hook"), timeout=5)
        wait_until(lambda: len(sb.webhook_deliveries) == 1)
        assert sb.webhook_deliveries[0].note.startswith("failed")
        assert requests.get(f"{sb.url}/account/info", timeout=5).ok
