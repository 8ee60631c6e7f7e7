"""Sandbox webhooks: delivered to loopback as the task starts and ends, secret echoed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from qubico_nb.sandbox import Sandbox

from .helpers.sandbox import wait_until
from .helpers.webhooks import Receiver, with_hook


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver()
    yield box
    box.close()


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
