"""The finished-task cache: asked once, never stale, bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from qubico_nb import Task, TaskViewer, tabulate_tasks
from qubico_nb._constants import CACHE_DIR_ENV
from qubico_nb.cache import TaskCache
from qubico_nb.sandbox import Sandbox

from .conftest import VIDEO, client_for


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The on-disk task store goes to a temporary folder, never the user's cache."""
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))


def test_finished_tasks_are_fetched_once() -> None:
    with Sandbox(pending_s=0.05) as sb:
        client = client_for(sb, cache_size=100, poll_interval=0.01)
        task = client.wait(client.generate_audio(VIDEO, "rain"))
        sb.reset_counters()
        assert client.get_task(task.id) is task
        frame = tabulate_tasks([task.id] * 3, client=client, progress=False)
        assert len(frame) == 3 and sb.requests["get"] == 0
        assert client.get_task(task.id, use_cache=False) == task
        assert sb.requests["get"] == 1


def test_running_tasks_are_never_cached() -> None:
    with Sandbox(pending_s=30) as sb:
        client = client_for(sb, cache_size=100)
        task = client.generate_audio(VIDEO, "rain")
        client.get_task(task.id)
        client.get_task(task.id)
        assert sb.requests["get"] == 2 and len(client.cache) == 0


def test_history_fills_the_cache_and_the_viewer_refetches() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, cache_size=100)
        ids = [client.generate_audio(VIDEO, f"tone {i}").id for i in range(3)]
        list(client.history())
        sb.reset_counters()
        tabulate_tasks(ids, client=client, progress=False)
        assert sb.requests["get"] == 0
        TaskViewer(ids[0], client=client).refresh()  # Fetch means fetch
        assert sb.requests["get"] == 2


def test_lru_bound_and_validation() -> None:
    cache = TaskCache(2)
    tasks = [Task.from_dict({"task_id": f"t{i}", "status": "completed"}) for i in range(3)]
    for task in tasks:
        cache.put(task)
    assert len(cache) == 2 and cache.get("t0") is None and cache.get("t2") is tasks[2]
    assert "hits=1" in repr(cache)
    off = TaskCache(0)
    off.put(tasks[0])
    assert len(off) == 0
    with pytest.raises(ValueError, match="maxsize"):
        TaskCache(-1)
