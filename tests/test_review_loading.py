"""The board's background work (review_board/loading.py): what a page wants first, then the rest
in order; a new wish replaces a page's old one; idle workers end."""

from __future__ import annotations

import threading
from collections.abc import Hashable

import pytest

from qubico_nb.review_board import loading
from qubico_nb.review_board.loading import Jobs

from .helpers.sandbox import wait_until


def test_wanted_items_go_first_then_the_background_in_order() -> None:
    done: list[Hashable] = []
    gate = threading.Event()

    def run(item: Hashable) -> None:
        gate.wait(5)
        done.append(item)

    jobs = Jobs(run, workers=1)
    jobs.background(["b1", "b2", "b3"])  # the worker takes b1 and waits at the gate
    wait_until(lambda: jobs._busy == {"b1"})
    jobs.want("page", ["w1", "w2"])
    jobs.want("other", ["w2", "w3"])  # w2 is asked by both: run once
    gate.set()
    assert jobs.idle(10)
    assert done == ["b1", "w1", "w2", "w3", "b2", "b3"]


def test_a_new_wish_replaces_the_pages_old_one() -> None:
    done: list[Hashable] = []
    gate = threading.Event()
    jobs = Jobs(lambda item: (gate.wait(5), done.append(item)), workers=1)
    jobs.want("page", ["a", "b", "c"])
    wait_until(lambda: jobs._busy == {"a"})
    jobs.want("page", ["c"])  # b is no longer wanted: it is never run
    gate.set()
    assert jobs.idle(10)
    assert done == ["a", "c"]
    jobs.want("page", [])  # an empty wish cancels; nothing is left
    assert jobs.idle(1)


def test_a_failing_item_never_stops_the_others() -> None:
    done: list[Hashable] = []

    def run(item: Hashable) -> None:
        if item == "bad":
            raise RuntimeError("a broken file")
        done.append(item)

    jobs = Jobs(run, workers=2)
    jobs.background(["bad", "good"])
    assert jobs.idle(10) and done == ["good"]


def test_idle_workers_end_and_come_back_when_wanted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loading, "IDLE_S", 0.05)
    done: list[Hashable] = []
    jobs = Jobs(done.append, workers=2)
    jobs.background(["a"])
    wait_until(lambda: not jobs._threads, timeout=5)  # nothing to do: no thread left
    jobs.want("page", ["b"])
    assert jobs.idle(5) and done == ["a", "b"]


def test_closing_lets_the_running_item_finish_and_drops_the_rest() -> None:
    done: list[Hashable] = []
    gate = threading.Event()
    jobs = Jobs(lambda item: (gate.wait(5), done.append(item)), workers=1)
    jobs.background(["running", "queued"])
    wait_until(lambda: jobs._busy == {"running"})
    threading.Timer(0.1, gate.set).start()
    jobs.close(wait=5)  # what the kernel's exit does: never kill a thread mid-decode
    assert done == ["running"] and not any(t.is_alive() for t in jobs._threads)
