"""The review board's kernel side: layout, blind state, verdicts through rate() and through the
board's messages, restore after a restart, frames and summary arithmetic, the static view."""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from qubico_nb import Review, review
from qubico_nb.batch import tabulate_tasks
from qubico_nb.errors import InvalidRequestError
from qubico_nb.review_board import stats
from qubico_nb.sandbox import Sandbox
from qubico_nb.store.verdicts import Verdict, VerdictStore

from .helpers.boards import make_table, wav
from .helpers.sandbox import client_for, wait_until

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
    wait = options.pop("wait", True)
    board = review(options.pop("frame", table), client=client, **options)
    if wait:
        assert board.wait(30)
    return board


class Page:
    """What a page would send and receive: messages to the board, and what it sends back."""

    def __init__(self, board: Review, monkeypatch: pytest.MonkeyPatch) -> None:
        self.board = board
        self.received: list[tuple[dict[str, Any], list[bytes]]] = []
        monkeypatch.setattr(board, "send", self._receive)

    def _receive(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        self.received.append((content, list(buffers or [])))

    def tell(self, **content: Any) -> None:
        self.board._on_message(self.board, content, [])

    def settle(self) -> list[dict[str, Any]]:
        """Wait for the board's background work; the messages received so far."""
        assert self.board._jobs.idle(30) and self.board._writer.flush(10)
        return [content for content, _ in self.received]

    def acks(self) -> list[tuple[str, str]]:
        return [(m["seq"], m["state"]) for m in self.settle() if m["type"] == "ack"]


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
    assert board.marks[card.key] == {
        "score": 4.0,
        "best": False,
        "note": "tight sync",
        "answers": {},
    }
    line = json.loads(board.store.path.read_text().splitlines()[-1])
    assert line["task_id"] == card.task_id and line["shuffle_seed"] == 1
    board.rate(card.task_id, best=True)  # other fields keep their values
    assert board.marks[card.key] == {
        "score": 4.0,
        "best": True,
        "note": "tight sync",
        "answers": {},
    }


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


def test_board_messages_do_what_rate_does(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = make(world, tmp_path, blind=True, shuffle_seed=2)
    page = Page(board, monkeypatch)
    card = board._rows[0].cards[1]
    page.tell(type="rate", key=card.key, seq="p:1", score=2)
    page.tell(type="rate", key=card.key, seq="p:2", best=True)
    page.tell(type="rate", key=card.key, seq="p:3", note="muddy")
    assert board.marks[card.key] == {"score": 2.0, "best": True, "note": "muddy", "answers": {}}
    page.tell(type="rate", key=card.key, seq="p:4", score=9)
    assert "outside the scale" in board.message and board.marks[card.key]["score"] == 2.0
    acks = page.acks()  # the refusal is told at once, the saves by the writer as they land
    assert ("p:4", "refused") in acks
    assert [a for a in acks if a[1] == "saved"] == [
        ("p:1", "saved"),
        ("p:2", "saved"),
        ("p:3", "saved"),
    ]

    assert VerdictStore(board.store.path).latest()[("ann", card.task_id)].note == "muddy"


def test_media_goes_as_message_buffers_never_as_state(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = make(world, tmp_path, blind=True)
    page = Page(board, monkeypatch)
    page.tell(type="media", page="p", keys=["r0c0", "r1c2", "zz"], rows=[])
    page.settle()
    kinds = [(m["type"], m["key"]) for m, _ in page.received]
    assert sorted(kinds) == sorted(
        [("media", "r0c0"), ("media", "r1c2"), ("drawing", "r0c0"), ("drawing", "r1c2")]
    )
    content, buffers = next(m for m in page.received if m[0]["type"] == "media")
    assert set(content) == {"type", "key", "mime"}  # no URL, no name
    assert content["mime"] == "audio/wav" and buffers[0][:4] == b"RIFF" and len(buffers) == 1
    drawing, (spectrogram, waveform) = next(m for m in page.received if m[0]["type"] == "drawing")
    bins, frames = drawing["spectrogram"]
    assert len(spectrogram) == bins * frames > 0
    assert len(waveform) == 2 * 800  # the fine waveform: (min, max) per column
    assert b"RIFF" not in synced_text(board).encode()


def test_verdicts_survive_a_restart_and_raters_stay_apart(world: Any, tmp_path: Path) -> None:
    _, table = world
    board = make(world, tmp_path)
    board.rate(table["task_id"][0], score=2)
    board.rate(table["task_id"][0], score=5, note="better on second listen")
    make(world, tmp_path, rater="bob").rate(table["task_id"][0], score=1)
    again = make(world, tmp_path)  # a new kernel: only the file is left
    assert again.marks["r0c0"] == {
        "score": 5.0,
        "best": False,
        "note": "better on second listen",
        "answers": {},
    }
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
        "gain_db",
        "answers",
        "test",
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
    page = Page(board, monkeypatch)
    page.tell(type="rate", key="r0c0", score=3, seq="v:1")
    page.tell(type="rate", key="r0c0", score=30, seq="v:2")
    # the refused one is acked as refused, so the board never says "all verdicts saved"
    assert sorted(page.acks()) == [("v:1", "saved"), ("v:2", "refused")]
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
    page = Page(board, monkeypatch)
    page.tell(type="media", page="p", keys=[], rows=["r0", "r1"])
    page.settle()
    ((first, data),) = page.received  # blind: the unreachable URL is never sent (it may name it)
    assert first == {"type": "video", "row": "r0", "mime": "video/mp4"} and data[0][:4] == b"RIFF"
    assert "no-such-video" not in synced_text(board)
    board = make(world, tmp_path, frame=frame)
    page = Page(board, monkeypatch)
    page.tell(type="media", page="p", keys=[], rows=["r0", "r1"])
    page.settle()
    sent = sorted(page.received, key=lambda m: m[0]["row"])
    assert sent[1] == ({"type": "video", "row": "r1", "url": unreachable}, [])


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
        assert board.wait(30)
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


def test_a_store_with_lines_it_cannot_read_never_breaks_the_board(
    world: Any, tmp_path: Path
) -> None:
    _, table = world
    store = tmp_path / "board.verdicts.jsonl"
    good = Verdict(task_id=str(table["task_id"][0]), rater="ann", score=4)
    line = json.loads(good.to_json())
    lines = [
        good.to_json(),
        json.dumps({**line, "task_id": str(table["task_id"][1]), "rated_at": "yesterday"}),
        json.dumps({**line, "task_id": str(table["task_id"][2]), "best": "false"}),
        json.dumps({**line, "task_id": str(table["task_id"][3]), "score": 1e308}),
        json.dumps({**line, "task_id": str(table["task_id"][4]), "score": 7}),  # scale is 1..5
        "[" * 100_000 + "]" * 100_000,
    ]
    store.write_text("\n".join(lines) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        board = make(world, tmp_path, store=store)
        frame, summary = board.to_frame(), board.summary()
    assert [str(w.message) for w in caught if "skipped" in str(w.message)] == [
        f"{store}: skipped 5 line(s) that are not verdicts this board can read (cut short, not "
        "JSON, a field of the wrong kind, text that is not UTF-8, or a score outside the "
        "scale); the other verdicts are loaded"
    ]
    assert list(board.verdicts["score"]) == [4.0]
    assert frame["score"].dropna().tolist() == [4.0] and summary["n"].sum() == 1


def test_rate_refuses_text_that_is_not_utf8(world: Any, tmp_path: Path) -> None:
    """A lone surrogate would be stored unreadable and break the kernel's messages."""
    _, table = world
    board = make(world, tmp_path)
    task_id = table["task_id"][0]
    with pytest.raises(InvalidRequestError, match=r"note: .*lone surrogate \('\\ud800'\)"):
        board.rate(task_id, note="fine \ud800")
    with pytest.raises(InvalidRequestError, match=r"answers: .*lone surrogate"):
        board.rate(task_id, answers={"why": ["\udfff"]})
    assert board.verdicts.empty and not board.store.path.exists()
    assert board.rate(task_id, note="fine \U0001f600").note == "fine \U0001f600"


@pytest.mark.parametrize("score", [10**400, math.inf, -math.inf, math.nan])
def test_rate_refuses_a_score_that_is_not_a_finite_number(
    world: Any, tmp_path: Path, score: Any
) -> None:
    _, table = world
    board = make(world, tmp_path, scale=(0, 1e9))
    with pytest.raises(InvalidRequestError, match="score"):
        board.rate(table["task_id"][0], score=score)
    assert board.verdicts.empty and not board.store.path.exists()


@pytest.mark.parametrize(
    "content",
    [
        {"key": "r9c9", "score": 3},  # no such card
        {"key": 0, "score": 3},  # a key of the wrong type
        {"key": ["r0c0"], "score": 3},
        {"key": "r0c0", "score": 10**400},  # overflows a float
        {"key": "r0c0", "score": "3"},
        {"key": "r0c0", "best": "false"},
        {"key": "r0c0", "note": 5},
        {"key": "r0c0", "answers": [1]},
        {"key": "r0c0", "colour": "red"},  # not a field of the message
        {"key": "r0c0", "note": "\ud800"},  # a lone surrogate: not UTF-8
        {"key": "r0c0", "answers": {"why": "\udfff"}},
    ],
)
def test_the_board_is_told_refused_for_any_verdict_it_did_not_store(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: dict[str, Any]
) -> None:
    board = make(world, tmp_path)
    page = Page(board, monkeypatch)
    page.tell(type="rate", seq="p:1", **content)
    assert page.acks() == [("p:1", "refused")]
    assert board.message.startswith("not saved: ")
    assert board.verdicts.empty and not board.store.path.exists()


def test_a_refusal_is_cleared_by_the_next_verdict_saved(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = make(world, tmp_path)
    page = Page(board, monkeypatch)
    page.tell(type="rate", seq="p:1", key="r0c0", score=9)
    page.settle()
    assert "outside the scale" in board.message
    page.tell(type="rate", seq="p:2", key="r0c0", score=2)
    assert page.acks() == [("p:1", "refused"), ("p:2", "saved")]
    assert board.message == ""


@contextlib.contextmanager
def held_lock(path: Path) -> Iterator[None]:
    """Another process's lock on the store, in effect (flock is per open file)."""
    import fcntl

    path.touch()
    with open(path, "rb") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(other, fcntl.LOCK_UN)


def test_a_locked_store_never_blocks_the_message_handler_and_loses_nothing(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = make(world, tmp_path)
    board.store.lock_timeout = 0.2
    page = Page(board, monkeypatch)
    with held_lock(board.store.path):
        started = time.monotonic()
        for n, score in enumerate((2, 3, 4), start=1):
            page.tell(type="rate", seq=f"p:{n}", key="r0c0", score=score)
        handled = time.monotonic() - started
        wait_until(lambda: len(page.received) >= 1, timeout=10)
        assert board.unsaved == 3 and board.verdicts["score"].tolist() == [4.0]
        assert not board.store.path.read_text()  # nothing on disk yet
    assert handled < board.store.lock_timeout  # the handler only queued them
    waiting = [m for m, _ in page.received if m["type"] == "ack"]
    assert waiting and all(m["state"] == "waiting" and "locked" in m["why"] for m in waiting)
    wait_until(lambda: board.unsaved == 0, timeout=15)
    acks = page.acks()
    assert [a for a in acks if a[1] == "saved"] == [
        ("p:1", "saved"),
        ("p:2", "saved"),
        ("p:3", "saved"),
    ]
    assert [v.score for v in board.store.read()] == [2.0, 3.0, 4.0]  # in the order given


def test_rate_waits_for_a_locked_store_only_about_its_timeout(world: Any, tmp_path: Path) -> None:
    _, table = world
    board = make(world, tmp_path)
    board.store.lock_timeout = 0.2
    with held_lock(board.store.path):
        started = time.monotonic()
        with pytest.warns(UserWarning, match="not saved yet"):
            verdict = board.rate(table["task_id"][0], score=5)
        assert time.monotonic() - started < 5
        assert board.unsaved == 1 and board.verdicts["score"].tolist() == [5.0]
    wait_until(lambda: board.unsaved == 0, timeout=15)
    assert board.store.read() == [verdict]


def test_rate_does_not_wait_again_while_the_store_is_still_busy(world: Any, tmp_path: Path) -> None:
    """Once a verdict found the lock held, the next ones (this board's or another board's on
    the same store) are queued at once: were they to wait the store's timeout, set to a
    minute here, the guard below would catch it."""
    _, table = world
    board = make(world, tmp_path)
    again = make(world, tmp_path)  # the cell run again: a second board on the same store
    first, second = (str(t) for t in table["task_id"][:2])
    board.store.lock_timeout = 0.2
    with held_lock(board.store.path):
        with pytest.warns(UserWarning, match="not saved yet"):
            board.rate(first, score=2)
        board.store.lock_timeout = again.store.lock_timeout = 60.0
        warned: list[str] = []

        def rate_more() -> None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                board.rate(first, score=3)
                again.rate(second, score=4)
            warned.extend(str(w.message) for w in caught)

        worker = threading.Thread(target=rate_more, daemon=True)
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "rate() waited for the busy store again"
        assert len(warned) == 2 and all("not saved yet" in m for m in warned)
        assert board.unsaved == 2 and again.unsaved == 1
    wait_until(lambda: board.unsaved == 0 and again.unsaved == 0, timeout=70)
    assert sorted(v.score for v in board.store.read()) == [2.0, 3.0, 4.0]


def test_verdicts_still_waiting_at_exit_are_set_aside_and_read_back(
    world: Any, tmp_path: Path
) -> None:
    _, table = world
    board = make(world, tmp_path)
    board.store.lock_timeout = 0.1
    with held_lock(board.store.path):
        with pytest.warns(UserWarning, match="not saved yet"):
            board.rate(table["task_id"][0], score=3, note="kept")
        with pytest.warns(UserWarning, match="set aside"):
            board._writer.close()  # what the kernel's exit does
    again = make(world, tmp_path)
    assert again.marks["r0c0"]["note"] == "kept"


def test_the_board_counts_verdicts_for_tasks_not_on_it(world: Any, tmp_path: Path) -> None:
    _, table = world
    store = VerdictStore(tmp_path / "board.verdicts.jsonl")
    store.append_many(
        [
            Verdict(task_id="an-earlier-run-1", rater="ann", score=3),
            Verdict(task_id="an-earlier-run-2", rater="ann", score=4),
            Verdict(task_id="an-earlier-run-2", rater="bob", score=1),
            Verdict(task_id=str(table["task_id"][0]), rater="ann", score=2),
        ]
    )
    board = make(world, tmp_path)
    assert board.off_board == 3
    assert make(world, tmp_path, store=tmp_path / "other.jsonl").off_board == 0


def test_a_live_board_handles_exactly_the_page_messages_of_the_protocol(
    world: Any, tmp_path: Path
) -> None:
    from qubico_nb.review_board import protocol

    board = make(world, tmp_path)
    assert list(board._handlers) == protocol.types(protocol.PAGE_TO_KERNEL)


def test_level_matching_brings_each_card_to_the_rows_median_loudness() -> None:
    from qubico_nb.review_board.media import level_gains

    assert level_gains([-20.0, -26.0, -23.0], [-6.0, -12.0, -9.0]) == [-3.0, 3.0, 0.0]
    # a card that would peak above -1 dBFS lowers the whole row together
    assert level_gains([-20.0, -30.0], [-1.0, -3.0]) == [-8.0, 2.0]  # peaks -9 and -1 dBFS
    assert level_gains([-20.0, -math.inf, math.nan], [-3.0, -99.0, -3.0]) == [0.0, None, None]


def test_each_verdict_records_the_gain_its_card_played_at(world: Any, tmp_path: Path) -> None:
    blind = make(world, tmp_path, blind=True)
    assert blind.level_match  # on by default when blind
    gains = {c["key"]: c.get("gain_db") for row in blind.rows for c in row["cards"]}
    assert all(isinstance(g, float) for g in gains.values())
    card = blind._rows[0].cards[0]
    assert blind.rate(card.task_id, score=3).gain_db == gains[card.key]
    blind.level_match = False
    assert blind.rate(card.task_id, score=4).gain_db == 0.0
    assert not make(world, tmp_path).level_match  # off by default when not blind


IDENTIFIERS = ("a lonely whale sings", "seed-918273645", "task-7f3e9a1c", "take_03_final.wav")


def _tagged_files(folder: Path) -> dict[str, Path]:
    """A WAV, FLAC, Ogg and MP3 whose tags carry every identifier (as a tagger writes them)."""
    import io

    import soundfile
    from mutagen import flac, id3, mp3, oggvorbis, wave

    t = np.arange(22_050) / 22_050
    sound = 0.3 * np.sin(2 * np.pi * 440 * t)
    files = {}
    for suffix, fmt, subtype in (
        (".wav", "WAV", "PCM_16"),
        (".flac", "FLAC", "PCM_16"),
        (".ogg", "OGG", "VORBIS"),
        (".mp3", "MP3", "MPEG_LAYER_III"),
    ):
        sink = io.BytesIO()
        soundfile.write(sink, sound, 22_050, format=fmt, subtype=subtype)
        path = folder / f"work{suffix}"
        path.write_bytes(sink.getvalue())
        text = " ".join(IDENTIFIERS)
        if suffix in (".wav", ".mp3"):
            tagged = (wave.WAVE if suffix == ".wav" else mp3.MP3)(path)
            tagged.add_tags()
            tagged.tags.add(id3.TIT2(encoding=3, text=text))
            tagged.save()
        else:
            tagged = (flac.FLAC if suffix == ".flac" else oggvorbis.OggVorbis)(path)
            tagged["title"] = text
            tagged.save()
        assert all(i.encode() in path.read_bytes() for i in IDENTIFIERS)
        files[suffix] = path
    return files


def _tagged_video(folder: Path) -> bytes:
    from mutagen import mp4

    from qubico_nb.sandbox.assets import ASSETS_DIR, DEMO_VIDEO

    path = folder / "clip.mp4"
    path.write_bytes((Path(ASSETS_DIR) / DEMO_VIDEO).read_bytes())
    video = mp4.MP4(path)
    video["\xa9nam"] = " ".join(IDENTIFIERS)
    video.save()
    return path.read_bytes()


@pytest.mark.parametrize("blind", [True, False])
def test_blind_means_blind_through_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blind: bool
) -> None:
    import io

    import soundfile

    from qubico_nb.review_board import media

    files = _tagged_files(tmp_path)
    video = _tagged_video(tmp_path)
    monkeypatch.setattr(media, "fetch_video", lambda url, client: video)
    frame = pd.DataFrame(
        {
            "task_id": [f"t{n}" for n in range(len(files))],
            "prompt": "p",
            "seed": list(range(len(files))),
            "status": "completed",
            "video": "https://cdn.example.com/clip.mp4",
            "local_path": [str(p) for p in files.values()],
        }
    )
    board = review(frame, store=tmp_path / "v.jsonl", rater="ann", blind=blind)
    page = Page(board, monkeypatch)
    page.tell(type="media", page="p", keys=[c.key for c in board._cards.values()], rows=["r0"])
    page.settle()
    sent = {
        m.get("key", m.get("row")): buffers[0]
        for m, buffers in page.received
        if m["type"] in ("media", "video")
    }
    assert len(sent) == len(files) + 1
    originals = {c.key: Path(str(c.local_path)).read_bytes() for c in board._cards.values()}
    originals["r0"] = video
    for key, data in sent.items():
        if not blind:
            assert data == originals[key]
            continue
        for text in IDENTIFIERS:
            assert text.encode() not in data, (key, text)
        if key != "r0":
            soundfile.read(io.BytesIO(data))  # still a sound


def test_a_file_on_its_way_is_not_sent_twice_but_sent_again_when_asked_again(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = make(world, tmp_path)
    page = Page(board, monkeypatch)
    page.tell(type="media", page="p", keys=["r0c0", "r0c1"], rows=[])
    page.settle()
    page.tell(type="media", page="p", keys=["r0c0", "r0c1", "r0c2"], rows=[])  # before arrival
    page.settle()
    sent = [m["key"] for m in page.settle() if m["type"] == "media"]
    assert sorted(sent) == ["r0c0", "r0c1", "r0c2"]
    page.tell(type="media", page="p", keys=[], rows=[])  # it has them (or let them go)
    page.tell(type="media", page="p", keys=["r0c0"], rows=[])  # wanted again, after a release
    again = [m["key"] for m in page.settle() if m["type"] == "media"]
    assert again.count("r0c0") == 2
    page.tell(type="media", page="q", keys=["r0c1"], rows=[])  # another page asks on its own
    assert [m["key"] for m in page.settle() if m["type"] == "media"].count("r0c1") == 2


def test_cards_show_their_figures_to_one_decimal_only_when_the_board_may_name_them(
    world: Any, tmp_path: Path
) -> None:
    _, table = world
    frame = table.assign(av_offset_s=0.04, av_sync_confidence=0.8123)
    shown = make(world, tmp_path, frame=frame)
    figures = shown.rows[0]["cards"][0]["figures"]
    assert figures[0].endswith(" LUFS") and figures[0].startswith("\u2212")
    assert figures[0].split()[0].count(".") == 1 and len(figures[0].split()[0].split(".")[1]) == 1
    assert figures[1:] == ["sound 40.0 ms late"]  # as compare() says it
    unsure = make(world, tmp_path, frame=table.assign(av_offset_s=1e300, av_sync_confidence=0.1))
    assert unsure.rows[0]["cards"][0]["figures"][1:] == ["sound offset out of range"]
    blind = make(world, tmp_path, frame=frame, blind=True)
    assert all("figures" not in card for row in blind.rows for card in row["cards"])
    assert "LUFS" not in synced_text(blind) and "offset" not in synced_text(blind)


# -- test designs ---------------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> pd.DataFrame:
    """Two prompts x three seeds of local files, and a reference file per prompt."""
    table = make_table(tmp_path, seconds=1.0)
    table["ref"] = table["prompt"].map(
        {p: str(wav(tmp_path / f"ref{n}.wav", 330.0, 0.4, 1.0)) for n, p in enumerate(PROMPTS)}
    )
    return table


def local_board(table: pd.DataFrame, tmp_path: Path, **options: Any) -> Review:
    options.setdefault("store", tmp_path / "designs.verdicts.jsonl")
    options.setdefault("rater", "ann")
    board = review(table, **options)
    assert board.wait(30)
    return board


def test_a_mushra_row_has_an_open_reference_and_hides_it_and_its_anchors(
    local: pd.DataFrame, tmp_path: Path
) -> None:
    board = local_board(
        local, tmp_path, design="mushra", reference="ref", anchors=("lp3.5k", "lp7k"), blind=True
    )
    assert board.scale == [0.0, 100.0] and board.design == "mushra"
    for row in board.rows:
        first, *rated = row["cards"]
        assert first["role"] == "reference" and first["label"] == "Reference"
        assert [c["position"] for c in rated] == ["A", "B", "C", "D", "E", "F"]
        assert all("role" not in c and c["status"] == "ready" for c in rated)
    text = synced_text(board)
    for secret in ("hidden", "anchor", "lp3.5k", "ref0.wav", "~reference", *PROMPTS):
        assert secret not in text
    hidden = [c for c in board._cards.values() if c.role == "hidden"]
    anchors = [c for c in board._cards.values() if c.role == "anchor"]
    assert len(hidden) == 2 and len(anchors) == 4
    # the hidden reference plays the open reference's file: one measure, one gain
    reference = board._base_rows[0].cards[0]
    assert hidden[0].source == reference.source
    assert board._media[reference.source].duration_s == pytest.approx(1.0)
    # an anchor is the reference low-passed: the 330 Hz tone passes, so it measures as loud
    assert board._media[anchors[0].source].lufs == pytest.approx(
        board._media[reference.source].lufs, abs=0.5
    )
    board.reveal()
    labels = [c["label"] for c in board.rows[0]["cards"]]
    assert "Reference" in labels[0] and any("hidden reference" in label for label in labels)
    assert any("anchor lp3.5k" in label for label in labels)


def test_a_mushra_board_sends_no_waveform_or_spectrogram_of_any_card(
    local: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hidden reference's picture would be the open reference's: a rater would see which
    card to give 100. The kernel sends none (not hidden by the page)."""
    board = local_board(local, tmp_path, design="mushra", reference="ref", anchors=("lp3.5k",))
    page = Page(board, monkeypatch)
    keys = [card["key"] for row in board.rows for card in row["cards"]]
    page.tell(type="media", page="p", keys=keys, rows=[])
    page.settle()
    drawings = [(m, b) for m, b in page.received if m["type"] == "drawing"]
    assert sorted(m["key"] for m, _ in drawings) == sorted(keys)  # answered, so not asked again
    assert all(m["spectrogram"] == [0, 0] and b == [b"", b""] for m, b in drawings)
    assert all("duration" in card for row in board.rows for card in row["cards"])
    board.reveal()  # not after Reveal either
    page.settle()
    assert "peaks" not in synced_text(board)
    assert "<svg" not in board._repr_html_()  # nor the static view
    scored = local_board(local, tmp_path / "s", design="score")
    assert all("peaks" in card for row in scored.rows for card in row["cards"])


def test_mushra_scores_0_to_100_and_the_reference_is_not_rated(
    local: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = local_board(local, tmp_path, design="mushra", reference="ref")
    page = Page(board, monkeypatch)
    row = board.rows[0]["cards"]
    page.tell(type="rate", key=row[0]["key"], seq="1", score=50)
    hidden = next(c for c in board._cards.values() if c.role == "hidden")
    page.tell(type="rate", key=hidden.key, seq="2", score=97)
    page.tell(type="rate", key=row[1]["key"], seq="3", score=101)
    assert sorted(page.acks()) == [("1", "refused"), ("2", "saved"), ("3", "refused")]
    assert "not rated" in next(m["why"] for m in page.settle() if m.get("seq") == "1")
    assert board.verdicts.set_index("task_id").loc["~reference|rain on a tin roof", "score"] == 97
    assert board.raters == [{"rater": "ann", "answered": 1, "total": 8}]


def test_mushra_without_a_reference_is_a_reference_free_test(
    local: pd.DataFrame, tmp_path: Path
) -> None:
    board = local_board(local, tmp_path, design="mushra")
    assert [len(row["cards"]) for row in board.rows] == [3, 3]
    assert not board.has_reference


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"design": "abx"}, "'score', 'mushra', 'pairwise'"),
        ({"reference": "ref"}, "belong to design='mushra'"),
        ({"design": "mushra", "anchors": ("lp3.5k",)}, "give reference="),
        ({"design": "mushra", "reference": "ref", "anchors": ("lp3.5k", "lp3.5k")}, "twice"),
        ({"design": "mushra", "reference": "ref", "anchors": ("3.5k",)}, "'lp7k'"),
        ({"design": "mushra", "reference": "ref", "anchors": "lp7k"}, "a list of names"),
        ({"design": "mushra", "scale": (1, 5)}, "scores 0-100"),
        ({"design": "mushra", "reference": "nope"}, "not a column"),
        ({"design": "mushra", "reference": ["a.wav"]}, "1 file.s. for 2 row"),
        ({"design": "mushra", "reference": {"rain on a tin roof": "a.wav"}}, "no file for"),
    ],
)
def test_a_design_that_cannot_be_made_says_what_to_fix(
    local: pd.DataFrame, tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        review(local, store=tmp_path / "x.jsonl", **options)


def test_a_reference_per_row_may_be_a_mapping_or_a_list(
    local: pd.DataFrame, tmp_path: Path
) -> None:
    files = list(dict.fromkeys(local["ref"]))
    by_list = local_board(local, tmp_path, design="mushra", reference=files)
    by_map = local_board(
        local, tmp_path, design="mushra", reference=dict(zip(PROMPTS, files, strict=True))
    )
    assert by_list._base_rows[1].cards[0].local_path == files[1]
    assert by_map._base_rows[1].cards[0].local_path == files[1]


def test_a_pairwise_board_shows_every_pair_of_a_row_as_a_row_of_two(
    local: pd.DataFrame, tmp_path: Path
) -> None:
    board = local_board(local, tmp_path, design="pairwise", blind=True)
    assert len(board.rows) == 2 * 3 and all(len(row["cards"]) == 2 for row in board.rows)
    assert [c["position"] for c in board.rows[0]["cards"]] == ["A", "B"]
    assert board.rows[0]["label"].startswith("Row ") and "pair" in board.rows[0]["label"]
    for group in ("r0", "r1"):
        pairs = [
            frozenset(c.task_id for c in row.cards) for row in board._rows if row.group == group
        ]
        assert len(set(pairs)) == 3  # every pair of the row once
    # cards of one file share its measures and its gain
    sources = {c.source for c in board._cards.values()}
    assert len(sources) == 6 and set(board._media) == sources


def test_a_pairwise_choice_is_kept_in_both_tasks_verdicts(
    local: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = local_board(local, tmp_path, design="pairwise", blind=True)
    page = Page(board, monkeypatch)
    first, second = board._rows[0].cards
    page.tell(type="rate", key=first.key, seq="1", answers={"choice": "b"})
    page.tell(type="rate", key=second.key, seq="2", answers={"choice": "a"})
    page.tell(type="rate", key=first.key, seq="3", answers={"choice": "maybe"})
    page.tell(type="rate", key=first.key, seq="4", score=3)
    assert sorted(page.acks()) == [
        ("1", "saved"),
        ("2", "refused"),
        ("3", "refused"),
        ("4", "refused"),
    ]
    assert board.marks == {first.key: {"answers": {"choice": "b"}}}
    assert "task-" not in synced_text(board)  # the pair's task ids stay in the kernel
    verdicts = board.verdicts.set_index("task_id")
    assert verdicts.loc[first.task_id, "answers"] == {
        "pairs": {second.task_id: {"first": True, "choice": "b"}}
    }
    assert verdicts.loc[second.task_id, "answers"] == {
        "pairs": {first.task_id: {"first": False, "choice": "b"}}
    }
    assert board.raters == [{"rater": "ann", "answered": 1, "total": 6}]
    # the same pair from Python, named the other way round, and cleared
    board.choose(second.task_id, first.task_id, "a")
    assert board.marks[first.key] == {"answers": {"choice": "b"}}
    board.choose(first.task_id, second.task_id, None)
    assert board.marks == {} and board.raters[0]["answered"] == 0


def test_no_preference_can_be_left_out(local: pd.DataFrame, tmp_path: Path) -> None:
    board = local_board(local, tmp_path, design="pairwise", no_preference=False)
    first, second = board._rows[0].cards
    with pytest.raises(InvalidRequestError, match=r"'a', 'b' \(or null"):
        board.choose(first.task_id, second.task_id, "tie")
    with pytest.raises(InvalidRequestError, match="use choose"):
        board.rate(first.task_id, score=3)


def _unstrippable_mp3(folder: Path, seconds: float) -> Path:
    """A stereo MP3 with an APE footer of impossible size: its tags cannot be read, so removed."""
    import io

    import soundfile

    t = np.arange(int(22_050 * seconds)) / 22_050
    sound = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 660 * t)], 1)
    sink = io.BytesIO()
    soundfile.write(sink, sound, 22_050, format="MP3")
    footer = b"APETAGEX" + bytes(4) + (10**9).to_bytes(4, "little") + bytes(16)
    path = folder / f"{IDENTIFIERS[3]}.mp3"
    path.write_bytes(sink.getvalue() + IDENTIFIERS[0].encode() + footer)
    return path


def _one_card_board(path: Path, tmp_path: Path) -> Review:
    frame = pd.DataFrame(
        {"task_id": ["t0"], "prompt": "p", "seed": [0], "status": "completed",
         "local_path": [str(path)]}
    )  # fmt: skip
    return review(frame, store=tmp_path / "v.jsonl", rater="ann", blind=True)


def test_a_file_that_cannot_be_stripped_goes_blind_as_16_bit_flac_named_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    import soundfile

    from qubico_nb.audio.analysis import decode

    path = _unstrippable_mp3(tmp_path, 4.0)
    board = _one_card_board(path, tmp_path)
    page = Page(board, monkeypatch)
    page.tell(type="media", page="p", keys=["r0c0"], rows=[])
    page.settle()
    ((message, (data,)),) = [(m, b) for m, b in page.received if m["type"] == "media"]
    assert message["mime"] == "audio/flac" and data[:4] == b"fLaC"
    assert soundfile.info(io.BytesIO(data)).subtype == "PCM_16"
    assert len(data) < 4.0 * 22_050 * 2 * 2  # smaller than 16-bit PCM (float was twice that)
    assert IDENTIFIERS[0].encode() not in data and b"APETAGEX" not in data
    got, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    want, want_rate = decode(path.read_bytes())
    assert rate == want_rate and np.allclose(got, want, atol=2**-14)


def test_a_blind_fallback_past_its_size_limit_is_an_error_on_the_card_naming_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qubico_nb.review_board import media

    monkeypatch.setattr(media, "BLIND_FALLBACK_MAX_BYTES", 10_000)
    board = _one_card_board(_unstrippable_mp3(tmp_path, 4.0), tmp_path)
    page = Page(board, monkeypatch)
    page.tell(type="media", page="p", keys=["r0c0"], rows=[])
    page.settle()
    assert not [m for m in page.settle() if m["type"] == "media"]  # nothing reached the page
    card = board._cards["r0c0"]
    assert card.status == "missing"
    assert "cannot be sent blind" in card.reason and "limit" in card.reason
    assert all(text not in synced_text(board) for text in IDENTIFIERS)


def test_a_card_played_through_an_element_records_the_gain_it_really_had(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An <audio> element cannot be turned up: the quiet card's positive gain was 0 dB there."""
    import soundfile

    t = np.arange(22_050) / 22_050
    paths = []
    for n, amplitude in enumerate((0.02, 0.5)):
        paths.append(tmp_path / f"w{n}.wav")
        soundfile.write(paths[-1], amplitude * np.sin(2 * np.pi * 440 * t), 22_050)
    frame = pd.DataFrame(
        {"task_id": ["quiet", "loud"], "prompt": "p", "seed": [0, 1], "status": "completed",
         "local_path": [str(p) for p in paths]}
    )  # fmt: skip
    board = review(frame, store=tmp_path / "v.jsonl", rater="ann", level_match=True)
    assert board.wait(30)
    quiet = next(c for c in board._cards.values() if c.task_id == "quiet")
    gain = board._gains[quiet.source]
    assert gain is not None and gain > 3
    page = Page(board, monkeypatch)
    for seq, playback, heard in (("1", "webaudio", gain), ("2", "element", 0.0), ("3", None, gain)):
        extra = {"playback": playback} if playback else {}  # None: no audio on the page yet
        page.tell(type="rate", key=quiet.key, seq=seq, score=3, **extra)
        page.settle()
        assert board.verdicts.set_index("task_id").loc["quiet", "gain_db"] == heard, seq
