"""A thread pool that Ctrl-C can leave: every helper that fetches many files or tasks uses it.

`concurrent.futures.ThreadPoolExecutor` used as a context manager joins its threads on exit, so a
KeyboardInterrupt in the kernel waits for every request in flight. This pool cancels queued work
and leaves threads still inside a request to finish alone (their answers are dropped), and the
calling thread waits in short steps so that Ctrl-C is noticed at once.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import TypeVar

#: How often the calling thread wakes to notice Ctrl-C while workers hold requests (seconds).
WAKE_S = 0.1

_T = TypeVar("_T")
_R = TypeVar("_R")


class Workers:
    """``with Workers(n) as pool:`` then `map`, `run` or `call`; never waits on exit."""

    def __init__(self, max_workers: int) -> None:
        self._pool = ThreadPoolExecutor(max(1, max_workers), thread_name_prefix="qubico-nb")

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def run(
        self, fn: Callable[[_T], _R], items: Sequence[_T], on_result: Callable[[int, _R], None]
    ) -> None:
        """Call ``on_result(index, fn(item))`` on this thread as each result comes in."""
        finished: queue.SimpleQueue[tuple[int, Future[_R]]] = queue.SimpleQueue()
        futures: list[Future[_R]] = []

        def report_to_queue(index: int) -> Callable[[Future[_R]], None]:
            return lambda future: finished.put((index, future))

        for index, item in enumerate(items):
            future = self._pool.submit(fn, item)
            future.add_done_callback(report_to_queue(index))
            futures.append(future)
        try:
            for _ in futures:
                while True:  # short waits: Ctrl-C is noticed between them
                    try:
                        index, future = finished.get(timeout=WAKE_S)
                        break
                    except queue.Empty:
                        continue
                on_result(index, future.result())
        finally:
            for future in futures:
                future.cancel()

    def map(self, fn: Callable[[_T], _R], items: Iterable[_T]) -> Iterator[_R]:
        """``fn(item)`` for every item, concurrently, yielded in the items' order."""
        futures = [self._pool.submit(fn, item) for item in items]
        try:
            for future in futures:
                yield self._result(future)
        finally:
            for future in futures:
                future.cancel()

    def call(self, fn: Callable[[], _R]) -> _R:
        """``fn()`` on a worker, waited for so that Ctrl-C on this thread is noticed at once."""
        return self._result(self._pool.submit(fn))

    @staticmethod
    def _result(future: Future[_R]) -> _R:
        while True:
            done, _ = wait_futures([future], timeout=WAKE_S)
            if done:
                return future.result()
