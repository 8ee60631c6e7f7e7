"""`Review.import_verdicts` (`review_board/results.py`): result files as the exported page
writes them, checked against the test, mapped back to tasks, appended all or nothing."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qubico_nb.errors import InvalidRequestError
from qubico_nb.review_board import Review, export
from qubico_nb.review_board.results import RESULT_FORMAT

from .helpers.boards import blind_board, make_table


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return make_table(tmp_path_factory.mktemp("results-audio"), seconds=0.5).drop(columns=["video"])


def result(
    board: Review,
    rater: str,
    *,
    finished: str = "2026-12-01T10:00:00.000Z",
    answer: Any = None,
    **changes: Any,
) -> dict[str, Any]:
    """A result as the page writes it: each row's cards shown in reverse file order, each
    scored by `answer(index)` (pairwise: each pair of a row, "a" chosen)."""
    test, _ = export.build_test(board)
    trials = []
    for row in test["rows"]:
        cards = [c for c in row["cards"] if c.get("role") != "reference"][::-1]
        reference = next((c["key"] for c in row["cards"] if c.get("role") == "reference"), None)
        if board.design == "pairwise":
            for i in range(len(cards)):
                for j in range(i + 1, len(cards)):
                    trials.append(
                        {
                            "row": row["key"],
                            "shown": [cards[i]["key"], cards[j]["key"]],
                            "reference": None,
                            "answers": {
                                cards[i]["key"]: {
                                    "answers": {"choice": "a"},
                                    "rated_at": "2026-12-01T09:59:00.000Z",
                                }
                            },
                        }
                    )
            continue
        scores = answer or (lambda i: 1 + i)
        trials.append(
            {
                "row": row["key"],
                "shown": [c["key"] for c in cards],
                "reference": reference,
                "answers": {
                    c["key"]: {"score": scores(i), "rated_at": "2026-12-01T09:59:00.000Z"}
                    for i, c in enumerate(cards)
                },
            }
        )
    return {
        "format": RESULT_FORMAT,
        "version": 1,
        "test": board.test_id,
        "design": board.design,
        "scale": list(board.scale),
        "rater": rater,
        "started_at": "2026-12-01T09:50:00.000Z",
        "finished_at": finished,
        "level_match": True,
        "trials": trials,
        **changes,
    }


def write(folder: Path, name: str, data: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, "utf-8")
    return path


def test_results_come_back_as_verdicts_of_the_board_s_tasks(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    board = blind_board(table, tmp_path)
    folder = tmp_path / "results"
    write(folder, "a.json", result(board, "ann"))
    write(folder, "b.json", result(board, "bo", answer=lambda i: 5))
    summary = board.import_verdicts(folder)
    assert list(summary.columns) == ["file", "rater", "finished_at", "trials", "verdicts", "status"]
    assert list(summary["status"]) == ["imported", "imported"]
    assert list(summary["verdicts"]) == [6, 6]
    got = board.verdicts
    ann = got[got["rater"] == "ann"].set_index("task_id")
    assert set(ann.index) == set(table["task_id"])
    assert set(ann["position"]) == {"A", "B", "C"}
    assert (ann["test"] == board.test_id).all() and ann["blind"].all()
    # positions map back: the card shown first (position A) got score 1
    assert (ann.loc[ann["position"] == "A", "score"] == 1).all()
    assert board.store.read()[-1].test == board.test_id
    assert {r["rater"]: r["answered"] for r in board.raters} == {"ann": 6, "bo": 6}
    frame = board.to_frame()
    assert set(frame["rater"].dropna()) == {"ann", "bo"}
    board.close()


def test_a_file_of_another_test_is_refused_and_nothing_is_imported(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    board = blind_board(table, tmp_path)
    other = blind_board(table.iloc[:3], tmp_path / "other")
    good = write(tmp_path / "r", "good.json", result(board, "ann"))
    stray = write(tmp_path / "r", "stray.json", result(other, "bo"))
    damaged = write(tmp_path / "r", "damaged.json", '{"format": "qubico-nb/listening-res')
    with pytest.raises(InvalidRequestError) as caught:
        board.import_verdicts([good, stray, damaged])
    text = str(caught.value)
    assert "2 of 3 file(s) cannot be imported, so none was" in text
    assert "stray.json: a result of another test" in text and other.test_id in text
    assert "damaged.json: not JSON" in text
    assert board.verdicts.empty and not board.store.path.exists()
    board.close()
    other.close()


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"design": "mushra"}, "a 'mushra' test"),
        ({"scale": [0, 10]}, "scored on"),
        ({"rater": " "}, "no rater"),
        ({"finished_at": "yesterday"}, "finished_at is not a time"),
        ({"version": 2}, "version 2"),
        ({"format": "webmushra"}, "not a qubico-nb listening test result"),
    ],
)
def test_a_result_that_does_not_fit_says_why(
    table: pd.DataFrame, tmp_path: Path, change: dict[str, Any], why: str
) -> None:
    board = blind_board(table, tmp_path)
    path = write(tmp_path, "x.json", {**result(board, "ann"), **change})
    with pytest.raises(InvalidRequestError, match=why):
        board.import_verdicts(path)
    board.close()


def test_cards_and_answers_are_checked(table: pd.DataFrame, tmp_path: Path) -> None:
    board = blind_board(table, tmp_path)
    bad_score = result(board, "ann", answer=lambda i: 9)
    with pytest.raises(InvalidRequestError, match="trial 1: score 9 outside the scale"):
        board.import_verdicts(write(tmp_path, "a.json", bad_score))
    swapped = result(board, "ann")
    swapped["trials"][0]["shown"][0] = swapped["trials"][1]["shown"][0]  # a card of another row
    with pytest.raises(InvalidRequestError, match="is not a card of this test's row"):
        board.import_verdicts(write(tmp_path, "b.json", swapped))
    extra = result(board, "ann")
    extra["trials"][0]["answers"]["0123456789ab"] = {"score": 1, "rated_at": "2026-12-01T09:59:00Z"}
    with pytest.raises(InvalidRequestError, match="answers for cards not shown"):
        board.import_verdicts(write(tmp_path, "c.json", extra))
    with pytest.raises(InvalidRequestError, match="no result file or folder"):
        board.import_verdicts(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidRequestError, match=r"no result files \(\*\.json\)"):
        board.import_verdicts(tmp_path / "empty")
    board.close()


def test_the_latest_submission_of_a_rater_is_kept_and_said(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    board = blind_board(table, tmp_path)
    folder = tmp_path / "r"
    write(folder, "1.json", result(board, "ann", finished="2026-12-01T10:00:00Z"))
    late = result(board, "ann", finished="2026-12-02T10:00:00Z", answer=lambda i: 5)
    for trial in late["trials"]:
        for entry in trial["answers"].values():
            entry["rated_at"] = "2026-12-02T09:59:00Z"
    write(folder, "2.json", late)
    with pytest.warns(UserWarning, match="1 older submission"):
        summary = board.import_verdicts(folder)
    assert list(summary["status"]) == ["older submission of ann: not used", "imported"]
    assert list(board.verdicts["score"]) == [5.0] * 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = board.import_verdicts(folder / "2.json")
    assert list(again["status"]) == ["already imported"]
    assert len(board.store.read()) == 6  # nothing written twice
    board.close()


def test_pairwise_choices_land_in_both_tasks(table: pd.DataFrame, tmp_path: Path) -> None:
    board = blind_board(table, tmp_path, design="pairwise")
    board.import_verdicts(write(tmp_path, "a.json", result(board, "ann")))
    got = board.verdicts
    assert len(got) == 6 and got["position"].isna().all()
    pairs = [
        (task, other, entry)
        for task, a in zip(got["task_id"], got["answers"], strict=True)
        for other, entry in a["pairs"].items()
    ]
    assert len(pairs) == 2 * 6  # 3 pairs per row, 2 rows, each kept in both tasks
    firsts = [(t, o) for t, o, e in pairs if e["first"]]
    assert all(e["choice"] == "a" for _, _, e in pairs)
    assert len(firsts) == 6 and all((o, t) not in firsts for t, o in firsts)
    assert {r["rater"]: (r["answered"], r["total"]) for r in board.raters} == {"ann": (6, 6)}
    board.close()


def test_mushra_results_keep_the_hidden_reference_and_anchors(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    frame = table.assign(ref=table.groupby("prompt")["local_path"].transform("first"))
    board = blind_board(frame, tmp_path, design="mushra", reference="ref", anchors=("lp3.5k",))
    board.import_verdicts(
        write(tmp_path, "a.json", result(board, "ann", answer=lambda i: 20.5 * i))
    )
    ids = set(board.verdicts["task_id"])
    assert {i for i in ids if i.startswith("~")} == {
        "~reference|rain on a tin roof",
        "~reference|seagulls over waves",
        "~anchor-lp3.5k|rain on a tin roof",
        "~anchor-lp3.5k|seagulls over waves",
    }
    assert len(ids) == 6 + 4
    board.close()


def test_a_rater_with_verdicts_made_on_the_board_is_refused(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    board = blind_board(table, tmp_path)
    board.rate(table["task_id"][0], score=5)  # as "lead", in the kernel
    folder = tmp_path / "r"
    write(folder, "lead.json", result(board, " lead\u200b"))
    write(folder, "ann.json", result(board, "ann"))
    with pytest.raises(InvalidRequestError) as caught:
        board.import_verdicts(folder)
    text = str(caught.value)
    assert "1 of 2 file(s)" in text
    assert "lead.json: rater 'lead' already has verdicts given on this board; rename" in text
    assert len(board.store.read()) == 1 and set(board.verdicts["rater"]) == {"lead"}
    board.close()


def test_a_trial_with_two_best_cards_is_refused(table: pd.DataFrame, tmp_path: Path) -> None:
    board = blind_board(table, tmp_path)
    data = result(board, "ann")
    trial = data["trials"][1]
    for key in trial["shown"][:2]:
        trial["answers"][key]["best"] = True
    with pytest.raises(InvalidRequestError, match="trial 2: more than one card marked best"):
        board.import_verdicts(write(tmp_path, "a.json", data))
    assert board.verdicts.empty
    board.close()


@pytest.mark.parametrize("design", ["score", "pairwise"])
def test_a_row_answered_twice_is_refused(table: pd.DataFrame, tmp_path: Path, design: str) -> None:
    board = blind_board(table, tmp_path, design=design)
    data = result(board, "ann")
    again = json.loads(json.dumps(data["trials"][0]))
    if design == "pairwise":  # the same pair, the other way round
        again["shown"] = again["shown"][::-1]
        again["answers"] = {
            again["shown"][0]: {"answers": {"choice": "b"}, "rated_at": "2026-12-01T09:59:30Z"}
        }
    data["trials"].append(again)
    last = len(data["trials"])
    with pytest.raises(InvalidRequestError, match=f"trial {last}: the same row as trial 1"):
        board.import_verdicts(write(tmp_path, "a.json", data))
    assert board.verdicts.empty
    board.close()


def test_a_file_without_trials_is_empty(table: pd.DataFrame, tmp_path: Path) -> None:
    board = blind_board(table, tmp_path)
    summary = board.import_verdicts(write(tmp_path, "a.json", result(board, "ann", trials=[])))
    assert list(summary["status"]) == ["empty"] and list(summary["verdicts"]) == [0]
    board.close()


def test_rater_names_are_normalised_and_checked(table: pd.DataFrame, tmp_path: Path) -> None:
    board = blind_board(table, tmp_path)
    folder = tmp_path / "r"
    write(folder, "1.json", result(board, "\uff21nn"))  # fullwidth A: NFKC makes it "Ann"
    write(folder, "2.json", result(board, " Ann\u200b\x07 ", finished="2026-12-02T10:00:00Z"))
    with pytest.warns(UserWarning, match="1 older submission"):
        summary = board.import_verdicts(folder)
    assert list(summary["rater"]) == ["Ann", "Ann"]
    assert set(board.verdicts["rater"]) == {"Ann"}
    for name, why in [
        ("\u200b\x00 ", "no rater name"),
        ("a/../b", "path separator"),
        ("a\\b", "path separator"),
        (5, "no rater name"),
    ]:
        with pytest.raises(InvalidRequestError, match=why):
            board.import_verdicts(write(tmp_path, "x.json", result(board, name)))
    board.close()


def test_version_is_an_int_and_level_matching_is_the_board_s(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    board = blind_board(table, tmp_path)
    with pytest.raises(InvalidRequestError, match="version True"):
        board.import_verdicts(write(tmp_path, "v.json", result(board, "ann", version=True)))
    board.import_verdicts(write(tmp_path, "a.json", result(board, "ann", level_match=False)))
    board.import_verdicts(write(tmp_path, "b.json", result(board, "bo", level_match=True)))
    gains = board.verdicts.pivot(index="task_id", columns="rater", values="gain_db")
    assert gains["ann"].equals(gains["bo"])  # the board's gains, whatever the file says
    plain = blind_board(table, tmp_path / "plain", level_match=False)
    plain.import_verdicts(write(tmp_path, "c.json", result(plain, "ann", level_match=True)))
    assert (plain.verdicts["gain_db"] == 0.0).all()
    plain.close()
    board.close()
