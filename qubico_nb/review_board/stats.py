"""Per-group score statistics for `Review.summary`: mean and its Student t interval. Pure.

The interval is ``mean ± t(0.975, n-1) · sd / sqrt(n)`` from `scipy.stats.t`: it treats every
score as independent, which scores by one rater, or of one item, are not. The rater- and
item-aware intervals a paper needs belong to `qubico_nb.listening`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of the t interval at `level`; NaN bounds with fewer than two values
    (and, for identical values, an interval of width zero)."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(data.mean())
    if data.size < 2:
        return mean, math.nan, math.nan
    sem = float(stats.sem(data))
    if sem == 0.0:
        return mean, mean, mean
    low, high = stats.t.interval(level, data.size - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)
