"""compare_conditions() and friedman() against scipy.stats and statsmodels on fixed data."""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from qubico_nb.listening import compare_conditions, friedman


def three_conditions() -> pd.DataFrame:
    rng = np.random.default_rng(21)
    base = {"a10": 40.0, "b25": 47.0, "c50": 48.0}
    rows = []
    lean = rng.normal(0, 8, 5)
    for r, i in itertools.product(range(5), range(9)):
        for condition, level in base.items():
            rows.append((f"r{r}", f"i{i}", condition, level + lean[r] + rng.normal(0, 6)))
    frame = pd.DataFrame(rows, columns=["rater", "item", "steps", "score"])
    frame.loc[3, "score"] = None  # a missing verdict
    return frame


def per_item_differences(frame: pd.DataFrame, x: str, y: str) -> np.ndarray:
    wide = frame.pivot_table(index=["rater", "item"], columns="steps", values="score")
    both = wide[[x, y]].dropna()
    return (both[x] - both[y]).groupby(level="item").mean().to_numpy()


def test_each_pair_is_scipys_wilcoxon_over_items_with_holm() -> None:
    frame = three_conditions()
    out = compare_conditions(frame, "steps")
    assert out[["a", "b"]].values.tolist() == [["a10", "b25"], ["a10", "c50"], ["b25", "c50"]]
    expected_p = []
    for row in out.itertuples():
        d = per_item_differences(frame, row.a, row.b)
        test = stats.wilcoxon(d)
        assert row.units == 9
        assert row.statistic == pytest.approx(test.statistic)
        assert row.p == pytest.approx(test.pvalue)
        assert row.difference == pytest.approx(d.mean())
        expected_p.append(test.pvalue)
    assert out["p_holm"].to_numpy() == pytest.approx(multipletests(expected_p, method="holm")[1])
    assert out["significant"].tolist() == (out["p_holm"] < 0.05).tolist()
    first = out.iloc[0]
    assert first["direction"] == "a < b" and first["effect"] < 0


def test_effect_is_the_matched_pairs_rank_biserial_correlation() -> None:
    """Kerby (2014): T+ and T- are the rank sums of positive and negative differences;
    r = (T+ - T-) / (T+ + T-). Here |d| ranks 1..6, the negatives rank 2 and 4: r = 9/21."""
    d = [1.0, -2.0, 3.0, -4.0, 5.0, 6.0]
    frame = pd.DataFrame(
        {
            "rater": ["r"] * 12,
            "item": [f"i{k}" for k in range(6)] * 2,
            "condition": ["x"] * 6 + ["y"] * 6,
            "score": [10.0 + v for v in d] + [10.0] * 6,
        }
    )
    out = compare_conditions(frame)
    t_plus, t_minus = 1 + 3 + 5 + 6, 2 + 4
    assert out["effect"].iloc[0] == pytest.approx((t_plus - t_minus) / (t_plus + t_minus))
    assert out["direction"].iloc[0] == "a > b"


def test_unit_rater_pairs_per_rater() -> None:
    frame = three_conditions()
    out = compare_conditions(frame, "steps", unit="rater")
    wide = frame.pivot_table(index=["rater", "item"], columns="steps", values="score")
    both = wide[["a10", "c50"]].dropna()
    d = (both["a10"] - both["c50"]).groupby(level="rater").mean().to_numpy()
    row = out[(out["a"] == "a10") & (out["b"] == "c50")].iloc[0]
    assert row["units"] == 5
    assert row["p"] == pytest.approx(stats.wilcoxon(d).pvalue)
    with pytest.raises(ValueError, match="unit must be"):
        compare_conditions(frame, "steps", unit="verdict")  # type: ignore[arg-type]


def test_friedman_is_scipys_over_complete_items() -> None:
    frame = three_conditions()
    out = compare_conditions(frame, "steps")
    per_item = frame.pivot_table(index="item", columns="steps", values="score")
    expected = stats.friedmanchisquare(*(per_item[c] for c in ("a10", "b25", "c50")))
    assert out.attrs["friedman"]["p"] == pytest.approx(expected.pvalue)
    table = friedman(frame, "steps")
    assert table.loc[0, "statistic"] == pytest.approx(expected.statistic)
    assert table.loc[0, "units"] == 9 and table.loc[0, "conditions"] == 3
    with pytest.raises(ValueError, match="three conditions or more"):
        friedman(frame[frame["steps"] != "c50"], "steps")


def test_two_conditions_have_no_friedman() -> None:
    frame = three_conditions()
    out = compare_conditions(frame[frame["steps"] != "c50"], "steps")
    assert len(out) == 1 and "friedman" not in out.attrs


def test_identical_scores_give_no_p_and_no_direction() -> None:
    frame = pd.DataFrame(
        {
            "rater": ["r"] * 4,
            "item": ["i", "j"] * 2,
            "condition": ["x", "x", "y", "y"],
            "score": [3.0, 4.0, 3.0, 4.0],
        }
    )
    row = compare_conditions(frame).iloc[0]
    assert math.isnan(row["p"]) and math.isnan(row["p_holm"])
    assert row["direction"] == "a = b" and not row["significant"]


def test_pairwise_choices_test_each_items_preference() -> None:
    rows = []
    for r, i in itertools.product(range(4), range(7)):
        choice = "a" if (r + i) % 4 else ("tie" if i % 2 else "b")
        first, second = ("x", "y") if (r + i) % 2 else ("y", "x")
        if first == "y":
            choice = {"a": "b", "b": "a", "tie": "tie"}[choice]
        rows.append((f"r{r}", f"i{i}", first, second, choice))
    frame = pd.DataFrame(rows, columns=["rater", "item", "a", "b", "choice"])
    out = compare_conditions(frame)
    vote = frame["choice"].map({"a": 1.0, "b": -1.0, "tie": 0.0})
    x_first = frame["a"] == "x"
    preference = vote.where(x_first, -vote).groupby(frame["item"]).mean().to_numpy()
    row = out.iloc[0]
    assert (row["a"], row["b"]) == ("x", "y")
    assert row["p"] == pytest.approx(stats.wilcoxon(preference).pvalue)
    assert row["direction"] == "a > b"
    assert math.isnan(row["mean_a"])


def test_without_statsmodels_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "statsmodels.stats.multitest", None)
    with pytest.raises(
        ImportError, match=r"compare_conditions needs statsmodels.*qubico-nb\[stats\]"
    ):
        compare_conditions(three_conditions(), "steps")
