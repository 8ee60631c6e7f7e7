"""The sandbox's tasks kept in a file, so a sandbox started again answers for them.

A notebook's embedded sandbox dies with its kernel; after a restart the new one reads this file
and knows every task an earlier one made (same ids, inputs, timings, audio), so a re-run that
reuses them finds them, and so do the verdicts given on them. One JSON line per task (and one
more when it is cancelled: the last line of an id wins), appended in one write under an
advisory lock (several kernels may share the file); a line that cannot be
read (cut off by a crash) is skipped, and the next one starts on a line of its own. URLs that
pointed at the old sandbox (its demo clip, its uploads) are moved to the new one's address as
they are read. Webhook settings are never written (they hold secrets).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import catalogue
from .world import SandboxTask

try:  # advisory locking keeps two sandboxes appending to one file from interleaving
    import fcntl
except ImportError:  # pragma: no cover - Windows: one O_APPEND write is still one whole line
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("qubico_nb.sandbox")

#: The fields of a `SandboxTask` that a line holds, and their types (the rest is rebuilt or
#: left out).
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "task_id": str,
    "number": int,
    "input": dict,
    "created_wall_ns": int,
    "pending_s": (int, float),
    "processing_s": (int, float),
    "seconds": (int, float),
    "model": str,
    "task_type": str,
    "cost_usd": (int, float),
    "fails": bool,
    "fail_message": str,
}


class TaskJournal:
    """The tasks of every sandbox started on `path`, one JSON line each."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._broken = False

    def __repr__(self) -> str:
        return f"TaskJournal({str(self.path)!r})"

    def read(self, own_url: str, clock: Callable[[], float], wall_ns: int) -> list[SandboxTask]:
        """The tasks in the file (the last line per id wins), their own URLs moved to
        `own_url`, their timing placed on `clock` (`wall_ns` is the wall time now)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as err:
            self._give_up("read", err)
            return []
        tasks: dict[str, SandboxTask] = {}
        now = clock()
        for line in lines:
            task = _task_from_line(line, own_url, now, wall_ns)
            if task is not None:
                tasks[task.task_id] = task
        return list(tasks.values())

    def append(self, task: SandboxTask, origins: Sequence[str]) -> None:
        """Add one task; `origins` are the base URLs its own links start with today."""
        if self._broken:
            return
        record: dict[str, Any] = {name: getattr(task, name) for name in _FIELDS}
        record["origins"] = [origin.rstrip("/") for origin in origins if origin]
        if task.cancelled_mono is not None:  # the monotonic clock means nothing to a new process
            record["cancelled_wall_ns"] = task.ended_ns()
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                with self._lock:
                    if fcntl is not None:
                        fcntl.flock(descriptor, fcntl.LOCK_EX)  # released with the descriptor
                    size = os.fstat(descriptor).st_size
                    if size and os.pread(descriptor, 1, size - 1) != b"\n":
                        data = b"\n" + data  # a crash cut the last line: never glue onto it
                    os.write(descriptor, data)
            finally:
                os.close(descriptor)
        except OSError as err:
            self._give_up("write", err)

    def _give_up(self, what: str, err: BaseException) -> None:
        """One warning; the sandbox goes on with its tasks in memory only."""
        if not self._broken:
            self._broken = True
            warnings.warn(
                f"the sandbox cannot {what} its task file {self.path} ({err}); its tasks are "
                "kept in memory only, so a restarted sandbox will not know them",
                RuntimeWarning,
                stacklevel=3,
            )


def _task_from_line(line: str, own_url: str, now: float, wall_ns: int) -> SandboxTask | None:
    try:
        record: Any = json.loads(line)
        fields = {name: record[name] for name in _FIELDS}
        cancelled = record.get("cancelled_wall_ns")
        if not all(isinstance(fields[name], kind) for name, kind in _FIELDS.items()) or not (
            cancelled is None or isinstance(cancelled, int)
        ):
            raise TypeError("a field of the wrong type")
        catalogue.model_spec(fields["model"])  # a model this sandbox serves
        origins = [o for o in record.get("origins") or () if isinstance(o, str) and o]
        fields["input"] = {
            name: _moved(value, origins, own_url) for name, value in fields["input"].items()
        }
        task = SandboxTask(**fields, created_mono=now - (wall_ns - fields["created_wall_ns"]) / 1e9)
        if cancelled is not None:
            task.cancelled_mono = now - (wall_ns - cancelled) / 1e9
        return task
    except (ValueError, TypeError, KeyError, AttributeError) as err:  # a cut or foreign line
        log.debug("skipping a line of the sandbox's task file: %s", err)
        return None


def _moved(value: object, origins: list[str], own_url: str) -> object:
    """A link to the old sandbox's own file (the demo clip, an upload) as this one serves it."""
    if isinstance(value, str):
        for origin in origins:
            if value.startswith(origin + "/"):
                return own_url + value[len(origin) :]
    return value
