"""The board's verdicts go to disk off the kernel's message thread, in the order given, and are
never dropped.

One writer thread per board appends what it is handed, in order. When another process holds
the store's lock past the store's wait (2 s), the writer keeps every verdict in memory, says
so once per batch (`on_waiting`), and tries again (at once when a new verdict comes, else
after a growing pause up to `RETRY_MAX_S`). When the kernel exits with verdicts still
waiting, one last attempt is made; what still cannot be appended is set aside in a file of
its own next to the store (`VerdictStore.set_aside`), which the store reads and folds in.
"""

from __future__ import annotations

import atexit
import threading
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from ..store.verdicts import StoreBusyError, Verdict, VerdictStore
from .loading import IDLE_S

#: The longest pause between two attempts on a busy store (seconds).
RETRY_MAX_S = 5.0
#: How much longer than the store's lock wait `VerdictWriter.wait_saved` may wait for the
#: writer's try (its thread starting, the write and fsync).
TRY_MARGIN_S = 0.25


@dataclass
class Batch:
    """Verdicts written together (a pick and the picks it clears), and who waits for them."""

    verdicts: list[Verdict]
    tag: object = None
    number: int = 0  # the writer numbers batches 1, 2, ... in submission order
    saved: threading.Event = field(default_factory=threading.Event)
    #: Set by the writer's first try at the batch, whether it saved it or found the store busy.
    tried: threading.Event = field(default_factory=threading.Event)
    told_waiting: bool = False


class VerdictWriter:
    """Appends batches of verdicts to a store on a thread of its own, in submission order."""

    def __init__(
        self,
        store: VerdictStore,
        *,
        on_saved: Callable[[Batch], None] = lambda batch: None,
        on_waiting: Callable[[Batch, str], None] = lambda batch, why: None,
    ) -> None:
        self.store = store
        self._on_saved, self._on_waiting = on_saved, on_waiting
        self._queue: list[Batch] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.submitted = 0
        _open_writers.add(self)

    def submit(self, verdicts: list[Verdict], tag: object = None) -> Batch:
        """Queue a batch for writing; returns it (``batch.saved`` is set once on disk)."""
        with self._wake:
            self.submitted += 1
            batch = Batch(list(verdicts), tag, number=self.submitted)
            self._queue.append(batch)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="qubico-nb-verdicts", daemon=True
                )
                self._thread.start()
            self._wake.notify_all()
        return batch

    @property
    def waiting(self) -> int:
        """How many verdicts are kept in memory, not yet on disk."""
        with self._wake:
            return sum(len(batch.verdicts) for batch in self._queue)

    def wait_saved(self, batch: Batch) -> bool:
        """Wait for `batch` to be on disk, as long as the writer's first try at it lasts (the
        store's lock wait, about 2 s; `TRY_MARGIN_S` more at most), and not at all while the
        store is known to be busy (a second verdict never waits for the lock again); True
        when it is on disk."""
        if not self.store.busy:
            batch.tried.wait(self.store.lock_timeout + TRY_MARGIN_S)
        return batch.saved.is_set()

    def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for every queued batch; True when all are on disk."""
        with self._wake:
            last = self._queue[-1] if self._queue else None
        return last is None or last.saved.wait(timeout)

    def _run(self) -> None:
        pause = 0.25
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    if not self._wake.wait(IDLE_S) and not self._queue:
                        self._thread = None  # idle: the next verdict starts a new writer
                        return
                if self._closed:
                    return
                batches = list(self._queue)
            try:
                self.store.append_many(v for batch in batches for v in batch.verdicts)
            except (StoreBusyError, OSError) as exc:
                why = str(exc)
                for batch in batches:
                    if not batch.told_waiting:
                        batch.told_waiting = True
                        self._on_waiting(batch, why)
                    batch.tried.set()
                taken = len(batches)
                with self._wake:  # a new verdict wakes the writer to try again at once
                    self._wake.wait_for(
                        lambda: self._closed or len(self._queue) > taken,  # noqa: B023
                        timeout=pause,
                    )
                pause = min(pause * 2, RETRY_MAX_S)
                continue
            pause = 0.25
            with self._wake:
                del self._queue[: len(batches)]
            for batch in batches:
                batch.saved.set()
                batch.tried.set()
                self._on_saved(batch)

    def close(self) -> None:
        """Stop the thread; a last attempt at what is queued, then set it aside (at exit)."""
        with self._wake:
            self._closed = True
            left = [v for batch in self._queue for v in batch.verdicts]
            self._queue.clear()
            self._wake.notify_all()
        _open_writers.discard(self)
        if not left:
            return
        try:
            self.store.append_many(left)
        except (StoreBusyError, OSError) as exc:
            try:
                where = self.store.set_aside(left)
            except OSError as again:
                warnings.warn(
                    f"{len(left)} verdict(s) could not be saved ({exc}; {again})", stacklevel=2
                )
            else:
                warnings.warn(
                    f"{len(left)} verdict(s) were set aside in {where} ({exc}); "
                    "the store reads them and folds them in at its next write",
                    stacklevel=2,
                )


_open_writers: weakref.WeakSet[VerdictWriter] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for writer in list(_open_writers):
        writer.close()
