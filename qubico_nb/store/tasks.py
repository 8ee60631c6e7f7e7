"""Finished tasks on disk: one SQLite file (WAL) shared by every kernel and process of the user.

A completed or failed task never changes, so once seen it need not be asked again, even after a
restart. Entries are keyed by a *scope*: a hash of the API base URL and the key, so a sandbox's
tasks never answer for the live API's, and the key itself is never written. Any trouble with the
file (corrupt, locked for too long, read-only, full disk) gives one warning and turns the store
off for this process: the network still answers, so nothing is lost but speed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .._constants import CACHE_DIR_ENV
from . import cache_root, private_file, private_folder

log = logging.getLogger("qubico_nb")
_T = TypeVar("_T")

#: The file's name inside the cache folder; the suffix names the schema so a new layout never
#: misreads an old file. (v3: an ordinary table; v2's WITHOUT ROWID one put every entry of more
#: than about 1 KB on an overflow page of its own, and read 3-4x slower.)
STORE_FILE = "tasks-v3.sqlite3"
#: How long a writer waits for another process's lock before the store gives up (seconds).
BUSY_TIMEOUT_S = 5.0
#: SQLite's limit on parameters per statement is 999 in older builds; stay under it.
_BATCH = 500

#: Files that failed in this process: every later client skips them without a second warning.
_FAILED_PATHS: set[Path] = set()

#: A task larger than this as JSON (e.g. a video sent inline as a data: URI) stays in memory only.
MAX_ENTRY_BYTES = 256 * 1024
#: The file keeps at most this many tasks; past it, the oldest stored go first (a tenth at once).
MAX_ENTRIES = 500_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    scope     TEXT NOT NULL,
    task_id   TEXT NOT NULL,
    body      TEXT NOT NULL,
    stored_at REAL NOT NULL,
    PRIMARY KEY (scope, task_id)
)
"""
#: Which tasks were made from which request (a hash of model, task type and input), so a
#: re-run can find them without asking the server. Added beside ``tasks``: older files gain it.
_REQUESTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    scope       TEXT NOT NULL,
    request_key TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    made_at     REAL NOT NULL,
    PRIMARY KEY (scope, request_key, task_id)
)
"""


def default_cache_dir() -> Path:
    """The user's cache folder for qubico-nb (``$QUBICO_NB_CACHE_DIR`` wins when set)."""
    return cache_root()


def scope_for(base_url: str, account: str | None) -> str:
    """The key entries are filed under: which API, which account (the key's fingerprint); hashed."""
    digest = hashlib.sha256()
    digest.update(b"qubico-nb task store v1\0")
    digest.update(base_url.rstrip("/").encode("utf-8", "surrogatepass"))
    digest.update(b"\0")
    digest.update((account or "").encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


class TaskStore:
    """Raw task dicts (JSON) by scope and id, in one SQLite file; thread-safe, opened lazily.

    Only finished tasks belong here (the caller decides); `get_many` reads many ids in one query.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        scope: str,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.path = Path(path) if path is not None else default_cache_dir() / STORE_FILE
        self.scope = scope
        self.busy_timeout_s = busy_timeout_s
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._broken = False

    def __repr__(self) -> str:
        state = "off" if self._broken else "open" if self._conn else "not opened"
        return f"TaskStore({str(self.path)!r}, scope={self.scope[:8]}…, {state})"

    @property
    def is_usable(self) -> bool:
        """False once the file failed us; the store then answers nothing and writes nothing."""
        return not self._broken

    # -- reading and writing ---------------------------------------------------------------
    def get(self, task_id: str) -> dict[str, Any] | None:
        return self.get_many([task_id]).get(task_id)

    def get_many(self, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored raw dicts of those ids that are here (missing ones are simply absent)."""
        found: dict[str, dict[str, Any]] = {}
        for task_id, body in self.get_texts(task_ids).items():
            value = _decode(body)
            if value is not None:
                found[task_id] = value
        return found

    def get_texts(self, task_ids: Iterable[str]) -> dict[str, str]:
        """The stored JSON texts of those ids that are here, undecoded (a caller that knows the
        layout of what it stored can decode only the part it needs)."""
        wanted = list(dict.fromkeys(task_ids))
        found: dict[str, str] = {}
        if not wanted or self._broken:
            return found

        def read(conn: sqlite3.Connection) -> dict[str, str]:
            for start in range(0, len(wanted), _BATCH):
                chunk = wanted[start : start + _BATCH]
                marks = ",".join("?" * len(chunk))  # only placeholders go into the text
                rows = conn.execute(
                    "SELECT task_id, body FROM tasks WHERE scope = ? AND task_id IN "  # noqa: S608
                    f"({marks})",
                    [self.scope, *chunk],
                ).fetchall()
                for task_id, body in rows:
                    if type(body) is str:
                        found[task_id] = body
            return found

        return self._run(read, found)  # what was read before a failure is still answered

    def put(self, task_id: str, raw: Mapping[str, Any]) -> None:
        self.put_many([(task_id, raw)])

    def put_many(self, items: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        """Store raw task dicts; one transaction for all of them."""
        rows = []
        now = time.time()
        for task_id, raw in items:
            try:
                body = json.dumps(dict(raw), separators=(",", ":"), allow_nan=False)
            except (TypeError, ValueError) as err:  # not JSON-ready: keep it in memory only
                log.debug("task %r is not stored on disk: %s", task_id, err)
                continue
            if len(body) <= MAX_ENTRY_BYTES:
                rows.append((self.scope, task_id, body, now))
        if not rows or self._broken:
            return

        def write(conn: sqlite3.Connection) -> None:
            with conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO tasks (scope, task_id, body, stored_at) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )

        self._run(write, None)

    def note_request(self, request_key: str, task_id: str) -> None:
        """Remember that `task_id` was made from the request `request_key` hashes."""

        def note(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO requests (scope, request_key, task_id, made_at) "
                    "VALUES (?, ?, ?, ?)",
                    (self.scope, request_key, task_id, time.time()),
                )

        self._run(note, None)

    def made_from(self, request_key: str) -> list[str]:
        """The ids of the tasks made from that request, newest first."""

        def find(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT task_id FROM requests WHERE scope = ? AND request_key = ? "
                "ORDER BY made_at DESC",
                (self.scope, request_key),
            ).fetchall()
            return [task_id for (task_id,) in rows if type(task_id) is str]

        return self._run(find, [])

    def clear(self) -> None:
        """Forget this scope's tasks (other APIs' and accounts' entries stay)."""

        def forget(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("DELETE FROM tasks WHERE scope = ?", (self.scope,))
                conn.execute("DELETE FROM requests WHERE scope = ?", (self.scope,))

        self._run(forget, None)

    def __len__(self) -> int:
        def count(conn: sqlite3.Connection) -> int:
            (found,) = conn.execute(
                "SELECT COUNT(*) FROM tasks WHERE scope = ?", (self.scope,)
            ).fetchone()
            return int(found)

        return self._run(count, 0)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- the file ----------------------------------------------------------------------------
    def _run(self, work: Callable[[sqlite3.Connection], _T], default: _T) -> _T:
        """`work` on the open connection, under the lock; `default` when the store is off, or
        when the file fails it (the store then gives up: one warning, the network answers)."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return default
            try:
                return work(conn)
            except sqlite3.Error as err:
                self._give_up(err)
                return default

    def _connection(self) -> sqlite3.Connection | None:
        """The open connection (made on first use); None when the store is off. Holds _lock."""
        if self._broken:
            return None
        if self._conn is not None:
            return self._conn
        if self.path in _FAILED_PATHS:
            self._broken = True
            return None
        conn = None
        try:
            private_folder(self.path.parent)
            _refuse_dangling_link(self.path)
            if not self.path.exists():  # created for the owner only; -wal/-shm follow its mode
                with contextlib.suppress(FileExistsError), private_file(self.path):
                    pass
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_s,
                check_same_thread=False,
                isolation_level="DEFERRED",
            )
            _use_wal(conn, self.busy_timeout_s)
            conn.execute("PRAGMA synchronous=NORMAL")
            # A replaced entry (one stored with a secret, cleaned since) leaves no bytes behind.
            conn.execute("PRAGMA secure_delete=ON")
            with conn:
                conn.execute(_SCHEMA)
                conn.execute(_REQUESTS_SCHEMA)
            _prune(conn, self.max_entries)
        except (sqlite3.Error, OSError) as err:
            if conn is not None:
                conn.close()
            self._give_up(err)
            return None
        self._conn = conn
        return conn

    def _give_up(self, err: BaseException) -> None:
        """One warning, then the network answers for the rest of this process."""
        if self._broken:
            return
        self._broken = True
        _FAILED_PATHS.add(self.path)
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        warnings.warn(
            f"the task cache at {self.path} cannot be used ({type(err).__name__}: {err}); "
            f"finished tasks will be fetched from the network instead. Delete the file, or set "
            f"{CACHE_DIR_ENV} to a writable folder, to get the cache back",
            RuntimeWarning,
            stacklevel=5,
        )


def _refuse_dangling_link(path: Path) -> None:
    """A store path that is a link to nowhere is refused: SQLite would create the file where
    the link points, which may be anywhere on the machine."""
    if path.is_symlink() and not path.exists():
        raise FileNotFoundError(
            f"{path} is a link to {os.readlink(path)}, which does not exist; the store makes "
            "no file through a dangling link (remove the link, or point it at a file)"
        )


def _prune(conn: sqlite3.Connection, max_entries: int) -> None:
    """Keep the file bounded: past `max_entries` rows in a table, drop its oldest down to 90%."""
    for table, stamp, key in (
        ("tasks", "stored_at", "scope, task_id"),
        ("requests", "made_at", "scope, request_key, task_id"),
    ):
        (count,) = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608
        if count <= max_entries:
            continue
        with conn:
            conn.execute(
                f"DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} "  # noqa: S608
                f"ORDER BY {stamp} LIMIT ?)",
                (count - int(max_entries * 0.9),),
            )


def _decode(body: object) -> dict[str, Any] | None:
    try:
        value = json.loads(body) if isinstance(body, (str, bytes)) else None
    except (ValueError, RecursionError):  # damaged, or nested past what json can read
        return None
    return value if isinstance(value, dict) else None


def _use_wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """Switch the file to WAL (it stays so). Two processes opening a new file at once can get
    "database is locked" here without SQLite's busy handler being called, so wait it out."""
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if ("locked" not in str(err) and "busy" not in str(err)) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
