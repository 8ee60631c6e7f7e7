"""Pairwise choices kept as verdicts. Pure.

The store keeps one verdict per rater and task, each the whole truth about that task, so a
choice between tasks X and Y (X heard first) is written into both: X's ``answers["pairs"][Y]``
is ``{"first": True, "choice": c}`` and Y's ``answers["pairs"][X]`` is ``{"first": False,
"choice": c}``, where ``c`` is "a" (the first was better), "b" or "tie" ("no preference"). A
cleared choice removes both entries. The analysis reads each pair once, from the task heard
first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from ..store.verdicts import Verdict
from .designs import CHOICES


def check_choice(choice: object, *, no_preference: bool) -> str | None:
    """`choice` if the board accepts it ("a", "b", "tie" where allowed, or None to clear);
    ValueError that says what it may be otherwise."""
    allowed = CHOICES if no_preference else CHOICES[:2]
    if choice is None or choice in allowed:
        return choice  # type: ignore[return-value]
    raise ValueError(
        f"a choice is {', '.join(map(repr, allowed))} (or null to clear it), not {choice!r}"
    )


def pairs_of(verdict: Verdict | None) -> dict[str, dict[str, Any]]:
    """The pair entries a verdict holds ({} when none or not well formed)."""
    if verdict is None:
        return {}
    pairs = verdict.answers.get("pairs")
    if not isinstance(pairs, Mapping):
        return {}
    return {
        str(other): dict(entry)
        for other, entry in pairs.items()
        if isinstance(entry, Mapping)
        and isinstance(entry.get("first"), bool)
        and entry.get("choice") in CHOICES
    }


def with_choice(
    verdict: Verdict, other: str, *, first: bool, choice: str | None, **fields: Any
) -> Verdict:
    """`verdict` with its entry for the pair against `other` set (or removed, for None)."""
    pairs = pairs_of(verdict)
    if choice is None:
        pairs.pop(other, None)
    else:
        pairs[other] = {"first": first, "choice": choice}
    answers = {k: v for k, v in verdict.answers.items() if k != "pairs"}
    if pairs:
        answers["pairs"] = pairs
    return dataclasses.replace(verdict, answers=answers, **fields)


def choice_between(first: Verdict | None, second_task: str) -> str | None:
    """The choice kept in the first task's verdict for its pair against `second_task`, as
    heard in that order ("a": the first was better), or None."""
    entry = pairs_of(first).get(second_task)
    if entry is None:
        return None
    choice = str(entry["choice"])
    if entry["first"] or choice == "tie":
        return choice
    return "b" if choice == "a" else "a"


def presented(verdict: Verdict) -> Iterator[tuple[str, str]]:
    """(other task, choice) for each pair the verdict's task was heard first in."""
    for other, entry in pairs_of(verdict).items():
        if entry["first"]:
            yield other, str(entry["choice"])
