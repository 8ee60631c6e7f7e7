"""A grid of tasks over any model: its cells (an input times the values to vary), checked against
the catalogue, and what they will cost before anything is sent (`estimate_cost`)."""

from __future__ import annotations

import base64
import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import catalogue
from ._constants import MP4_DATA_URI_PREFIX
from ._media import mp4_duration_s
from .errors import InvalidRequestError

#: A video the grid sends to every cell; the legacy MMAudio form's first argument.
VideoLike = str | os.PathLike[str]


@dataclass(frozen=True)
class GridPlan:
    """What a grid will create: the model, task type and each cell's input, in cell order.

    Cells hold the inputs as given: local media files are still paths here (the client turns
    them into what the API takes when it submits).
    """

    spec: catalogue.ModelSpec
    task_type: str
    cells: tuple[dict[str, Any], ...]

    @property
    def model(self) -> str:
        return self.spec.name


class OverBudgetError(InvalidRequestError):
    """A grid would cost more than ``max_cost_usd``: nothing was created. ``estimate`` holds the
    `CostEstimate` it was refused on."""

    def __init__(self, estimate: CostEstimate, budget: float) -> None:
        self.estimate = estimate
        self.budget = budget
        bound = "at most " if not estimate.exact else ""
        super().__init__(
            f"this grid of {estimate.n_tasks} tasks would cost {bound}${estimate.usd:.4f}, over "
            f"the budget of ${budget:.4f} (max_cost_usd); nothing was created. Make the grid "
            "smaller or raise max_cost_usd"
            + (f" ({'; '.join(estimate.assumed)})" if estimate.assumed else "")
        )

    def __reduce__(self) -> Any:
        return (type(self), (self.estimate, self.budget))


@dataclass(frozen=True)
class CostEstimate:
    """What a grid costs by each model's documented price (see `qubico_nb.catalogue`).

    ``usd`` is the total, ``n_tasks`` the number of tasks, ``per_task`` each task's price in
    cell order. ``assumed`` lists what could not be known and was taken at its most costly (a
    video's length behind a URL, a duration the service defaults): then ``usd`` is an upper
    bound and ``exact`` is False.
    """

    usd: float
    n_tasks: int
    per_task: tuple[float, ...]
    model: str = ""
    task_type: str = ""
    assumed: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        return not self.assumed

    def __str__(self) -> str:
        each = (
            f"${self.per_task[0]:.4f} each"
            if len(set(self.per_task)) == 1 and self.per_task
            else f"${min(self.per_task, default=0):.4f} to ${max(self.per_task, default=0):.4f}"
        )
        bound = "" if self.exact else "at most "
        text = f"{bound}${self.usd:.4f} for {self.n_tasks} {self.model} tasks ({each})"
        return text + (f"; assumed: {'; '.join(self.assumed)}" if self.assumed else "")


def plan_grid(
    video: VideoLike | None = None,
    prompts: Sequence[str] | str | None = None,
    *,
    model: str | None = None,
    task_type: str | None = None,
    input: Mapping[str, Any] | None = None,
    vary: Mapping[str, Sequence[Any]] | None = None,
    seeds: Sequence[int | None] = (None,),
    steps: Sequence[int | None] = (None,),
    negative_prompt: str | None = None,
) -> GridPlan:
    """The cells of a grid, each checked against the catalogue before anything is sent.

    Two forms: ``model=..., task_type=..., input={...}, vary={"name": [values], ...}`` makes the
    cross product of the varied values (in the order given) over the fixed input, for any model;
    the MMAudio form ``(video, prompts, seeds=..., steps=..., negative_prompt=...)`` is the same
    grid over ``Qubico/mmaudio``. A ``None`` among the values means "not given" (the service's
    default).
    """
    legacy = video is not None or prompts is not None
    if legacy:
        if model is not None and catalogue.find_model(model) is not catalogue.MMAUDIO:
            raise InvalidRequestError(
                "video and prompts are MMAudio's grid; for another model give input= and vary="
            )
        if input is not None or vary is not None:
            raise InvalidRequestError(
                "give either (video, prompts, seeds, steps) or model/input/vary, not both"
            )
        if video is None or prompts is None:
            raise InvalidRequestError("the MMAudio grid needs a video and prompts")
        fixed: dict[str, Any] = {"video": video}
        if negative_prompt is not None:
            fixed["negative_prompt"] = negative_prompt
        return _plan(
            catalogue.MMAUDIO,
            task_type,
            fixed,
            {
                "prompt": [prompts] if isinstance(prompts, str) else list(prompts),
                "seed": list(seeds or (None,)),
                "steps": list(steps or (None,)),
            },
        )
    if model is None:
        raise InvalidRequestError(
            "say which model: submit_grid(model='Qubico/ace-step', input={...}, vary={...}), "
            "or give MMAudio's video and prompts"
        )
    if tuple(seeds) != (None,) or tuple(steps) != (None,) or negative_prompt is not None:
        raise InvalidRequestError(
            "seeds, steps and negative_prompt belong to the MMAudio form; with model= put them "
            "in input= or vary="
        )
    try:
        spec = catalogue.model_spec(model)
    except catalogue.InputError as err:
        raise InvalidRequestError(str(err)) from None
    return _plan(spec, task_type, dict(input or {}), dict(vary or {}))


def _plan(
    spec: catalogue.ModelSpec,
    task_type: str | None,
    fixed: dict[str, Any],
    vary: dict[str, Any],
) -> GridPlan:
    try:
        task = spec.task_type(task_type)
    except catalogue.InputError as err:
        raise InvalidRequestError(str(err)) from None
    if not isinstance(fixed, dict) or not isinstance(vary, dict):
        raise InvalidRequestError("input must be a dict of values, vary a dict of lists")
    both = sorted(set(fixed) & set(vary))
    if both:
        raise InvalidRequestError(
            f"{', '.join(both)} is both in input and in vary: give it in one of them"
        )
    names = list(vary)
    columns: list[list[Any]] = []
    for name in names:
        values = vary[name]
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise InvalidRequestError(
                f"vary[{name!r}] must be a list of values, got {type(values).__name__}: "
                f"write vary={{{name!r}: [...]}}"
            )
        if not values:
            raise InvalidRequestError(f"the grid is empty: vary[{name!r}] has no values")
        columns.append(list(values))
    cells: list[dict[str, Any]] = []
    for combo in itertools.product(*columns):
        cell = {k: v for k, v in fixed.items() if v is not None}
        cell.update({k: v for k, v in zip(names, combo, strict=True) if v is not None})
        cells.append(cell)
    media = tuple(n for n in task.inputs if n.kind in ("video", "audio"))
    for cell in cells:
        _check(spec, task.name, cell, media)
    return GridPlan(spec, task.name, tuple(cells))


def _check(
    spec: catalogue.ModelSpec,
    task_type: str,
    cell: dict[str, Any],
    media: tuple[catalogue.InputSpec, ...],
) -> None:
    """A cell's inputs against the catalogue; a media input naming a local file is checked when
    the client has read it (here only that it is there)."""
    local = [m.name for m in media if _is_local(cell.get(m.name))]
    for name in local:
        if not Path(cell[name]).is_file():
            raise InvalidRequestError(f"{name}: there is no file at {str(cell[name])[:200]!r}")
    try:
        catalogue.check_input(
            spec,
            task_type,
            {k: v for k, v in cell.items() if k not in local},
            missing_ok=tuple(local),
        )
    except catalogue.InputError as err:
        raise InvalidRequestError(str(err)) from None


def _is_local(value: object) -> bool:
    if isinstance(value, os.PathLike):
        return True
    return isinstance(value, str) and not value.startswith(("http://", "https://", "data:"))


def estimate(plan: GridPlan) -> CostEstimate:
    """What the plan's tasks cost by the catalogue's price rules (no network)."""
    rule = plan.spec.task_type(plan.task_type).price
    lengths: dict[str, float | None] = {}
    per_task: list[float] = []
    assumed: list[str] = []
    for cell in plan.cells:
        seconds = None
        if rule.media and rule.of:
            value = cell.get(rule.of[0])
            key = str(value)
            if key not in lengths:
                lengths[key] = media_seconds(value)
            seconds = lengths[key]
        quote = catalogue.price(plan.spec, plan.task_type, cell, media_seconds=seconds)
        per_task.append(quote.usd)
        assumed.extend(a for a in quote.assumed if a not in assumed)
    return CostEstimate(
        usd=round(sum(per_task), 7),
        n_tasks=len(per_task),
        per_task=tuple(per_task),
        model=plan.model,
        task_type=plan.task_type,
        assumed=tuple(assumed),
    )


def media_seconds(value: object) -> float | None:
    """The length of a video given as a local MP4 or a data: URI; None for a URL (unknown
    without fetching it) or anything unreadable."""
    data: bytes | None = None
    if isinstance(value, str) and value.startswith(MP4_DATA_URI_PREFIX):
        try:
            data = base64.b64decode(value[len(MP4_DATA_URI_PREFIX) :], validate=True)
        except ValueError:
            return None
    elif _is_local(value):
        path = Path(value)  # type: ignore[arg-type]
        data = path.read_bytes() if path.is_file() else None
    return mp4_duration_s(data) if data else None


def estimate_cost(
    video: VideoLike | None = None,
    prompts: Sequence[str] | str | None = None,
    *,
    model: str | None = None,
    task_type: str | None = None,
    input: Mapping[str, Any] | None = None,
    vary: Mapping[str, Sequence[Any]] | None = None,
    seeds: Sequence[int | None] = (None,),
    steps: Sequence[int | None] = (None,),
    negative_prompt: str | None = None,
    client: Any = None,
    progress: bool = True,
    timeout: float = 900.0,
    max_cost_usd: float | None = None,
    reuse: bool = True,
) -> CostEstimate:
    """What `submit_grid` with the same arguments would cost, from each model's documented
    price; nothing is sent (`client`, `progress`, `timeout`, `max_cost_usd` and `reuse` are
    accepted so one dict of arguments serves both, and are not used). Every cell is priced as a
    new task: the ones `submit_grid` reuses cost nothing, and it says what that saved.

    MMAudio is priced by the video's length: a local file or data: URI is measured, a URL is
    taken at 30 s (the most a task costs), and the estimate says so (``exact`` is False).
    """
    del client, progress, timeout, max_cost_usd, reuse
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
    return estimate(plan)


def check_budget(found: CostEstimate, max_cost_usd: float | None) -> None:
    """Refuse (`OverBudgetError`) a grid whose estimate is over `max_cost_usd`."""
    if max_cost_usd is None:
        return
    if isinstance(max_cost_usd, bool) or not isinstance(max_cost_usd, (int, float)):
        raise InvalidRequestError(f"max_cost_usd must be a number, got {max_cost_usd!r}")
    if not max_cost_usd >= 0:
        raise InvalidRequestError(f"max_cost_usd must be 0 or more, got {max_cost_usd!r}")
    if found.usd > max_cost_usd + 1e-12:
        raise OverBudgetError(found, float(max_cost_usd))
