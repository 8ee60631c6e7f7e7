"""The one retry policy: what is asked again, after how long, and why; and the clock it waits on.

The transport retries single requests with it; the batch helpers use the same object for the
waits between requests (a 429 from the plan's concurrency limit, a poll schedule). Tests replace
the clock through ``Client(clock=...)`` instead of patching ``time``.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Protocol

from .errors import (
    TRANSIENT_ERRORS,
    APIStatusError,
    CreateOutcomeUnknownError,
    QubicoError,
    RateLimitError,
)


class Clock(Protocol):
    """Where time comes from: ``monotonic()`` for deadlines, ``sleep()`` to wait."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


#: HTTP statuses worth asking again, and why.
RETRY_STATUSES: dict[int, str] = {
    408: "the server timed out waiting for the request",
    429: "rate or concurrency limit: the server refused before acting, so even a create is safe",
    500: "a transient server failure",
    502: "a proxy in front of the service failed",
    503: "the service is overloaded or restarting",
    504: "a proxy timed out waiting for the service",
}

#: Statuses after which a create may have been carried out although its answer says otherwise:
#: a proxy gave up waiting for (or lost) the service's answer.
CREATE_OUTCOME_UNKNOWN_STATUSES: frozenset[int] = frozenset({502, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are retried, how often, and how long to wait between tries.

    A request that may create something (a paid task) is retried only when the server surely did
    not act on it: the connection was never made, or the answer was 429. A create whose answer
    was lost (`CreateOutcomeUnknownError`) is never retried.
    """

    max_retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    #: A server asking us to wait longer than this gets its error raised instead of a silent wait.
    max_retry_after_s: float = 60.0
    statuses: dict[int, str] = field(default_factory=lambda: dict(RETRY_STATUSES))

    def retries_status(self, status: int, *, idempotent: bool) -> bool:
        """Whether an answer with HTTP `status` is worth asking again."""
        return status == 429 or (idempotent and status in self.statuses)

    def is_retryable(self, error: QubicoError, *, idempotent: bool, sent: bool = True) -> bool:
        """Whether asking again may cure `error` without doing anything twice."""
        if isinstance(error, CreateOutcomeUnknownError):
            return False
        if isinstance(error, RateLimitError):
            return True
        if isinstance(error, APIStatusError):
            return self.retries_status(error.status, idempotent=idempotent)
        if not isinstance(error, TRANSIENT_ERRORS):
            return False
        return idempotent or not sent

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds before try number `attempt` + 1 (1-based), or None to give up."""
        if attempt > self.max_retries:
            return None
        if retry_after is not None and retry_after > self.max_retry_after_s:
            return None
        backoff = random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))
        return max(backoff, retry_after or 0.0)


def next_poll(start: float, interval: float, now: float) -> float:
    """The first tick ``start + k * interval`` (k >= 1) strictly after `now`: polls keep a fixed
    schedule however long each request takes, and a slow request skips ticks, never bunches."""
    if interval <= 0:
        return now
    ticks = max(1, math.floor((now - start) / interval) + 1)
    return start + ticks * interval


#: The longest single sleep of a pause: an interrupt that is not a real signal (ipykernel's
#: message-based interrupt, `_thread.interrupt_main`) is noticed only between sleeps.
PAUSE_STEP_S = 0.25


def pause_until(clock: Clock, when: float, deadline: float = math.inf) -> None:
    """Sleep on `clock` until `when` (never past `deadline`), in steps so Ctrl-C is noticed."""
    end = min(when, deadline)
    total = end - clock.monotonic()
    for _ in range(max(0, math.ceil(total / PAUSE_STEP_S))):  # bounded: a fake clock may
        left = end - clock.monotonic()  # not move when slept on
        if left <= 0:
            return
        clock.sleep(min(left, PAUSE_STEP_S))
