"""Python's cyclic garbage collector, paused during bulk work. A leaf module (stdlib only)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while bulk work runs.

    Bulk work (a table of tasks, a batch read from the store) makes objects that all outlive
    it, and none of them forms a cycle; with the collector running, every few hundred of them
    set off a scan, and now and then a scan of every object the process holds. The usual
    remedy for bulk work (pandas and JSON libraries do the same); the collector is switched
    back on, if it was on, whatever happens.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
