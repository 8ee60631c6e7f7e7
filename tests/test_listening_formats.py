"""read_results on files written exactly as webMUSHRA (service/write.php) and BeaqleJS
(js/beaqle.js) write them: tests/data/webmushra and tests/data/beaqlejs."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pandas as pd
import pytest

from qubico_nb import read_results
from qubico_nb.listening import report

DATA = Path(__file__).resolve().parent / "data"
WEBMUSHRA = DATA / "webmushra" / "listening_demo"
BEAQLEJS = DATA / "beaqlejs"
ADA = "0f8e5b7c-1d2a-4c3e-9b10-aa0000000001"


def test_webmushra_mushra_csv_becomes_a_scores_frame() -> None:
    frame = read_results(WEBMUSHRA / "mushra.csv")
    assert list(frame.columns[:4]) == ["rater", "item", "condition", "score"]
    assert len(frame) == 16
    assert set(frame["rater"]) == {ADA, "5c2d9a41-77e0-4f7a-8c2b-bb0000000002"}
    ada_trial1 = frame[(frame["rater"] == ADA) & (frame["item"] == "trial1")]
    assert dict(zip(ada_trial1["condition"], ada_trial1["score"], strict=True)) == {
        "reference": 100.0,
        "C1": 72.0,
        "C2": 55.0,
        "anchor35": 12.0,
    }
    # the questionnaire's fields and the tool's columns come along
    assert set(frame["email"]) == {"ada@example.org", "ben@example.org"}
    assert frame["test"].unique().tolist() == ["listening_demo"]
    assert frame["time"].iloc[0] == 41230.0
    quoted = frame[(frame["item"] == "trial2") & (frame["condition"] == "reference")]
    assert quoted["comment"].iloc[0] == 'C2 sounds "metallic", too bright'
    assert frame.attrs["source"] == "webmushra"


def test_a_questionnaire_field_can_name_the_rater() -> None:
    frame = read_results(WEBMUSHRA / "mushra.csv", rater="email")
    assert set(frame["rater"]) == {"ada@example.org", "ben@example.org"}
    with pytest.raises(ValueError, match="no column 'phone'"):
        read_results(WEBMUSHRA / "mushra.csv", rater="phone")


def test_a_questionnaire_field_named_like_ours_is_kept_apart(tmp_path: Path) -> None:
    text = (WEBMUSHRA / "mushra.csv").read_text().replace(",gender,", ",score,", 1)
    (tmp_path / "mushra.csv").write_text(text)
    frame = read_results(tmp_path / "mushra.csv")
    assert frame["score"].iloc[0] == 100.0
    assert frame["participant_score"].iloc[0] == "female"


def test_webmushra_likert_scores_are_unpadded_and_na_is_missing() -> None:
    frame = read_results(WEBMUSHRA / "lms.csv", rater="email")
    ada = frame[frame["rater"] == "ada@example.org"]
    assert ada["score"].iloc[:2].tolist() == [4.0, 2.0]
    assert math.isnan(ada["score"].iloc[2])
    assert report(frame).loc["C3", "verdicts"] == 1  # the NA is a missing verdict, not a zero


def test_webmushra_files_without_a_session_need_a_rater_field() -> None:
    with pytest.raises(ValueError, match=r"no session_uuid.*rater=.*its fields: email"):
        read_results(WEBMUSHRA / "lms.csv")


def test_webmushra_likert_words_map_through_values(tmp_path: Path) -> None:
    text = (WEBMUSHRA / "lms.csv").read_text().replace('" 4 "', '" good "')
    (tmp_path / "lms.csv").write_text(text)
    with pytest.raises(ValueError, match=r"not numbers \('good'\).*values="):
        read_results(tmp_path / "lms.csv", rater="email")
    frame = read_results(tmp_path / "lms.csv", rater="email", values={"good": 4})
    assert frame["score"].iloc[0] == 4.0


def test_webmushra_paired_comparison_is_refused_as_a_detection_test() -> None:
    with pytest.raises(ValueError, match="detection test, not a preference"):
        read_results(WEBMUSHRA / "paired_comparison.csv")


def test_webmushra_bs1116_gives_the_reference_and_the_condition_a_row_each(
    tmp_path: Path,
) -> None:
    (tmp_path / "bs1116.csv").write_text(
        "session_test_id,email,trial_id,rating_reference,rating_non_reference,"
        "rating_reference_score,rating_non_reference_score,rating_time,choice_comment\n"
        "t,ada@example.org,b1,reference,C1,5,3.4,20012,\n"
    )
    frame = read_results(tmp_path / "bs1116.csv", rater="email")
    assert frame[["condition", "score"]].values.tolist() == [["reference", 5.0], ["C1", 3.4]]


def test_a_folder_is_searched_for_files_of_the_format(tmp_path: Path) -> None:
    (tmp_path / "test_a").mkdir()
    (tmp_path / "test_a" / "mushra.csv").write_bytes((WEBMUSHRA / "mushra.csv").read_bytes())
    (tmp_path / "notes.md").write_text("not results")
    assert len(read_results(tmp_path)) == 16
    assert len(read_results([WEBMUSHRA / "mushra.csv", tmp_path / "test_a"])) == 32


def test_beaqlejs_mushra_results_become_a_scores_frame() -> None:
    frame = read_results(BEAQLEJS / "mushra")
    assert set(frame["rater"]) == {"ada", "bob"}
    assert sorted(frame["item"].unique()) == ["id1_1", "id1_2"]  # id2_1 was not run
    ada = frame[(frame["rater"] == "ada") & (frame["item"] == "id1_1")]
    assert dict(zip(ada["condition"], ada["score"], strict=True)) == {
        "1": 71.0,
        "2": 48.0,
        "3": 90.0,
        "4": 15.0,
        "Reference": 100.0,
    }
    assert ada["audio"].tolist()[-1] == "audio/schubert_ref.wav"
    assert ada["comment"].iloc[0] == "headphones"
    assert frame.attrs["source"] == "beaqlejs"


def test_beaqlejs_preference_maps_buttons_back_to_files() -> None:
    frame = read_results(BEAQLEJS / "preference")
    cy = frame[frame["rater"] == "cy"].set_index("item")
    # p1: button A played file A and was chosen; p2: button A played file B and was chosen.
    assert cy.loc["p1", "choice"] == "a"
    assert cy.loc["p2", "choice"] == "b"
    assert pd.isna(cy.loc["p3", "choice"])  # not answered
    dee = frame[frame["rater"] == "dee"].set_index("item")
    assert dee.loc["p1", "choice"] == "a"  # button B played file A
    assert report(frame, n_resamples=50).loc["A", "wins"] == 3


def test_beaqlejs_rater_falls_back_to_email_then_file(tmp_path: Path) -> None:
    entry = {"TestID": "t1", "Runtime": 1, "rating": {"1": 50, "Reference": 100}}
    anonymous = tmp_path / "20260301-1200__abc.txt"
    anonymous.write_text(json.dumps([entry, {"UserName": "", "UserEmail": "", "UserComment": ""}]))
    by_email = tmp_path / "by_email.json"
    by_email.write_text(json.dumps([entry, {"UserName": "", "UserEmail": "e@x.org"}]))
    frame = read_results([anonymous, by_email])
    assert set(frame["rater"]) == {"20260301-1200__abc", "e@x.org"}


def test_one_name_in_several_files_is_pooled_with_a_warning(tmp_path: Path) -> None:
    source = next((BEAQLEJS / "mushra").glob("*ada*"))
    for name in ("one.txt", "two.txt"):
        (tmp_path / name).write_bytes(source.read_bytes())
    with pytest.warns(UserWarning, match=r"'ada' \(2 files\).*rater='file'"):
        read_results(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert set(read_results(tmp_path, rater="file")["rater"]) == {"one", "two"}


def test_beaqlejs_abx_results_are_refused(tmp_path: Path) -> None:
    (tmp_path / "abx.txt").write_text('[true,false,{"UserName":"x"}]')
    with pytest.raises(ValueError, match=r"ABX.*detection test"):
        read_results(tmp_path / "abx.txt")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.json", "[{", "not JSON"),
        ("object.json", '{"TestID": "x"}', "a JSON array"),
        ("empty.json", '[{"UserName": "x"}]', "no rated or preferred test set"),
        ("other.csv", "a,b\n1,2\n", "not a webMUSHRA rating results file"),
    ],
)
def test_files_that_are_not_results_are_refused(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(ValueError, match=message):
        read_results(tmp_path / name)


def test_paths_and_formats_are_checked(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such results file"):
        read_results(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="no results file"):
        read_results(tmp_path)
    (tmp_path / "results.dat").write_text("x")
    with pytest.raises(ValueError, match=r"cannot tell the format of results\.dat"):
        read_results(tmp_path / "results.dat")
    with pytest.raises(ValueError, match="format must be"):
        read_results(tmp_path / "results.dat", format="mushra")
    with pytest.raises(ValueError, match="both formats"):
        read_results([WEBMUSHRA / "mushra.csv", next((BEAQLEJS / "mushra").iterdir())])
    with pytest.raises(ValueError, match="mix rating and preference"):
        read_results([BEAQLEJS / "mushra", BEAQLEJS / "preference"])
