"""The task store's snapshot format: a round trip gives the very same task, anything else is
refused, and the tag retires snapshots whenever the parser's code changes."""

from __future__ import annotations

import ast
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from qubico_nb import Task, models
from qubico_nb.store import snapshot

from .helpers.answers import SEED, UNIFIED

PACKAGE = Path(models.__file__).resolve().parent


@pytest.mark.parametrize("answer", [SEED, UNIFIED], ids=["seed", "unified"])
def test_a_round_trip_gives_the_same_task(answer: dict[str, object]) -> None:
    task = Task.from_dict(answer)
    described = snapshot.task_snapshot(task)
    assert described is not None
    again = snapshot.task_from_snapshot(described, dict(task.raw))
    assert again == task and again.works == task.works and again.to_dict() == task.to_dict()
    assert snapshot.task_from_snapshot(described, "{}").input == task.input  # raw not read


def test_a_task_with_local_times_has_no_snapshot() -> None:
    local = datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    task = Task(id="t", status=models.Status.COMPLETED, raw_status="completed", created_at=local)
    assert snapshot.task_snapshot(task) is None


@pytest.mark.parametrize(
    "damaged",
    [None, [], ["t"] * 11, [1, *[None] * 10], ["t", "completed", *[None] * 7, [["u"]], None]],
    ids=["none", "empty", "wrong types", "id not text", "work of the wrong shape"],
)
def test_anything_but_a_snapshot_is_refused(damaged: object) -> None:
    with pytest.raises(ValueError, match="not a task snapshot"):
        snapshot.task_from_snapshot(damaged, {"task_id": "t"})


def test_the_tag_covers_every_module_the_parser_reads() -> None:
    """A module models imports (but errors, whose messages a snapshot does not hold) changes
    what a parse makes: it must be fingerprinted, or an old snapshot would outlive a fix."""
    tree = ast.parse((PACKAGE / "models.py").read_text(encoding="utf-8"))
    imported = {
        f"{node.module}.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
    }
    assert imported - {"errors.py"} <= set(snapshot.PARSER_FILES)
    assert all((PACKAGE / name).is_file() for name in snapshot.PARSER_FILES)
    assert snapshot.snapshot_tag() is not None and len(snapshot.snapshot_tag() or "") == 32
