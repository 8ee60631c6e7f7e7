"""The verdict store: round trip, latest wins, corrupt lines skipped with one warning, crash-safe
appends, several raters apart."""

from __future__ import annotations

import json
import multiprocessing
import warnings
from pathlib import Path

import pytest

from qubico_nb.store.verdicts import Verdict, VerdictStore


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    store = VerdictStore(tmp_path / "r.verdicts.jsonl")
    verdict = Verdict(
        task_id="t1",
        rater="ann",
        score=4.0,
        best=True,
        note='crisp\n"waves" ✓',
        blind=True,
        position="B",
        review="r",
        shuffle_seed=7,
    )
    store.append(verdict)
    assert store.read() == [verdict]
    assert store.path.read_text().count("\n") == 1  # a note's newline never splits the line


def test_missing_file_reads_as_empty(tmp_path: Path) -> None:
    assert VerdictStore(tmp_path / "none.jsonl").read() == []


def test_latest_verdict_per_rater_and_task_wins(tmp_path: Path) -> None:
    store = VerdictStore(tmp_path / "r.jsonl")
    store.append(Verdict(task_id="t1", rater="ann", score=2))
    store.append(Verdict(task_id="t1", rater="bob", score=5))
    store.append(Verdict(task_id="t1", rater="ann", score=3))
    latest = VerdictStore(store.path).latest()  # a fresh object: what a restarted kernel sees
    assert latest[("ann", "t1")].score == 3
    assert latest[("bob", "t1")].score == 5
    assert len(latest) == 2


def test_corrupt_lines_are_skipped_with_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    good = Verdict(task_id="t1", rater="ann", score=1)
    path.write_text(
        "\n".join(
            [
                good.to_json(),
                "{not json",
                '{"task_id": 3}',
                "[1,2]",
                '{"task_id":"t2","rater":"ann","score":"high"}',
                Verdict(task_id="t3", rater="ann").to_json(),
            ]
        )
        + "\n"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        verdicts = VerdictStore(path).read()
    assert [v.task_id for v in verdicts] == ["t1", "t3"]
    assert len(caught) == 1 and "4 corrupt line" in str(caught[0].message)


def test_append_after_a_cut_line_starts_a_new_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    store = VerdictStore(path)
    store.append(Verdict(task_id="t1", rater="ann", score=1))
    with path.open("ab") as handle:  # a crash in the middle of a write
        handle.write(b'{"task_id":"t2","rat')
    store.append(Verdict(task_id="t3", rater="ann", score=3))
    with pytest.warns(UserWarning, match="1 corrupt line"):
        assert [v.task_id for v in store.read()] == ["t1", "t3"]


def test_a_folder_is_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="folder"):
        VerdictStore(tmp_path)


def _append_many(path: str, rater: str) -> None:
    store = VerdictStore(path)
    for i in range(50):
        store.append(Verdict(task_id=f"t{i}", rater=rater, score=1, note="x" * 3000))


def test_two_processes_appending_never_interleave(tmp_path: Path) -> None:
    path = str(tmp_path / "r.jsonl")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(path, name)) for name in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    lines = Path(path).read_text().splitlines()
    assert len(lines) == 100
    assert all(json.loads(line)["note"] == "x" * 3000 for line in lines)
