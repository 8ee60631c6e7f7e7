"""RetryPolicy (the one retry table), the poll schedule, and the replaceable Clock."""

from __future__ import annotations

import pytest

from qubico_nb._retry import RETRY_STATUSES, RetryPolicy, SystemClock, next_poll
from qubico_nb.errors import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    CreateOutcomeUnknownError,
    MalformedResponseError,
    NotFoundError,
    ProtocolError,
    ServerError,
    status_error,
)


def test_the_table_decides_statuses_and_creates() -> None:
    policy = RetryPolicy()
    for status in RETRY_STATUSES:
        assert policy.is_retryable(status_error(status, ""), idempotent=True), status
    assert not policy.is_retryable(status_error(404, ""), idempotent=True)
    assert not policy.is_retryable(status_error(501, ""), idempotent=True)
    # A create is asked again only after a 429 or when it surely never left.
    assert policy.is_retryable(status_error(429, ""), idempotent=False)
    assert not policy.is_retryable(status_error(503, ""), idempotent=False)
    assert not policy.is_retryable(APIConnectionError("x"), idempotent=False)
    assert policy.is_retryable(APIConnectionError("x"), idempotent=False, sent=False)
    assert policy.is_retryable(APITimeoutError("x"), idempotent=True)
    assert policy.is_retryable(MalformedResponseError("x"), idempotent=True)
    assert not policy.is_retryable(ProtocolError("x"), idempotent=True)
    lost = CreateOutcomeUnknownError("x", model="m")
    assert not policy.is_retryable(lost, idempotent=True, sent=False)


def test_delays_are_bounded_and_honour_retry_after() -> None:
    policy = RetryPolicy(max_retries=2, backoff_s=1.0, max_backoff_s=1.5)
    assert all(0 <= (policy.delay(2) or 0) <= 1.5 for _ in range(50))
    assert policy.delay(3) is None
    assert policy.delay(1, retry_after=7) == 7
    assert policy.delay(1, retry_after=3600) is None


def test_next_poll_keeps_a_fixed_schedule() -> None:
    assert next_poll(10.0, 1.0, 10.0) == 11.0
    assert next_poll(10.0, 1.0, 10.3) == 11.0  # a 0.3 s request does not push the tick
    assert next_poll(10.0, 1.0, 12.5) == 13.0  # a slow one skips ticks, never bunches
    assert next_poll(10.0, 0.0, 12.5) == 12.5


def test_system_clock() -> None:
    clock = SystemClock()
    before = clock.monotonic()
    clock.sleep(0)
    clock.sleep(-1)
    assert clock.monotonic() >= before and repr(clock) == "SystemClock()"


@pytest.mark.parametrize("cls", [ServerError, BadRequestError, NotFoundError])
def test_status_classes_follow_the_table(cls: type) -> None:
    error = status_error({ServerError: 502, BadRequestError: 400, NotFoundError: 404}[cls], "")
    assert isinstance(error, cls)


def test_the_readme_names_exactly_the_statuses_retried() -> None:
    """The README's retry sentence is read by people choosing what to handle themselves."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    sentence = readme[readme.index("reads retry") :].split("with exponential", 1)[0]
    said = {int(n) for n in re.findall(r"\b[1-5]\d\d\b", sentence.split("(not", 1)[0])}
    assert said == set(RETRY_STATUSES)
