"""`agreement`: how far raters agree, as Krippendorff's alpha (the `krippendorff` package)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, Literal

import krippendorff
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from . import frame as vf
from . import resampling

Measure = Literal["interval", "nominal"]

#: Above this many cells in krippendorff's units x values x values working array, alpha would
#: need gigabytes: the scores must be rounded to fewer distinct values first.
_MAX_WORK = 60_000_000


def agreement(
    frame: pd.DataFrame,
    by: str = vf.CONDITION,
    *,
    exclude: Iterable[Hashable] = (),
    design: vf.Design = "auto",
    level: float = 0.95,
    n_resamples: int = 1000,
    seed: int | None = 0,
    rater: str = vf.RATER,
    item: str = vf.ITEM,
    score: str = vf.SCORE,
    best: str = vf.BEST,
    a: str = vf.A,
    b: str = vf.B,
    choice: str = vf.CHOICE,
) -> pd.DataFrame:
    """Krippendorff's alpha between raters, with a bootstrap interval; one row.

    Scores: a unit is one (item, condition) cell, a rater's value its mean score there, at the
    interval level. Pairwise choices: a unit is one item's pair of conditions, the value which of
    the two was preferred or "no preference", at the nominal level. Best picks
    (``design="best"``): a unit is an item, the value the condition picked, nominal. Alpha is 1
    for perfect agreement, 0 for agreement by chance, below 0 for systematic disagreement; it
    allows missing values (a rater who skipped a unit).

    The interval resamples items with replacement (all units of an item together, since they
    share it) and recomputes alpha on each of `n_resamples` resamples (`scipy.stats.bootstrap`,
    percentile method). Columns: design, level_of_measurement, alpha, ci_low, ci_high, raters,
    units, items.

    Cost: one `krippendorff.alpha` per resample, which grows with units x distinct values²:
    under 1 ms for 30 raters x 400 units on a 1-5 scale, but about 40 ms on a 0-100 scale, where
    the default 1000 resamples take some 40 s; ``n_resamples=200`` gives a first look.
    """
    data = vf.load(
        frame,
        design,
        by=by,
        exclude=exclude,
        rater=rater,
        item=item,
        score=score,
        best=best,
        a=a,
        b=b,
        choice=choice,
    )
    measure: Measure = "nominal"
    if isinstance(data, vf.Scores):
        kind, measure = "scores", "interval"
        values = data.table.groupby(["rater", "item", "condition"], sort=False)["score"].mean()
        matrix, unit_items = _reliability(values, ("item", "condition"))
    elif isinstance(data, vf.Pairs):
        kind = "pairwise"
        matrix, unit_items = _reliability(_pair_votes(data), ("item", "pair"))
    else:
        kind = "best"
        chosen = data.table[data.table["best"]]
        codes = {c: float(k) for k, c in enumerate(data.conditions)}
        values = chosen.set_index(["rater", "item"])["condition"].map(codes)
        matrix, unit_items = _reliability(values, ("item",))
    vf.at_least(list(range(matrix.shape[0])), 2, "agreement")
    pairable = np.isfinite(matrix).sum(axis=0) >= 2
    if not pairable.any():
        raise ValueError(
            "no unit was judged by two raters or more, so there is nothing to agree on; "
            "check that raters judged the same items"
        )
    _check_size(matrix)
    domain, counts = _value_counts(matrix)
    estimate = _alpha(counts, domain, measure)
    items = pd.unique(pd.Series(unit_items))
    rows_of = [np.flatnonzero(unit_items == i) for i in items]

    def resampled(picked: NDArray[np.int64]) -> NDArray[np.float64]:
        rows = np.concatenate([rows_of[i] for i in picked])
        return np.asarray([_alpha(counts[rows], domain, measure)])

    low, high = resampling.cluster_interval(
        len(items), resampled, level=level, n_resamples=n_resamples, seed=seed
    )
    return pd.DataFrame(
        [
            {
                "design": kind,
                "level_of_measurement": measure,
                "alpha": estimate,
                "ci_low": float(low[0]),
                "ci_high": float(high[0]),
                "raters": matrix.shape[0],
                "units": int(pairable.sum()),
                "items": len(items),
            }
        ]
    )


def _reliability(
    values: pd.Series, unit: tuple[str, ...]
) -> tuple[NDArray[np.float64], NDArray[Any]]:
    """Raters x units matrix (NaN where a rater gave no value) and each unit's item."""
    matrix = values.unstack(list(unit))
    return matrix.to_numpy(dtype=float), np.asarray(matrix.columns.get_level_values("item"))


def _pair_votes(pairs: vf.Pairs) -> pd.Series:
    """Each rater's verdict on each (item, unordered pair): 0 first condition, 1 second, 2 tie;
    a rater who judged a pair more than once in an item gives their most frequent verdict."""
    table = pairs.table
    rank = {c: k for k, c in enumerate(pairs.conditions)}
    first_is_a = table["a"].map(rank) < table["b"].map(rank)
    first = table["a"].where(first_is_a, table["b"])
    second = table["b"].where(first_is_a, table["a"])
    chose_a = {"a": 0.0, "b": 1.0, "tie": 2.0}
    vote = table["choice"].map(chose_a)
    vote = vote.where(first_is_a | (vote == 2.0), 1.0 - vote)
    votes = pd.DataFrame(
        {
            "rater": table["rater"],
            "item": table["item"],
            "pair": [f"{x!r} | {y!r}" for x, y in zip(first, second, strict=True)],
            "vote": vote,
        }
    )
    return votes.groupby(["rater", "item", "pair"], sort=False)["vote"].agg(
        lambda v: v.mode().iloc[0]
    )


def _check_size(matrix: NDArray[np.float64]) -> None:
    distinct = len(np.unique(matrix[np.isfinite(matrix)]))
    work = matrix.shape[1] * distinct * distinct
    if work > _MAX_WORK:
        raise ValueError(
            f"the scores take {distinct} distinct values over {matrix.shape[1]} units, too many "
            "for krippendorff's alpha to hold in memory; round them to the scale's steps first "
            "(e.g. frame['score'] = frame['score'].round())"
        )


def _value_counts(matrix: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The values used and, per unit, how many raters gave each: krippendorff's `value_counts`
    form, which a resample takes rows of (a unit drawn twice is a row twice)."""
    finite = np.isfinite(matrix)
    domain = np.unique(matrix[finite])
    codes = np.searchsorted(domain, np.where(finite, matrix, domain[0]))
    counts = np.zeros((matrix.shape[1], len(domain)), dtype=np.int64)
    units = np.broadcast_to(np.arange(matrix.shape[1]), matrix.shape)
    np.add.at(counts, (units[finite], codes[finite]), 1)
    return domain, counts


def _alpha(counts: NDArray[np.int64], domain: NDArray[np.float64], measure: Measure) -> float:
    """krippendorff.alpha over the units judged twice or more (the others add nothing to it),
    or NaN where none is, or a single value is used throughout (no expected disagreement)."""
    pairable = counts[counts.sum(axis=1) >= 2]
    used = pairable.sum(axis=0) > 0
    if used.sum() < 2:
        return float("nan")
    return float(
        krippendorff.alpha(
            value_counts=pairable[:, used],
            value_domain=domain[used],
            level_of_measurement=measure,
        )
    )
