"""Many tasks at once: tabulate them, submit a grid of MMAudio tasks, wait for all of them."""

from __future__ import annotations

import itertools
import logging
import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ._progress import progress_bar
from .client import MMAUDIO_MODEL, MMAUDIO_TASK_TYPE, Client, mmaudio_input
from .connection import default_client
from .errors import PERMANENT_ERRORS, InvalidRequestError, QubicoError, RateLimitError
from .frames import FetchFailure, tasks_to_frame
from .models import Task

log = logging.getLogger("qubico_nb")


def tabulate_tasks(
    tasks_or_ids: Task | str | Iterable[Task | str],
    *,
    client: Client | None = None,
    per: str = "task",
    errors: str = "row",
    progress: bool = True,
    max_workers: int = 8,
) -> pd.DataFrame:
    """Tasks and/or ids to one DataFrame (see `qubico_nb.frames.TASK_COLUMNS`), in input order.

    Ids are fetched concurrently. A task that cannot be fetched becomes a row with status
    ``error`` and the reason (``errors="raise"`` raises instead), so one bad id loses nothing else.
    """
    if errors not in ("row", "raise"):
        raise InvalidRequestError(f"errors must be 'row' or 'raise', got {errors!r}")
    if per not in ("task", "work"):
        raise InvalidRequestError(f"per must be 'task' or 'work', got {per!r}")
    if max_workers < 1:
        raise InvalidRequestError(f"max_workers must be at least 1, got {max_workers}")
    items: list[Task | str] = (
        [tasks_or_ids] if isinstance(tasks_or_ids, (Task, str)) else list(tasks_or_ids))
    for item in items:
        if not isinstance(item, (Task, str)):
            raise InvalidRequestError(
                f"expected Task objects or task id strings, got {type(item).__name__}")
    ids = [item for item in items if isinstance(item, str)]
    fetched: dict[str, Task | FetchFailure] = {}
    if ids:
        client = client or default_client()
        unique = list(dict.fromkeys(ids))
        with progress_bar(len(unique), "fetching tasks", progress) as bar, \
                ThreadPoolExecutor(min(max_workers, len(unique))) as pool:
            for task_id, result in zip(unique, pool.map(_fetch(client), unique), strict=True):
                if isinstance(result, _Failed) and errors == "raise":
                    raise result.error
                fetched[task_id] = result
                bar.update(1)
    ordered = [fetched[item] if isinstance(item, str) else item for item in items]
    return tasks_to_frame(ordered, per=per)


@dataclass(frozen=True)
class _Failed(FetchFailure):
    error: QubicoError = field(compare=False)
    permanent: bool = False


def _fetch(client: Client) -> Any:
    def one(task_id: str) -> Task | _Failed:
        try:
            return client.get_task(task_id)
        except QubicoError as err:
            return _Failed(task_id=task_id, message=str(err), error=err,
                           permanent=isinstance(err, PERMANENT_ERRORS))

    return one


@dataclass
class GridSubmitError(QubicoError):
    """Some cells of a grid could not be submitted; ``tasks`` holds the ones that were."""

    tasks: list[Task]
    failures: list[tuple[dict[str, Any], Exception]] = field(default_factory=list)

    def __str__(self) -> str:
        first = self.failures[0][1] if self.failures else "unknown"
        return (f"{len(self.failures)} of {len(self.tasks) + len(self.failures)} grid tasks "
                f"could not be submitted (first: {first}); the {len(self.tasks)} submitted "
                "tasks are in .tasks")


@dataclass
class WaitAllError(QubicoError):
    """Some tasks could not be fetched at all (e.g. unknown ids); ``tasks`` holds the others,
    in order, as last seen, and ``failures`` maps each missing id to the reason."""

    tasks: list[Task]
    failures: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        first_id, reason = next(iter(self.failures.items()), ("?", "unknown"))
        return (f"could not fetch {len(self.failures)} of "
                f"{len(self.tasks) + len(self.failures)} tasks (first: {first_id}: {reason}); "
                "the others are in .tasks")


def grid(prompts: Sequence[str], *, seeds: Sequence[int | None] = (None,),
         steps: Sequence[int | None] = (None,),
         negative_prompt: str | None = None) -> list[dict[str, Any]]:
    """The cells of prompts x seeds x steps, each an MMAudio input checked against the limits."""
    if isinstance(prompts, str):
        prompts = [prompts]
    cells = []
    for prompt, seed, step in itertools.product(prompts, seeds or (None,), steps or (None,)):
        cells.append(mmaudio_input(prompt, negative_prompt=negative_prompt, steps=step,
                                   seed=seed))
    if not cells:
        raise InvalidRequestError("the grid is empty: give at least one prompt")
    return cells


def submit_grid(
    video: str,
    prompts: Sequence[str],
    *,
    seeds: Sequence[int | None] = (None,),
    steps: Sequence[int | None] = (None,),
    negative_prompt: str | None = None,
    client: Client | None = None,
    progress: bool = True,
    timeout: float = 900.0,
) -> list[Task]:
    """Create one MMAudio task per cell of prompts x seeds x steps for one video.

    Every cell is checked before the first is sent. When the plan's concurrency limit answers
    429, submission waits and goes on (until `timeout`); it does not fail.
    """
    cells = grid(prompts, seeds=seeds, steps=steps, negative_prompt=negative_prompt)
    client = client or default_client()
    video_ref = client.prepare_video(video)
    deadline = time.monotonic() + timeout
    tasks: list[Task] = []
    failures: list[tuple[dict[str, Any], Exception]] = []
    with progress_bar(len(cells), "submitting", progress) as bar:
        for cell in cells:
            payload = {**cell, "video": video_ref}
            while True:
                try:
                    tasks.append(client.create_task(MMAUDIO_MODEL, MMAUDIO_TASK_TYPE, payload))
                    break
                except RateLimitError as err:
                    wait = err.retry_after if err.retry_after is not None else 2.0
                    if time.monotonic() + wait > deadline:
                        failures.append((cell, err))
                        break
                    log.info("concurrency limit reached; waiting %.1f s before the next task",
                             wait)
                    client.sleep(max(wait, 0.05))
                except QubicoError as err:
                    failures.append((cell, err))
                    break
            bar.update(1)
    if failures:
        raise GridSubmitError(tasks=tasks, failures=failures)
    return tasks


def wait_all(
    tasks: Iterable[Task | str],
    *,
    client: Client | None = None,
    timeout: float = 900.0,
    poll_interval: float | None = None,
    progress: bool = True,
    max_workers: int = 8,
) -> list[Task]:
    """Poll until every task is done (or `timeout`), with a progress bar; returns them in order.

    Tasks still running at the deadline come back as last seen, with a warning that names them.
    A task that cannot be fetched for a while (network, 5xx, 429) is asked again; one that can
    never be (an unknown id) stops being asked, and `WaitAllError` names it at the end.
    """
    client = client or default_client()
    items = list(tasks)
    latest: list[Task | None] = [t if isinstance(t, Task) else None for t in items]
    ids = [t.id if isinstance(t, Task) else str(t) for t in items]
    interval = client.poll_interval if poll_interval is None else poll_interval
    deadline = time.monotonic() + timeout
    fetch = _fetch(client)
    gone: dict[int, str] = {}

    def waiting() -> list[int]:
        return [i for i, t in enumerate(latest)
                if i not in gone and (t is None or not t.is_done)]

    with progress_bar(len(items), "waiting", progress) as bar, \
            ThreadPoolExecutor(max(1, min(max_workers, len(items) or 1))) as pool:
        bar.update(sum(1 for t in latest if t is not None and t.is_done))
        while waiting() and time.monotonic() < deadline:
            open_at = waiting()
            for index, result in zip(open_at, pool.map(fetch, [ids[i] for i in open_at]),
                                     strict=True):
                if isinstance(result, Task):
                    latest[index] = result
                    if result.is_done:
                        bar.update(1)
                elif result.permanent:
                    gone[index] = result.message
                    bar.update(1)
            if waiting():
                pause = min(interval, deadline - time.monotonic())
                if pause > 0:
                    client.sleep(pause)
    unfinished = [ids[i] for i in waiting()]
    if unfinished:
        warnings.warn(f"{len(unfinished)} tasks were not done after {timeout:g} s: "
                      f"{', '.join(unfinished[:5])}{' …' if len(unfinished) > 5 else ''}",
                      stacklevel=2)
    missing = {ids[i]: gone.get(i, "no answer before the deadline")
               for i, t in enumerate(latest) if t is None}
    if missing:
        raise WaitAllError(tasks=[t for t in latest if t is not None], failures=missing)
    return [t for t in latest if t is not None]
