"""Finished tasks, asked once: a small in-memory LRU in front of the on-disk `TaskStore`.

A completed or failed task never changes, so it is kept; anything else would go stale and is
never kept. The disk store outlives the kernel and is shared by the user's other kernels.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from ._gc import collector_paused
from ._secrets import Secrets, TooDeep
from .errors import ProtocolError
from .models import Task, _get_task_raw
from .store.snapshot import snapshot_tag, task_from_snapshot, task_snapshot
from .store.tasks import TaskStore, _decode

log = logging.getLogger("qubico_nb")


class TaskCache:
    """Thread-safe and bounded in memory; backed by `store` (None: memory only).

    An entry on disk that holds one of `stale_if_holding` (the API key, in an answer stored
    before answers were cleaned of it) counts as missing: the task is fetched again, cleaned,
    and its entry overwritten."""

    def __init__(
        self,
        maxsize: int = 1024,
        *,
        store: TaskStore | None = None,
        stale_if_holding: Secrets | None = None,
    ) -> None:
        if maxsize < 0:
            raise ValueError(f"maxsize must be >= 0, got {maxsize}")
        self.maxsize = maxsize
        self.store = store
        self._items: OrderedDict[str, Task] = OrderedDict()
        self._requests: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._stale_if_holding = stale_if_holding or Secrets()
        self.hits = 0
        self.misses = 0

    def get(self, task_id: str) -> Task | None:
        return self.get_many([task_id]).get(task_id)

    def get_many(self, task_ids: Iterable[str]) -> dict[str, Task]:
        """The finished tasks among `task_ids` that are known here; memory first, then disk
        (one query for all the rest)."""
        wanted = list(dict.fromkeys(task_ids))
        found: dict[str, Task] = {}
        with self._lock:
            for task_id in wanted:
                task = self._items.get(task_id)
                if task is not None:
                    self._items.move_to_end(task_id)
                    found[task_id] = task
        rest = [task_id for task_id in wanted if task_id not in found]
        if rest and self.store is not None:
            loaded = []
            with collector_paused():  # thousands of entries decoded and rebuilt at once
                head = _snapshot_head()
                for task_id, body in self.store.get_texts(rest).items():
                    if self._stale_if_holding and self._stale_if_holding.in_json_text(body):
                        continue
                    task = _read_entry(task_id, body, head)
                    if task is not None:
                        found[task_id] = task
                        loaded.append(task)
            self._keep(loaded)
        with self._lock:
            self.hits += len(found)
            self.misses += len(wanted) - len(found)
        return found

    def put(self, task: Task) -> None:
        self.put_many([task])

    def put_many(self, tasks: Iterable[Task]) -> None:
        """Keep the finished ones among `tasks`, in memory and on disk."""
        done = [task for task in tasks if task.is_done]
        if not done or self.maxsize == 0:
            return
        self._keep(done)
        if self.store is not None:
            with self._lock:
                known = tuple(self._secrets)
            entries = ((task.id, _entry(task, known)) for task in done if task.raw)
            self.store.put_many((task_id, e) for task_id, e in entries if e is not None)

    def hold_secret(self, secret: str | None) -> None:
        """Remember a webhook secret this process sent (in memory only), so that it is removed
        by value from every answer written to disk, wherever the server echoes it."""
        if secret:
            with self._lock:
                self._secrets.add(secret)

    def _keep(self, tasks: list[Task]) -> None:
        with self._lock:
            for task in tasks:
                self._items[task.id] = task
                self._items.move_to_end(task.id)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def note_request(self, key: str, task_id: str) -> None:
        """Remember that `task_id` was made from the request `key` names (`request_key`)."""
        if self.maxsize == 0:
            return
        with self._lock:
            ids = self._requests.pop(key, [])
            self._requests[key] = [task_id, *(i for i in ids if i != task_id)]
            while len(self._requests) > self.maxsize:
                self._requests.popitem(last=False)
        if self.store is not None:
            self.store.note_request(key, task_id)

    def made_from(self, key: str) -> list[str]:
        """Ids of the tasks made from the request `key` names, newest first (this kernel's,
        then the disk's: any earlier kernel of this user on this API)."""
        with self._lock:
            ids = list(self._requests.get(key, ()))
        if self.store is not None:
            ids += self.store.made_from(key)
        return list(dict.fromkeys(ids))

    def clear(self) -> None:
        """Forget every task, in memory and (for this API and key) on disk."""
        with self._lock:
            self._items.clear()
            self._requests.clear()
        if self.store is not None:
            self.store.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __repr__(self) -> str:
        disk = f", store={self.store!r}" if self.store is not None else ""
        return (
            f"TaskCache({len(self)}/{self.maxsize}, hits={self.hits}, misses={self.misses}{disk})"
        )


def request_key(model: str, task_type: str, input: Mapping[str, Any]) -> str:
    """One name for a request: a hash of its model, task type and whole input, so the same
    request made again (in any kernel) finds the tasks made from it."""
    text = json.dumps(
        [model, task_type, input], sort_keys=True, separators=(",", ":"), default=repr
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _secrets_in(raw: Mapping[str, Any], known: Iterable[str] = ()) -> Secrets:
    """The webhook secrets to keep off the disk: the ones this process sent (`known`) and the
    ones the answer names (``config.webhook_config.secret``, at the top or under ``data``)."""
    secrets = set(known)
    for holder in (raw, raw.get("data")):
        config = holder.get("config") if isinstance(holder, Mapping) else None
        hook = config.get("webhook_config") if isinstance(config, Mapping) else None
        secret = hook.get("secret") if isinstance(hook, Mapping) else None
        if isinstance(secret, str) and secret:
            secrets.add(secret)
    return Secrets(secrets)


#: The key of a stored entry that holds a parsed snapshot next to the answer (an answer itself
#: always has a ``task_id`` at the top and never this key).
SNAPSHOT_KEY = "qubico_nb_snapshot"


def _entry(task: Task, known_secrets: Iterable[str] = ()) -> Mapping[str, Any] | None:
    """What the store keeps of a task: its answer, and what this parser made of it (so a new
    process need not parse it again; see `qubico_nb.store.snapshot`), with every webhook
    secret removed by value; None when it cannot be checked (it then stays in memory only)."""
    raw = _get_task_raw(task)
    raw = raw if type(raw) is dict else dict(raw)
    tag = snapshot_tag()
    snapshot = task_snapshot(task) if tag is not None else None
    entry: Mapping[str, Any] = (
        raw if snapshot is None else {SNAPSHOT_KEY: tag, "snapshot": snapshot, "raw": raw}
    )
    try:
        return _secrets_in(raw, known_secrets).remove_from(entry)
    except TooDeep as err:
        log.debug("task %r is not stored on disk: %s", task.id, err)
        return None


_snapshot_decode = json.JSONDecoder().raw_decode
_RAW_PART = ',"raw":'


def _snapshot_head() -> str | None:
    """How an entry this parser wrote begins (None: snapshots are not trusted here)."""
    tag = snapshot_tag()
    return None if tag is None else f'{{"{SNAPSHOT_KEY}":"{tag}","snapshot":'


def _read_entry(task_id: str, body: str, head: str | None) -> Task | None:
    """A stored task from its entry's text. An entry this parser wrote (it begins with
    `head`) is read from its snapshot, and its answer is left as text until ``raw`` is read
    (`_entry` writes exactly the layout this reads: tag, snapshot, answer); any other entry
    goes through `_rebuild`."""
    if head is not None and body.startswith(head) and body.endswith("}"):
        try:
            snapshot, end = _snapshot_decode(body, len(head))
            if body.startswith(_RAW_PART, end) and body[end + len(_RAW_PART)] == "{":
                task = task_from_snapshot(snapshot, body[end + len(_RAW_PART) : -1])
                return task if task.id == task_id and task.is_done else None
        except (ValueError, IndexError, RecursionError) as err:
            log.debug("stored snapshot of %r is unusable (%s); parsing its answer", task_id, err)
    stored = _decode(body)
    return None if stored is None else _rebuild(task_id, stored)


def _rebuild(task_id: str, stored: dict[str, Any]) -> Task | None:
    """A stored task, or None when the entry is unreadable or not the task asked for.

    A snapshot is used only when this very parser wrote it and it has the exact shape one
    has; anything else (another version's snapshot, a damaged one, an old entry holding just
    the answer) is parsed from the answer, as the network's answer would be.
    """
    raw: object = stored
    task: Task | None = None
    if SNAPSHOT_KEY in stored:
        raw = stored.get("raw")
        if type(raw) is not dict:
            log.debug("ignoring stored task %r: no answer in the entry", task_id)
            return None
        tag = snapshot_tag()
        if tag is not None and stored[SNAPSHOT_KEY] == tag:
            try:
                task = task_from_snapshot(stored.get("snapshot"), raw)
            except Exception as err:  # any damage: the answer is parsed instead
                log.debug(
                    "stored snapshot of %r is unusable (%s); parsing its answer", task_id, err
                )
    if task is None:
        try:
            task = Task.from_dict(raw)
        except ProtocolError as err:
            log.debug("ignoring stored task %r: %s", task_id, err)
            return None
    return task if task.id == task_id and task.is_done else None
