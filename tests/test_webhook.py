"""parse_webhook: the secret is checked first, then the payload reads as a Task."""

from __future__ import annotations

import contextlib
import json

import pytest
import requests

from qubico_nb import APIStatusError, ProtocolError, QubicoError, Status, parse_webhook
from qubico_nb.errors import WebhookVerificationError
from qubico_nb.sandbox import Sandbox
from qubico_nb.webhook import MAX_WEBHOOK_BYTES

from .helpers.sandbox import client_for, wait_until
from .helpers.webhooks import Receiver, with_hook


def test_a_sandbox_delivery_parses_to_the_same_task() -> None:
    receiver = Receiver()
    try:
        with Sandbox(preset="fast", schema="unified") as sb:
            answer = requests.post(f"{sb.url}/api/v1/task", json=with_hook(receiver.url), timeout=5)
            task_id = answer.json()["data"]["task_id"]
            wait_until(lambda: len(receiver.received) == 2)
            headers, body = receiver.received[-1]
            task = parse_webhook(json.dumps(body).encode(), headers, secret="s3cret")
            assert task.id == task_id and task.status is Status.COMPLETED
            assert task == client_for(sb).get_task(task_id)
    finally:
        receiver.close()


def test_wrong_or_missing_secret_is_rejected_before_parsing() -> None:
    with pytest.raises(WebhookVerificationError, match="does not match") as caught:
        parse_webhook(b"not even json", {"X-Webhook-Secret": "nope"}, secret="s3cret")
    assert not isinstance(caught.value, APIStatusError)  # no made-up HTTP status
    for headers in (
        {},
        None,
        {"x-webhook-secret": None},
        {b"x-webhook-secret": b"nope"},
        {"x-webhook-secret": "s3cret\udcff"},
    ):
        with pytest.raises(WebhookVerificationError):
            parse_webhook(b"{}", headers, secret="s3cret")  # type: ignore[arg-type]
    good = {"timestamp": 1, "data": {"task_id": "t", "status": "completed"}}
    assert (
        parse_webhook(
            good,
            {b"X-Webhook-Secret": b"s3cret"},  # type: ignore[dict-item]
            secret="s3cret",
        ).id
        == "t"
    )


class _BadMapping(dict):  # type: ignore[type-arg]
    def items(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")


HOSTILE_BODIES: list[object] = [
    None,
    1,
    1.5,
    True,
    [],
    [1, 2],
    object(),
    b"",
    "",
    b"\xff\xfe\x00",
    "\ud800",
    b"[" * 100_000 + b"]" * 100_000,
    "{" * 50_000,
    b"x" * (2 * 1024 * 1024),
    b'{"data": ' * 5000 + b"1" + b"}" * 5000,
    b"null",
    b"[]",
    b'"text"',
    b"1e999999",
    {"data": {"task_id": ["x"]}},
    {"data": {"task_id": "t", "status": {"a": 1}}},
    {"data": {"task_id": "t", "created_at": 10**400}},
    {1: 2},
    bytearray(b"{}"),
    memoryview(b"{}"),
    {"data": {"task_id": "t", "output": {"works": [None, 1, "x"]}}},
]
HOSTILE_HEADERS: list[object] = [
    None,
    {},
    [],
    "x-webhook-secret: s",
    5,
    {None: None},
    {"x-webhook-secret": 5},
    _BadMapping(),
]


def test_only_qubico_errors_escape_whatever_the_input() -> None:
    tried = 0
    for body in HOSTILE_BODIES:
        for headers in HOSTILE_HEADERS:
            for secret in (None, "s", "", b"s"):
                tried += 1
                with contextlib.suppress(QubicoError):  # and nothing else
                    parse_webhook(body, headers, secret=secret)  # type: ignore[arg-type]
    assert tried == len(HOSTILE_BODIES) * len(HOSTILE_HEADERS) * 4


def test_bodies_that_are_not_tasks() -> None:
    with pytest.raises(ProtocolError, match="not JSON"):
        parse_webhook(b"\xff\xfe")
    with pytest.raises(ProtocolError):
        parse_webhook({"timestamp": 1, "data": None})
    task = parse_webhook({"timestamp": 1, "data": {"task_id": "t", "status": "Completed"}})
    assert task.status is Status.COMPLETED


def test_a_memoryview_body_is_measured_in_bytes_not_items() -> None:
    import array

    wide = memoryview(array.array("d", [0.0]) * (MAX_WEBHOOK_BYTES // 4))  # 2 MiB, few items
    assert len(wide) < MAX_WEBHOOK_BYTES < wide.nbytes
    with pytest.raises(ProtocolError, match="larger than"):
        parse_webhook(wide)
    half = MAX_WEBHOOK_BYTES // 2 + 8
    rows = memoryview(b"{}" + b" " * (2 * half - 2)).cast("B", (2, half))  # 2 rows
    assert len(rows) == 2
    with pytest.raises(ProtocolError, match="larger than"):
        parse_webhook(rows)


def test_a_str_body_is_measured_in_utf8_bytes_not_characters() -> None:
    # Three bytes a character: fewer characters than the limit, more bytes than it.
    wide = '{"note": "' + "\u20ac" * (MAX_WEBHOOK_BYTES // 3 + 1) + '"}'
    assert len(wide) < MAX_WEBHOOK_BYTES < len(wide.encode())
    with pytest.raises(ProtocolError, match="larger than"):
        parse_webhook(wide)
    fits = '{"timestamp": 1, "data": {"task_id": "t", "status": "Completed", "note": "\u20ac"}}'
    assert parse_webhook(fits).id == "t"
