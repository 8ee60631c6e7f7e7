"""Background work for the board, so `review()` returns at once and no message waits on a file:
what a page asks for first (most wanted first), then the rest of the board in its order."""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterable

from .._workers import WAKE_S

#: A worker with nothing to do for this long ends (a new wish starts one again), so boards made
#: and forgotten in a long session leave no threads behind (s).
IDLE_S = 20.0


class Jobs:
    """Runs ``run(item)`` on a few daemon threads: wanted items before background ones.

    `want` sets one page's wanted items (replacing that page's earlier list: an empty list
    cancels what has not started); `background` adds items to do when nothing is wanted. An
    item is run once per time it is asked for; one that raises is dropped (``run`` reports).
    """

    def __init__(self, run: Callable[[Hashable], None], *, workers: int = 2) -> None:
        self._run = run
        self._workers = max(1, workers)
        self._wanted: dict[str, list[Hashable]] = {}
        self._background: list[Hashable] = []
        self._busy: set[Hashable] = set()
        self._threads: list[threading.Thread] = []
        self._changed = threading.Condition()
        self._closed = False
        _live.add(self)

    def want(self, page: str, items: Iterable[Hashable]) -> None:
        with self._changed:
            self._wanted[page] = list(dict.fromkeys(items))
            if not self._wanted[page]:
                del self._wanted[page]
            self._start()

    def background(self, items: Iterable[Hashable]) -> None:
        with self._changed:
            self._background.extend(items)
            self._start()

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or running; True if so within `timeout` seconds. It
        waits in short steps, so Ctrl-C in the kernel is noticed at once."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = WAKE_S if deadline is None else min(WAKE_S, deadline - time.monotonic())
            with self._changed:
                if self._changed.wait_for(
                    lambda: not (self._wanted or self._background or self._busy),
                    timeout=max(0.0, step),
                ):
                    return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def close(self, wait: float = 0.0) -> None:
        """Drop what is queued; with `wait`, give what runs that long to finish."""
        with self._changed:
            self._closed = True
            self._wanted.clear()
            self._background.clear()
            self._changed.notify_all()
            threads = list(self._threads)
        deadline = time.monotonic() + wait
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _start(self) -> None:
        self._changed.notify_all()
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        while len(self._threads) < self._workers and not self._closed:
            thread = threading.Thread(target=self._loop, name="qubico-nb-board", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _next(self) -> Hashable | None:
        for items in list(self._wanted.values()):
            for item in items:
                if item not in self._busy:
                    for others in self._wanted.values():  # one send serves every page
                        if item in others:
                            others.remove(item)
                    for emptied in [p for p, left in self._wanted.items() if not left]:
                        del self._wanted[emptied]
                    return item
        for index, item in enumerate(self._background):
            if item not in self._busy:
                del self._background[index]
                return item
        return None

    def _loop(self) -> None:
        while True:
            with self._changed:
                item = self._next()
                while item is None and not self._closed:
                    if not self._changed.wait(IDLE_S) and self._next() is None:
                        self._threads.remove(threading.current_thread())
                        return
                    item = self._next()
                if self._closed or item is None:
                    return
                self._busy.add(item)
            try:
                self._run(item)
            except Exception:  # noqa: S110 - `run` reports its own failures; never kill the thread
                pass
            finally:
                with self._changed:
                    self._busy.discard(item)
                    self._changed.notify_all()


_live: weakref.WeakSet[Jobs] = weakref.WeakSet()


@atexit.register
def _finish_at_exit() -> None:
    """Let running work end before the interpreter does: a thread killed inside a native
    decoder or FFT at shutdown can abort the whole process."""
    for jobs in list(_live):
        jobs.close(wait=5.0)
