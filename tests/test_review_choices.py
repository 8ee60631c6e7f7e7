"""Pairwise choices kept in both tasks' verdicts, read back as heard."""

from __future__ import annotations

import pytest

from qubico_nb.review_board import choices
from qubico_nb.store.verdicts import Verdict


def test_a_choice_reads_back_in_either_order_and_clears() -> None:
    x = choices.with_choice(Verdict("x", "ann"), "y", first=True, choice="a")
    y = choices.with_choice(Verdict("y", "ann"), "x", first=False, choice="a")
    assert choices.choice_between(x, "y") == "a"
    assert choices.choice_between(y, "x") == "b"  # heard y first, x was better
    assert list(choices.presented(x)) == [("y", "a")] and list(choices.presented(y)) == []
    tie = choices.with_choice(y, "x", first=False, choice="tie")
    assert choices.choice_between(tie, "x") == "tie"
    cleared = choices.with_choice(x, "y", first=True, choice=None)
    assert cleared.answers == {} and choices.choice_between(cleared, "y") is None


def test_other_answers_are_kept_and_odd_entries_ignored() -> None:
    verdict = Verdict("x", "ann", answers={"comment": "ok", "pairs": {"y": {"first": 1}}})
    assert choices.pairs_of(verdict) == {}
    kept = choices.with_choice(verdict, "z", first=True, choice="b", rater="bo")
    assert kept.answers == {"comment": "ok", "pairs": {"z": {"first": True, "choice": "b"}}}
    assert kept.rater == "bo"


def test_a_choice_is_one_of_the_allowed() -> None:
    assert choices.check_choice("tie", no_preference=True) == "tie"
    assert choices.check_choice(None, no_preference=False) is None
    with pytest.raises(ValueError, match=r"'a', 'b' \(or null"):
        choices.check_choice("tie", no_preference=False)
