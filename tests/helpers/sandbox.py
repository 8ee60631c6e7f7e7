"""Talking to a sandbox in tests: the fake key, a valid create body, a client that never waits,
and small waits for things that happen on other threads."""

from __future__ import annotations

import time
from typing import Any

import pytest

from qubico_nb.sandbox import Sandbox

#: A key that looks like a live one (long enough to be redacted), for leak checks.
KEY = "sk-test-0123456789abcdef-SECRET"
#: The video the create bodies send (the sandbox fetches nothing from it).
VIDEO = "https://cdn.example.com/clips/beach.mp4"
#: In Ctrl-C tests the sandbox holds each request this long; joining the workers would wait it out.
HOLD_MS = 4000


def create_body(**input_overrides: Any) -> dict[str, Any]:
    """A valid MMAudio create body; keyword arguments replace or (None) remove input fields."""
    body: dict[str, Any] = {
        "model": "Qubico/mmaudio",
        "task_type": "video2audio",
        "input": {
            "prompt": "waves crashing, seagulls",
            "negative_prompt": "music",
            "video": VIDEO,
            "steps": 25,
            "seed": 42,
        },
        "config": {"webhook_config": {"endpoint": "", "secret": ""}},
    }
    for key, value in input_overrides.items():
        if value is None:
            body["input"].pop(key, None)
        else:
            body["input"][key] = value
    return body


def client_for(sb: Sandbox, **options: Any) -> Any:
    """A Client against a sandbox, with no waiting between polls or retries."""
    from qubico_nb import Client

    settings = {
        "api_key": KEY,
        "base_url": sb.url,
        "poll_interval": 0,
        "retry_backoff": 0,
        "cache_size": 0,
    }
    settings.update(options)
    return Client(**settings)


def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    """Return once `predicate()` is true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def interrupted_within(call: Any) -> float:
    """Seconds until `call` was left by a KeyboardInterrupt (it must be)."""
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        call()
    return time.monotonic() - started
