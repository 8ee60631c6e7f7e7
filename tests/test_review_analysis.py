"""The board's analysis methods: several raters' verdicts written straight to the store, the
board's frames built from them, and each figure equal to `qubico_nb.listening` on a frame
written out by hand (the maths is tested against the libraries in tests/test_listening_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qubico_nb import listening, review
from qubico_nb.errors import InvalidRequestError
from qubico_nb.review_board import Review
from qubico_nb.review_board.board import synthetic_id
from qubico_nb.store.verdicts import Verdict, VerdictStore

from .helpers.boards import make_table, wav

PROMPTS = ["rain", "wind", "waves", "birds"]
SEEDS = [11, 22, 33]
RATERS = ["ann", "bob", "cy", "dee"]
#: What each seed's generation cost (the table's ``cost_usd``).
COST = {11: 0.01, 22: 0.02, 33: 0.04}


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("analysis")
    out = make_table(folder, PROMPTS, SEEDS, seconds=0.5)
    out["cost_usd"] = out["seed"].map(COST)
    out["ref"] = out["prompt"].map(
        {p: str(wav(folder / f"ref{n}.wav", 330.0, 0.4, 0.5)) for n, p in enumerate(PROMPTS)}
    )
    return out


def task(table: pd.DataFrame, prompt: str, seed: int) -> str:
    return str(table.loc[(table["prompt"] == prompt) & (table["seed"] == seed), "task_id"].iloc[0])


def score_of(rater: str, prompt: str, seed: int) -> float:
    """Scores where seed 33 is best, 11 worst, with each rater's leniency and a wobble by item;
    "dee" hears it the other way round (the rater screening should find)."""
    if rater == "dee":
        return {11: 4.0, 22: 3.0, 33: 2.0}[seed] + PROMPTS.index(prompt) % 2
    base = {11: 2.0, 22: 3.0, 33: 4.0}[seed]
    lift = {"ann": 0.0, "bob": 1.0, "cy": -1.0}[rater]
    wobble = (PROMPTS.index(prompt) + seed) % 2 * 0.5
    return float(min(5.0, max(1.0, base + lift + wobble)))


def board_with(
    table: pd.DataFrame, tmp_path: Path, verdicts: list[Verdict], **options: Any
) -> Review:
    store = tmp_path / "analysis.verdicts.jsonl"
    VerdictStore(store).append_many(verdicts)
    board = review(table, store=store, rater="ann", **options)
    assert board.wait(30)
    return board


@pytest.fixture
def scored(table: pd.DataFrame, tmp_path: Path) -> tuple[Review, pd.DataFrame]:
    """A score board with four raters' verdicts, and the verdict frame written by hand."""
    verdicts, rows = [], []
    for rater in RATERS:
        for prompt in PROMPTS:
            best = max(SEEDS, key=lambda s: (score_of(rater, prompt, s), s))
            for seed in SEEDS:
                score = score_of(rater, prompt, seed)
                verdicts.append(
                    Verdict(
                        task_id=task(table, prompt, seed),
                        rater=rater,
                        score=score,
                        best=seed == best,
                    )
                )
                rows.append(
                    {
                        "rater": rater,
                        "prompt": prompt,
                        "seed": seed,
                        "score": score,
                        "best": seed == best,
                    }
                )
    return board_with(table, tmp_path, verdicts), pd.DataFrame(rows)


def test_report_is_listenings_report_of_the_boards_frame_with_costs(scored: Any) -> None:
    board, by_hand = scored
    out = board.report()
    expected = listening.report(by_hand, "seed", item="prompt")
    pd.testing.assert_frame_equal(
        out.drop(columns=["cost_usd", "mean_usd"]),
        expected,
        check_dtype=False,
        check_index_type=False,
    )
    assert out.index.name == "seed" and list(out.index) == SEEDS
    assert out["raters"].tolist() == [4, 4, 4] and out["items"].tolist() == [4, 4, 4]
    assert out["cost_usd"].tolist() == pytest.approx([0.04, 0.08, 0.16])  # four tasks each
    assert out["mean_usd"].tolist() == pytest.approx([0.01, 0.02, 0.04])
    assert out.attrs["test"].startswith("absolute category rating: a score from 1 to 5")
    pd.testing.assert_frame_equal(
        board.report(exclude=["dee"]).drop(columns=["cost_usd", "mean_usd"]),
        listening.report(by_hand, "seed", item="prompt", exclude=["dee"]),
        check_dtype=False,
        check_index_type=False,
    )


def test_best_picks_count_every_card_shown(scored: Any) -> None:
    board, by_hand = scored
    out = board.report(best=True, n_resamples=200)
    expected = listening.report(by_hand, "seed", item="prompt", design="best", n_resamples=200)
    pd.testing.assert_frame_equal(
        out.drop(columns=["cost_usd", "mean_usd"]),
        expected,
        check_dtype=False,
        check_index_type=False,
    )
    assert out["shown"].tolist() == [16, 16, 16]  # four raters x four rows, each card


def test_compare_agreement_and_screening_read_the_same_frame(scored: Any) -> None:
    board, by_hand = scored
    compared = board.compare_conditions()
    pd.testing.assert_frame_equal(
        compared, listening.compare_conditions(by_hand, "seed", item="prompt"), check_dtype=False
    )
    assert len(compared) == 3 and "friedman" in compared.attrs
    agreement = board.agreement(n_resamples=100)
    pd.testing.assert_frame_equal(
        agreement, listening.agreement(by_hand, "seed", item="prompt", n_resamples=100)
    )
    screened = board.screen_raters()
    assert (
        screened.loc["dee", "excluded"] and not screened.loc[["ann", "bob", "cy"], "excluded"].any()
    )
    assert board.report(exclude=screened)["raters"].tolist() == [3, 3, 3]


def test_plot_saves_what_report_says(scored: Any, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    board, _ = scored
    figure = board.plot(path=tmp_path / "scores.svg")
    svg = (tmp_path / "scores.svg").read_text()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert figure.axes and figure.axes[0].get_title() == board.name


def test_a_mushra_board_reports_its_hidden_reference_and_anchors_and_screens_by_them(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    hidden, anchor = "hidden reference", "anchor lp7k"
    verdicts, rows = [], []
    for n, rater in enumerate(RATERS):
        for p, prompt in enumerate(PROMPTS):
            # "cy" misses the hidden reference in 2 of 4 rows (50% > 15%): excluded
            marks = {
                hidden: 70.0 if rater == "cy" and p < 2 else 95.0 + n,
                anchor: 40.0 + 5 * n,
                **{seed: 20.0 * (1 + SEEDS.index(seed)) + n + p for seed in SEEDS},
            }
            for condition, score in marks.items():
                task_id = (
                    synthetic_id("reference", prompt)
                    if condition == hidden
                    else synthetic_id("anchor-lp7k", prompt)
                    if condition == anchor
                    else task(table, prompt, int(condition))
                )
                verdicts.append(Verdict(task_id=task_id, rater=rater, score=score))
                rows.append({"rater": rater, "prompt": prompt, "seed": condition, "score": score})
    board = board_with(
        table, tmp_path, verdicts, design="mushra", reference="ref", anchors=("lp3.5k", "lp7k")
    )
    frame = board.to_frame()
    assert set(frame["seed"]) == {11, 22, 33, hidden, anchor}
    assert frame.loc[frame["seed"] == hidden, "prompt"].tolist() == PROMPTS * 4
    by_hand = pd.DataFrame(rows)
    out = board.report()
    expected = listening.report(by_hand, "seed", item="prompt")
    pd.testing.assert_frame_equal(
        out.drop(columns=["cost_usd", "mean_usd"]).sort_index(key=lambda i: i.astype(str)),
        expected.sort_index(key=lambda i: i.astype(str)),
        check_dtype=False,
        check_index_type=False,
    )
    assert out["cost_usd"].isna().tolist() == [False, False, False, True, True]
    assert "ITU-R BS.1534-3" in out.attrs["test"] and "anchor lp3.5k" in out.attrs["test"]
    screened = board.screen_raters()
    assert screened["excluded"].to_dict() == {"ann": False, "bob": False, "cy": True, "dee": False}
    assert screened.loc["cy", "reference_below_90"] == 2 and "anchor_above_90" in screened
    assert board.report(exclude=screened).loc[hidden, "raters"] == 3


def test_a_reference_free_mushra_test_says_so(table: pd.DataFrame, tmp_path: Path) -> None:
    verdicts = [
        Verdict(task_id=task(table, prompt, seed), rater=rater, score=10.0 * seed / 11 + n)
        for n, rater in enumerate(RATERS)
        for prompt in PROMPTS
        for seed in SEEDS
    ]
    board = board_with(table, tmp_path, verdicts, design="mushra")
    out = board.report()
    assert out.attrs["test"].startswith("MUSHRA-style, reference-free")
    assert list(out.index) == SEEDS
    assert "correlation" in board.screen_raters().columns  # screened by agreement instead


def test_a_pairwise_board_reports_bradley_terry_over_one_row_per_pair(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    board = board_with(table, tmp_path, [], design="pairwise")
    rows = []
    for rater in RATERS[:3]:
        for prompt in PROMPTS:
            for low, high in ((11, 22), (11, 33), (22, 33)):
                # the higher seed wins, but "cy" hears 11 and 22 as the same
                choice = "tie" if rater == "cy" and (low, high) == (11, 22) else "b"
                board.choose(
                    task(table, prompt, low), task(table, prompt, high), choice, rater=rater
                )
                rows.append(
                    {"rater": rater, "prompt": prompt, "a": low, "b": high, "choice": choice}
                )
    frame = board.to_frame()
    assert list(frame.columns) == [
        "rater",
        "prompt",
        "a",
        "b",
        "a_task_id",
        "b_task_id",
        "choice",
        "rated_at",
    ]
    by_hand = pd.DataFrame(rows)

    def outcomes(pairs: pd.DataFrame) -> list[tuple[str, str, tuple[int, ...], object]]:
        """Each judgement with its winner, whichever order the pair was heard in."""
        won = {"a": "a", "b": "b"}
        return sorted(
            (
                r.rater,
                r.prompt,
                tuple(sorted((r.a, r.b))),
                r[won[r.choice]] if r.choice in won else "tie",
            )
            for r in pairs.itertuples(index=False)
            for r in [pd.Series(r._asdict())]
        )

    assert len(frame) == 36 and outcomes(frame) == outcomes(by_hand)
    out = board.report(n_resamples=200)
    expected = listening.report(by_hand, item="prompt", n_resamples=200)
    pd.testing.assert_frame_equal(
        out.drop(columns=["cost_usd", "mean_usd"]), expected, check_dtype=False, check_names=False
    )
    assert out.index.name == "seed" and out.loc[33, "wins"] == 24 and out.loc[11, "ties"] == 4
    assert "'no preference'" in out.attrs["test"]
    compared = board.compare_conditions()
    assert len(compared) == 3
    assert board.agreement(n_resamples=50).loc[0, "level_of_measurement"] == "nominal"
    with pytest.raises(InvalidRequestError, match="pairwise test has none"):
        board.screen_raters()
    with pytest.raises(InvalidRequestError, match="no scores to summarize"):
        board.summary()
    assert len(board.to_frame(rater="bob")) == 12


def test_pairs_of_one_condition_are_left_out_with_a_warning(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    board = board_with(table, tmp_path, [], design="pairwise")
    for rater in RATERS[:2]:
        board.choose(task(table, "rain", 11), task(table, "rain", 22), "a", rater=rater)
    same = "2 judged pair.s. compare two cards with the same steps"
    with (
        pytest.warns(UserWarning, match=same),
        pytest.raises(InvalidRequestError, match="no pairwise choices"),
    ):
        board.report(by="steps")  # every task has steps=20


def test_analysis_asks_clearly_for_what_it_needs(
    scored: Any, table: pd.DataFrame, tmp_path: Path
) -> None:
    board, _ = scored
    with pytest.raises(InvalidRequestError, match="no column 'colour' to compare by"):
        board.report(by="colour")
    two = [
        Verdict(task_id=task(table, prompt, seed), rater=rater, score=3.0)
        for rater in RATERS[:2]
        for prompt in PROMPTS
        for seed in SEEDS
    ]
    (tmp_path / "two").mkdir()
    with pytest.raises(InvalidRequestError, match="needs at least 3 raters; the frame has 2"):
        board_with(table, tmp_path / "two", two).screen_raters()
    mushra = review(table, store=tmp_path / "m.jsonl", rater="ann", design="mushra")
    with pytest.raises(InvalidRequestError, match="best picks belong to design='score'"):
        mushra.report(best=True)
