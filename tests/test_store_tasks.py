"""The on-disk store of finished tasks: asked once across processes, never stale, never a crash."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qubico_nb import Client, ProtocolError, Task, tabulate_tasks
from qubico_nb._constants import CACHE_DIR_ENV
from qubico_nb.sandbox import Sandbox
from qubico_nb.store.tasks import STORE_FILE, TaskStore, default_cache_dir, scope_for

from .helpers.sandbox import KEY, VIDEO

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own cache folder; the user's real one is never touched."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(folder))
    yield folder


def stored_client(sb: Sandbox, **options: object) -> Client:
    settings: dict[str, object] = {"base_url": sb.url, "poll_interval": 0, "retry_backoff": 0}
    settings.update(options)
    return Client(KEY, **settings)  # type: ignore[arg-type]


def finished(n: int, sb: Sandbox) -> list[str]:
    maker = Client(KEY, base_url=sb.url, cache=False)
    return [maker.generate_audio(VIDEO, f"tone {i % 3}", seed=i).id for i in range(n)]


def test_the_folder_follows_the_environment(cache_dir: Path) -> None:
    assert default_cache_dir() == cache_dir
    assert TaskStore(scope="x").path == cache_dir / STORE_FILE


def test_a_rerun_in_a_new_process_asks_nothing(cache_dir: Path) -> None:
    with Sandbox(preset="instant", schema="unified") as sb:
        ids = finished(40, sb)
        first = tabulate_tasks(ids, client=stored_client(sb), progress=False)
        assert sb.requests["get"] == 40
        sb.reset_counters()
        script = textwrap.dedent(f"""
            import json, sys
            from qubico_nb import Client, tabulate_tasks
            client = Client({KEY!r}, base_url={sb.url!r})
            frame = tabulate_tasks(json.loads(sys.argv[1]), client=client, progress=False)
            print(json.dumps([list(frame["task_id"]), list(frame["status"]),
                              [int(s) for s in frame["seed"]]]))
        """)
        done = subprocess.run(
            [sys.executable, "-c", script, json.dumps(ids)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env=_env(cache_dir),
            check=True,
        )
        assert sb.requests["get"] == 0, done.stderr
        task_ids, statuses, seeds = json.loads(done.stdout)
        assert task_ids == ids and set(statuses) == {"completed"}
        assert seeds == [int(s) for s in first["seed"]]


#: How the client names KEY's account in the store: a one-way fingerprint, never the key.
ACCOUNT = Client(KEY, base_url="http://127.0.0.1:1")._transport.key_fingerprint


def test_unfinished_tasks_always_go_to_the_network(cache_dir: Path) -> None:
    with Sandbox(pending_s=30) as sb:
        client = stored_client(sb)
        task = client.generate_audio(VIDEO, "rain")
        for _ in range(2):
            assert stored_client(sb).get_task(task.id).status.value == "pending"
        assert sb.requests["get"] == 2
        assert len(TaskStore(scope=scope_for(sb.url, ACCOUNT))) == 0


def test_a_stored_task_is_rebuilt_equal_to_the_fetched_one() -> None:
    with Sandbox(preset="instant", schema="unified") as sb:
        (task_id,) = finished(1, sb)
        fetched = stored_client(sb).get_task(task_id)
        sb.reset_counters()
        again = stored_client(sb).get_task(task_id)
        assert sb.requests["get"] == 0
        assert again == fetched and again.works == fetched.works and again.raw == fetched.raw


def test_entries_are_kept_apart_by_api_and_account(cache_dir: Path) -> None:
    with Sandbox(preset="instant") as sb:
        (task_id,) = finished(1, sb)
        stored_client(sb).get_task(task_id)
        sb.reset_counters()
        Client("another-account-key", base_url=sb.url).get_task(task_id)
        assert sb.requests["get"] == 1  # another key: another account, asked again
        url = sb.url
    path = cache_dir / STORE_FILE
    assert TaskStore(path, scope=scope_for(url, ACCOUNT)).get(task_id) is not None
    assert TaskStore(path, scope=scope_for("https://api.piapi.ai", ACCOUNT)).get(task_id) is None
    assert scope_for(url, ACCOUNT) == scope_for(url + "/", ACCOUNT)


def test_the_key_is_never_written(cache_dir: Path) -> None:
    with Sandbox(preset="instant") as sb:
        ids = finished(5, sb)
        client = stored_client(sb)
        tabulate_tasks(ids, client=client, progress=False)
        assert client.cache.store is not None
        assert KEY[-6:] not in repr(client.cache) and KEY not in repr(client.cache.store)
        client.cache.store.close()
    written = b"".join(p.read_bytes() for p in cache_dir.iterdir())
    assert ids[0].encode() in written  # the tasks are there ...
    assert KEY.encode() not in written  # ... the key is not


def test_cache_false_and_cache_size_zero_write_nothing(cache_dir: Path, tmp_path: Path) -> None:
    with Sandbox(preset="instant") as sb:
        ids = finished(2, sb)
        for client in (stored_client(sb, cache=False), stored_client(sb, cache_size=0)):
            tabulate_tasks(ids, client=client, progress=False)
            tabulate_tasks(ids, client=client, progress=False)
            assert client.cache.store is None
        assert sb.requests["get"] == 2 + 4  # cache=False still remembers in memory
        assert not cache_dir.exists()
        own = tmp_path / "elsewhere" / "tasks.sqlite3"
        tabulate_tasks(ids, client=stored_client(sb, cache=str(own)), progress=False)
        assert own.is_file()


def test_get_many_reads_many_ids_in_few_queries(cache_dir: Path) -> None:
    store = TaskStore(scope="s")
    store.put_many((f"t{i}", {"task_id": f"t{i}", "status": "completed"}) for i in range(1200))
    conn = store._connection()
    assert conn is not None
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    found = store.get_many([f"t{i}" for i in range(1200)] + ["absent"])
    assert len(found) == 1200 and found["t7"]["task_id"] == "t7"
    assert sum(s.startswith("SELECT") for s in statements) == 3  # 500 ids per query


def test_a_corrupt_store_warns_once_and_the_network_answers(cache_dir: Path) -> None:
    cache_dir.mkdir(parents=True)
    (cache_dir / STORE_FILE).write_bytes(b"this is not a database at all" * 100)
    with Sandbox(preset="instant") as sb:
        ids = finished(3, sb)
        client = stored_client(sb)
        with pytest.warns(RuntimeWarning, match="cannot be used") as caught:
            frame = tabulate_tasks(ids, client=client, progress=False)
            frame = tabulate_tasks(ids, client=client, progress=False)
            frame = tabulate_tasks(ids, client=stored_client(sb), progress=False)
        assert len([w for w in caught if "cannot be used" in str(w.message)]) == 1
        assert list(frame["status"]) == ["completed"] * 3
        assert sb.requests["get"] == 6  # the memory cache still works; the new client asks


def test_an_unwritable_folder_warns_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(CACHE_DIR_ENV, str(blocker / "cache"))
    with Sandbox(preset="instant") as sb:
        ids = finished(2, sb)
        with pytest.warns(RuntimeWarning, match="cannot be used") as caught:
            frame = tabulate_tasks(ids, client=stored_client(sb), progress=False)
        assert len(caught) == 1 and list(frame["status"]) == ["completed"] * 2


def test_a_locked_store_warns_once_and_gives_way(cache_dir: Path) -> None:
    store = TaskStore(scope="s", busy_timeout_s=0.05)
    store.put("t0", {"task_id": "t0", "status": "completed"})
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.warns(RuntimeWarning, match="cannot be used") as caught:
            store.put("t1", {"task_id": "t1", "status": "completed"})
            store.put("t2", {"task_id": "t2", "status": "completed"})
            assert store.get_many(["t0", "t1"]) == {}
        assert len(caught) == 1 and not store.is_usable
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.parametrize(
    ("operation", "default"),
    [
        (lambda store: store.get_many(["t0"]), {}),
        (lambda store: store.put("t1", {"task_id": "t1"}), None),
        (lambda store: store.clear(), None),
        (len, 0),
    ],
    ids=["get_many", "put", "clear", "len"],
)
@pytest.mark.parametrize("failure", ["not a database", "table dropped"])
def test_every_operation_gives_way_to_a_failing_file_alike(
    cache_dir: Path, operation: Any, default: object, failure: str
) -> None:
    """Each operation reaches the file one way (`TaskStore._run`): a file that fails it, when
    opened or later, gets one warning and the store's default answer, whichever operation met
    it first."""
    store = TaskStore(scope="s")
    if failure == "not a database":
        store.path.parent.mkdir(parents=True)
        store.path.write_bytes(b"this is not a database at all" * 100)
    else:
        store.put("t0", {"task_id": "t0", "status": "completed"})
        with sqlite3.connect(store.path) as other:
            other.execute("DROP TABLE tasks")
    with pytest.warns(RuntimeWarning, match="cannot be used") as caught:
        assert operation(store) == default
        assert operation(store) == default
    assert len(caught) == 1 and not store.is_usable


def test_two_processes_writing_at_once_stay_correct(cache_dir: Path) -> None:
    script = textwrap.dedent("""
        import sys, warnings
        warnings.simplefilter("error")
        from qubico_nb.store.tasks import TaskStore
        store = TaskStore(scope="shared")
        who = sys.argv[1]
        for i in range(300):
            store.put_many([(f"{who}-{i}", {"task_id": f"{who}-{i}", "status": "completed",
                                            "by": who}),
                            (f"both-{i}", {"task_id": f"both-{i}", "status": "completed"})])
        print(len(store.get_many([f"{who}-{i}" for i in range(300)])))
    """)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", script, name],
            cwd=ROOT,
            env=_env(cache_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    outputs = [w.communicate(timeout=120) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["300", "300"]
    store = TaskStore(scope="shared")
    found = store.get_many(
        [f"{w}-{i}" for w in "ab" for i in range(300)] + [f"both-{i}" for i in range(300)]
    )
    assert len(found) == 900 and found["b-299"]["by"] == "b"
    assert len(store) == 900


def test_unreadable_or_mismatched_entries_are_ignored(cache_dir: Path) -> None:
    store = TaskStore(scope="s")
    store.put("t1", {"task_id": "other", "status": "completed"})  # not the task asked for
    store.put("t2", {"task_id": "t2", "status": "processing"})  # not finished
    store.put("t3", {"nothing": "here"})
    from qubico_nb.cache import TaskCache

    cache = TaskCache(10, store=store)
    assert cache.get_many(["t1", "t2", "t3"]) == {}
    good = Task.from_dict({"task_id": "t4", "status": "failed", "error": {"message": "no"}})
    cache.put(good)
    assert TaskCache(10, store=store).get("t4") == good


def _env(cache_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env[CACHE_DIR_ENV] = str(cache_dir)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="file modes do not bind root"
)
def test_a_read_only_store_warns_once(cache_dir: Path) -> None:
    store = TaskStore(scope="s")
    store.put("t0", {"task_id": "t0", "status": "completed"})
    store.close()
    for path in cache_dir.iterdir():
        path.chmod(0o444)
    cache_dir.chmod(0o555)
    try:
        again = TaskStore(scope="s")
        with pytest.warns(RuntimeWarning, match="cannot be used") as caught:
            again.put("t1", {"task_id": "t1", "status": "completed"})
            again.put("t2", {"task_id": "t2", "status": "completed"})
        assert len(caught) == 1
    finally:
        cache_dir.chmod(0o755)


def test_the_file_stays_bounded_dropping_the_oldest(cache_dir: Path) -> None:
    store = TaskStore(scope="s")
    for i in range(30):
        store.put(f"t{i}", {"task_id": f"t{i}", "status": "completed"})
    store.close()
    bounded = TaskStore(scope="s", max_entries=20)
    assert len(bounded) == 18  # pruned to 90% when opened
    assert bounded.get("t0") is None and bounded.get("t29") is not None


def test_huge_tasks_stay_in_memory_only(cache_dir: Path) -> None:
    store = TaskStore(scope="s")
    video = "data:video/mp4;base64," + "A" * 400_000
    store.put("big", {"task_id": "big", "status": "completed", "input": {"video": video}})
    store.put("small", {"task_id": "small", "status": "completed"})
    assert set(store.get_many(["big", "small"])) == {"small"}


def _snapshot_tasks() -> list[Task]:
    seed_schema = {
        "task_id": "s1",
        "status": "Failed",
        "input": '{"prompt": "rain", "seed": 3}',
        "error": {"code": 500, "message": "GPU"},
        "meta": {"created_at": "2025-06-01T10:00:00+02:00"},
    }
    unified = {
        "task_id": "u1",
        "status": "completed",
        "input": {"prompt": "wind", "steps": 9},
        "output": {"audio_url": "https://c/a.wav", "video_url": "https://c/v.mp4"},
        "meta": {
            "created_at": "2025-06-01T10:00:00.123456789Z",
            "ended_at": 1748772000,
            "usage": {"consume": 200000, "type": "point"},
        },
        "works": [
            {
                "resource": {"resource": "https://c/b.mp3", "duration": 8.5, "width": 3},
                "contentType": "audio/mpeg",
            }
        ],
    }
    return [Task.from_dict(seed_schema), Task.from_dict(unified)]


def _same(a: Task, b: Task) -> bool:
    return (
        a == b
        and a.works == b.works
        and a.raw == b.raw
        and a.input == b.input
        and a.to_dict() == b.to_dict()
        and repr(a) == repr(b)
    )


def test_a_stored_task_is_rebuilt_from_its_snapshot_without_parsing_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new process reads a stored task from what the parser made of it (a rerun over
    thousands of ids is then mostly the database read), and gets the very same task."""
    from qubico_nb.cache import TaskCache

    store = TaskStore(scope="s")
    tasks = _snapshot_tasks()
    TaskCache(10, store=store).put_many(tasks)

    def no_parsing(obj: object) -> Task:
        raise AssertionError("parsed again")

    with monkeypatch.context() as patched:
        patched.setattr(Task, "from_dict", no_parsing)
        rebuilt = TaskCache(10, store=store).get_many([t.id for t in tasks])
    for task in tasks:
        assert _same(rebuilt[task.id], task)
        with pytest.raises(TypeError):
            rebuilt[task.id].raw["status"] = "changed"  # type: ignore[index]


@pytest.mark.parametrize("damage", ["another parser", "bad shape", "bad field", "answer only"])
def test_a_snapshot_of_another_parser_or_damaged_is_parsed_from_its_answer(damage: str) -> None:
    from qubico_nb import cache as cache_module

    store = TaskStore(scope="s")
    tasks = _snapshot_tasks()
    cache_module.TaskCache(10, store=store).put_many(tasks)
    for task in tasks:
        entry = store.get(task.id)
        assert entry is not None and entry[cache_module.SNAPSHOT_KEY]
        if damage == "another parser":
            entry[cache_module.SNAPSHOT_KEY] = "0" * 32
        elif damage == "bad shape":
            entry["snapshot"] = entry["snapshot"][:-1]
        elif damage == "bad field":
            entry["snapshot"][0] = 7  # an id that is not text
        else:
            entry = entry["raw"]  # what an earlier version stored
        store.put(task.id, entry)
    rebuilt = cache_module.TaskCache(10, store=store).get_many([t.id for t in tasks])
    for task in tasks:
        assert _same(rebuilt[task.id], task)


def test_a_stored_answer_is_decoded_only_when_raw_is_read() -> None:
    from qubico_nb import models
    from qubico_nb.cache import TaskCache
    from qubico_nb.store import snapshot

    store = TaskStore(scope="s")
    tasks = _snapshot_tasks()
    TaskCache(10, store=store).put_many(tasks)
    rebuilt = TaskCache(10, store=store).get(tasks[1].id)
    assert rebuilt is not None
    assert isinstance(models._get_raw_slot(rebuilt), str)  # a table never needs it decoded
    assert rebuilt.prompt == "wind" and rebuilt.to_dict() == tasks[1].to_dict()
    assert rebuilt.raw == tasks[1].raw and type(models._get_raw_slot(rebuilt)) is dict

    damaged = snapshot.task_from_snapshot(snapshot.task_snapshot(tasks[1]), '{"task_id": "u1"')
    assert damaged == tasks[1]
    with pytest.raises(ProtocolError, match="clear the task cache"):
        damaged.raw  # noqa: B018 (the read is the test)


def test_a_webhook_secret_is_never_written_and_the_file_is_the_owners(cache_dir: Path) -> None:
    import stat

    secret = "whsec-do-not-store-0123456789"
    with Sandbox(preset="instant", schema="unified") as sb:
        client = stored_client(sb)
        task = client.create_task(
            "Qubico/mmaudio",
            "video2audio",
            {"prompt": "rain", "video": VIDEO},
            webhook_url="http://127.0.0.1:9/hook",
            webhook_secret=secret,
        )
        done = client.wait(task)
        assert secret in repr(done.raw)  # the service echoes it back...
        stored_client(sb).get_task(done.id)
    files = [p for p in cache_dir.rglob("*") if p.is_file()]
    assert files and not any(secret.encode() in p.read_bytes() for p in files)  # ...we do not
    store = cache_dir / STORE_FILE
    assert stat.S_IMODE(store.stat().st_mode) == 0o600


def test_every_folder_made_on_the_way_to_the_cache_is_the_owners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stat

    root = tmp_path / "a" / "b" / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(root))
    before = os.umask(0o022)
    try:
        TaskStore(scope="s").put("t0", {"task_id": "t0", "status": "completed"})
    finally:
        os.umask(before)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", root):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_store_path_that_is_a_dangling_link_is_refused_and_nothing_is_made_elsewhere(
    cache_dir: Path, tmp_path: Path
) -> None:
    cache_dir.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere" / "planted.sqlite3"
    elsewhere.parent.mkdir()
    (cache_dir / STORE_FILE).symlink_to(elsewhere)
    store = TaskStore(scope="dangling-link-test")
    with pytest.warns(RuntimeWarning, match="dangling link"):
        store.put("t0", {"task_id": "t0", "status": "completed"})
    assert not elsewhere.exists() and store.get("t0") is None


# -- which request made which task (issue 20: a re-run pays nothing twice) ---------------------
def test_the_tasks_made_from_a_request_are_found_newest_first_per_scope(cache_dir: Path) -> None:
    store, other = TaskStore(scope="s"), TaskStore(scope="other")
    store.note_request("key-1", "t-old")
    store.note_request("key-1", "t-new")
    store.note_request("key-2", "t-else")
    other.note_request("key-1", "t-other")
    again = TaskStore(scope="s")  # another process, the same file
    assert again.made_from("key-1") == ["t-new", "t-old"]
    assert again.made_from("key-3") == []
    again.clear()
    assert again.made_from("key-1") == [] and other.made_from("key-1") == ["t-other"]


def test_a_store_written_before_requests_were_kept_gains_their_table(cache_dir: Path) -> None:
    cache_dir.mkdir(parents=True)
    with sqlite3.connect(cache_dir / STORE_FILE) as conn:
        conn.execute(
            "CREATE TABLE tasks (scope TEXT NOT NULL, task_id TEXT NOT NULL, body TEXT NOT NULL,"
            " stored_at REAL NOT NULL, PRIMARY KEY (scope, task_id))"
        )
        conn.execute("INSERT INTO tasks VALUES ('s', 't', '{}', 0)")
    store = TaskStore(scope="s")
    store.note_request("key", "t")
    assert store.made_from("key") == ["t"] and len(store) == 1


def test_the_requests_table_stays_bounded_too(cache_dir: Path) -> None:
    store = TaskStore(scope="s")
    for i in range(25):
        store.note_request(f"key-{i}", f"t-{i}")
    store.close()
    bounded = TaskStore(scope="s", max_entries=20)
    kept = [key for key in (f"key-{i}" for i in range(25)) if bounded.made_from(key)]
    assert kept == [f"key-{i}" for i in range(7, 25)]  # the oldest went first, down to 90%


def test_a_client_notes_the_request_of_every_task_it_makes(cache_dir: Path) -> None:
    from qubico_nb.cache import request_key

    with Sandbox(preset="instant") as sb:
        task = stored_client(sb).generate_audio(VIDEO, "rain", seed=3)
        key = request_key(
            "Qubico/mmaudio", "video2audio", {"prompt": "rain", "seed": 3, "video": VIDEO}
        )
        assert stored_client(sb).cache.made_from(key) == [task.id]
        reordered = request_key(
            "Qubico/mmaudio", "video2audio", {"video": VIDEO, "seed": 3, "prompt": "rain"}
        )
        assert reordered == key
