"""The finished-task cache: asked once, never stale, bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from qubico_nb import Task, TaskViewer, tabulate_tasks
from qubico_nb._constants import CACHE_DIR_ENV
from qubico_nb.cache import TaskCache
from qubico_nb.sandbox import Sandbox

from .helpers.sandbox import VIDEO, client_for


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


SECRET = "whsec-echoed-0123456789"


def _echoing(task_id: str, *, in_config: bool) -> dict[str, object]:
    """A finished answer that echoes the webhook secret in odd places besides its config."""
    answer: dict[str, object] = {
        "task_id": task_id,
        "status": "completed",
        "input": {"prompt": f"rain, sent with {SECRET}", "seed": 4},
        "output": {"audio_url": f"https://c/{task_id}.wav?sig={SECRET}"},
        "meta": {"delivery": {"x-webhook-secret": SECRET, SECRET: "as a key"}},
        "logs": [["header", SECRET], {"deep": [{"deeper": f"Bearer {SECRET}"}]}],
        "detail": {"webhook": {"secret": SECRET}},
    }
    if in_config:
        answer["config"] = {"webhook_config": {"endpoint": "https://h/x", "secret": SECRET}}
    return answer


def _disk_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_a_webhook_secret_is_removed_by_value_wherever_the_answer_echoes_it(
    tmp_path: Path,
) -> None:
    from qubico_nb.store.tasks import TaskStore

    folder = tmp_path / "cache"
    store = TaskStore(folder / "t.sqlite3", scope="s")
    cache = TaskCache(10, store=store)
    echoed = Task.from_dict(_echoing("t1", in_config=True))
    cache.put(echoed)  # the answer names the secret in config.webhook_config
    assert SECRET.encode() not in _disk_bytes(folder)
    cache.hold_secret(SECRET)  # a legacy answer does not: the client remembers what it sent
    cache.put(Task.from_dict(_echoing("t2", in_config=False)))
    store.close()
    assert _disk_bytes(folder) and SECRET.encode() not in _disk_bytes(folder)
    again = TaskCache(10, store=TaskStore(folder / "t.sqlite3", scope="s")).get_many(["t1", "t2"])
    assert set(again) == {"t1", "t2"}
    assert SECRET not in repr(dict(again["t1"].raw)) and again["t1"].prompt == "rain, sent with "
    assert echoed.prompt == f"rain, sent with {SECRET}"  # the task in memory is left as it was


def test_a_secret_the_client_sent_is_kept_off_the_disk_in_any_later_answer(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "cache"
    with Sandbox(preset="instant", schema="seed") as sb:
        client = client_for(sb, cache_size=10)
        task = client.generate_audio(VIDEO, f"rain {SECRET}", webhook_secret=SECRET)
        done = client.get_task(client.wait(task).id)  # finished: kept on disk
        assert SECRET in done.prompt
    assert _disk_bytes(folder) and SECRET.encode() not in _disk_bytes(folder)


def test_an_entry_stored_with_the_key_is_fetched_again_and_overwritten_clean(
    tmp_path: Path,
) -> None:
    """An answer stored before answers were cleaned of the key (an earlier version) counts as
    missing, so the next fetch, cleaned, replaces it on disk."""
    from qubico_nb._secrets import Secrets
    from qubico_nb.store.tasks import TaskStore

    from .helpers.sandbox import KEY

    folder = tmp_path / "cache"
    earlier = TaskCache(10, store=TaskStore(folder / "t.sqlite3", scope="s"))
    echoed = _echoing("t1", in_config=False)
    earlier.put(Task.from_dict({**echoed, "logs": [f"auth {KEY}"]}))
    earlier.put(Task.from_dict(_echoing("t2", in_config=False)))  # never held the key
    earlier.store.close()  # type: ignore[union-attr]
    assert KEY.encode() in _disk_bytes(folder)
    now = TaskCache(
        10, store=TaskStore(folder / "t.sqlite3", scope="s"), stale_if_holding=Secrets([KEY])
    )
    assert set(now.get_many(["t1", "t2"])) == {"t2"}
    now.put(Task.from_dict({**echoed, "logs": ["auth ***"]}))  # what a fetch now brings
    now.store.close()  # type: ignore[union-attr]
    assert KEY.encode() not in _disk_bytes(folder)
    assert TaskCache(10, store=TaskStore(folder / "t.sqlite3", scope="s")).get("t1") is not None
