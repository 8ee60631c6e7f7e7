"""The verdict-frame contract: column names by keyword, and errors that say what to fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qubico_nb.listening import frame as vf
from qubico_nb.listening import report


def scores_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rater": ["ada", "ada", "ben", "ben"],
            "item": ["p1", "p1", "p1", "p1"],
            "condition": [10, 25, 10, 25],
            "score": [3.0, 4.0, None, 5.0],
        }
    )


def test_scores_keep_numbers_and_drop_missing_verdicts() -> None:
    data = vf.scores(scores_frame())
    assert list(data.table.columns) == ["rater", "item", "condition", "score"]
    assert data.table["score"].tolist() == [3.0, 4.0, 5.0]
    assert data.conditions == [10, 25]


def test_columns_are_named_by_keyword() -> None:
    renamed = scores_frame().rename(
        columns={"rater": "listener", "item": "prompt", "condition": "steps", "score": "mos"}
    )
    data = vf.scores(renamed, by="steps", rater="listener", item="prompt", score="mos")
    assert data.table["score"].tolist() == [3.0, 4.0, 5.0]
    assert data.by == "steps"


def test_missing_column_names_the_keyword_that_fixes_it() -> None:
    frame = scores_frame().rename(columns={"score": "mos"})
    with pytest.raises(ValueError, match=r"no column 'score'.*it has: rater, item, condition, mos"):
        vf.scores(frame)
    with pytest.raises(ValueError, match=r"score='<your column>'"):
        vf.scores(frame)


def test_not_a_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="must be a pandas DataFrame, not list"):
        vf.scores([1, 2, 3])


def test_words_as_scores_are_refused_with_the_fix() -> None:
    frame = scores_frame().assign(score=["good", "bad", 3, None])
    with pytest.raises(ValueError, match=r"2 value\(s\) that are not numbers \('good', 'bad'\)"):
        vf.scores(frame)


def test_booleans_as_scores_point_at_the_best_column() -> None:
    frame = scores_frame().assign(score=[True, False, True, False])
    with pytest.raises(ValueError, match="best-pick column"):
        vf.scores(frame)


def test_infinite_scores_are_refused() -> None:
    frame = scores_frame().assign(score=[1.0, np.inf, 2.0, 3.0])
    with pytest.raises(ValueError, match="infinite"):
        vf.scores(frame)


def test_pandas_nullable_scores_are_read() -> None:
    frame = scores_frame().assign(score=pd.array([3, 4, None, 5], dtype="Int64"))
    assert vf.scores(frame).table["score"].tolist() == [3.0, 4.0, 5.0]


def test_rows_without_a_rater_are_refused_unless_they_hold_no_verdict() -> None:
    frame = scores_frame().assign(rater=["ada", None, "ben", "ben"])
    with pytest.raises(ValueError, match=r"1 row\(s\) have no rater"):
        vf.scores(frame)
    # a table joined with its verdicts keeps a row per unrated task: no rater, no score
    unrated = scores_frame().assign(rater=["ada", "ada", None, "ben"])
    assert vf.scores(unrated).table["rater"].tolist() == ["ada", "ada", "ben"]
    picks = pd.DataFrame(
        {
            "rater": ["ada", "ada", None],
            "item": ["p1", "p1", "p1"],
            "condition": ["x", "y", "z"],
            "best": pd.array([True, False, None], dtype="boolean"),
        }
    )
    assert vf.picks(picks).table["condition"].tolist() == ["x", "y"]


def test_no_score_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="no scores to analyse"):
        vf.scores(scores_frame().assign(score=None))


def test_exclude_drops_raters_and_refuses_unknown_names() -> None:
    assert set(vf.scores(scores_frame(), exclude=["ben"]).table["rater"]) == {"ada"}
    assert set(vf.scores(scores_frame(), exclude="ben").table["rater"]) == {"ada"}
    with pytest.raises(ValueError, match=r"not in the frame: 'bem'.*'ada', 'ben'"):
        vf.scores(scores_frame(), exclude=["bem"])


def pairs_frame(**changes: list[object]) -> pd.DataFrame:
    base: dict[str, list[object]] = {
        "rater": ["ada", "ada", "ben"],
        "item": ["p1", "p2", "p1"],
        "a": ["x", "y", "x"],
        "b": ["y", "x", "y"],
        "choice": ["a", "tie", None],
    }
    base.update(changes)
    return pd.DataFrame(base)


def test_pairs_drop_unanswered_and_check_choices() -> None:
    assert vf.pairs(pairs_frame()).table["choice"].tolist() == ["a", "tie"]
    with pytest.raises(ValueError, match=r"other than 'a', 'b' or 'tie' \('A'\)"):
        vf.pairs(pairs_frame(choice=["A", "b", "a"]))
    with pytest.raises(ValueError, match="with itself"):
        vf.pairs(pairs_frame(b=["x", "x", "y"]))


def test_a_second_best_pick_in_one_item_is_refused() -> None:
    frame = pd.DataFrame(
        {
            "rater": ["ada"] * 3,
            "item": ["p1"] * 3,
            "condition": ["x", "y", "z"],
            "best": [True, True, False],
        }
    )
    with pytest.raises(ValueError, match="rater 'ada' picked 2 cards as best in item 'p1'"):
        vf.picks(frame)


def test_best_must_be_true_or_false() -> None:
    frame = pd.DataFrame({"rater": ["a"], "item": ["p"], "condition": ["x"], "best": ["yes"]})
    with pytest.raises(ValueError, match="must hold True/False"):
        vf.picks(frame)


def test_design_follows_the_choice_column() -> None:
    assert vf.design_of(pairs_frame()) == "pairwise"
    assert vf.design_of(scores_frame()) == "scores"
    assert report(pairs_frame(), n_resamples=50).attrs["design"] == "pairwise"


def test_at_least_says_when_every_row_names_one_rater() -> None:
    with pytest.raises(ValueError, match=r"at least 2 raters; the frame has 1.*same rater"):
        vf.at_least(["ada", "ada"], 2, "agreement")
