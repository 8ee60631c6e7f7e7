"""`compare_conditions` and `friedman`: which conditions differ, paired over shared items."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Hashable, Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from . import frame as vf
from .optional import require

Unit = Literal["item", "rater"]

COLUMNS = [
    "a",
    "b",
    "units",
    "mean_a",
    "mean_b",
    "difference",
    "statistic",
    "p",
    "p_holm",
    "effect",
    "direction",
    "significant",
]


def compare_conditions(
    frame: pd.DataFrame,
    by: str = vf.CONDITION,
    *,
    unit: Unit = "item",
    exclude: Iterable[Hashable] = (),
    alpha: float = 0.05,
    rater: str = vf.RATER,
    item: str = vf.ITEM,
    score: str = vf.SCORE,
    a: str = vf.A,
    b: str = vf.B,
    choice: str = vf.CHOICE,
) -> pd.DataFrame:
    """Every pair of conditions, compared over the items they share: one row per pair.

    For scores, each rater's difference between the two conditions in an item is averaged per
    `unit` (default: per item, so each item is one paired observation and the raters' own
    leniency cancels; ``unit="rater"`` pairs per rater instead), and the differences go to the
    Wilcoxon signed-rank test (`scipy.stats.wilcoxon`, two-sided, zero differences dropped).
    For pairwise choices, each unit's preference is the mean of +1 (a chosen), -1 (b) and 0
    (tie) over its presentations of the pair, tested the same way against 0.

    Columns: a, b, units (paired observations), mean_a, mean_b (over the paired cells; NaN for
    pairwise), difference (mean of the paired differences, a - b), statistic and p (Wilcoxon),
    p_holm (Holm's correction over all pairs, statsmodels `multipletests`), effect (the matched-
    pairs rank-biserial correlation (T+ - T-) / (T+ + T-), -1..1, positive when a is higher),
    direction ("a > b", "a < b" or "a = b") and significant (p_holm < `alpha`).

    With more than two conditions of scores, Friedman's test over the units that have every
    condition is in ``result.attrs["friedman"]`` (also `friedman()`). Needs statsmodels:
    ``pip install 'qubico-nb[stats]'``.
    """
    multipletests = require(
        "statsmodels.stats.multitest", "stats", "compare_conditions"
    ).multipletests
    if unit not in ("item", "rater"):
        raise ValueError(f"unit must be 'item' or 'rater', not {unit!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha is a significance level between 0 and 1, not {alpha!r}")
    pairwise = vf.design_of(frame, choice=choice) == "pairwise"
    if pairwise:
        pairs = vf.pairs(frame, rater=rater, item=item, a=a, b=b, choice=choice, exclude=exclude)
        rows = _pairwise_rows(pairs, unit)
    else:
        data = vf.scores(frame, by=by, rater=rater, item=item, score=score, exclude=exclude)
        wide = _cells(data)
        units = pd.factorize(wide.index.get_level_values(unit))[0]
        rows = [
            _score_row(wide[x].to_numpy(), wide[y].to_numpy(), units, x, y)
            for x, y in itertools.combinations(data.conditions, 2)
        ]
    if not rows:
        raise ValueError("compare_conditions needs at least two conditions")
    out = pd.DataFrame(rows, columns=COLUMNS)
    tested = out["p"].notna().to_numpy()
    out["p_holm"] = np.nan
    if tested.any():
        out.loc[tested, "p_holm"] = multipletests(out.loc[tested, "p"], method="holm")[1]
    out["significant"] = (out["p_holm"] < alpha).fillna(False).astype(bool)
    if not pairwise and len(data.conditions) > 2:
        out.attrs["friedman"] = _friedman(wide, data.conditions, unit)
    return out


def friedman(
    frame: pd.DataFrame,
    by: str = vf.CONDITION,
    *,
    unit: Unit = "item",
    exclude: Iterable[Hashable] = (),
    rater: str = vf.RATER,
    item: str = vf.ITEM,
    score: str = vf.SCORE,
) -> pd.DataFrame:
    """Friedman's test that all conditions score alike (`scipy.stats.friedmanchisquare`), over
    the units (items, or raters) that have a score for every condition; one row: conditions,
    units, statistic, p. Needs three conditions or more."""
    data = vf.scores(frame, by=by, rater=rater, item=item, score=score, exclude=exclude)
    if len(data.conditions) < 3:
        raise ValueError(
            f"Friedman's test needs three conditions or more; the frame has "
            f"{len(data.conditions)} (compare_conditions tests a pair)"
        )
    return pd.DataFrame([_friedman(_cells(data), data.conditions, unit)])


def _cells(data: vf.Scores) -> pd.DataFrame:
    """Mean score per (rater, item) cell, one column per condition."""
    return data.table.groupby(["rater", "item", "condition"], sort=False)["score"].mean().unstack()


def _friedman(wide: pd.DataFrame, conditions: list[Any], unit: str) -> dict[str, Any]:
    per_unit = wide.groupby(level=unit, sort=False).mean()[conditions].dropna()
    result: dict[str, Any] = {
        "conditions": len(conditions),
        "units": len(per_unit),
        "statistic": math.nan,
        "p": math.nan,
    }
    if len(per_unit) >= 2:
        test = stats.friedmanchisquare(*(per_unit[c].to_numpy() for c in conditions))
        result["statistic"], result["p"] = float(test.statistic), float(test.pvalue)
    return result


def _score_row(
    first: np.ndarray, second: np.ndarray, units: np.ndarray, x: Any, y: Any
) -> dict[str, Any]:
    """Paired cells (a rater scored both in an item), their differences averaged per unit."""
    both = np.isfinite(first) & np.isfinite(second)
    sums = np.bincount(units[both], weights=(first - second)[both])
    counts = np.bincount(units[both])
    row = _signed_rank(x, y, sums[counts > 0] / counts[counts > 0])
    row["mean_a"] = float(first[both].mean()) if both.any() else math.nan
    row["mean_b"] = float(second[both].mean()) if both.any() else math.nan
    return row


def _pairwise_rows(pairs: vf.Pairs, unit: str) -> list[dict[str, Any]]:
    table = pairs.table
    conditions = pairs.conditions
    rank = {c: k for k, c in enumerate(conditions)}
    first_is_a = table["a"].map(rank) < table["b"].map(rank)
    x = table["a"].where(first_is_a, table["b"])
    y = table["b"].where(first_is_a, table["a"])
    vote = table["choice"].map({"a": 1.0, "b": -1.0, "tie": 0.0})
    preference = vote.where(first_is_a, -vote)
    votes = pd.DataFrame({"x": x, "y": y, "unit": table[unit], "preference": preference})
    rows = []
    for (first, second), part in votes.groupby(["x", "y"], sort=False):
        per_unit = part.groupby("unit", sort=False)["preference"].mean().to_numpy(dtype=float)
        row = _signed_rank(first, second, per_unit)
        row["mean_a"] = row["mean_b"] = math.nan
        rows.append(row)
    rows.sort(key=lambda r: (rank[r["a"]], rank[r["b"]]))
    return rows


def _signed_rank(x: Any, y: Any, differences: np.ndarray) -> dict[str, Any]:
    """Wilcoxon signed-rank test of paired differences (x - y), with the rank-biserial effect."""
    row: dict[str, Any] = {
        "a": x,
        "b": y,
        "units": len(differences),
        "difference": float(np.mean(differences)) if len(differences) else math.nan,
        "statistic": math.nan,
        "p": math.nan,
        "effect": math.nan,
        "direction": "a = b",
    }
    nonzero = differences[differences != 0]
    if len(nonzero) == 0:
        return row
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        test = stats.wilcoxon(differences, zero_method="wilcox")
        positive = stats.wilcoxon(differences, zero_method="wilcox", alternative="greater")
    total = len(nonzero) * (len(nonzero) + 1) / 2.0
    effect = 2.0 * float(positive.statistic) / total - 1.0
    row.update(
        statistic=float(test.statistic),
        p=float(test.pvalue),
        effect=effect,
        direction="a > b" if effect > 0 else "a < b" if effect < 0 else "a = b",
    )
    return row
