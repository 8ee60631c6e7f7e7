"""The board's verdicts as the frames `qubico_nb.listening` reads, one shape per design. Pure.

`Review.to_frame`, `report`, `compare_conditions`, `agreement`, `screen_raters` and `plot` build
their frame here and hand it to `qubico_nb.listening`, which does every statistic:

- ``"score"`` and ``"mushra"``: the board's table joined with the verdicts, one row per task
  and rater (a task nobody judged keeps one row without a rater). A MUSHRA board adds a row per
  rater and hidden card (the hidden reference, each anchor): the row's value in the board's
  `by` column, the card's condition (``"hidden reference"``, ``"anchor lp3.5k"``) in the
  compared column, the rest of the table's columns empty.
- ``"pairwise"``: one row per pair a rater judged: ``rater``, the row's value in the board's
  `by` column (the item), ``a`` and ``b`` (the compared column's values of the two tasks, in
  the order heard), ``a_task_id``, ``b_task_id``, ``choice`` ("a", "b", "tie") and
  ``rated_at``.
- best picks (`shown_frame`): every card of a row for every rater who judged on the board,
  ``best`` False on all but the pick, since the cards not picked are the pick's competition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from ..store.verdicts import Verdict
from . import board, choices, designs

#: The pairwise frame's columns, in order (after the board's `by` column).
PAIR_COLUMNS = ("a", "b", "a_task_id", "b_task_id", "choice", "rated_at")


def joined(table: pd.DataFrame, verdicts: pd.DataFrame) -> pd.DataFrame:
    """`table` with `verdicts` joined on ``task_id``: one row per task and rater; a task
    nobody judged keeps one row with empty verdict columns."""
    left = table.copy()
    left["task_id"] = left["task_id"].astype("string")
    clash = [c for c in verdicts.columns if c != "task_id" and c in left.columns]
    return left.merge(
        verdicts, on="task_id", how="left", suffixes=("", "_verdict") if clash else ("_x", "_y")
    )


def hidden_rows(
    verdicts: pd.DataFrame,
    cards: Iterable[board.Card],
    values: Mapping[str, Any],
    *,
    by: str,
    item: str,
) -> pd.DataFrame:
    """The verdicts on hidden cards (the hidden reference, anchors), each with its row's value
    in `item` and its condition in `by`. `values`: row key -> the row's value."""
    hidden = {c.task_id: c for c in cards if c.role in (board.HIDDEN, board.ANCHOR)}
    part = verdicts[verdicts["task_id"].isin(list(hidden))].reset_index(drop=True)
    conditions = [hidden[t].condition for t in part["task_id"]]
    rows = [values[hidden[t].row_key] for t in part["task_id"]]
    named = {item: pd.Series(rows, dtype=object), by: pd.Series(conditions, dtype=object)}
    return pd.concat([pd.DataFrame(named), part], axis=1)


def scores_frame(
    table: pd.DataFrame,
    verdicts: pd.DataFrame,
    cards: Iterable[board.Card],
    values: Mapping[str, Any],
    *,
    by: str,
    item: str,
) -> pd.DataFrame:
    """The table joined with the verdicts, and the hidden cards' rows (MUSHRA) after it."""
    out = joined(table, verdicts)
    extra = hidden_rows(verdicts, cards, values, by=by, item=item)
    if extra.empty:
        return out
    if item == by:
        raise ValueError(
            f"by={by!r} is the board's rows (the items); compare by the column that differs "
            "within a row (e.g. the board's `across`)"
        )
    for name in (by, item):  # the conditions are text now: keep the table's values as they are
        out[name] = out[name].astype(object)
    return pd.concat([out, extra], ignore_index=True)


def pairs_frame(
    table: pd.DataFrame,
    latest: Mapping[tuple[str, str], Verdict],
    on_board: Iterable[str],
    *,
    by: str,
    item: str,
) -> pd.DataFrame:
    """One row per pair a rater judged, read once from the task heard first (`choices`)."""
    first_rows = table.drop_duplicates("task_id").assign(task_id=lambda t: t["task_id"].astype(str))
    lookup = first_rows.set_index("task_id")
    tasks = set(on_board) & set(lookup.index)
    records = []
    for (who, task_id), verdict in latest.items():
        if task_id not in tasks:
            continue
        for other, choice in choices.presented(verdict):
            if other not in tasks:
                continue
            records.append(
                {
                    "rater": who,
                    item: lookup.at[task_id, item],
                    "a": lookup.at[task_id, by],
                    "b": lookup.at[other, by],
                    "a_task_id": task_id,
                    "b_task_id": other,
                    "choice": choice,
                    "rated_at": verdict.rated_at,
                }
            )
    out = pd.DataFrame.from_records(records, columns=["rater", item, *PAIR_COLUMNS])
    out = out.astype({"rater": "string", "a_task_id": "string", "b_task_id": "string"})
    out["choice"] = out["choice"].astype("string")
    out["rated_at"] = pd.to_datetime(out["rated_at"], utc=True, format="ISO8601")
    return out.sort_values(["rated_at", "rater"], kind="stable").reset_index(drop=True)


def shown_frame(table: pd.DataFrame, verdicts: pd.DataFrame) -> pd.DataFrame:
    """Every task for every rater who judged on the board (all cards of a row are shown): the
    table joined with the verdicts, ``best`` False where a rater did not pick the card."""
    raters = list(dict.fromkeys(verdicts["rater"].dropna()))
    if not raters:
        return joined(table, verdicts)
    grid = pd.DataFrame(
        {
            "task_id": pd.Series(list(table["task_id"].astype(str)) * len(raters), dtype="string"),
            "rater": pd.Series([r for r in raters for _ in range(len(table))], dtype="string"),
        }
    ).drop_duplicates()
    filled = grid.merge(verdicts, on=["task_id", "rater"], how="left")
    filled["best"] = filled["best"].fillna(False)
    return joined(table, filled[list(verdicts.columns)])


def same_condition(pairs: pd.DataFrame) -> pd.Series:
    """The pairs whose two cards share the compared column's value (nothing to compare)."""
    return pd.Series(
        [bool(a == b) for a, b in zip(pairs["a"], pairs["b"], strict=True)],
        index=pairs.index,
        dtype=bool,
    )


def with_costs(result: pd.DataFrame, table: pd.DataFrame, by: str) -> pd.DataFrame:
    """`result` (one row per condition) with ``cost_usd`` (what the condition's tasks cost)
    and ``mean_usd`` (per charged task) from `frames.cost_summary`, where the table has
    ``cost_usd``; conditions that are not tasks (the hidden reference, anchors) get NA."""
    if "cost_usd" not in table.columns or by not in table.columns:
        return result
    from ..frames import cost_summary

    costs = cost_summary(table.drop_duplicates("task_id"), by).set_index(by)
    out = result.copy()
    for name in ("cost_usd", "mean_usd"):
        out[name] = pd.array(
            [costs[name].get(c, pd.NA) if c in costs.index else pd.NA for c in out.index],
            dtype="Float64",
        )
    out.attrs = dict(result.attrs)
    return out


def describe(
    design: str,
    *,
    scale: Sequence[float],
    reference: bool,
    anchors: Sequence[str],
    no_preference: bool,
) -> str:
    """The test a board runs, in one sentence (`report`'s ``attrs["test"]``)."""
    if design == "mushra":
        if not reference:
            return (
                "MUSHRA-style, reference-free: 0-100 sliders without a hidden reference or "
                "anchors (not ITU-R BS.1534-3; raters are screened by agreement instead)"
            )
        named = ", ".join(board.anchor_label(a) for a in anchors) or "no anchors"
        return (
            f"MUSHRA (ITU-R BS.1534-3): 0-100 sliders, open reference, "
            f"{designs.HIDDEN_REFERENCE}, {named}"
        )
    if design == "pairwise":
        tie = "with" if no_preference else "without"
        return f"pairwise forced choice {tie} 'no preference', every pair of a row"
    low, high = scale
    return f"absolute category rating: a score from {low:g} to {high:g} per card, best picks"
