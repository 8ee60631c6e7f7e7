"""report(): each figure against numpy, scipy and choix computing the same thing on fixed data."""

from __future__ import annotations

import itertools
import math

import choix
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from qubico_nb.listening import report
from qubico_nb.listening.strength import RIDGE


def crossed_scores(
    raters: int = 12, items: int = 15, rater_sd: float = 12.0, seed: int = 3
) -> pd.DataFrame:
    """Two conditions scored by every rater on every item, with rater and item effects."""
    rng = np.random.default_rng(seed)
    lean = rng.normal(0, rater_sd, raters)
    hard = rng.normal(0, 6, items)
    rows = []
    for r, i, (condition, base) in itertools.product(
        range(raters), range(items), [("old", 50.0), ("new", 58.0)]
    ):
        score = base + lean[r] + hard[i] + rng.normal(0, 5)
        rows.append((f"r{r}", f"i{i}", condition, round(float(np.clip(score, 0, 100)))))
    return pd.DataFrame(rows, columns=["rater", "item", "condition", "score"])


def test_counts_mean_median_sd_are_numpy_s() -> None:
    frame = crossed_scores()
    frame.loc[[0, 5, 9], "score"] = None  # three missing verdicts
    out = report(frame, n_resamples=200)
    for condition in ("old", "new"):
        values = frame[frame["condition"] == condition]["score"].dropna().to_numpy(dtype=float)
        row = out.loc[condition]
        assert row["verdicts"] == len(values)
        assert row["raters"] == 12 and row["items"] == 15
        assert row["mean"] == pytest.approx(np.mean(values))
        assert row["median"] == pytest.approx(np.median(values))
        assert row["sd"] == pytest.approx(np.std(values, ddof=1))
    assert list(out.index) == ["new", "old"]
    assert out.index.name == "condition"


def test_the_interval_is_scipys_bootstrap_over_raters_and_items() -> None:
    """The same resamples drawn by scipy.stats.bootstrap, with the mean computed the plain way
    (gather the resampled rater x item table, average it), give the same interval."""
    frame = crossed_scores(raters=6, items=8)
    part = frame[frame["condition"] == "new"]
    table = part.pivot(index="rater", columns="item", values="score").to_numpy(dtype=float)

    def plain_mean(r: np.ndarray, i: np.ndarray, axis: int = -1) -> np.ndarray:
        return table[r[..., :, None], i[..., None, :]].mean(axis=(-2, -1))

    expected = stats.bootstrap(
        (np.arange(6), np.arange(8)),
        plain_mean,
        vectorized=True,
        n_resamples=500,
        method="percentile",
        random_state=np.random.default_rng(7),
    ).confidence_interval
    row = report(frame, n_resamples=500, seed=7).loc["new"]
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((expected.low, expected.high))


def test_one_rater_resamples_items_only() -> None:
    frame = crossed_scores(raters=1, items=10)
    values = frame[frame["condition"] == "old"]["score"].to_numpy(dtype=float)
    expected = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=400,
        method="percentile",
        random_state=np.random.default_rng(0),
    ).confidence_interval
    row = report(frame, n_resamples=400).loc["old"]
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((expected.low, expected.high))


def test_with_rater_effects_the_interval_is_wider_than_the_pooled_t_interval() -> None:
    frame = crossed_scores(raters=10, items=20, rater_sd=15.0)
    out = report(frame)
    for condition in ("old", "new"):
        values = frame[frame["condition"] == condition]["score"].to_numpy(dtype=float)
        naive = stats.t.interval(0.95, len(values) - 1, np.mean(values), stats.sem(values))
        ours = out.loc[condition, "ci_high"] - out.loc[condition, "ci_low"]
        assert ours > 2 * (naive[1] - naive[0])
        assert (
            out.loc[condition, "ci_low"]
            < out.loc[condition, "mean"]
            < out.loc[condition, "ci_high"]
        )


def test_without_rater_or_item_effects_the_interval_is_close_to_t() -> None:
    frame = crossed_scores(raters=20, items=20, rater_sd=0.0)
    frame["score"] = np.random.default_rng(1).normal(50, 10, len(frame))
    out = report(frame)
    values = frame[frame["condition"] == "old"]["score"].to_numpy(dtype=float)
    naive = stats.t.interval(0.95, len(values) - 1, np.mean(values), stats.sem(values))
    ratio = (out.loc["old", "ci_high"] - out.loc["old", "ci_low"]) / (naive[1] - naive[0])
    assert 0.8 < ratio < 2.0  # the pigeonhole bootstrap is mildly conservative, not wild


def test_same_seed_same_interval_and_exclude_drops_raters() -> None:
    frame = crossed_scores()
    first = report(frame, n_resamples=300, seed=11)
    pd.testing.assert_frame_equal(first, report(frame, n_resamples=300, seed=11))
    shuffled = frame.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(first, report(shuffled, n_resamples=300, seed=11))
    without = report(frame, exclude=["r0", "r1"], n_resamples=300)
    assert (without["raters"] == 10).all()
    kept = frame[~frame["rater"].isin(["r0", "r1"])]
    assert without.loc["old", "mean"] == pytest.approx(
        kept[kept["condition"] == "old"]["score"].mean()
    )


def test_level_is_checked() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        report(crossed_scores(), level=95)
    with pytest.raises(ValueError, match="design must be"):
        report(crossed_scores(), design="mos")  # type: ignore[arg-type]


def test_a_condition_scored_once_has_no_interval() -> None:
    frame = pd.DataFrame(
        {
            "rater": ["a", "b", "a"],
            "item": ["p", "p", "q"],
            "condition": ["x", "x", "y"],
            "score": [1.0, 2.0, 3.0],
        }
    )
    out = report(frame, n_resamples=100)
    assert math.isnan(out.loc["y", "ci_low"]) and math.isnan(out.loc["y", "sd"])
    assert out.loc["x", "ci_low"] <= out.loc["x", "ci_high"]


# -- pairwise and best picks: Bradley-Terry and Luce through choix ------------------------------


def pairwise_frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    worth = {"low": -0.8, "mid": 0.0, "high": 0.9}
    rows = []
    for rater, item in itertools.product(range(8), range(6)):
        for first, second in itertools.combinations(worth, 2):
            if rng.random() < 0.5:
                first, second = second, first
            p = 1 / (1 + math.exp(worth[second] - worth[first]))
            u = rng.random()
            choice = "tie" if abs(u - p) < 0.08 else ("a" if u < p else "b")
            rows.append((f"r{rater}", f"i{item}", first, second, choice))
    return pd.DataFrame(rows, columns=["rater", "item", "a", "b", "choice"])


def test_bradley_terry_strengths_are_choix_with_ties_as_half_wins() -> None:
    frame = pairwise_frame()
    assert (frame["choice"] == "tie").sum() > 5
    out = report(frame, n_resamples=100)
    names = ["high", "low", "mid"]
    code = {n: k for k, n in enumerate(names)}
    # Half a win each for a tie = every decisive result twice and a tie once each way.
    data = []
    for row in frame.itertuples():
        a, b = code[row.a], code[row.b]
        if row.choice == "a":
            data += [(a, b), (a, b)]
        elif row.choice == "b":
            data += [(b, a), (b, a)]
        else:
            data += [(a, b), (b, a)]
    expected = choix.ilsr_pairwise(3, data, alpha=2 * RIDGE)  # twice the data, twice the ridge
    assert out["strength"].to_numpy() == pytest.approx(expected, abs=1e-6)
    assert list(out.index) == names
    assert out.loc["high", "strength"] > out.loc["mid", "strength"] > out.loc["low", "strength"]
    wins = ((frame["a"] == "high") & (frame["choice"] == "a")).sum() + (
        (frame["b"] == "high") & (frame["choice"] == "b")
    ).sum()
    assert out.loc["high", "wins"] == wins
    row = out.loc["high"]
    assert row["wins"] + row["ties"] + row["losses"] == row["comparisons"] == 96
    assert row["share"] == pytest.approx((row["wins"] + row["ties"] / 2) / row["comparisons"])
    assert (out["ci_low"] <= out["strength"]).all() and (out["strength"] <= out["ci_high"]).all()


def test_strength_interval_resamples_raters() -> None:
    frame = pairwise_frame()
    one_rater = frame[frame["rater"] == "r0"]
    assert report(one_rater, n_resamples=50)["ci_low"].isna().all()  # one rater: no interval
    out = report(frame, n_resamples=200, seed=2)
    assert (out["ci_high"] - out["ci_low"] > 0.05).all()


def test_conditions_never_compared_with_each_other_are_refused() -> None:
    frame = pd.DataFrame(
        {
            "rater": ["r", "s"],
            "item": ["p", "p"],
            "a": ["x", "u"],
            "b": ["y", "v"],
            "choice": ["a", "b"],
        }
    )
    with pytest.raises(ValueError, match="never compared with each other"):
        report(frame)


def best_frame() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    worth = np.array([0.0, 0.7, -0.5])
    names = ["10 steps", "25 steps", "50 steps"]
    rows = []
    for rater, item in itertools.product(range(6), range(5)):
        picked = rng.choice(3, p=np.exp(worth) / np.exp(worth).sum())
        for k, name in enumerate(names):
            rows.append((f"r{rater}", f"i{item}", name, k == picked, float(k)))
    return pd.DataFrame(rows, columns=["rater", "item", "steps", "best", "score"])


def test_best_pick_strengths_are_choixs_luce_top1() -> None:
    frame = best_frame()
    frame.loc[frame["item"] == "i4", "best"] = False  # an item nobody picked in: no observation
    out = report(frame, "steps", design="best", n_resamples=100)
    code = {"10 steps": 0, "25 steps": 1, "50 steps": 2}
    data = []
    for _, shown in frame.groupby(["rater", "item"]):
        if shown["best"].any():
            winner = code[shown[shown["best"]]["steps"].iloc[0]]
            data.append((winner, [code[s] for s in shown[~shown["best"]]["steps"]]))
    expected = choix.ilsr_top1(3, data, alpha=RIDGE)
    assert out["strength"].to_numpy() == pytest.approx(expected, abs=1e-6)
    assert out["picks"].sum() == 24 and (out["shown"] == 24).all()
    assert out.index.name == "steps"
    assert (out["ci_low"] <= out["strength"]).all() and (out["strength"] <= out["ci_high"]).all()


def test_a_review_board_frame_reads_as_it_is() -> None:
    """Review.to_frame(): the table joined with verdicts (nullable dtypes, a row with no rater
    for a task nobody rated); `by` and `item` name the board's columns."""
    frame = pd.DataFrame(
        {
            "prompt": ["rain", "rain", "wind", "wind", "rain", "wind", "wind"],
            "seed": pd.array([1, 2, 1, 2, 1, 1, 2], dtype="Int64"),
            "task_id": ["t1", "t2", "t3", "t4", "t1", "t3", "t5"],
            "rater": pd.array(["ada", "ada", "ada", "ada", "ben", "ben", None], dtype="string"),
            "score": pd.array([4, 2, 5, 3, 3, 4, None], dtype="Float64"),
            "best": pd.array([True, False, True, False, False, False, None], dtype="boolean"),
        }
    )
    out = report(frame, "seed", item="prompt", n_resamples=100)
    assert out.loc[1, "verdicts"] == 4 and out.loc[1, "mean"] == pytest.approx(4.0)
    assert out.loc[2, "raters"] == 1
    picks = report(frame, "seed", item="prompt", design="best", n_resamples=50)
    assert picks["picks"].to_dict() == {1: 2, 2: 0}
