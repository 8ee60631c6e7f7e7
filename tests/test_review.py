"""The review board's kernel side: layout, blind state, verdicts through rate() and through the
board's messages, restore after a restart, frames and summary arithmetic, the static view."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qubico_nb import Review, review
from qubico_nb.batch import tabulate_tasks
from qubico_nb.errors import InvalidRequestError
from qubico_nb.review_board import stats
from qubico_nb.sandbox import Sandbox
from qubico_nb.store.verdicts import VerdictStore

from .helpers.sandbox import client_for

VIDEO = "https://cdn.example.com/clips/beach.mp4"
PROMPTS = ["rain on a tin roof", "seagulls over waves"]
SEEDS = [11, 22, 33]


@pytest.fixture(autouse=True)
def _private_file_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The board fetches through the on-disk file cache: keep it out of the real home."""
    monkeypatch.setenv("QUBICO_NB_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Any, pd.DataFrame]]:
    with Sandbox(preset="instant", audio_seconds=1.0) as sb:
        client = client_for(sb)
        tasks = [
            client.generate_audio(VIDEO, prompt, seed=seed, steps=20)
            for prompt in PROMPTS
            for seed in SEEDS
        ]
        tasks = [client.wait(task, timeout=30) for task in tasks]
        yield client, tabulate_tasks(tasks, client=client, progress=False)


def make(world: tuple[Any, pd.DataFrame], tmp_path: Path, **options: Any) -> Review:
    client, table = world
    options.setdefault("store", tmp_path / "board.verdicts.jsonl")
    options.setdefault("rater", "ann")
    return review(options.pop("frame", table), client=client, **options)


def synced_text(board: Review) -> str:
    state = board.get_state()
    return json.dumps({k: v for k, v in state.items() if k not in ("_esm", "_css")})


def test_one_row_per_prompt_one_card_per_seed_with_waveforms(world: Any, tmp_path: Path) -> None:
    board = make(world, tmp_path)
    assert [row["label"] for row in board.rows] == [f"prompt: {p}" for p in PROMPTS]
    for row in board.rows:
        assert row["video"] is True  # the video travels as a message, not as a URL in state
        assert [card["label"] for card in row["cards"]] == [
            f"{letter} · seed {seed}" for letter, seed in zip("ABC", SEEDS, strict=True)
        ]
        for card in row["cards"]:
            assert card["status"] == "ready"
            assert card["duration"] == pytest.approx(1.0, abs=0.01)
            from qubico_nb.audio import decode_peaks

            peaks = decode_peaks(card["peaks"])
            assert 0 < len(peaks) <= 160 and peaks[:, 1].max() > 10  # a real, audible waveform


def test_blind_state_names_nothing_until_reveal(world: Any, tmp_path: Path) -> None:
    _, table = world
    board = make(world, tmp_path, blind=True, shuffle_seed=5)
    secrets = [
        *PROMPTS,
        *table["task_id"],
        *[u.rsplit("/", 1)[-1] for u in table["audio_url"]],
        "seed",
        "steps",
        "prompt",
        "beach.mp4",
    ]
    exposed = [
        synced_text(board),
        board.to_html(),
        repr(board),
        json.dumps(board._repr_mimebundle_()[0]),
    ]
    for text in exposed:
        for secret in secrets:
            assert secret not in text, secret
    assert [c["label"] for c in board.rows[0]["cards"]] == ["A", "B", "C"]
    assert board.rate(table["task_id"][0], score=2).blind
    board.reveal()
    assert PROMPTS[0] in synced_text(board) and table["task_id"][0] in synced_text(board)
    assert not board.rate(table["task_id"][0], score=3).blind  # judged knowing what it is


def test_blind_order_is_shuffled_by_a_recorded_seed(world: Any, tmp_path: Path) -> None:
    orders = set()
    for seed in range(6):
        board = make(world, tmp_path, blind=True, shuffle_seed=seed)
        orders.add(tuple(card.task_id for card in board._rows[0].cards))
        again = make(world, tmp_path, blind=True, shuffle_seed=seed)
        assert [c.task_id for c in again._rows[0].cards] == [
            c.task_id for c in board._rows[0].cards
        ]
    assert len(orders) > 1
    board = make(world, tmp_path, blind=True, store=tmp_path / "s.jsonl", name="s")
    board.rate(board._rows[0].cards[0].task_id, score=3)
    restored = make(world, tmp_path, blind=True, store=tmp_path / "s.jsonl", name="s")
    assert restored.shuffle_seed == board.shuffle_seed  # same letters after a restart


def test_rate_records_true_task_and_shown_position(world: Any, tmp_path: Path) -> None:
    board = make(world, tmp_path, blind=True, shuffle_seed=1)
    card = board._rows[1].cards[2]
    verdict = board.rate(card.task_id, score=4, note="tight sync")
    assert (verdict.task_id, verdict.position, verdict.blind) == (card.task_id, "C", True)
    assert board.marks[card.key] == {"score": 4.0, "best": False, "note": "tight sync"}
    line = json.loads(board.store.path.read_text().splitlines()[-1])
    assert line["task_id"] == card.task_id and line["shuffle_seed"] == 1
    board.rate(card.task_id, best=True)  # other fields keep their values
    assert board.marks[card.key] == {"score": 4.0, "best": True, "note": "tight sync"}


def test_best_is_one_per_row_and_rater(world: Any, tmp_path: Path) -> None:
    _, table = world
    board = make(world, tmp_path)
    first, second = table["task_id"][0], table["task_id"][1]
    board.rate(first, best=True)
    board.rate(second, best=True)
    board.rate(first, best=True, rater="bob")
    frame = board.verdicts.set_index(["rater", "task_id"])
    assert not frame.loc[("ann", first), "best"] and frame.loc[("ann", second), "best"]
    assert frame.loc[("bob", first), "best"]


def test_bad_ratings_are_refused_clearly(world: Any, tmp_path: Path) -> None:
    _, table = world
    board = make(world, tmp_path)
    with pytest.raises(InvalidRequestError, match=r"outside the scale 1\.\.5"):
        board.rate(table["task_id"][0], score=6)
    with pytest.raises(InvalidRequestError, match="not on this board"):
        board.rate("nope", score=3)
    with pytest.raises(InvalidRequestError, match="scale"):
        make(world, tmp_path, scale=(5, 1))
    wide = make(world, tmp_path, scale=(0, 100), store=tmp_path / "wide.jsonl")
    assert wide.rate(table["task_id"][0], score=87.5).score == 87.5


def test_board_messages_do_what_rate_does(world: Any, tmp_path: Path) -> None:
    board = make(world, tmp_path, blind=True, shuffle_seed=2)
    card = board._rows[0].cards[1]
    board._on_message(board, {"type": "rate", "key": card.key, "score": 2}, [])
    board._on_message(board, {"type": "rate", "key": card.key, "best": True}, [])
    board._on_message(board, {"type": "rate", "key": card.key, "note": "muddy"}, [])
    assert board.marks[card.key] == {"score": 2.0, "best": True, "note": "muddy"}
    board._on_message(board, {"type": "rate", "key": card.key, "score": 9}, [])
    assert "outside the scale" in board.message and board.marks[card.key]["score"] == 2.0
    assert VerdictStore(board.store.path).latest()[("ann", card.task_id)].note == "muddy"


def test_media_goes_as_message_buffers_never_as_state(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = make(world, tmp_path, blind=True)
    sent: list[tuple[Any, Any]] = []
    monkeypatch.setattr(
        board, "send", lambda content, buffers=None: sent.append((content, buffers))
    )
    board._on_message(board, {"type": "media", "keys": ["r0c0", "r1c2", "zz"]}, [])
    assert [content["key"] for content, _ in sent] == ["r0c0", "r1c2"]
    content, buffers = sent[0]
    assert set(content) == {"type", "key", "mime", "spectrogram"}  # no URL, no name
    assert content["mime"] == "audio/wav" and buffers[0][:4] == b"RIFF"
    bins, frames = content["spectrogram"]
    assert len(buffers[1]) == bins * frames > 0
    assert b"RIFF" not in synced_text(board).encode()


def test_verdicts_survive_a_restart_and_raters_stay_apart(world: Any, tmp_path: Path) -> None:
    _, table = world
    board = make(world, tmp_path)
    board.rate(table["task_id"][0], score=2)
    board.rate(table["task_id"][0], score=5, note="better on second listen")
    make(world, tmp_path, rater="bob").rate(table["task_id"][0], score=1)
    again = make(world, tmp_path)  # a new kernel: only the file is left
    assert again.marks["r0c0"] == {"score": 5.0, "best": False, "note": "better on second listen"}
    verdicts = again.verdicts
    assert list(verdicts.columns) == [
        "task_id",
        "rater",
        "score",
        "best",
        "note",
        "rated_at",
        "blind",
        "position",
    ]
    pairs = sorted(zip(verdicts["rater"], verdicts["score"], strict=True))
    assert pairs == [("ann", 5.0), ("bob", 1.0)]
    assert str(verdicts["rated_at"].dtype) == "datetime64[ns, UTC]"


def test_default_store_is_named_after_the_review_next_to_the_notebook(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _, table = world
    board = make(world, tmp_path, store=None, name="listening-1")
    board.rate(table["task_id"][3], score=3)
    assert (tmp_path / "listening-1.verdicts.jsonl").is_file()


def test_to_frame_joins_verdicts_onto_the_input(world: Any, tmp_path: Path) -> None:
    _, table = world
    board = make(world, tmp_path)
    board.rate(table["task_id"][0], score=4)
    board.rate(table["task_id"][0], score=2, rater="bob")
    frame = board.to_frame()
    assert len(frame) == len(table) + 1  # one row per task and rater
    assert set(frame.loc[frame["task_id"] == table["task_id"][0], "score"]) == {4.0, 2.0}
    assert frame.loc[frame["task_id"] == table["task_id"][1], "score"].isna().all()
    assert list(board.to_frame(rater="bob")["score"].dropna()) == [2.0]
    assert {"prompt", "seed", "steps", "audio_url"} <= set(frame.columns)


def test_summary_mean_interval_count_and_best_share(world: Any, tmp_path: Path) -> None:
    _, table = world
    board = make(world, tmp_path)
    ids = dict(zip(zip(table["prompt"], table["seed"], strict=True), table["task_id"], strict=True))
    board.rate(ids[(PROMPTS[0], 11)], score=3, best=True)
    board.rate(ids[(PROMPTS[1], 11)], score=5, best=True)
    board.rate(ids[(PROMPTS[0], 11)], score=4, rater="bob")
    board.rate(ids[(PROMPTS[0], 22)], score=2, rater="bob", best=True)
    summary = board.summary()
    first = summary.loc[11]
    assert first["n"] == 3 and first["mean"] == pytest.approx(4.0)
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert first["ci_low"] == pytest.approx(4 - half)
    assert first["ci_high"] == pytest.approx(4 + half)
    assert first["best"] == 2 and first["best_share"] == pytest.approx(2 / 3)
    assert summary.loc[22, "n"] == 1 and summary["ci_low"].isna()[22]
    assert summary.loc[33, "n"] == 0 and summary["mean"].isna()[33]
    by_prompt = board.summary(by="prompt")
    assert by_prompt.loc[PROMPTS[0], "n"] == 3
    with pytest.raises(InvalidRequestError, match="no column"):
        board.summary(by="colour")


def test_the_interval_is_scipys_student_t() -> None:
    from scipy import stats as scipy_stats

    values = [2.0, 3.5, 4.0, 5.0]
    mean, low, high = stats.mean_interval(values, 0.9)
    expected = scipy_stats.t.interval(0.9, 3, loc=sum(values) / 4, scale=scipy_stats.sem(values))
    assert (low, high) == pytest.approx(expected) and mean == pytest.approx(3.625)
    assert stats.mean_interval([3.0, 3.0]) == (3.0, 3.0, 3.0)
    assert all(math.isnan(x) for x in stats.mean_interval([]))


def test_cards_without_audio_say_why_and_never_break_the_board(world: Any, tmp_path: Path) -> None:
    _, table = world
    frame = table.copy()
    frame.loc[0, "status"] = "failed"
    frame.loc[0, "error"] = "model crashed on task " + str(frame.loc[0, "task_id"])
    frame.loc[0, "audio_url"] = pd.NA
    frame.loc[1, "status"] = "processing"
    frame.loc[1, "audio_url"] = pd.NA
    frame.loc[2, "audio_url"] = str(frame.loc[2, "audio_url"]).rsplit("/", 1)[0] + "/gone.wav"
    board = make(world, tmp_path, frame=frame)
    cards = {c["key"]: c for c in board.rows[0]["cards"]}
    assert cards["r0c0"]["status"] == "failed" and "model crashed" in cards["r0c0"]["reason"]
    assert cards["r0c1"]["status"] == "pending" and "processing" in cards["r0c1"]["reason"]
    assert cards["r0c2"]["status"] == "missing" and "could not load" in cards["r0c2"]["reason"]
    assert all("peaks" not in c for c in cards.values())
    assert "model crashed" in board.to_html()
    blind = make(world, tmp_path, frame=frame, blind=True)
    assert str(frame.loc[0, "task_id"]) not in synced_text(blind)  # server text may name it


def test_static_view_shows_waveforms_and_verdicts_escaped(world: Any, tmp_path: Path) -> None:
    _, table = world
    board = make(world, tmp_path)
    board.rate(table["task_id"][0], score=5, best=True, note="<script>alert(1)</script>")
    data, _ = board._repr_mimebundle_()
    page = data["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in data
    assert page.count("<svg") == len(table)
    assert "score 5" in page and "★ best" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_saved_state_stays_small_per_card(world: Any, tmp_path: Path) -> None:
    board = make(world, tmp_path)
    per_card = (len(synced_text(board)) + len(board.to_html())) / len(board._cards)
    assert per_card < 2500, per_card  # the module code is shared by all cards (see notebooks)


def test_per_work_tables_become_one_audio_card_per_task(world: Any, tmp_path: Path) -> None:
    _, table = world
    works = table.assign(kind="audio")
    cover = works.iloc[:2].assign(kind="image", audio_url=pd.NA)
    board = make(world, tmp_path, frame=pd.concat([cover, works], ignore_index=True))
    assert len(board._cards) == len(table)
    assert all(card["status"] == "ready" for row in board.rows for card in row["cards"])
    with pytest.warns(UserWarning, match="more than one audio file"):
        twice = make(world, tmp_path, frame=pd.concat([works, works.iloc[:1]]))
    assert len(twice._cards) == len(table)


def test_missing_columns_are_refused(world: Any, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="no column 'voice'"):
        make(world, tmp_path, by="voice")


def test_every_board_verdict_is_acknowledged_even_when_refused(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = make(world, tmp_path)
    sent: list[Any] = []
    monkeypatch.setattr(board, "send", lambda content, buffers=None: sent.append(content))
    board._on_message(board, {"type": "rate", "key": "r0c0", "score": 3, "seq": "v:1"}, [])
    board._on_message(board, {"type": "rate", "key": "r0c0", "score": 30, "seq": "v:2"}, [])
    # the refused one is acked as not saved, so the board never says "all verdicts saved"
    assert sent == [
        {"type": "ack", "seq": "v:1", "ok": True},
        {"type": "ack", "seq": "v:2", "ok": False},
    ]
    assert board.marks["r0c0"]["score"] == 3.0 and "outside" in board.message


def test_row_videos_go_as_bytes_or_fall_back_to_their_url(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, table = world
    frame = table.copy()
    reachable = str(frame.loc[0, "audio_url"])  # any file the kernel can fetch will do
    unreachable = reachable.rsplit("/", 1)[0] + "/no-such-video.mp4"
    frame["video"] = [reachable] * 3 + [unreachable] * 3
    board = make(world, tmp_path, frame=frame, blind=True)
    sent: list[tuple[Any, Any]] = []
    monkeypatch.setattr(
        board, "send", lambda content, buffers=None: sent.append((content, buffers))
    )
    board._on_message(board, {"type": "media", "keys": [], "rows": ["r0", "r1"]}, [])
    ((first, data),) = sent  # blind: the unreachable URL is never sent (it may name the task)
    assert first == {"type": "video", "row": "r0", "mime": "video/mp4"} and data[0][:4] == b"RIFF"
    assert "no-such-video" not in synced_text(board)
    board = make(world, tmp_path, frame=frame)
    sent.clear()
    monkeypatch.setattr(
        board, "send", lambda content, buffers=None: sent.append((content, buffers))
    )
    board._on_message(board, {"type": "media", "keys": [], "rows": ["r0", "r1"]}, [])
    (_, _), (second, none) = sent
    assert second == {"type": "video", "row": "r1", "url": unreachable} and none is None


def test_refresh_shows_cards_whose_tasks_finished_later(tmp_path: Path) -> None:
    with Sandbox(preset="fast", audio_seconds=1.0) as sb:
        client = client_for(sb)
        tasks = [client.generate_audio(VIDEO, "rain", seed=seed) for seed in (1, 2)]
        table = tabulate_tasks(tasks, client=client, progress=False)
        board = review(table, client=client, store=tmp_path / "v.jsonl", rater="ann")
        assert {c["status"] for c in board.rows[0]["cards"]} == {"pending"}
        for task in tasks:
            client.wait(task, timeout=60)
        assert board.refresh() == 2
        assert {c["status"] for c in board.rows[0]["cards"]} == {"ready"}
        assert all(c["peaks"] for c in board.rows[0]["cards"])
        assert set(board.frame["status"]) == {"completed"}


def test_switching_rater_shows_that_raters_marks(world: Any, tmp_path: Path) -> None:
    _, table = world
    board = make(world, tmp_path)
    board.rate(table["task_id"][0], score=5)
    board.rate(table["task_id"][0], score=1, rater="bob")
    assert board.marks["r0c0"]["score"] == 5.0
    board.rater = "bob"
    assert board.marks["r0c0"]["score"] == 1.0
    board.rate(table["task_id"][1], score=2)  # now recorded as bob
    assert (
        board.verdicts.set_index(["rater", "task_id"]).loc[("bob", table["task_id"][1]), "score"]
        == 2.0
    )


def test_models_side_by_side_on_the_same_prompt(tmp_path: Path) -> None:
    """review(across="model") sets every model's take on one prompt in one row."""
    from qubico_nb import wait_all

    from .helpers.outputs import STYLE, one_task_per_model

    with Sandbox(preset="instant", audio_seconds=1.0) as sb:
        client = client_for(sb)
        tasks = wait_all(one_task_per_model(client, VIDEO), client=client, progress=False)
        table = tabulate_tasks(tasks, client=client, progress=False)
        board = review(
            table, by="prompt", across="model", client=client, store=tmp_path / "v.jsonl"
        )
        first, second = board.rows
        assert first["label"] == f"prompt: {STYLE}" and len(first["cards"]) == 3
        assert {c["label"].split(" · ")[1] for c in first["cards"]} == {
            "model Qubico/ace-step",
            "model Qubico/diffrhythm",
            "model Qubico/mmaudio",
        }
        assert [c["label"].split(" · ")[1] for c in second["cards"]] == ["model Qubico/tts"]
        for card in first["cards"] + second["cards"]:
            assert card["status"] == "ready" and card["duration"] == pytest.approx(1.0, abs=0.01)
        board.rate(first["cards"][0]["task_id"], score=4, best=True)
        assert len(board.summary()) == 4  # one line per model
