"""Each fault kind, seen from a plain requests client over loopback."""

from __future__ import annotations

import io
import json
import math
import time

import pytest
import requests

from qubico_nb import GridSubmitError, Status, submit_grid, wait_all
from qubico_nb.sandbox import FAULT_KINDS, FaultRule, Sandbox

from .helpers.sandbox import VIDEO, client_for, create_body


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


# -- every fault, every model ---------------------------------------------------------------------

#: One grid per model: the model's form of submit_grid, three cells.
GRIDS: dict[str, dict[str, object]] = {
    "Qubico/mmaudio": {"video": VIDEO, "prompts": ["rain", "wind", "birds"]},
    "Qubico/ace-step": {
        "model": "Qubico/ace-step",
        "input": {"duration": 10},
        "vary": {"style_prompt": ["lofi", "rock", "jazz"]},
    },
    "Qubico/diffrhythm": {
        "model": "Qubico/diffrhythm",
        "vary": {"style_prompt": ["pop", "folk", "metal"]},
    },
    "Qubico/tts": {
        "model": "Qubico/tts",
        "input": {"ref_audio": "https://cdn.example.com/voice.wav"},
        "vary": {"gen_text": ["one", "two", "three"]},
    },
}
FAULTS = list(FAULT_KINDS)


@pytest.mark.parametrize("kind", FAULTS)
@pytest.mark.parametrize("model", list(GRIDS))
def test_every_fault_on_reads_and_files_is_ridden_out_for_every_model(
    model: str, kind: str
) -> None:
    """A fault on get, history or the file costs a retry, never a task or a wrong answer."""
    with Sandbox(preset="instant", schema="unified", audio_seconds=0.5) as sb:
        client = client_for(sb, max_retries=3, timeout=5)
        tasks = submit_grid(**GRIDS[model], client=client, progress=False)  # type: ignore[arg-type]
        sb.inject(kind, endpoints=("get", "file"), count=2, ms=20, retry_after=0)
        done = wait_all(tasks, client=client, progress=False)
        assert [t.status for t in done] == [Status.COMPLETED] * 3
        assert {t.model for t in done} == {model}
        sink = io.BytesIO()
        client.fetch_file(done[0].works[0].playable_url, sink)
        assert sink.getvalue()[:4] == b"RIFF"
        assert len(sb.world.tasks()) == 3


@pytest.mark.parametrize("kind", ["drop", "truncate", "malformed", "error", "rate_limit"])
@pytest.mark.parametrize("model", list(GRIDS))
def test_a_fault_on_create_never_pays_twice_for_any_model(model: str, kind: str) -> None:
    """A create whose answer was lost is found in the model's history; one refused is reported;
    either way each cell has at most one task."""
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, max_retries=0)
        sb.inject(kind, endpoints=("create",), count=1, retry_after=0)
        try:
            tasks = submit_grid(**GRIDS[model], client=client, progress=False)  # type: ignore[arg-type]
        except GridSubmitError as err:
            tasks = err.tasks
            assert len(err.failures) == 1 and kind in ("drop", "error")
        made = sb.world.tasks()
        assert len(made) == len({t.id for t in tasks}) <= 3
        assert {t.model for t in made} == {model}
        if kind in ("truncate", "malformed"):  # made, answer lost: found in the history
            assert len(tasks) == 3 and sb.requests["history"] >= 1
