from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from qubico_nb.sandbox import Sandbox

VIDEO = "https://cdn.example.com/clips/beach.mp4"


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


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test's on-disk stores (finished tasks, fetched files) live in a temp folder, never in
    the user's real cache; tests that study the stores set their own folder on top of this."""
    from qubico_nb._constants import CACHE_DIR_ENV

    folder = tmp_path_factory.mktemp("qubico-nb-cache")
    saved = os.environ.get(CACHE_DIR_ENV)
    os.environ[CACHE_DIR_ENV] = str(folder)
    yield
    if saved is None:
        os.environ.pop(CACHE_DIR_ENV, None)
    else:
        os.environ[CACHE_DIR_ENV] = saved


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A sandbox whose tasks finish at once (seed schema)."""
    with Sandbox(preset="instant", audio_seconds=1.0) as sb:
        yield sb


@pytest.fixture
def unified_sandbox() -> Iterator[Sandbox]:
    with Sandbox(preset="instant", audio_seconds=1.0, schema="unified") as sb:
        yield sb


def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


KEY = "sk-test-0123456789abcdef-SECRET"


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


#: In Ctrl-C tests the sandbox holds each request this long; joining the workers would wait it out.
HOLD_MS = 4000


@pytest.fixture
def interrupt_soon() -> Iterator[Any]:
    """Raise KeyboardInterrupt in the main thread after a delay, as Ctrl-C in a kernel does."""
    import _thread
    import threading

    timers: list[threading.Timer] = []

    def arm(after_s: float) -> None:
        timer = threading.Timer(after_s, _thread.interrupt_main)
        timers.append(timer)
        timer.start()

    yield arm
    for timer in timers:
        timer.cancel()


def interrupted_within(call: Any) -> float:
    """Seconds until `call` was left by a KeyboardInterrupt (it must be)."""
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        call()
    return time.monotonic() - started
