"""`screen_raters`: which raters to leave out before reporting, by a rule fixed in advance."""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import frame as vf

#: ITU-R BS.1534-3 post-screening: a rater who scores the hidden reference below 90 (or the
#: mid-range anchor above 90) ...
REFERENCE_FLOOR = 90.0
#: ... for more than 15% of the test items is excluded.
REFERENCE_SHARE = 0.15
#: Without a hidden reference: a rater whose scores correlate with the other raters' mean below
#: this (Spearman) is flagged. ITU-T P.913 (2021), 11.4, rejects a subject whose Pearson
#: correlation with the others is below 0.75; 0.5 keeps the spirit for rank correlation on the
#: few conditions a generative-audio test has, where 0.75 would flag honest raters of close
#: conditions. Change it with `min_correlation`.
MIN_CORRELATION = 0.5


def screen_raters(
    frame: pd.DataFrame,
    by: str = vf.CONDITION,
    *,
    reference: Hashable | None = None,
    anchor: Hashable | None = None,
    min_correlation: float = MIN_CORRELATION,
    rater: str = vf.RATER,
    item: str = vf.ITEM,
    score: str = vf.SCORE,
) -> pd.DataFrame:
    """One row per rater of a scores frame, with ``excluded`` True for those to drop; pass
    ``report(frame, exclude=result)`` (or the names: ``result.index[result["excluded"]]``).

    With `reference` (the condition value of the hidden reference, e.g. "reference" in
    webMUSHRA's results, "Reference" in BeaqleJS's): ITU-R BS.1534-3 post-screening, a rater is
    excluded who scores the hidden reference below 90 in more than 15% of the items they judged;
    with `anchor` (the mid-range anchor, e.g. "anchor70") also one who scores it above 90 in
    more than 15% of them. Columns: items, reference_below_90, share, [anchor_above_90],
    excluded, reason.

    Without one (the usual case for generated audio): each rater's mean score per
    (item, condition) cell is compared with the mean of all other raters over the same cells
    (`scipy.stats.spearmanr`); a rater whose correlation is below `min_correlation` (0.5 by
    default, see `MIN_CORRELATION`) or undefined (constant scores) is excluded. Needs three
    raters or more. Columns: cells, correlation, excluded, reason.
    """
    data = vf.scores(frame, by=by, rater=rater, item=item, score=score)
    table = data.table
    if reference is not None:
        return _reference_screen(table, reference, anchor)
    vf.at_least(table["rater"], 3, "screen_raters without a hidden reference")
    return _correlation_screen(table, min_correlation)


def _count_items(table: pd.DataFrame, condition: Hashable, *, below: bool) -> pd.DataFrame:
    """Per rater: items with a score of `condition`, and those scored below (above) 90."""
    part = table[table["condition"] == condition]
    if part.empty:
        values = ", ".join(map(repr, vf.ordered(table["condition"])))
        raise ValueError(f"no score of the condition {condition!r}; the conditions are {values}")
    off = part[part["score"] < REFERENCE_FLOOR] if below else part[part["score"] > REFERENCE_FLOOR]
    raters = vf.ordered(table["rater"])
    return pd.DataFrame(
        {
            "items": part.groupby("rater")["item"].nunique().reindex(raters, fill_value=0),
            "off": off.groupby("rater")["item"].nunique().reindex(raters, fill_value=0),
        }
    )


def _reference_screen(
    table: pd.DataFrame, reference: Hashable, anchor: Hashable | None
) -> pd.DataFrame:
    hidden = _count_items(table, reference, below=True)
    out = pd.DataFrame(index=hidden.index)
    out.index.name = "rater"
    out["items"] = hidden["items"]
    out["reference_below_90"] = hidden["off"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share"] = hidden["off"] / hidden["items"].where(hidden["items"] > 0)
    reasons = [
        f"hidden reference below 90 in {off} of {n} items (> 15%)"
        if n and off / n > REFERENCE_SHARE
        else ""
        for n, off in zip(hidden["items"], hidden["off"], strict=True)
    ]
    if anchor is not None:
        mid = _count_items(table, anchor, below=False)
        out["anchor_above_90"] = mid["off"]
        reasons = [
            "; ".join(
                filter(
                    None,
                    [
                        why,
                        f"mid anchor above 90 in {off} of {n} items (> 15%)"
                        if n and off / n > REFERENCE_SHARE
                        else "",
                    ],
                )
            )
            for why, n, off in zip(reasons, mid["items"], mid["off"], strict=True)
        ]
    out["excluded"] = [bool(r) for r in reasons]
    out["reason"] = [
        r or ("no score of the hidden reference" if n == 0 else "")
        for r, n in zip(reasons, hidden["items"], strict=True)
    ]
    return out


def _correlation_screen(table: pd.DataFrame, min_correlation: float) -> pd.DataFrame:
    cells = table.groupby(["rater", "item", "condition"], sort=False)["score"].agg(["sum", "count"])
    sums = cells["sum"].unstack("rater")
    counts = cells["count"].unstack("rater")
    rows: list[dict[str, Any]] = []
    for who in vf.ordered(table["rater"]):
        mine = sums[who] / counts[who]
        others = sums.drop(columns=who).sum(axis=1) / counts.drop(columns=who).sum(axis=1)
        shared = pd.DataFrame({"mine": mine, "others": others}).dropna()
        correlation = math.nan
        if len(shared) >= 3:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # constant input: NaN, reported below
                correlation = float(stats.spearmanr(shared["mine"], shared["others"])[0])
        low = not np.isfinite(correlation) or correlation < min_correlation
        reason = ""
        if len(shared) < 3:
            reason = f"only {len(shared)} cell(s) shared with other raters: cannot tell"
        elif not np.isfinite(correlation):
            reason = "constant scores (or constant others): no correlation"
        elif low:
            reason = f"Spearman {correlation:.2f} with the others' mean < {min_correlation:g}"
        rows.append(
            {
                "rater": who,
                "cells": len(shared),
                "correlation": correlation,
                "excluded": bool(low and len(shared) >= 3),
                "reason": reason,
            }
        )
    return pd.DataFrame(rows).set_index("rater")
