"""A clock for tests of waiting and retrying: it never sleeps, it moves on and remembers."""

from __future__ import annotations

import threading


class FakeClock:
    """A clock that never waits: ``sleep`` moves time on and records the pause."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += max(seconds, 0.0)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
