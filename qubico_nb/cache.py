"""A small LRU of finished tasks: a completed or failed task never changes, so it is asked once."""

from __future__ import annotations

import threading
from collections import OrderedDict

from .models import Task


class TaskCache:
    """Thread-safe, bounded, and holding only tasks that are done (anything else would go stale)."""

    def __init__(self, maxsize: int = 1024) -> None:
        if maxsize < 0:
            raise ValueError(f"maxsize must be >= 0, got {maxsize}")
        self.maxsize = maxsize
        self._items: OrderedDict[str, Task] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            task = self._items.get(task_id)
            if task is None:
                self.misses += 1
                return None
            self._items.move_to_end(task_id)
            self.hits += 1
            return task

    def put(self, task: Task) -> None:
        if not task.is_done or self.maxsize == 0:
            return
        with self._lock:
            self._items[task.id] = task
            self._items.move_to_end(task.id)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __repr__(self) -> str:
        return f"TaskCache({len(self)}/{self.maxsize}, hits={self.hits}, misses={self.misses})"
