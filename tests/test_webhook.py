"""parse_webhook: the secret is checked first, then the payload reads as a Task."""

from __future__ import annotations

import json

import pytest
import requests

from qubico_nb import AuthenticationError, ProtocolError, Status, parse_webhook
from qubico_nb.sandbox import Sandbox

from .conftest import client_for, wait_until
from .test_sandbox_webhooks import Receiver, with_hook


def test_a_sandbox_delivery_parses_to_the_same_task() -> None:
    receiver = Receiver()
    try:
        with Sandbox(preset="fast", schema="unified") as sb:
            answer = requests.post(f"{sb.url}/api/v1/task", json=with_hook(receiver.url),
                                   timeout=5)
            task_id = answer.json()["data"]["task_id"]
            wait_until(lambda: len(receiver.received) == 2)
            headers, body = receiver.received[-1]
            task = parse_webhook(json.dumps(body).encode(), headers, secret="s3cret")
            assert task.id == task_id and task.status is Status.COMPLETED
            assert task == client_for(sb).get_task(task_id)
    finally:
        receiver.close()


def test_wrong_or_missing_secret_is_rejected_before_parsing() -> None:
    with pytest.raises(AuthenticationError, match="does not match"):
        parse_webhook(b"not even json", {"X-Webhook-Secret": "nope"}, secret="s3cret")
    with pytest.raises(AuthenticationError):
        parse_webhook(b"{}", {}, secret="s3cret")


def test_bodies_that_are_not_tasks() -> None:
    with pytest.raises(ProtocolError, match="not JSON"):
        parse_webhook(b"\xff\xfe")
    with pytest.raises(ProtocolError):
        parse_webhook({"timestamp": 1, "data": None})
    task = parse_webhook({"timestamp": 1, "data": {"task_id": "t", "status": "Completed"}})
    assert task.status is Status.COMPLETED
