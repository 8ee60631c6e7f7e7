"""agreement(): Krippendorff's alpha from the krippendorff package, on fixed data."""

from __future__ import annotations

import itertools
import math

import krippendorff
import numpy as np
import pandas as pd
import pytest

from qubico_nb.listening import agreement

NA = math.nan
#: Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the worked example:
#: 4 observers x 12 units with missing values; alpha = 0.743 nominal, 0.849 interval.
CANON = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NA, NA, NA],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NA, 3],
    [NA, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NA],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NA],
]


def canon_frame() -> pd.DataFrame:
    rows = [
        (f"observer{r}", f"unit{u:02d}", "only", value)
        for r, line in enumerate(CANON)
        for u, value in enumerate(line)
    ]
    return pd.DataFrame(rows, columns=["rater", "item", "condition", "score"])


def test_scores_alpha_is_the_published_interval_value() -> None:
    out = agreement(canon_frame(), n_resamples=200)
    row = out.iloc[0]
    assert row["alpha"] == pytest.approx(0.8491071, abs=1e-6)
    assert row["level_of_measurement"] == "interval" and row["design"] == "scores"
    assert row["raters"] == 4 and row["units"] == 11 and row["items"] == 12
    assert row["ci_low"] <= row["alpha"] <= row["ci_high"]


def test_units_are_item_and_condition_cells() -> None:
    rng = np.random.default_rng(4)
    rows = [
        (f"r{r}", f"i{i}", c, float(rng.integers(1, 6)) + (2 if c == "new" else 0))
        for r, i, c in itertools.product(range(4), range(6), ["old", "new"])
    ]
    frame = pd.DataFrame(rows, columns=["rater", "item", "condition", "score"])
    frame.loc[[1, 7], "score"] = None
    matrix = frame.pivot_table(
        index="rater", columns=["item", "condition"], values="score", dropna=False
    ).to_numpy()
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="interval")
    assert agreement(frame, n_resamples=100)["alpha"].iloc[0] == pytest.approx(expected)


def test_the_interval_is_seeded_and_narrows_with_more_items() -> None:
    rng = np.random.default_rng(8)

    def frame(items: int) -> pd.DataFrame:
        truth = rng.normal(5, 1.5, items)
        rows = [
            (f"r{r}", f"i{i}", "x", round(float(truth[i] + rng.normal(0, 0.8))))
            for r, i in itertools.product(range(5), range(items))
        ]
        return pd.DataFrame(rows, columns=["rater", "item", "condition", "score"])

    small, large = frame(8), frame(80)
    first = agreement(small, n_resamples=200, seed=1)
    pd.testing.assert_frame_equal(first, agreement(small, n_resamples=200, seed=1))
    wide = first["ci_high"].iloc[0] - first["ci_low"].iloc[0]
    narrow = agreement(large, n_resamples=200)
    assert narrow["ci_high"].iloc[0] - narrow["ci_low"].iloc[0] < wide


@pytest.mark.filterwarnings("ignore:.*bootstrap resamples had no figure")
def test_pairwise_alpha_is_nominal_over_item_pairs() -> None:
    rows = [
        ("r1", "i1", "x", "y", "a"),
        ("r2", "i1", "y", "x", "b"),  # the same verdict (x), shown the other way round
        ("r3", "i1", "x", "y", "tie"),
        ("r1", "i2", "x", "y", "b"),
        ("r2", "i2", "x", "y", "b"),
        ("r3", "i2", "y", "x", "a"),
        ("r1", "i3", "x", "y", "tie"),
        ("r2", "i3", "x", "y", "a"),
    ]
    frame = pd.DataFrame(rows, columns=["rater", "item", "a", "b", "choice"])
    # values: 0 = x preferred, 1 = y preferred, 2 = no preference
    matrix = [[0, 1, 2], [0, 1, 0], [2, 1, NA]]
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    row = agreement(frame, n_resamples=100).iloc[0]
    assert row["alpha"] == pytest.approx(expected)
    assert row["level_of_measurement"] == "nominal" and row["units"] == 3


def test_best_picks_agree_on_the_condition_picked() -> None:
    picks = {
        ("r1", "i1"): "x",
        ("r2", "i1"): "x",
        ("r1", "i2"): "y",
        ("r2", "i2"): "z",
        ("r1", "i3"): "z",
        ("r2", "i3"): "z",
    }
    rows = [
        (r, i, c, picks[(r, i)] == c) for (r, i), c in itertools.product(picks, ["x", "y", "z"])
    ]
    frame = pd.DataFrame(rows, columns=["rater", "item", "condition", "best"])
    expected = krippendorff.alpha(
        reliability_data=[[0, 1, 2], [0, 2, 2]], level_of_measurement="nominal"
    )
    with pytest.warns(UserWarning, match=r"of 100 bootstrap resamples had no figure"):
        row = agreement(frame, design="best", n_resamples=100).iloc[0]
    assert row["alpha"] == pytest.approx(expected)


def test_agreement_needs_two_raters_on_shared_units() -> None:
    frame = canon_frame()
    with pytest.raises(ValueError, match="at least 2 raters; the frame has 1"):
        agreement(frame[frame["rater"] == "observer0"])
    apart = frame.assign(item=frame["rater"] + frame["item"])
    with pytest.raises(ValueError, match="no unit was judged by two raters"):
        agreement(apart)


def test_too_many_distinct_scores_ask_for_rounding() -> None:
    rng = np.random.default_rng(0)
    rows = [
        (f"r{r}", f"i{i}", "x", float(rng.random()))
        for r, i in itertools.product(range(10), range(900))
    ]
    frame = pd.DataFrame(rows, columns=["rater", "item", "condition", "score"])
    with pytest.raises(ValueError, match=r"distinct values.*round\(\)"):
        agreement(frame)
