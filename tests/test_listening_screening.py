"""screen_raters(): ITU-R BS.1534-3 post-screening and the leave-one-out correlation rule."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from qubico_nb.listening import report, screen_raters


def mushra(reference_scores: dict[str, list[float]], anchor: float = 20.0) -> pd.DataFrame:
    """Raters x items, the hidden reference scored as given, a condition and a mid anchor."""
    rows = []
    for rater, refs in reference_scores.items():
        for i, ref in enumerate(refs):
            rows += [
                (rater, f"t{i}", "reference", ref),
                (rater, f"t{i}", "C1", 60.0),
                (rater, f"t{i}", "anchor70", anchor),
            ]
    return pd.DataFrame(rows, columns=["rater", "item", "condition", "score"])


def test_reference_below_90_in_more_than_15_percent_of_items_excludes() -> None:
    frame = mushra(
        {
            "keeps": [100.0] * 19 + [80.0],  # 1 of 20 = 5%
            "edge": [100.0] * 17 + [80.0] * 3,  # 3 of 20 = 15%: not more than 15%
            "drops": [100.0] * 16 + [89.9] * 4,  # 4 of 20 = 20%
        }
    )
    out = screen_raters(frame, reference="reference")
    assert out["reference_below_90"].to_dict() == {"drops": 4, "edge": 3, "keeps": 1}
    assert out["excluded"].to_dict() == {"drops": True, "edge": False, "keeps": False}
    assert out.loc["drops", "share"] == pytest.approx(0.2)
    assert "4 of 20 items" in out.loc["drops", "reason"]
    excluded = list(out.index[out["excluded"]])
    assert report(frame, exclude=excluded, n_resamples=50)["raters"].eq(2).all()
    assert report(frame, exclude=out, n_resamples=50)["raters"].eq(2).all()


def test_mid_anchor_above_90_also_excludes() -> None:
    frame = mushra({"fair": [100.0] * 10, "lenient": [100.0] * 10})
    frame.loc[(frame["rater"] == "lenient") & (frame["condition"] == "anchor70"), "score"] = 95.0
    out = screen_raters(frame, reference="reference", anchor="anchor70")
    assert out["excluded"].to_dict() == {"fair": False, "lenient": True}
    assert out.loc["lenient", "anchor_above_90"] == 10
    assert "mid anchor above 90" in out.loc["lenient", "reason"]


def test_a_named_condition_must_exist() -> None:
    with pytest.raises(ValueError, match=r"no score of the condition 'ref'.*'reference'"):
        screen_raters(mushra({"a": [100.0]}), reference="ref")


def crowd(seed: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = rng.normal(0, 1, (12, 3))
    rows = []
    for r, i, c in itertools.product(range(6), range(12), range(3)):
        value = truth[i, c] + rng.normal(0, 0.4) if r < 5 else rng.normal(0, 1)
        rows.append((f"r{r}", f"i{i}", f"c{c}", float(value)))
    return pd.DataFrame(rows, columns=["rater", "item", "condition", "score"])


def test_without_a_reference_raters_are_checked_against_the_others_mean() -> None:
    frame = crowd()
    out = screen_raters(frame)
    assert out["excluded"].to_dict() == {f"r{k}": k == 5 for k in range(6)}
    mine = frame[frame["rater"] == "r5"].set_index(["item", "condition"])["score"]
    others = frame[frame["rater"] != "r5"].groupby(["item", "condition"])["score"].mean()
    expected = stats.spearmanr(mine.sort_index(), others.sort_index())[0]
    assert out.loc["r5", "correlation"] == pytest.approx(expected)
    assert out.loc["r5", "cells"] == 36
    assert "< 0.5" in out.loc["r5", "reason"]
    assert out.loc["r0", "reason"] == ""


def test_the_threshold_is_a_parameter_and_constant_raters_are_flagged() -> None:
    frame = crowd()
    assert screen_raters(frame, min_correlation=-1.0)["excluded"].sum() == 0
    frame.loc[frame["rater"] == "r0", "score"] = 3.0
    out = screen_raters(frame, min_correlation=-1.0)
    assert bool(out.loc["r0", "excluded"]) and "constant" in out.loc["r0", "reason"]


def test_correlation_screening_needs_three_raters() -> None:
    frame = crowd()
    with pytest.raises(ValueError, match="at least 3 raters; the frame has 2"):
        screen_raters(frame[frame["rater"].isin(["r0", "r1"])])
