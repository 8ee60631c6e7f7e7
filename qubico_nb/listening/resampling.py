"""Bootstrap intervals that resample whole raters and items, through `scipy.stats.bootstrap`.

Scores by one rater, or of one item, share that rater's leniency or that item's difficulty, so a
verdict is not an independent draw. Resampling raters and items (not verdicts) carries that
dependence into the interval: Owen's "pigeonhole" bootstrap for a rater x item table
(A. B. Owen, The pigeonhole bootstrap, Annals of Applied Statistics 1(2), 2007), and a cluster
bootstrap over raters or items where only one of them is the unit. scipy draws the resamples and
takes the percentiles; the functions here only say what one resample's figure is.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from numpy.typing import NDArray
from scipy import stats

#: Resamples drawn unless a caller asks otherwise: enough for steady 2.5% and 97.5% percentiles.
N_RESAMPLES = 2000


def _rng(seed: int | None) -> np.random.Generator:
    return np.random.default_rng(seed)


def crossed_mean_interval(
    sums: NDArray[np.float64],
    counts: NDArray[np.float64],
    *,
    level: float,
    n_resamples: int = N_RESAMPLES,
    seed: int | None = 0,
) -> tuple[float, float]:
    """Percentile interval of the pooled mean of a rater x item table, resampling rows (raters)
    and columns (items) independently with replacement.

    `sums[r, i]` and `counts[r, i]` are the sum and number of rater r's scores of item i; the mean
    of a resample is its summed scores over its summed counts, which is the plain mean of all
    scores for the table itself. With one rater (or one item) only the other side is resampled;
    with one of each there is no interval (NaN, NaN).
    """
    raters, items = sums.shape
    samples: list[NDArray[np.int64]] = []
    if raters > 1:
        samples.append(np.arange(raters))
    if items > 1:
        samples.append(np.arange(items))
    if not samples:
        return math.nan, math.nan

    def mean(*picked: NDArray[np.int64], axis: int = -1) -> NDArray[np.float64]:
        # A resample's sums are (times each rater drawn) @ table @ (times each item drawn).
        row_weights = _draws(picked[0], raters) if raters > 1 else None
        col_weights = _draws(picked[-1], items) if items > 1 else None
        total = _weighted(sums, row_weights, col_weights)
        n = _weighted(counts, row_weights, col_weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            out: NDArray[np.float64] = total / n
        return out

    with _quiet():
        result = stats.bootstrap(
            tuple(samples),
            mean,
            paired=False,
            vectorized=True,
            n_resamples=n_resamples,
            method="percentile",
            confidence_level=level,
            random_state=_rng(seed),
        )
    low, high = result.confidence_interval
    if np.isfinite(low) and np.isfinite(high):
        return float(low), float(high)
    return _finite_interval(result.bootstrap_distribution, level)


def _draws(indices: NDArray[np.int64], size: int) -> NDArray[np.float64]:
    """How often each of `size` indices was drawn, per resample (rows of `indices`)."""
    flat = indices.reshape(-1, indices.shape[-1])
    offsets = (np.arange(len(flat)) * size)[:, None] + flat
    counts = np.bincount(offsets.ravel(), minlength=len(flat) * size)
    return counts.reshape(len(flat), size).astype(float)


def _weighted(
    table: NDArray[np.float64],
    rows: NDArray[np.float64] | None,
    cols: NDArray[np.float64] | None,
) -> NDArray[np.float64]:
    """Per resample, the sum of `table` with rows and columns weighted by their draws."""
    if rows is None:
        assert cols is not None
        return cols @ table.sum(axis=0)
    if cols is None:
        return rows @ table.sum(axis=1)
    out: NDArray[np.float64] = ((rows @ table) * cols).sum(axis=-1)
    return out


def cluster_interval(
    clusters: int,
    statistic: Callable[[NDArray[np.int64]], NDArray[np.float64]],
    *,
    level: float,
    n_resamples: int = N_RESAMPLES,
    seed: int | None = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Percentile interval of a vector `statistic(indices)` over resampled clusters (raters or
    items): each resample draws `clusters` indices with replacement. Fewer than two clusters: NaN.

    A resample whose statistic cannot be computed (NaN) is left out of the percentiles, and said
    so in a warning when that happens to more than 1% of them.
    """
    probe = np.asarray(statistic(np.arange(clusters)), dtype=float)
    if clusters < 2:
        return np.full(probe.shape, math.nan), np.full(probe.shape, math.nan)

    def one(indices: NDArray[np.int64]) -> NDArray[np.float64]:
        return np.asarray(statistic(np.asarray(indices, dtype=np.int64)), dtype=float)

    with _quiet():
        result = stats.bootstrap(
            (np.arange(clusters),),
            one,
            vectorized=False,
            n_resamples=n_resamples,
            method="percentile",
            confidence_level=level,
            random_state=_rng(seed),
        )
    lows = np.array(result.confidence_interval.low, dtype=float, ndmin=1)
    highs = np.array(result.confidence_interval.high, dtype=float, ndmin=1)
    distribution = np.asarray(result.bootstrap_distribution, dtype=float).reshape(len(lows), -1)
    for k, row in enumerate(distribution):
        if not (np.isfinite(lows[k]) and np.isfinite(highs[k])):
            lows[k], highs[k] = _finite_interval(row, level)
    return lows, highs


@contextmanager
def _quiet() -> Iterator[None]:
    """scipy warns "The BCa confidence interval cannot be calculated" whenever a percentile is
    NaN; resamples without a figure are handled (and reported) by `_finite_interval` instead."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The BCa confidence interval cannot")
        yield


def _finite_interval(distribution: NDArray[np.float64], level: float) -> tuple[float, float]:
    """The percentile interval of a bootstrap distribution, leaving out resamples that had no
    figure (a resample can miss every score of a sparse condition)."""
    values = np.asarray(distribution, dtype=float).ravel()
    finite = values[np.isfinite(values)]
    if len(finite) < 0.5 * len(values) or len(finite) < 2:
        return math.nan, math.nan
    if len(finite) < 0.99 * len(values):
        warnings.warn(
            f"{len(values) - len(finite)} of {len(values)} bootstrap resamples had no figure "
            "(too few verdicts in them); the interval is taken over the others",
            stacklevel=3,
        )
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)
