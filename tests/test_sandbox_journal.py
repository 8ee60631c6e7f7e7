"""The sandbox's task file: a sandbox started again (after a kernel restart) knows the tasks an
earlier one made, at whatever port it listens now."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import requests

from qubico_nb import Status
from qubico_nb.sandbox import Sandbox

from .helpers.sandbox import client_for, create_body


def _make(sb: Sandbox, **input_overrides: object) -> str:
    body = create_body(video=sb.demo_video_url, **input_overrides)
    answer = requests.post(f"{sb.url}/api/v1/task", json=body, timeout=10).json()
    return str(answer["data"]["task_id"])


def test_a_sandbox_started_again_knows_the_earlier_tasks(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    with Sandbox(preset="instant", tasks_file=path) as first:
        made = [_make(first, prompt="rain", seed=1), _make(first, prompt="birds", seed=2)]
        old_url = first.url
        before = client_for(first).get_task(made[0])
    with Sandbox(preset="instant", tasks_file=path) as again:
        assert again.url != old_url  # another port, as after a kernel restart
        client = client_for(again)
        task = client.get_task(made[0])
        assert task.status is Status.COMPLETED and task.prompt == "rain" and task.seed == 1
        assert task.created_at == before.created_at and task.usage == before.usage
        # Its link to the demo clip points at the sandbox that answers now.
        assert task.video == f"{again.url}/assets/demo.mp4"
        assert [t.id for t in client.history()] == made[::-1]
        audio = requests.get(task.audio.url, timeout=10) if task.audio else None
        assert audio is not None and audio.status_code == 200
        assert audio.content == requests.get(before.audio.url.replace(old_url, again.url)).content
        newer = client.get_task(_make(again, prompt="wind"))
        numbers = [json.loads(line)["number"] for line in path.read_text().splitlines()]
        assert len(numbers) == 3 and numbers[2] > max(numbers[:2]) and newer.prompt == "wind"


def test_sandboxes_sharing_the_file_each_keep_their_tasks(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    with (
        Sandbox(preset="instant", tasks_file=path) as one,
        Sandbox(preset="instant", tasks_file=path) as two,
    ):
        ids = {_make(one, prompt="a"), _make(two, prompt="b"), _make(one, prompt="c")}
    with Sandbox(preset="instant", tasks_file=path) as later:
        assert {t.task_id for t in later.world.tasks()} == ids


def test_damaged_lines_are_skipped_and_secrets_never_written(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    with Sandbox(preset="instant", tasks_file=path) as sb:
        body = create_body(video=sb.demo_video_url)
        body["config"] = {"webhook_config": {"endpoint": "http://127.0.0.1:9/", "secret": "s3"}}
        kept = requests.post(f"{sb.url}/api/v1/task", json=body, timeout=10).json()
    text = path.read_text()
    assert "s3" not in text and "webhook" not in text
    garbage = ['{"task_id": 1}', "not json", '{"task_id": "x", "number": "one"}', '{"task_id"']
    path.write_text(text + "\n".join(garbage))  # the last line cut off, as by a crash
    with Sandbox(preset="instant", tasks_file=path) as sb:
        assert [t.task_id for t in sb.world.tasks()] == [kept["data"]["task_id"]]
        _make(sb)  # appended on a line of its own, after the cut one
    with Sandbox(preset="instant", tasks_file=path) as sb:
        assert len(sb.world.tasks()) == 2


def test_a_file_that_cannot_be_written_warns_once_and_the_sandbox_goes_on(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with (
        pytest.warns(RuntimeWarning, match="cannot read its task file") as caught,
        Sandbox(preset="instant", tasks_file=blocker / "tasks.jsonl") as sb,
    ):
        ids = {_make(sb), _make(sb)}
        assert {t.task_id for t in sb.world.tasks()} == ids
    assert len(caught) == 1


def test_a_file_that_cannot_be_written_to_warns_once(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    with Sandbox(preset="instant", tasks_file=path) as sb:
        path.mkdir()  # something else took its place
        with pytest.warns(RuntimeWarning, match="cannot write its task file") as caught:
            _make(sb)
            _make(sb)
        assert len(caught) == 1 and len(sb.world.tasks()) == 2


def test_without_a_file_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Sandbox(preset="instant") as sb:
            _make(sb)
    assert list(tmp_path.iterdir()) == []


def test_other_models_and_a_cancel_come_back_as_they_were(tmp_path: Path) -> None:
    from .test_sandbox_server import BODIES

    path = tmp_path / "tasks.jsonl"
    with Sandbox(pending_s=60, schema="unified", tasks_file=path) as sb:
        made = {
            model: requests.post(f"{sb.url}/api/v1/task", json=body, timeout=10).json()["data"]
            for model, body in BODIES.items()
        }
        cancelled = made["Qubico/ace-step"]["task_id"]
        assert requests.delete(f"{sb.url}/api/v1/task/{cancelled}", timeout=5).status_code == 200
        before = {t: client_for(sb).get_task(t) for t in (d["task_id"] for d in made.values())}
    with Sandbox(pending_s=60, schema="unified", tasks_file=path) as sb:
        client = client_for(sb)
        for task_id, was in before.items():
            now = client.get_task(task_id)
            assert (now.model, now.task_type, now.status, now.usage) == (
                was.model,
                was.task_type,
                was.status,
                was.usage,
            ), task_id
        assert client.get_task(cancelled).raw_status == "cancelled"
