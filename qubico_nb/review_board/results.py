"""Results of an exported test read back into verdicts (`Review.import_verdicts`).

A result file (``<test id>-<rater>.json``, written by ``static/export/standalone.js``) names its
test, design and scale, the rater, and per trial the cards' page keys in the order shown with
the answers given. Each file is checked against the board (its test id, design, scale, every
row and card key) and its keys are mapped back to tasks through the board's secret
(`export.card_keys`); a shown position becomes the verdict's ``position`` (A, B, ...).

**All or nothing per call**: every file is read and checked first; if any is not a result of
this test, `import_results` raises naming each such file and why, and nothing is imported. Of
a rater's several submissions the latest (by ``finished_at``) is kept and the others are said
in the summary; verdicts already in the store (the same file imported again, or an older one)
are not added twice.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import InvalidRequestError
from ..store.verdicts import Verdict
from . import board, choices
from .export import Board, card_keys

if TYPE_CHECKING:
    import os

RESULT_FORMAT = "qubico-nb/listening-result"
RESULT_VERSION = 1
#: A result file larger than this is not one the page wrote.
MAX_RESULT_BYTES = 50 * 2**20
SUMMARY_COLUMNS = ("file", "rater", "finished_at", "trials", "verdicts", "status")


@dataclass
class Submission:
    """One result file, checked: its rater, when it was finished, and its verdicts."""

    file: Path
    rater: str
    finished_at: datetime
    trials: int
    verdicts: list[Verdict] = field(default_factory=list)


@dataclass(frozen=True)
class _Test:
    """The board's settings a result is checked against (read from its traits once)."""

    design: str
    scale: tuple[float, float]
    no_preference: bool
    gains: dict[str, float | None]

    @classmethod
    def of(cls, review: Board) -> _Test:
        low, high = review.scale
        return cls(review.design, (low, high), review.no_preference, dict(review._gains))


def result_files(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files to read: each file given, and every ``*.json`` in each folder given."""
    items = [paths] if isinstance(paths, (str, Path)) or hasattr(paths, "__fspath__") else paths
    found: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found += sorted(p for p in path.glob("*.json") if p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise InvalidRequestError(f"no result file or folder at {path}")
    if not found:
        raise InvalidRequestError(f"no result files (*.json) in {', '.join(map(str, items))}")
    return list(dict.fromkeys(found))


def read_submission(
    path: Path, review: Board, keys: Mapping[str, tuple[str, board.Card]]
) -> Submission:
    """One result file as verdicts of `review`'s tasks; ValueError saying what is wrong."""
    if path.stat().st_size > MAX_RESULT_BYTES:
        raise ValueError(f"larger than {MAX_RESULT_BYTES // 2**20} MB: not a result file")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != RESULT_FORMAT:
        raise ValueError("not a qubico-nb listening test result")
    if data.get("version") != RESULT_VERSION:
        raise ValueError(
            f"a result of version {data.get('version')!r}; this qubico-nb reads {RESULT_VERSION}"
        )
    if data.get("test") != review.test_id:
        raise ValueError(
            f"a result of another test (test {data.get('test')!r}; this board's is "
            f"{review.test_id!r})"
        )
    if data.get("design") != review.design:
        raise ValueError(f"a {data.get('design')!r} test; this board is {review.design!r}")
    if data.get("scale") != list(review.scale):
        raise ValueError(
            f"scored on {data.get('scale')!r}; this board's scale is {list(review.scale)}"
        )
    rater = data.get("rater")
    if not isinstance(rater, str) or not rater.strip():
        raise ValueError("no rater name")
    finished = _moment(data.get("finished_at"), "finished_at")
    trials = data.get("trials")
    if not isinstance(trials, list):
        raise ValueError("no trials")
    common: dict[str, Any] = {
        "rater": rater.strip(),
        "blind": True,
        "review": review.name,
        "test": review.test_id,
    }
    level_match = data.get("level_match") is True
    made: dict[str, Verdict] = {}
    test = _Test.of(review)
    for number, trial in enumerate(trials, 1):
        try:
            _trial(trial, test, keys, common, level_match, made)
        except ValueError as exc:
            raise ValueError(f"trial {number}: {exc}") from None
    return Submission(path, common["rater"], finished, len(trials), list(made.values()))


def _trial(
    trial: Any,
    test: _Test,
    keys: Mapping[str, tuple[str, board.Card]],
    common: dict[str, Any],
    level_match: bool,
    made: dict[str, Verdict],
) -> None:
    """Add one trial's verdicts to `made` (by task id)."""
    if not isinstance(trial, dict):
        raise ValueError("not an object")
    row, shown, answers = trial.get("row"), trial.get("shown"), trial.get("answers")
    if not isinstance(shown, list) or not isinstance(answers, dict) or not shown:
        raise ValueError("no cards shown or no answers")
    cards = []
    for key in shown:
        found = keys.get(key) if isinstance(key, str) else None
        if found is None or found[0] != row or found[1].role == board.REFERENCE:
            raise ValueError(f"the card {key!r} is not a card of this test's row {row!r}")
        cards.append(found[1])
    if len(set(shown)) != len(shown) or (test.design == "pairwise" and len(cards) != 2):
        raise ValueError("the cards shown are not a row of this test")
    unknown = set(answers) - set(shown)
    if unknown:
        raise ValueError(f"answers for cards not shown: {sorted(unknown)[:3]}")
    positions = board.letters(len(cards))
    # The gain each card played at: its level-matching gain, or 0 dB when the test had none.
    gains = {c.source: test.gains.get(c.source) if level_match else 0.0 for c in cards}
    for key, card, position in zip(shown, cards, positions, strict=True):
        entry = answers.get(key)
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise ValueError(f"the answer for {key!r} is not an object")
        if test.design == "pairwise":
            if key != shown[0]:
                raise ValueError("a pair's choice is kept on its first card")
            _choice(entry, cards, test, common, gains, made)
            continue
        line = {
            **{
                k: v
                for k, v in entry.items()
                if k in ("score", "best", "note", "answers", "rated_at")
            },
            **common,
            "position": position,
            "gain_db": gains[card.source],
            "task_id": card.task_id,
        }
        verdict = Verdict.from_obj(line, scale=test.scale)
        earlier = made.get(card.task_id)
        if earlier is None or _moment(earlier.rated_at, "") <= _moment(verdict.rated_at, ""):
            made[card.task_id] = verdict


def _choice(
    entry: dict[str, Any],
    cards: list[board.Card],
    test: _Test,
    common: dict[str, Any],
    gains: dict[str, float | None],
    made: dict[str, Verdict],
) -> None:
    """A pair's choice, written into both tasks' verdicts (`choices`)."""
    answers = entry.get("answers")
    choice = answers.get("choice") if isinstance(answers, dict) else None
    if choice is None:
        return
    choices.check_choice(choice, no_preference=test.no_preference)
    when = _moment(entry.get("rated_at"), "rated_at").isoformat()
    first, second = cards
    for this, other, is_first in ((first, second, True), (second, first, False)):
        old = made.get(this.task_id) or Verdict(
            task_id=this.task_id, rater=common["rater"], rated_at=when
        )
        latest_at = max(old.rated_at, when, key=lambda t: _moment(t, ""))
        made[this.task_id] = choices.with_choice(
            old,
            other.task_id,
            first=is_first,
            choice=choice,
            **common,
            rated_at=latest_at,
            position=None,
            gain_db=gains[this.source],
        )


def _moment(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"no {name}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} is not a time: {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} has no time zone: {value!r}")
    return moment


def import_results(
    review: Board, paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
) -> tuple[list[Verdict], pd.DataFrame]:
    """The verdicts to append from result files, and a summary per file; InvalidRequestError
    naming every file that is not a result of this test (then nothing is imported)."""
    files = result_files(paths)
    keys = card_keys(review)
    read: list[Submission] = []
    bad: list[str] = []
    for path in files:
        try:
            read.append(read_submission(path, review, keys))
        except (ValueError, OSError) as exc:
            bad.append(f"{path.name}: {exc}")
    if bad:
        raise InvalidRequestError(
            f"{len(bad)} of {len(files)} file(s) cannot be imported, so none was:\n  "
            + "\n  ".join(bad[:10])
            + (f"\n  ... and {len(bad) - 10} more" if len(bad) > 10 else "")
        )
    newest: dict[str, Submission] = {}
    for item in sorted(read, key=lambda s: (s.finished_at, s.file.name)):
        newest[item.rater] = item
    records = []
    out: list[Verdict] = []
    replaced = []
    for item in read:
        if newest[item.rater] is not item:
            replaced.append(item.file.name)
            records.append(_record(item, 0, f"older submission of {item.rater}: not used"))
            continue
        fresh = [v for v in item.verdicts if not _known(review, v)]
        out += fresh
        status = "imported" if fresh else "already imported"
        if item.verdicts and fresh and len(fresh) < len(item.verdicts):
            status = "imported (part was already imported)"
        records.append(_record(item, len(fresh), status))
    if replaced:
        warnings.warn(
            f"{len(replaced)} older submission(s) of a rater were not used (the latest of each "
            f"rater is kept): {', '.join(replaced[:5])}",
            stacklevel=3,
        )
    return out, pd.DataFrame.from_records(records, columns=list(SUMMARY_COLUMNS))


def _known(review: Board, verdict: Verdict) -> bool:
    """Whether the store already holds this verdict or a newer one of the same rater."""
    earlier = review._latest.get((verdict.rater, verdict.task_id))
    return earlier is not None and _moment(earlier.rated_at, "") >= _moment(verdict.rated_at, "")


def _record(item: Submission, count: int, status: str) -> dict[str, Any]:
    return {
        "file": item.file.name,
        "rater": item.rater,
        "finished_at": pd.Timestamp(item.finished_at),
        "trials": item.trials,
        "verdicts": count,
        "status": status,
    }
