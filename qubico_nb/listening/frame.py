"""The verdict frame: the long table every listening function reads, and its validation.

Every function names the columns it reads through keyword arguments whose defaults are the names
below, so a frame from elsewhere works without renaming. Validation turns a frame into one clean
table per design or raises a ValueError that says what to fix.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

#: Default column names of the verdict frame.
RATER = "rater"
ITEM = "item"
CONDITION = "condition"
SCORE = "score"
BEST = "best"
A = "a"
B = "b"
CHOICE = "choice"
#: The values a pairwise `choice` may hold ("tie" is "no preference").
CHOICES = ("a", "b", "tie")


#: What a frame holds: "auto" tells scores from pairwise choices by the `choice` column.
Design = Literal["auto", "scores", "pairwise", "best"]


@dataclass(frozen=True)
class _PerCondition:
    table: pd.DataFrame
    #: The caller's name for the condition column (the table calls it "condition").
    by: str

    @property
    def conditions(self) -> list[Any]:
        return ordered(self.table["condition"])


class Scores(_PerCondition):
    """Validated scores: one row per judgement, columns rater, item, condition, score (float)."""


@dataclass(frozen=True)
class Pairs:
    """Validated pairwise judgements: columns rater, item, a, b, choice in {"a", "b", "tie"}."""

    table: pd.DataFrame

    @property
    def conditions(self) -> list[Any]:
        return ordered(pd.concat([self.table["a"], self.table["b"]], ignore_index=True))


class Picks(_PerCondition):
    """Validated best picks: one row per card a rater saw in an item, `best` True on the pick."""


def ordered(values: pd.Series) -> list[Any]:
    """The distinct values, sorted when they sort (numbers as numbers), else in order of first
    appearance."""
    unique = list(pd.unique(values.dropna()))
    try:
        return sorted(unique)
    except TypeError:
        return unique


def design_of(frame: pd.DataFrame, *, choice: str = CHOICE) -> str:
    """ "pairwise" when the frame has a `choice` column, else "scores"."""
    return "pairwise" if choice in frame.columns else "scores"


def _require(frame: Any, needed: dict[str, str]) -> pd.DataFrame:
    """`frame` as a DataFrame holding every column of `needed` ({column: keyword naming it})."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(
            f"a verdict frame must be a pandas DataFrame, not {type(frame).__name__}; "
            "build one with one row per judgement (see qubico_nb.listening)"
        )
    missing = [column for column in needed if column not in frame.columns]
    if missing:
        hints = ", ".join(f"{needed[c]}='<your column>'" for c in missing)
        have = ", ".join(map(str, frame.columns)) or "no columns"
        raise ValueError(
            f"the verdict frame has no column {', '.join(map(repr, missing))} (it has: {have}); "
            f"rename yours or name it with {hints}"
        )
    return frame


def _columns(frame: pd.DataFrame, names: dict[str, str], **computed: pd.Series) -> pd.DataFrame:
    """A new frame of `frame`'s columns under the contract's names (dtypes kept as they are),
    then the `computed` ones, on a fresh 0..n-1 index."""
    out = {new: frame[old].reset_index(drop=True) for new, old in names.items()}
    out.update({new: series.reset_index(drop=True) for new, series in computed.items()})
    return pd.DataFrame(out)


def _no_missing_keys(table: pd.DataFrame, columns: dict[str, str]) -> None:
    for column, role in columns.items():
        empty = int(table[column].isna().sum())
        if empty:
            raise ValueError(
                f"{empty} row(s) have no {role} (column {column!r} is empty there); "
                f"fill or drop them first"
            )


def _excluded(table: pd.DataFrame, exclude: Iterable[Hashable]) -> pd.DataFrame:
    """`table` without the raters in `exclude`: names, one name, or `screen_raters`' result."""
    if isinstance(exclude, pd.DataFrame) and "excluded" in exclude.columns:
        drop = list(exclude.index[exclude["excluded"].astype(bool)])
    elif isinstance(exclude, str):
        drop = [exclude]
    else:
        drop = list(exclude)
    if not drop:
        return table
    present = set(table["rater"])
    unknown = [r for r in drop if r not in present]
    if unknown:
        raise ValueError(
            f"exclude names rater(s) not in the frame: {', '.join(map(repr, unknown))}; "
            f"the raters are {', '.join(map(repr, ordered(table['rater'])))}"
        )
    return table[~table["rater"].isin(drop)].reset_index(drop=True)


def numeric_scores(values: pd.Series, column: str) -> pd.Series:
    """`values` as float64 (NaN where missing); ValueError naming what is not a number."""
    if pd.api.types.is_bool_dtype(values.dtype):
        raise _boolean_scores(column)
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = pd.Series(
            values.to_numpy(dtype="float64", na_value=np.nan), index=values.index, dtype="float64"
        )
        return _finite(numbers, column)
    as_object = values.astype(object)
    present = as_object.notna()
    if bool(as_object[present].map(lambda v: isinstance(v, (bool, np.bool_))).any()):
        raise _boolean_scores(column)
    numbers = pd.to_numeric(as_object.where(present, np.nan), errors="coerce").astype("float64")
    bad = as_object[present & numbers.isna()]
    if len(bad):
        examples = ", ".join(repr(v) for v in pd.unique(bad)[:3])
        raise ValueError(
            f"column {column!r} holds {len(bad)} value(s) that are not numbers ({examples}); "
            "map them to numbers first (e.g. frame[col].map({'good': 4, ...}))"
        )
    return _finite(numbers, column)


def _boolean_scores(column: str) -> ValueError:
    return ValueError(
        f"column {column!r} holds True/False, not scores; is it the best-pick column? "
        "Name the score column with score=..."
    )


def _finite(numbers: pd.Series, column: str) -> pd.Series:
    if np.isinf(numbers.to_numpy()).any():
        raise ValueError(f"column {column!r} holds infinite values; scores must be finite")
    return numbers


def scores(
    frame: Any,
    *,
    by: str = CONDITION,
    rater: str = RATER,
    item: str = ITEM,
    score: str = SCORE,
    exclude: Iterable[Hashable] = (),
) -> Scores:
    """The scores of a verdict frame, validated. Rows without a score are no judgement and are
    dropped first (so a table with a row per unrated task, rater empty, reads as it is)."""
    frame = _require(frame, {rater: "rater", item: "item", by: "by", score: "score"})
    table = _columns(
        frame,
        {"rater": rater, "item": item, "condition": by},
        score=numeric_scores(frame[score], score),
    )
    table = table.dropna(subset=["score"]).reset_index(drop=True)
    _no_missing_keys(table, {"rater": "rater", "item": "item", "condition": f"{by!r}"})
    table = _excluded(table, exclude)
    if table.empty:
        raise ValueError(f"no scores to analyse: column {score!r} is empty in every row")
    return Scores(table, by)


def pairs(
    frame: Any,
    *,
    rater: str = RATER,
    item: str = ITEM,
    a: str = A,
    b: str = B,
    choice: str = CHOICE,
    exclude: Iterable[Hashable] = (),
) -> Pairs:
    """The pairwise judgements of a verdict frame, validated; rows without a choice are dropped."""
    frame = _require(frame, {rater: "rater", item: "item", a: "a", b: "b", choice: "choice"})
    table = _columns(
        frame,
        {"rater": rater, "item": item, "a": a, "b": b},
        choice=frame[choice].astype(object),
    )
    _no_missing_keys(table, {"rater": "rater", "item": "item", "a": "'a'", "b": "'b'"})
    table = _excluded(table, exclude)
    table = table[table["choice"].notna()].reset_index(drop=True)
    bad = table[~table["choice"].isin(CHOICES)]["choice"]
    if len(bad):
        examples = ", ".join(repr(v) for v in pd.unique(bad)[:3])
        raise ValueError(
            f"column {choice!r} holds {len(bad)} value(s) other than 'a', 'b' or 'tie' "
            f"({examples}); map them first ('tie' is 'no preference')"
        )
    same = table[table["a"] == table["b"]]
    if len(same):
        raise ValueError(
            f"{len(same)} pair(s) compare a condition with itself (e.g. {same['a'].iloc[0]!r}); "
            "a pair needs two different conditions"
        )
    if table.empty:
        raise ValueError(f"no pairwise choices to analyse: column {choice!r} is empty")
    return Pairs(table)


def picks(
    frame: Any,
    *,
    by: str = CONDITION,
    rater: str = RATER,
    item: str = ITEM,
    best: str = BEST,
    exclude: Iterable[Hashable] = (),
) -> Picks:
    """The best picks of a verdict frame: every card a rater saw in an item where they picked one.

    The frame needs a row per card each rater was shown (`best` False on all but the pick): the
    cards not picked are the pick's competition. Items where a rater picked nothing are dropped,
    and so are rows without a rater that are not a pick; two picks by one rater in one item are
    an error.
    """
    frame = _require(frame, {rater: "rater", item: "item", by: "by", best: "best"})
    flags = frame[best].astype(object)
    unknown = flags[flags.notna() & ~flags.map(lambda v: isinstance(v, (bool, np.bool_)))]
    if len(unknown):
        raise ValueError(
            f"column {best!r} must hold True/False (the card picked as best); "
            f"it holds {unknown.iloc[0]!r}"
        )
    table = _columns(
        frame,
        {"rater": rater, "item": item, "condition": by},
        best=flags.map(lambda v: bool(v) if isinstance(v, (bool, np.bool_)) else False).astype(
            bool
        ),
    )
    table = table[table["rater"].notna() | table["best"]].reset_index(drop=True)
    _no_missing_keys(table, {"rater": "rater", "item": "item", "condition": f"{by!r}"})
    table = _excluded(table, exclude)
    count = table.groupby(["rater", "item"], sort=False)["best"].transform("sum")
    twice = table[count > 1]
    if len(twice):
        first = twice.iloc[0]
        raise ValueError(
            f"rater {first['rater']!r} picked {int(count[twice.index[0]])} cards as best in item "
            f"{first['item']!r}; a best pick is one card per rater and item"
        )
    table = table[count == 1].reset_index(drop=True)
    if table.empty:
        raise ValueError(f"no best picks to analyse: column {best!r} is never True")
    return Picks(table, by)


def load(
    frame: Any,
    design: Design,
    *,
    by: str,
    exclude: Iterable[Hashable],
    rater: str,
    item: str,
    score: str,
    best: str,
    a: str,
    b: str,
    choice: str,
) -> Scores | Pairs | Picks:
    """The frame validated as `design` ("auto": pairwise when it has `choice`, else scores)."""
    kind = design_of(frame, choice=choice) if design == "auto" else design
    if kind == "scores":
        return scores(frame, by=by, rater=rater, item=item, score=score, exclude=exclude)
    if kind == "pairwise":
        return pairs(frame, rater=rater, item=item, a=a, b=b, choice=choice, exclude=exclude)
    if kind == "best":
        return picks(frame, by=by, rater=rater, item=item, best=best, exclude=exclude)
    raise ValueError(f"design must be 'auto', 'scores', 'pairwise' or 'best', not {design!r}")


def at_least(raters: Sequence[Hashable] | pd.Series, n: int, what: str) -> None:
    """ValueError unless there are `n` raters or more."""
    count = len(pd.unique(pd.Series(raters)))
    if count < n:
        raise ValueError(
            f"{what} needs at least {n} raters; the frame has {count}"
            + (" (check the rater column: every row names the same rater)" if count == 1 else "")
        )
