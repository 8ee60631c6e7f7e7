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
are not added twice. A file is refused when its rater already gave verdicts on this board in
the kernel, a row is answered twice or marked best twice; rater names are compared normalised
(`rater_name`), and the gain a card played at is the board's, never the file's.
"""

from __future__ import annotations

import json
import unicodedata
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
    level_match: bool
    gains: dict[str, float | None]

    @classmethod
    def of(cls, review: Board) -> _Test:
        low, high = review.scale
        return cls(
            review.design,
            (low, high),
            review.no_preference,
            bool(review.level_match),
            dict(review._gains),
        )


def rater_name(value: Any) -> str:
    """A rater's name as typed, made comparable: NFKC, without control or zero-width
    characters, stripped (as ``raterName`` in ``static/export/standalone.js``); ValueError when
    nothing is left or it holds a path separator."""
    if not isinstance(value, str):
        raise ValueError("no rater name")
    name = "".join(
        c
        for c in unicodedata.normalize("NFKC", value)
        if unicodedata.category(c) not in ("Cc", "Cf")
    ).strip()
    if not name:
        raise ValueError("no rater name")
    if "/" in name or "\\" in name:
        raise ValueError(f"the rater name {name!r} holds a path separator (/ or \\)")
    return name


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
    version = data.get("version")
    if type(version) is not int or version != RESULT_VERSION:
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
    rater = rater_name(data.get("rater"))
    if _given_here(review, keys, rater):
        raise ValueError(
            f"rater {rater!r} already has verdicts given on this board; rename the file's rater "
            '(its "rater" field) or the board\'s before importing'
        )
    finished = _moment(data.get("finished_at"), "finished_at")
    trials = data.get("trials")
    if not isinstance(trials, list):
        raise ValueError("no trials")
    common: dict[str, Any] = {
        "rater": rater,
        "blind": True,
        "review": review.name,
        "test": review.test_id,
    }
    made: dict[str, Verdict] = {}
    test = _Test.of(review)
    seen: dict[Any, int] = {}
    for number, trial in enumerate(trials, 1):
        try:
            _trial(trial, test, keys, common, made)
            row = _row_of(trial, test)
            if row in seen:
                raise ValueError(f"the same row as trial {seen[row]}: a row is answered once")
            seen[row] = number
        except ValueError as exc:
            raise ValueError(f"trial {number}: {exc}") from None
    return Submission(path, rater, finished, len(trials), list(made.values()))


def _given_here(review: Board, keys: Mapping[str, tuple[str, board.Card]], rater: str) -> bool:
    """Whether `rater` has verdicts made on this board in the kernel (not imported): a file
    under that name would merge into them unseen."""
    tasks = {card.task_id for _, card in keys.values()}
    return any(
        who == rater and task in tasks and verdict.test is None
        for (who, task), verdict in review._latest.items()
    )


def _row_of(trial: dict[str, Any], test: _Test) -> Any:
    """What a trial answers once: its row (pairwise: its row and pair, in either order)."""
    if test.design == "pairwise":
        return (trial["row"], frozenset(trial["shown"]))
    return trial["row"]


def _trial(
    trial: Any,
    test: _Test,
    keys: Mapping[str, tuple[str, board.Card]],
    common: dict[str, Any],
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
    gains = {c.source: test.gains.get(c.source) if test.level_match else 0.0 for c in cards}
    best = []
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
        if verdict.best:
            best.append(key)
        if len(best) > 1:
            raise ValueError(f"more than one card marked best ({', '.join(best)}): a row has one")
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
        status = "imported" if fresh else "already imported" if item.trials else "empty"
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
