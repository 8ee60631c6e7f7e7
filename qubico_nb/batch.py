"""Many tasks at once: tabulate them, submit a grid of any model's tasks, wait for all of them.

Every helper here keeps going when one task misbehaves (that task becomes an error row or a
named failure), waits on the client's clock and retry policy (no rules of its own), and gives
control back within a fraction of a second on Ctrl-C: work not started is cancelled and threads
stuck in a request are abandoned, not joined.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import pandas as pd

from ._progress import progress_bar
from ._retry import next_poll, pause_until
from ._workers import Workers
from .cache import request_key
from .catalogue import with_defaults
from .client import Client, checked_input, mmaudio_input
from .connection import default_client
from .errors import (
    PERMANENT_ERRORS,
    APIConnectionError,
    APITimeoutError,
    CreateOutcomeUnknownError,
    InvalidRequestError,
    ProtocolError,
    QubicoError,
    RateLimitError,
    ServerError,
)
from .frames import FetchFailure, Per, tasks_to_frame
from .grids import GridPlan, check_budget, estimate, plan_grid
from .models import Status, Task

log = logging.getLogger("qubico_nb")

#: One row per task, or one per work (file) of each task.
#: What a task that cannot be fetched becomes: an error row, or a raised error.
ErrorMode = Literal["row", "raise"]

#: Threads fetching at once (reads are not limited by the plan's concurrency). Measured with
#: benchmarks/bench.py, 1000 ids at 50 ms latency on 2 busy cores: 16 keeps pace with a
#: hand-written pool of 16 threads; 8 leaves half the speed unused, and 24 or 32 gain little
#: over 16 while each request's parsing contends for the GIL.
DEFAULT_MAX_WORKERS = 16
#: Consecutive unreadable answers after which `wait_all` stops asking for a task.
_MAX_UNREADABLE = 3
#: How far before its send time a reconciled create may have been stamped by the server.
_CLOCK_SKEW_S = 10.0
#: At most this many history entries are read to find lost creates.
_MAX_HISTORY_SCAN = 500
#: Errors of a create that was sent but whose answer was lost: the task may exist.
_OUTCOME_UNKNOWN: tuple[type[QubicoError], ...] = (
    CreateOutcomeUnknownError,
    APIConnectionError,
    APITimeoutError,
    ProtocolError,
    ServerError,
)

_T = TypeVar("_T")
_R = TypeVar("_R")


# -- errors -------------------------------------------------------------------------------------


class GridSubmitError(QubicoError):
    """Some cells of a grid could not be submitted; ``tasks`` holds the ones that were.

    ``failures`` pairs each failed cell (its input without the video) with the reason. A cell
    whose create answer was lost was looked up in the history first, so resubmitting the failed
    cells never makes a second paid task for the same cell.
    """

    def __init__(
        self, tasks: Sequence[Task], failures: Sequence[tuple[dict[str, Any], BaseException]]
    ) -> None:
        self.tasks = list(tasks)
        self.failures = list(failures)
        first = self.failures[0][1] if self.failures else "unknown"
        super().__init__(
            f"{len(self.failures)} of {len(self.tasks) + len(self.failures)} grid tasks could "
            f"not be submitted (first: {first}); the {len(self.tasks)} submitted tasks are in "
            ".tasks, the failed cells and reasons in .failures"
        )

    def __reduce__(self) -> Any:
        return (type(self), (self.tasks, self.failures))


class WaitAllError(QubicoError):
    """Some tasks could not be fetched at all (e.g. unknown ids); ``tasks`` holds the others,
    in order, as last seen, and ``failures`` maps each missing id to the reason."""

    def __init__(self, tasks: Sequence[Task], failures: dict[str, str]) -> None:
        self.tasks = list(tasks)
        self.failures = dict(failures)
        first_id, reason = next(iter(self.failures.items()), ("?", "unknown"))
        super().__init__(
            f"could not fetch {len(self.failures)} of {len(self.tasks) + len(self.failures)} "
            f"tasks (first: {first_id}: {reason}); the others are in .tasks"
        )

    def __reduce__(self) -> Any:
        return (type(self), (self.tasks, self.failures))


# -- workers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Failed(FetchFailure):
    error: BaseException = field(compare=False)
    permanent: bool = False


def _fetcher(client: Client, *, use_cache: bool = True) -> Callable[[str], Task | _Failed]:
    """`client.get_task` that returns what went wrong instead of raising it (run in a worker)."""

    def one(task_id: str) -> Task | _Failed:
        try:
            task = client.get_task(task_id, use_cache=use_cache)
            if task.id != task_id.strip():  # never put one task's answer in another's row
                raise ProtocolError(f"asked for task {task_id!r}, the answer is task {task.id!r}")
            return task
        except QubicoError as err:
            return _Failed(
                task_id=task_id,
                message=str(err),
                error=err,
                permanent=isinstance(err, PERMANENT_ERRORS),
            )
        except Exception as err:  # one odd answer never sinks the batch; it becomes a row
            log.warning("task %r could not be read", task_id, exc_info=True)
            wrapped = ProtocolError(
                f"task {task_id!r} could not be read: {type(err).__name__}: {err}"
            )
            return _Failed(task_id=task_id, message=str(wrapped), error=wrapped)

    return one


def _check_workers(max_workers: int) -> None:
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise InvalidRequestError(
            f"max_workers must be an integer of at least 1, got {max_workers!r}"
        )


# -- tabulate -----------------------------------------------------------------------------------


def tabulate_tasks(
    tasks_or_ids: Task | str | Iterable[Task | str],
    *,
    client: Client | None = None,
    per: Per = "task",
    errors: ErrorMode = "row",
    progress: bool = True,
    max_workers: int = DEFAULT_MAX_WORKERS,
) -> pd.DataFrame:
    """Tasks and/or ids to one DataFrame (see `qubico_nb.frames.TASK_COLUMNS`), in input order.

    Finished tasks the client has seen (in this kernel or, through the on-disk cache, any
    earlier one) are read locally in one query; the rest are fetched concurrently. A task that
    cannot be fetched or read becomes a row with status ``error`` and the reason
    (``errors="raise"`` raises instead), so one bad id loses nothing else.
    """
    if errors not in ("row", "raise"):
        raise InvalidRequestError(f"errors must be 'row' or 'raise', got {errors!r}")
    if per not in ("task", "work"):
        raise InvalidRequestError(f"per must be 'task' or 'work', got {per!r}")
    _check_workers(max_workers)
    items: list[Task | str] = (
        [tasks_or_ids] if isinstance(tasks_or_ids, (Task, str)) else list(tasks_or_ids)
    )
    for item in items:
        if not isinstance(item, (Task, str)):
            raise InvalidRequestError(
                f"expected Task objects or task id strings, got {type(item).__name__}"
            )
    ids = [item for item in items if isinstance(item, str)]
    fetched: dict[str, Task | FetchFailure] = {}
    if ids:
        client = client or default_client()
        unique = list(dict.fromkeys(ids))
        fetched.update(client.cache.get_many(unique))
        missing = [task_id for task_id in unique if task_id not in fetched]
        if missing:
            fetched.update(
                _fetch_all(
                    client, missing, errors=errors, progress=progress, max_workers=max_workers
                )
            )
    ordered = [fetched[item] if isinstance(item, str) else item for item in items]
    return tasks_to_frame(ordered, per=per)


def _fetch_all(
    client: Client, ids: list[str], *, errors: ErrorMode, progress: bool, max_workers: int
) -> dict[str, Task | FetchFailure]:
    results: dict[str, Task | FetchFailure] = {}
    # The cache was just asked for all of them at once; the workers go straight to the network.
    fetch = _fetcher(client, use_cache=False)
    with (
        progress_bar(len(ids), "fetching tasks", progress) as bar,
        Workers(min(max_workers, len(ids))) as workers,
    ):

        def take(index: int, result: Task | _Failed) -> None:
            if isinstance(result, _Failed) and errors == "raise":
                raise result.error
            results[ids[index]] = result
            bar.update(1)

        workers.run(fetch, ids, take)
    return results


# -- submit -------------------------------------------------------------------------------------


def grid(
    prompts: Sequence[str],
    *,
    seeds: Sequence[int | None] = (None,),
    steps: Sequence[int | None] = (None,),
    negative_prompt: str | None = None,
) -> list[dict[str, Any]]:
    """The cells of prompts x seeds x steps, each an MMAudio input checked against the limits."""
    if isinstance(prompts, str):
        prompts = [prompts]
    cells = []
    for prompt, seed, step in itertools.product(prompts, seeds or (None,), steps or (None,)):
        cells.append(mmaudio_input(prompt, negative_prompt=negative_prompt, steps=step, seed=seed))
    if not cells:
        raise InvalidRequestError("the grid is empty: give at least one prompt")
    return cells


@dataclass(frozen=True)
class _Unknown:
    """A create that was sent but whose answer was lost: the task may exist."""

    error: QubicoError
    sent_at: float


def submit_grid(
    video: str | None = None,
    prompts: Sequence[str] | None = None,
    *,
    model: str | None = None,
    task_type: str | None = None,
    input: Mapping[str, Any] | None = None,
    vary: Mapping[str, Sequence[Any]] | None = None,
    seeds: Sequence[int | None] = (None,),
    steps: Sequence[int | None] = (None,),
    negative_prompt: str | None = None,
    client: Client | None = None,
    progress: bool = True,
    timeout: float = 900.0,
    max_cost_usd: float | None = None,
    reuse: bool = True,
) -> list[Task]:
    """Create one task per cell of a grid, for any model; in cell order.

    ``submit_grid(model="Qubico/ace-step", input={"duration": 30}, vary={"style_prompt": [...],
    "lyrics": [...]})`` makes the cross product of the varied values over the fixed input;
    ``submit_grid(video, prompts, seeds=..., steps=...)`` is MMAudio's grid of prompts x seeds x
    steps for one video (see `qubico_nb.grids.plan_grid`). Every cell is checked against the
    model's documented limits before the first is sent; with `max_cost_usd`, a grid whose
    `estimate_cost` is over it is refused (`OverBudgetError`) before anything is created.

    A re-run pays nothing twice: a cell whose model, task type and input are those of a task
    made before (completed, or still running; never a failed one) gets that task back instead
    of a new one. The tasks this user's kernels made are looked up first (the task store, no
    request), then the history. Inputs are compared whole, with the model's documented defaults
    filled in (a cell without ``steps`` wants the default steps); only a seed the cell leaves
    out is the server's to choose, and such a cell takes a task of any seed only when no cell
    asking for that seed wants it. A line says how many were reused and what that saved;
    ``reuse=False`` makes every task anew.

    When the plan's concurrency limit answers 429, submission waits (as the client's retry
    policy says) and goes on until `timeout`. A create whose answer was lost (cut off, not JSON,
    5xx) is looked up in the task history before it counts as failed, so resubmitting the failed
    cells never pays twice for one cell. Cells that still failed raise `GridSubmitError`, which
    holds the tasks that were made.
    """
    plan = plan_grid(
        video,
        prompts,
        model=model,
        task_type=task_type,
        input=input,
        vary=vary,
        seeds=seeds,
        steps=steps,
        negative_prompt=negative_prompt,
    )
    check_budget(estimate(plan), max_cost_usd)
    client = client or default_client()
    cells, payloads = _payloads(client, plan)
    reused = _reusable(client, plan, payloads) if reuse else {}
    if reused:
        print(_reuse_note(list(reused.values()), len(cells)), flush=True)
    deadline = client.clock.monotonic() + timeout
    # Tasks made just before this batch could pass for one of its lost creates: note them.
    earlier = _recent_task_ids(client, plan.model) if len(reused) < len(cells) else set()
    outcomes: list[Task | QubicoError | _Unknown] = []
    with progress_bar(len(cells), "submitting", progress) as bar, Workers(1) as worker:
        try:
            for index, payload in enumerate(payloads):
                found = reused.get(index)
                outcomes.append(found or _create(client, plan, payload, deadline, worker))
                bar.update(1)
        except KeyboardInterrupt:
            made = [o.id for o in outcomes if isinstance(o, Task)]
            warnings.warn(
                f"submit_grid was interrupted after creating {len(made)} of {len(cells)} tasks"
                f"{': ' + ', '.join(made) if made else ''}; the create in flight may exist too "
                "(see client.history())",
                stacklevel=2,
            )
            raise
    unknown = {i: o for i, o in enumerate(outcomes) if isinstance(o, _Unknown)}
    if unknown:
        taken = {o.id for o in outcomes if isinstance(o, Task)} | earlier
        for index, task in _reconcile(client, plan, payloads, unknown, taken).items():
            outcomes[index] = task
    tasks = [o for o in outcomes if isinstance(o, Task)]
    failures: list[tuple[dict[str, Any], BaseException]] = []
    for cell, outcome in zip(cells, outcomes, strict=True):
        if isinstance(outcome, _Unknown):
            failures.append((cell, outcome.error))
        elif not isinstance(outcome, Task):
            failures.append((cell, outcome))
    if failures:
        raise GridSubmitError(tasks, failures)
    return tasks


def _payloads(client: Client, plan: GridPlan) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(each cell without its media files, for reports; what each create sends): local media
    files are read (inlined or uploaded) once per distinct file, then every input is checked."""
    task = plan.spec.task_type(plan.task_type)
    media = {i.name for i in task.inputs if i.kind in ("video", "audio")}
    ready: dict[tuple[str, str], Any] = {}
    payloads = []
    for cell in plan.cells:
        payload = dict(cell)
        for name in media & set(cell):
            key = (name, str(cell[name]))
            if key not in ready:
                ready[key] = client.prepare_media_inputs(task, {name: cell[name]})[name]
            payload[name] = ready[key]
        payloads.append(checked_input(plan.spec, plan.task_type, payload))
    cells = [{k: v for k, v in cell.items() if k not in media} for cell in plan.cells]
    return cells, payloads


def _reusable(client: Client, plan: GridPlan, payloads: list[dict[str, Any]]) -> dict[int, Task]:
    """Cell index -> a task made before from the same request, each task for one cell at most.

    The store's record of what this user's kernels made comes first (one query; the tasks it
    names are read from the cache, or fetched when they were still running), then the history
    (newest first, a few pages at most). Exact matches are given out before a cell that leaves
    its seed to the server takes one (`_assign`); a completed task is preferred to a running one."""
    fits = _Fits(plan, payloads)
    made = {i: client.cache.made_from(_request_key(plan, p)) for i, p in enumerate(payloads)}
    known = _known_tasks(client, [task_id for ids in made.values() for task_id in ids])
    found: dict[int, Task] = {}
    _assign(found, {i: [known[t] for t in ids if t in known] for i, ids in made.items()}, fits)
    rest = [i for i in range(len(payloads)) if i not in found]
    if rest:
        history = _history_for(client, plan, fits, rest)
        _assign(found, dict.fromkeys(rest, history), fits)
    return found


def _assign(found: dict[int, Task], pools: Mapping[int, list[Task]], fits: _Fits) -> None:
    """Give each cell of `pools` that has no task in `found` one of its pool's, none taken
    twice: first to every cell a task matches exactly, then to cells that leave the seed to the
    server, which take a task only if no cell still without one wants it exactly."""
    taken = {task.id for task in found.values()}
    for fit in _FITS:
        for index, pool in pools.items():
            if index in found:
                continue
            task = _best_match(pool, fits, index, fit, taken, found)
            if task is not None:
                found[index] = task
                taken.add(task.id)


def _history_for(client: Client, plan: GridPlan, fits: _Fits, cells: list[int]) -> list[Task]:
    """The newest of the model's history, read until each of `cells` has a completed task of
    its own among them (or a few pages at most); on trouble, those read so far."""
    need = list(cells)  # cells without a completed task among those read
    read: list[Task] = []
    try:
        for task in itertools.islice(client.history(model=plan.model), _MAX_HISTORY_SCAN):
            read.append(task)
            if task.status is Status.COMPLETED:
                for fit in _FITS:
                    index = next((i for i in need if fits(task, i) == fit), None)
                    if index is not None:
                        need.remove(index)
                        break
            if not need:
                break
    except QubicoError as err:
        log.warning("could not read the whole history for earlier tasks (%s)", err)
    return read


def _request_key(plan: GridPlan, payload: dict[str, Any]) -> str:
    return request_key(plan.model, plan.task_type, payload)


def _known_tasks(client: Client, ids: list[str]) -> dict[str, Task]:
    """Those tasks as the cache has them, the rest fetched; ids that cannot be read are left out.

    A sandbox's are always fetched: another sandbox that listened at the same address before
    may have made them, and this one would not know them."""
    unique = list(dict.fromkeys(ids))
    known: dict[str, Task] = {} if client.is_sandbox else dict(client.cache.get_many(unique))
    missing = [task_id for task_id in unique if task_id not in known]
    if missing:
        fetched = _fetch_all(
            client, missing, errors="row", progress=False, max_workers=DEFAULT_MAX_WORKERS
        )
        known.update((i, t) for i, t in fetched.items() if isinstance(t, Task))
    return known


#: States of a task that can stand for a new one: it has made, or is making, the same thing.
_REUSABLE = (Status.COMPLETED, Status.PROCESSING, Status.STAGED, Status.PENDING)


def _best_match(
    candidates: Iterable[Task],
    fits: _Fits,
    index: int,
    fit: Fit,
    taken: set[str],
    found: Mapping[int, Task],
) -> Task | None:
    """The newest completed task among `candidates` (newest first) that stands for cell `index`
    as `fit` says, else the newest such one still running, else None. A loose one is passed
    over when a cell without a task (not in `found`) matches it exactly."""
    running = None
    for task in candidates:
        if task.id in taken or task.status not in _REUSABLE or fits(task, index) != fit:
            continue
        if fit == "loose" and any(
            fits(task, other) == "exact" for other in fits.cells if other not in found
        ):
            continue
        if task.status is Status.COMPLETED:
            return task
        running = running or task
    return running


def _reuse_note(reused: list[Task], cells: int) -> str:
    """One line: how many cells got an earlier task, and what those tasks cost (where known)."""
    costs = [t.usage.cost_usd if t.usage is not None else None for t in reused]
    known = [c for c in costs if c is not None]
    saved = f"saved ${sum(known):.4f}" if known else "saved their cost"
    if known and len(known) < len(costs):
        saved += f" (cost unknown for {len(costs) - len(known)})"
    return (
        f"submit_grid reused {len(reused)} of {cells} tasks made before from the same model, "
        f"task type and input ({saved}); pass reuse=False to make new ones."
    )


def _create(
    client: Client, plan: GridPlan, payload: dict[str, Any], deadline: float, worker: Workers
) -> Task | QubicoError | _Unknown:
    """One create, riding out the concurrency limit; what went wrong is returned, not raised.

    The request runs on `worker` so that Ctrl-C is noticed while its answer is awaited."""
    policy = client.retry_policy
    attempt = 0
    while True:
        sent_at = time.time()
        try:
            return worker.call(lambda: client.create_task(plan.model, plan.task_type, payload))
        except RateLimitError as err:
            attempt += 1
            # The transport has already spent its retries; the plan's limit frees up only as
            # running tasks end, so keep to the policy's longest pause until the deadline.
            wait = policy.delay(min(attempt, policy.max_retries), err.retry_after)
            if wait is None or client.clock.monotonic() + wait > deadline:
                return err
            log.info("concurrency limit reached; waiting %.1f s before the next task", wait)
            pause_until(client.clock, client.clock.monotonic() + wait)
        except _OUTCOME_UNKNOWN as err:
            when = (
                err.sent_at
                if isinstance(err, CreateOutcomeUnknownError) and err.sent_at
                else sent_at
            )
            return _Unknown(err, when)
        except QubicoError as err:
            return err


def _recent_task_ids(client: Client, model: str) -> set[str]:
    """Ids of the tasks made in the last few seconds (one history request; empty on trouble)."""
    try:
        return {t.id for t in _history_since(client, time.time() - _CLOCK_SKEW_S, model)}
    except QubicoError as err:
        log.debug("could not list recent tasks: %s", err)
        return set()


def _history_since(client: Client, since: float, model: str) -> list[Task]:
    """`model`'s tasks created since `since` (Unix seconds), newest first; a server that ignores
    the time filter is read only until its first older task, and never past a few pages."""
    found = []
    for task in itertools.islice(
        client.history(model=model, since=math.floor(since)), _MAX_HISTORY_SCAN
    ):
        if task.created_at is not None and task.created_at.timestamp() < since - 1:
            break
        found.append(task)
    return found


def _reconcile(
    client: Client,
    plan: GridPlan,
    payloads: list[dict[str, Any]],
    unknown: dict[int, _Unknown],
    taken: set[str],
) -> dict[int, Task]:
    """Find in the history the tasks whose create answers were lost: same input, created after
    it was sent. Each history task answers for at most one cell."""
    since = min(u.sent_at for u in unknown.values()) - _CLOCK_SKEW_S
    try:
        candidates = [t for t in _history_since(client, since, plan.model) if t.id not in taken]
    except QubicoError as err:
        log.warning("could not look up %d lost creates in the history: %s", len(unknown), err)
        return {}
    candidates.sort(key=lambda t: t.created_at.timestamp() if t.created_at else math.inf)
    fits = _Fits(plan, payloads)
    found: dict[int, Task] = {}
    for index, lost in sorted(unknown.items()):
        for task in candidates:
            created = task.created_at.timestamp() if task.created_at else None
            if task.id in taken or (created is not None and created < lost.sent_at - _CLOCK_SKEW_S):
                continue
            if fits(task, index) is not None:
                found[index] = task
                taken.add(task.id)
                log.info("the lost create of cell %d is task %s", index, task.id)
                break
    return found


#: How a task made before stands for a cell: made from the same whole input ("exact"), or the
#: same but for a seed the cell leaves to the server ("loose"); exact ones are given out first.
Fit = Literal["exact", "loose"]
_FITS: tuple[Fit, ...] = ("exact", "loose")
#: The input whose absence means "the server chooses".
_SEED = "seed"


class _Fits:
    """How tasks stand for the cells of one grid (`Fit`), each input made comparable once.

    Inputs are compared whole, each side with the catalogue's documented defaults filled in
    (a cell without ``steps`` is a cell with the default steps, not "any steps"), under the
    catalogue's names. Only an unset seed is the server's choice. A media input the server
    does not echo is not compared; what the server echoes that the catalogue does not document
    (its own notes) is left out."""

    def __init__(self, plan: GridPlan, payloads: Sequence[Mapping[str, Any]]) -> None:
        self.plan = plan
        spec = plan.spec.task_type(plan.task_type)
        self._media = {i.name for i in spec.inputs if i.kind in ("video", "audio")}
        self._wants = [self._comparable(p) for p in payloads]
        self._inputs: dict[str, dict[str, Any]] = {}

    @property
    def cells(self) -> range:
        return range(len(self._wants))

    def __call__(self, task: Task, index: int) -> Fit | None:
        plan = self.plan
        if task.model is not None and task.model.lower() != plan.model.lower():
            return None
        if task.task_type is not None and task.task_type != plan.task_type:
            return None
        got = self._inputs.get(task.id)
        if got is None:
            got = self._inputs[task.id] = self._comparable(task.input)
        want = self._wants[index]
        unechoed = [n for n in self._media if n in want and n not in got]
        loose = _SEED not in want and _SEED in got
        if unechoed or loose:
            got = {k: v for k, v in got.items() if not (loose and k == _SEED)}
            got.update((name, want[name]) for name in unechoed)
        if got != want:
            return None
        return "loose" if loose else "exact"

    def _comparable(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """`given` as the service holds it: defaults filled in, each input under its
        catalogue name, no None, nothing the catalogue does not document."""
        task = self.plan.spec.task_type(self.plan.task_type)
        out: dict[str, Any] = {}
        for name, value in with_defaults(self.plan.spec, self.plan.task_type, given).items():
            spec = task.input(name)
            if spec is not None and value is not None:
                out[spec.name] = value
        return out


# -- wait ---------------------------------------------------------------------------------------


def wait_all(
    tasks: Iterable[Task | str],
    *,
    client: Client | None = None,
    timeout: float = 900.0,
    poll_interval: float | None = None,
    progress: bool = True,
    max_workers: int = DEFAULT_MAX_WORKERS,
) -> list[Task]:
    """Poll until every task is done (or `timeout`), with a progress bar; returns them in order.

    Polls run on a fixed schedule, one request per unfinished task every `poll_interval`
    (the client's by default), so it returns at most one interval and one request after the
    last task ends. Tasks still running at the deadline come back as last seen, with a warning
    that names them. A task that cannot be fetched for a while (network, 5xx, 429) is asked
    again at the next tick; one that can never be (an unknown id, answers that cannot be read)
    stops being asked, and `WaitAllError` names it at the end.
    """
    _check_workers(max_workers)
    client = client or default_client()
    items = list(tasks)
    for item in items:
        if not isinstance(item, (Task, str)):
            raise InvalidRequestError(
                f"expected Task objects or task id strings, got {type(item).__name__}"
            )
    latest: list[Task | None] = [t if isinstance(t, Task) else None for t in items]
    ids = [t.id if isinstance(t, Task) else t for t in items]
    interval = client.poll_interval if poll_interval is None else poll_interval
    if interval < 0 or timeout <= 0:
        raise InvalidRequestError("timeout must be > 0 and poll_interval >= 0")
    clock = client.clock
    deadline = clock.monotonic() + timeout
    fetch = _fetcher(client)
    gone: dict[int, str] = {}
    unreadable: dict[int, int] = {}

    def waiting() -> list[int]:
        return [i for i, t in enumerate(latest) if i not in gone and (t is None or not t.is_done)]

    with (
        progress_bar(len(items), "waiting", progress) as bar,
        Workers(max(1, min(max_workers, len(items) or 1))) as workers,
    ):
        bar.update(sum(1 for t in latest if t is not None and t.is_done))
        schedule_start = clock.monotonic()
        limited = 0
        while (open_at := waiting()) and clock.monotonic() < deadline:
            rate_limited: list[float | None] = []

            def take(
                position: int,
                result: Task | _Failed,
                open_at: list[int] = open_at,
                rate_limited: list[float | None] = rate_limited,
            ) -> None:
                index = open_at[position]
                if isinstance(result, Task):
                    latest[index] = result
                    unreadable.pop(index, None)
                    if result.is_done:
                        bar.update(1)
                    return
                if result.permanent:
                    gone[index] = result.message
                    bar.update(1)
                elif isinstance(result.error, RateLimitError):
                    rate_limited.append(result.error.retry_after)
                elif isinstance(result.error, ProtocolError):
                    unreadable[index] = unreadable.get(index, 0) + 1
                    if unreadable[index] >= _MAX_UNREADABLE:
                        gone[index] = result.message
                        bar.update(1)

            workers.run(fetch, [ids[i] for i in open_at], take)
            if not waiting():
                break
            now = clock.monotonic()
            next_at = next_poll(schedule_start, interval, now)  # a slow round skips ticks
            if rate_limited:
                limited += 1
                policy = client.retry_policy
                wait = policy.delay(
                    min(limited, policy.max_retries),
                    max((r for r in rate_limited if r is not None), default=None),
                )
                if wait is not None and now + wait > next_at:
                    schedule_start = next_at = now + wait  # the schedule goes on from there
            else:
                limited = 0
            pause_until(clock, next_at, deadline)
    unfinished = [ids[i] for i in waiting()]
    if unfinished:
        warnings.warn(
            f"{len(unfinished)} tasks were not done after {timeout:g} s: "
            f"{', '.join(unfinished[:5])}{' …' if len(unfinished) > 5 else ''}",
            stacklevel=2,
        )
    missing = {
        ids[i]: gone.get(i, "no answer before the deadline")
        for i, t in enumerate(latest)
        if t is None or i in gone
    }
    if missing:
        raise WaitAllError(
            [t for i, t in enumerate(latest) if t is not None and i not in gone], missing
        )
    return [t for t in latest if t is not None]
