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
    assert len(caught) == 1 and "skipped 4 line" in str(caught[0].message)


def test_append_after_a_cut_line_starts_a_new_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    store = VerdictStore(path)
    store.append(Verdict(task_id="t1", rater="ann", score=1))
    with path.open("ab") as handle:  # a crash in the middle of a write
        handle.write(b'{"task_id":"t2","rat')
    store.append(Verdict(task_id="t3", rater="ann", score=3))
    with pytest.warns(UserWarning, match="skipped 1 line"):
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


def _warned(path: Path, **options: object) -> tuple[list[Verdict], list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        verdicts = VerdictStore(path).read(**options)  # type: ignore[arg-type]
    return verdicts, [str(w.message) for w in caught]


def test_lines_that_do_not_read_back_as_written_are_skipped_with_one_warning(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.jsonl"
    good = Verdict(task_id="t1", rater="ann", score=4)
    line = json.loads(good.to_json())
    bad = [
        {**line, "task_id": "bad-time", "rated_at": "yesterday"},
        {**line, "task_id": "bad-best", "best": "false"},
        {**line, "task_id": "huge", "score": 1e308},
        {**line, "task_id": "off-scale", "score": 6},
        {**line, "task_id": "bad-note", "note": {"x": 1}},
        {**line, "task_id": "bad-blind", "blind": "yes"},
        {**line, "task_id": "surrogate-note", "note": "\ud800"},  # no UTF-8: breaks the comm
        {**line, "task_id": "surrogate-answer", "answers": {"why": ["ok", "\udfff"]}},
        {**line, "task_id": "surrogate-rater", "rater": "a\ud83d"},
    ]
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text("\n".join([good.to_json(), *map(json.dumps, bad), deep, good.to_json()]) + "\n")
    verdicts, messages = _warned(path, scale=(1, 5))
    assert [v.task_id for v in verdicts] == ["t1", "t1"]
    assert verdicts[0] == good
    assert len(messages) == 1 and "skipped 10 line" in messages[0], messages


def test_without_a_scale_only_unrepresentable_scores_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    line = json.loads(Verdict(task_id="t", rater="ann").to_json())
    path.write_text(
        "\n".join(json.dumps({**line, "score": s}) for s in (6, 1e308, -1e300, 2.5)) + "\n"
    )
    verdicts, messages = _warned(path)
    assert [v.score for v in verdicts] == [6, 2.5]
    assert len(messages) == 1 and "skipped 2 line" in messages[0]


def test_a_held_lock_is_waited_for_at_most_the_store_timeout(tmp_path: Path) -> None:
    import fcntl
    import threading

    from qubico_nb.store.verdicts import StoreBusyError

    store = VerdictStore(tmp_path / "r.jsonl", lock_timeout=0.3)
    store.append(Verdict(task_id="t0", rater="ann"))
    outcome: list[object] = []

    def append() -> None:
        try:
            store.append(Verdict(task_id="t1", rater="ann", score=2))
            outcome.append("written")
        except StoreBusyError as exc:
            outcome.append(exc)

    with open(store.path, "rb") as other:  # another process's lock, in effect
        fcntl.flock(other, fcntl.LOCK_EX)
        try:
            worker = threading.Thread(target=append, daemon=True)
            worker.start()
            worker.join(5)
            assert not worker.is_alive(), "append waited for the lock past its timeout"
        finally:
            fcntl.flock(other, fcntl.LOCK_UN)
    worker.join(5)
    (error,) = outcome
    assert isinstance(error, StoreBusyError) and "locked" in str(error)
    assert [v.task_id for v in store.read()] == ["t0"]  # nothing half-written
    store.append(Verdict(task_id="t1", rater="ann", score=2))  # free again: it goes through
    assert [v.task_id for v in store.read()] == ["t0", "t1"]


def test_verdicts_set_aside_are_read_and_folded_into_the_next_append(tmp_path: Path) -> None:
    store = VerdictStore(tmp_path / "r.jsonl")
    store.append(Verdict(task_id="t1", rater="ann", score=1))
    aside = store.set_aside([Verdict(task_id="t1", rater="ann", score=4)])
    assert aside is not None and aside.is_file() and aside.parent == tmp_path
    restarted = VerdictStore(store.path)  # what the next kernel sees
    assert restarted.latest()[("ann", "t1")].score == 4
    restarted.append(Verdict(task_id="t2", rater="ann", score=2))
    assert not aside.exists()
    assert [(v.task_id, v.score) for v in restarted.read()] == [("t1", 1), ("t1", 4), ("t2", 2)]


def test_two_stores_on_one_file_set_aside_without_overwriting_each_other(
    tmp_path: Path,
) -> None:
    """Two boards of one kernel on one store (the cell run again), each setting aside at exit:
    each file gets a name of its own, and a file already there is never replaced."""
    import os

    from qubico_nb.store import verdicts

    path = tmp_path / "r.jsonl"
    first, second = VerdictStore(path), VerdictStore(path)
    a = first.set_aside([Verdict(task_id="t1", rater="ann", score=5)])
    b = second.set_aside([Verdict(task_id="t2", rater="ann", score=1)])
    assert a is not None and b is not None and a != b
    read = [(v.task_id, v.score) for v in VerdictStore(path).read()]
    assert sorted(read) == [("t1", 5), ("t2", 1)]
    upcoming = next(verdicts._aside_numbers) + 1
    squatter = path.with_name(f"{path.name}.unsaved-{os.getpid()}-{upcoming}.jsonl")
    squatter.write_text(Verdict(task_id="t0", rater="ann", score=3).to_json() + "\n")
    c = first.set_aside([Verdict(task_id="t3", rater="ann", score=2)])
    assert c not in (None, squatter, a, b)
    assert len(VerdictStore(path).read()) == 4 and not list(tmp_path.glob("*.partial"))


def test_the_latest_verdict_is_the_newest_by_time_whatever_the_line_order(tmp_path: Path) -> None:
    store = VerdictStore(tmp_path / "r.jsonl")
    store.append(Verdict(task_id="t", rater="ann", score=5, rated_at="2030-01-01T00:00:01+00:00"))
    store.append(Verdict(task_id="t", rater="ann", score=2, rated_at="2030-01-01T00:00:00Z"))
    assert store.latest()[("ann", "t")].score == 5


def test_the_verdict_frame_and_marks_follow_the_one_declaration() -> None:
    from dataclasses import fields

    from qubico_nb.store.verdicts import MARK_FIELDS, VERDICT_COLUMNS, verdict_frame

    names = [f.name for f in fields(Verdict)]
    assert list(VERDICT_COLUMNS) == [n for n in names if n in VERDICT_COLUMNS]
    assert {"task_id", "score", "best", "note", "rated_at", "gain_db"} <= set(VERDICT_COLUMNS)
    assert list(MARK_FIELDS) == ["score", "best", "note", "answers"]
    frame = verdict_frame([Verdict(task_id="t", rater="a", score=3, gain_db=-1.5)])
    assert {c: str(t) for c, t in frame.dtypes.items()} == VERDICT_COLUMNS
    assert Verdict(task_id="t", rater="a", note="n").mark() == {
        "score": None,
        "best": False,
        "note": "n",
        "answers": {},
    }
