"""Bradley-Terry strengths from pairwise choices and Luce strengths from best picks (choix).

A strength is a condition's log-worth, centred so the conditions average 0: condition i beats j
with probability 1 / (1 + exp(s_j - s_i)) (Bradley-Terry), and is picked from a set S with
probability exp(s_i) / sum(exp(s_k) for k in S) (Luce's choice axiom, the top-1 case of
Plackett-Luce). Estimates are choix's maximum likelihood (I-LSR) with a small ridge
(`RIDGE`): a condition that never wins then gets a finite strength instead of minus infinity.

Ties ("no preference") count as half a win for each side: the maximum-likelihood fit then
treats a tie as evidence that the two are equal, and a test with many ties gets strengths near
each other, as it should. (Davidson's 1970 model gives ties a parameter of their own, a fit
that choix does not offer.) The 95% interval is a cluster bootstrap over
raters (`resampling.cluster_interval`): one rater's choices share that rater's taste, so raters,
not choices, are resampled. Each resample is a full choix fit: about 1 ms for pairwise counts,
but choix's top-1 fit walks every pick in Python, so 30 raters x 20 items of best picks take
some 8 s for 1000 resamples.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import choix
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from . import resampling
from .frame import Pairs, Picks

#: choix's regularization: as if each pair of conditions had met a hundredth of a time more.
RIDGE = 0.01
#: Resamples for a strength interval (each resample is a full fit, so fewer than for means).
N_RESAMPLES = 1000


def _codes(values: pd.Series, conditions: Sequence[Hashable]) -> NDArray[np.int64]:
    index = {c: k for k, c in enumerate(conditions)}
    return np.asarray([index[v] for v in values], dtype=np.int64)


def _check_connected(matrix: NDArray[np.float64], conditions: Sequence[Hashable]) -> None:
    met = (matrix + matrix.T) > 0
    parts, labels = connected_components(met, directed=False)
    if parts > 1:
        groups = [
            [str(c) for c, g in zip(conditions, labels, strict=True) if g == k] for k in (0, 1)
        ]
        raise ValueError(
            "the conditions fall into groups never compared with each other "
            f"(e.g. {', '.join(groups[0])} vs {', '.join(groups[1])}); strengths across groups "
            "are not defined: add comparisons that link them"
        )


def win_matrices(data: Pairs, conditions: Sequence[Hashable]) -> tuple[list[Any], NDArray[Any]]:
    """Per rater, the k x k matrix of wins (``m[i, j]``: times i beat j; a tie is half each)."""
    table = data.table
    raters = list(pd.unique(table["rater"]))
    r = _codes(table["rater"], raters)
    a = _codes(table["a"], conditions)
    b = _codes(table["b"], conditions)
    choice = table["choice"].to_numpy()
    a_wins = np.where(choice == "a", 1.0, np.where(choice == "tie", 0.5, 0.0))
    k = len(conditions)
    wins = np.zeros((len(raters), k, k))
    np.add.at(wins, (r, a, b), a_wins)
    np.add.at(wins, (r, b, a), 1.0 - a_wins)
    return raters, wins


def _fit_pairs(matrix: NDArray[np.float64], start: NDArray[np.float64] | None) -> NDArray[Any]:
    return np.asarray(
        choix.ilsr_pairwise_dense(matrix, alpha=RIDGE, initial_params=start), dtype=float
    )


def _refit(fit: Callable[[], NDArray[Any]], size: int) -> NDArray[Any]:
    """A bootstrap resample's fit, or NaNs when choix cannot fit it (it did not converge):
    such resamples are left out of the interval, and counted in a warning."""
    try:
        return fit()
    except (RuntimeError, ValueError):
        return np.full(size, np.nan)


def pairwise_strengths(
    data: Pairs, *, level: float, n_resamples: int = N_RESAMPLES, seed: int | None = 0
) -> pd.DataFrame:
    """Per condition: comparisons, wins, ties, losses, share of points, Bradley-Terry strength
    and its interval."""
    conditions = data.conditions
    _, wins = win_matrices(data, conditions)
    total = wins.sum(axis=0)
    _check_connected(total, conditions)
    estimate = _fit_pairs(total, None)
    low, high = resampling.cluster_interval(
        len(wins),
        lambda picked: _refit(
            lambda: _fit_pairs(wins[picked].sum(axis=0), estimate), len(estimate)
        ),
        level=level,
        n_resamples=n_resamples,
        seed=seed,
    )
    table = data.table
    rows = []
    for k, condition in enumerate(conditions):
        as_a = table[table["a"] == condition]["choice"]
        as_b = table[table["b"] == condition]["choice"]
        won = int((as_a == "a").sum() + (as_b == "b").sum())
        tied = int((as_a == "tie").sum() + (as_b == "tie").sum())
        met = len(as_a) + len(as_b)
        rows.append(
            {
                "condition": condition,
                "comparisons": met,
                "wins": won,
                "ties": tied,
                "losses": met - won - tied,
                "share": (won + tied / 2) / met if met else np.nan,
                "strength": estimate[k],
                "ci_low": low[k],
                "ci_high": high[k],
            }
        )
    return pd.DataFrame(rows).set_index("condition")


def top1_data(data: Picks, conditions: Sequence[Hashable]) -> list[list[tuple[int, list[int]]]]:
    """Per rater, choix's top-1 data: (picked condition, the other cards' conditions) per item."""
    table = data.table.assign(code=_codes(data.table["condition"], conditions))
    out: list[list[tuple[int, list[int]]]] = []
    for _, mine in table.groupby("rater", sort=False):
        observations = []
        for _, shown in mine.groupby("item", sort=False):
            picked = shown["best"].to_numpy()
            codes = shown["code"].to_numpy()
            if len(codes) > 1:
                observations.append((int(codes[picked][0]), [int(c) for c in codes[~picked]]))
        out.append(observations)
    return out


def pick_strengths(
    data: Picks, *, level: float, n_resamples: int = N_RESAMPLES, seed: int | None = 0
) -> pd.DataFrame:
    """Per condition: cards shown in picked rows, picks, share, Luce strength and its interval."""
    conditions = data.conditions
    if len(conditions) < 2:
        raise ValueError("best picks need at least two conditions to compare")
    per_rater = top1_data(data, conditions)
    k = len(conditions)
    met = np.zeros((k, k))
    for observations in per_rater:
        for winner, losers in observations:
            met[winner, losers] += 1
    _check_connected(met, conditions)

    def fit(picked: NDArray[np.int64], start: NDArray[np.float64] | None) -> NDArray[Any]:
        observations = [o for r in picked for o in per_rater[r]]
        return np.asarray(
            choix.ilsr_top1(k, observations, alpha=RIDGE, initial_params=start), dtype=float
        )

    estimate = fit(np.arange(len(per_rater)), None)
    low, high = resampling.cluster_interval(
        len(per_rater),
        lambda picked: _refit(lambda: fit(picked, estimate), k),
        level=level,
        n_resamples=n_resamples,
        seed=seed,
    )
    table = data.table
    shown = table.groupby("condition", sort=False).size()
    chosen = table[table["best"]].groupby("condition", sort=False).size()
    rows = []
    for i, condition in enumerate(conditions):
        n_shown = int(shown.get(condition, 0))
        n_picked = int(chosen.get(condition, 0))
        rows.append(
            {
                "condition": condition,
                "shown": n_shown,
                "picks": n_picked,
                "share": n_picked / n_shown if n_shown else np.nan,
                "strength": estimate[i],
                "ci_low": low[i],
                "ci_high": high[i],
            }
        )
    return pd.DataFrame(rows).set_index("condition")
