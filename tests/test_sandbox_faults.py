"""Each fault kind, seen from a plain requests client over loopback."""

from __future__ import annotations

import json
import math
import time

import pytest
import requests

from qubico_nb.sandbox import FaultRule, Sandbox

from .conftest import create_body


def account(sb: Sandbox, **kwargs: object) -> requests.Response:
    return requests.get(f"{sb.url}/account/info", timeout=5, **kwargs)  # type: ignore[arg-type]


def test_error_fault_with_count_then_recovers() -> None:
    with Sandbox() as sb:
        sb.inject("error", status=502, count=2)
        codes = [account(sb).status_code for _ in range(3)]
        assert codes == [502, 502, 200]
        assert account(sb).json()["code"] == 200


def test_rate_limit_fault_sends_retry_after() -> None:
    with Sandbox(faults=[FaultRule("rate_limit", retry_after=3, count=1)]) as sb:
        limited = account(sb)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
        assert account(sb).status_code == 200


def test_drop_closes_the_connection_without_an_answer() -> None:
    with Sandbox(faults=[FaultRule("drop", count=1)]) as sb:
        with pytest.raises(requests.ConnectionError):
            account(sb)
        assert account(sb).status_code == 200


def test_truncated_body_is_shorter_than_its_length() -> None:
    truncate = FaultRule("truncate", endpoints=("account",))
    with Sandbox(faults=[truncate]) as sb, pytest.raises(requests.exceptions.ChunkedEncodingError):
        account(sb)


def test_malformed_body_is_not_json() -> None:
    with Sandbox(faults=[FaultRule("malformed", endpoints=("get",))]) as sb:
        task_id = requests.post(f"{sb.url}/api/v1/task", json=create_body(), timeout=5).json()[
            "data"
        ]["task_id"]
        answer = requests.get(f"{sb.url}/api/v1/task/{task_id}", timeout=5)
        assert answer.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(answer.text)


def test_latency_and_slow_bodies() -> None:
    with Sandbox(latency_ms=150) as sb:
        started = time.perf_counter()
        account(sb)
        assert time.perf_counter() - started >= 0.15
    with Sandbox(faults=[FaultRule("slow", ms=20)]) as sb:
        started = time.perf_counter()
        answer = account(sb)
        elapsed = time.perf_counter() - started
        assert answer.json()["code"] == 200
        # the body goes out in pieces of max(64, len/16) bytes with a 20 ms pause after each; the
        # client has it all after the last piece, so it waits every pause but the last: check
        # that whole delay, not one pause (sleeps are never shorter than asked)
        pieces = math.ceil(len(answer.content) / max(64, len(answer.content) // 16))
        assert pieces >= 3 and elapsed >= (pieces - 1) * 0.02


def test_faults_are_selected_per_endpoint() -> None:
    with Sandbox(preset="instant", faults=[FaultRule("error", endpoints=("create",))]) as sb:
        assert (
            requests.post(f"{sb.url}/api/v1/task", json=create_body(), timeout=5).status_code == 503
        )
        assert account(sb).status_code == 200


def test_same_seed_same_faults() -> None:
    def run(seed: int) -> list[int]:
        with Sandbox(faults=[FaultRule("error", rate=0.5)], fault_seed=seed) as sb:
            return [account(sb).status_code for _ in range(20)]

    first = run(7)
    assert first == run(7)
    assert 0 < first.count(503) < 20
    assert first != run(8)


def test_rule_validation_and_cli_spec() -> None:
    rule = FaultRule.parse("error:0.25:get,history")
    assert (rule.kind, rule.rate, rule.endpoints) == ("error", 0.25, ("get", "history"))
    assert FaultRule.parse("latency").ms == 200
    for bad, needle in [
        ("boom", "unknown fault kind"),
        ("error:x", "not a number"),
        ("error:2", "between 0 and 1"),
        ("error:1:nowhere", "unknown endpoint"),
    ]:
        with pytest.raises(ValueError, match=needle):
            FaultRule.parse(bad)
    with pytest.raises(ValueError, match="5xx"):
        FaultRule("error", status=404)


def test_clear_faults() -> None:
    with Sandbox(faults=[FaultRule("error")]) as sb:
        assert account(sb).status_code == 503
        sb.clear_faults()
        assert account(sb).status_code == 200
