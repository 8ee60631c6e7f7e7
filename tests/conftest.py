from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from qubico_nb.sandbox import Sandbox

# Helpers live in tests/helpers/; these names stay importable from here for the test modules
# (and other branches) that still import them from conftest.
from .helpers.sandbox import (  # noqa: F401
    HOLD_MS,
    KEY,
    VIDEO,
    client_for,
    create_body,
    interrupted_within,
    wait_until,
)

# Hypothesis profiles, picked by $HYPOTHESIS_PROFILE, else "ci" where $CI is set, else "dev".
# "ci" draws the same examples on every run (derandomize) and keeps no example database, so a
# run is reproducible and a failure is no accident of the draw; neither profile times a single
# example, since a loaded 2-core machine is not a bug.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


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
