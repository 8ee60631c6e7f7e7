"""Tasks to frames: documented columns, dtypes, order, error rows, per-work rows."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from qubico_nb import Task
from qubico_nb.frames import TASK_COLUMNS, FetchFailure, columns, short_video, tasks_to_frame

from .helpers.answers import SEED, UNIFIED


def test_columns_and_dtypes_are_stable() -> None:
    frame = tasks_to_frame([Task.from_dict(UNIFIED)])
    assert list(frame.columns) == list(TASK_COLUMNS)
    assert {c: str(t) for c, t in frame.dtypes.items()} == TASK_COLUMNS
    empty = tasks_to_frame([])
    assert list(empty.columns) == list(TASK_COLUMNS) and len(empty) == 0
    assert {c: str(t) for c, t in empty.dtypes.items()} == TASK_COLUMNS


def test_values_and_order_with_an_error_row() -> None:
    frame = tasks_to_frame(
        [Task.from_dict(SEED), FetchFailure("gone", "HTTP 404"), Task.from_dict(UNIFIED)]
    )
    assert list(frame["task_id"]) == ["seed-1", "gone", UNIFIED["task_id"]]
    assert list(frame["status"]) == ["completed", "error", "completed"]
    assert frame.loc[1, "error"] == "HTTP 404" and frame.loc[1, "n_works"] == 0
    assert pd.isna(frame.loc[1, "seed"]) and pd.isna(frame.loc[1, "created_at"])
    assert frame.loc[2, "cost_usd"] == pytest.approx(0.02)
    assert frame.loc[0, "audio_url"] == "https://cdn/x-clean.wav"
    assert frame.loc[0, "duration_s"] == 8.0
    assert frame.loc[2, "created_at"] == pd.Timestamp("2025-06-01T10:00:00.123456Z")
    assert frame.loc[2, "ran_s"] == pytest.approx(30.0)


def test_per_work_rows_keep_tasks_without_works() -> None:
    many = Task.from_dict(
        {**UNIFIED, "output": {"audio_url": "https://c/a.mp3", "video_url": "https://c/v.mp4"}}
    )
    none = Task.from_dict({**UNIFIED, "task_id": "empty", "output": None})
    frame = tasks_to_frame([many, none], per="work")
    assert list(frame.columns) == list(columns("work"))
    assert list(frame["work_index"].astype("object").fillna(-1)) == [0, 1, -1]
    assert list(frame["kind"].fillna("-")) == ["audio", "video", "-"]
    assert frame.loc[1, "audio_url"] is pd.NA
    assert list(frame["task_id"]) == [many.id, many.id, "empty"]


def test_data_uri_videos_are_shortened() -> None:
    uri = "data:video/mp4;base64," + "A" * 5000
    assert short_video(uri) == "data:video/mp4;base64,… (5,022 chars)"
    frame = tasks_to_frame([Task.from_dict({**UNIFIED, "input": {"video": uri}})])
    assert len(frame.loc[0, "video"]) < 60


def test_bad_per() -> None:
    with pytest.raises(ValueError, match="per must be"):
        tasks_to_frame([], per="row")


def odd_answers() -> dict[str, dict[str, Any]]:
    """One answer of each odd kind that still reads as a Task."""
    meta = UNIFIED["meta"]
    return {
        "seed beyond int64": {**UNIFIED, "input": {**UNIFIED["input"], "seed": 2**70}},
        "steps below int64": {**UNIFIED, "input": {**UNIFIED["input"], "steps": -(2**80)}},
        "year 2500": {**UNIFIED, "meta": {**meta, "ended_at": "2500-01-01T00:00:00Z"}},
        "year 1500": {**UNIFIED, "meta": {**meta, "created_at": "1500-01-01T00:00:00Z"}},
        "huge cost": {**UNIFIED, "meta": {**meta, "usage": {"consume": 10**30}}},
        "1e400 duration": {
            **SEED,
            "works": [
                {
                    **SEED["works"][0],
                    "resource": {"resource": "https://cdn/y.wav", "duration": float("inf")},
                }
            ],
        },
        "null output": {**UNIFIED, "output": None},
        "wrong types": {
            **UNIFIED,
            "model": [],
            "task_type": {},
            "status": 3,
            "input": "x",
            "meta": "x",
            "error": 5,
            "output": {"audio_url": 7},
        },
    }


def test_one_odd_task_never_sinks_the_frame() -> None:
    good = [
        Task.from_dict(
            {**UNIFIED, "task_id": f"good-{n}", "input": {**UNIFIED["input"], "seed": n}}
        )
        for n in range(50)
    ]
    odd = {name: Task.from_dict(answer) for name, answer in odd_answers().items()}
    refused = FetchFailure("deep", "ProtocolError: nests more than 100 levels deep")
    items = [*good[:25], *odd.values(), refused, *good[25:]]
    for per in ("task", "work"):
        frame = tasks_to_frame(items, per=per)  # type: ignore[arg-type]
        alone = tasks_to_frame(good, per=per)  # type: ignore[arg-type]
        assert {c: str(t) for c, t in frame.dtypes.items()} == columns(per)  # type: ignore[arg-type]
        kept = frame[frame["task_id"].str.startswith("good-")].reset_index(drop=True)
        pd.testing.assert_frame_equal(kept, alone)
        by_id = frame.set_index("task_id")
        assert by_id.loc["deep", "error"].startswith("ProtocolError")
    frame = tasks_to_frame(items).set_index(
        pd.Index([*(f"g{n}" for n in range(25)), *odd, "deep", *(f"g{n}" for n in range(25, 50))])
    )
    assert pd.isna(frame.loc["seed beyond int64", "seed"])
    assert frame.loc["seed beyond int64", "steps"] == 25
    assert pd.isna(frame.loc["steps below int64", "steps"])
    assert pd.isna(frame.loc["year 2500", "ended_at"])  # the Task keeps it; ran_s is computed
    assert frame.loc["year 2500", "created_at"] == pd.Timestamp("2025-06-01T10:00:00.123456Z")
    assert pd.isna(frame.loc["year 1500", "created_at"])
    assert pd.isna(frame.loc["huge cost", "cost_usd"])
    assert pd.isna(frame.loc["1e400 duration", "duration_s"])
    assert frame.loc["1e400 duration", "audio_url"] == "https://cdn/y.wav"
    assert frame.loc["null output", "n_works"] == 0
    assert frame.loc["wrong types", "status"] == "unknown"


def test_timestamps_at_the_edges_of_pandas_range() -> None:
    inside = Task.from_dict(
        {
            **UNIFIED,
            "meta": {
                "created_at": "1700-01-01T00:00:00Z",
                "ended_at": "2262-01-01T00:00:00.000001Z",
            },
        }
    )
    frame = tasks_to_frame([inside])
    assert frame.loc[0, "created_at"] == pd.Timestamp("1700-01-01T00:00:00Z")
    assert frame.loc[0, "ended_at"] == pd.Timestamp("2262-01-01T00:00:00.000001Z")


def test_a_50_mb_prompt_stays_whole_in_the_frame() -> None:
    prompt = "rain " * (10 * 1024 * 1024)
    frame = tasks_to_frame([Task.from_dict({**UNIFIED, "input": {"prompt": prompt}})])
    assert frame.loc[0, "prompt"] == prompt


def test_items_that_are_not_tasks_are_refused() -> None:
    with pytest.raises(TypeError, match="expected Task or FetchFailure"):
        tasks_to_frame([UNIFIED])  # type: ignore[list-item]


def test_the_column_builder_agrees_with_the_rows() -> None:
    """tasks_to_frame builds columns directly; each cell must equal `rows()`'s value."""
    from qubico_nb.frames import rows

    many = Task.from_dict(
        {**UNIFIED, "output": {"audio_url": "https://c/a.mp3", "video_url": "https://c/v.mp4"}}
    )
    items = [
        Task.from_dict(SEED),
        FetchFailure("gone", "HTTP 404"),
        many,
        Task.from_dict({**UNIFIED, "task_id": "empty", "output": None}),
    ]
    for per in ("task", "work"):
        frame = tasks_to_frame(items, per=per)  # type: ignore[arg-type]
        expected = rows(items, per=per)  # type: ignore[arg-type]
        assert len(frame) == len(expected)
        for position, row in enumerate(expected):
            for name in columns(per):  # type: ignore[arg-type]
                value, want = frame.iloc[position][name], row.get(name)
                if want is None:
                    assert pd.isna(value), (per, position, name, value)
                else:
                    assert value == want, (per, position, name, value, want)


@pytest.mark.parametrize("enabled", [True, False])
def test_building_a_frame_leaves_the_garbage_collector_as_it_was(enabled: bool) -> None:
    import gc

    task = Task.from_dict(UNIFIED)
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        assert len(tasks_to_frame([task])) == 1
        assert gc.isenabled() is enabled
        with pytest.raises(TypeError):
            tasks_to_frame([task, "not a task"])  # type: ignore[list-item]
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def unified(model: str, task_type: str, **input: object) -> Task:
    return Task.from_dict(
        {
            "task_id": f"{model}-{task_type}",
            "model": model,
            "task_type": task_type,
            "status": "completed",
            "input": input,
            "output": {"audio_url": "https://c/a.mp3"},
            "meta": {"usage": {"type": "point", "frozen": 0, "consume": 200000}},
        }
    )


def listed(frame: pd.DataFrame, name: str) -> list[object]:
    return [None if pd.isna(v) else v for v in frame[name]]


def test_each_models_main_text_lyrics_reference_and_length_have_their_columns() -> None:
    tasks = [
        unified("Qubico/ace-step", "txt2audio", style_prompt="lofi", lyrics="[inst]", duration=45),
        unified("Qubico/ace-step", "audio2audio", style_prompt="jazz", style_audio="https://r"),
        unified("Qubico/diffrhythm", "txt2audio-full", style_prompt="pop", lyrics="[00:01.00] hi"),
        unified("Qubico/tts", "zero-shot", gen_text="Hello.", ref_audio="data:audio/wav;base64,AA"),
        unified("Qubico/mmaudio", "video2audio", prompt="rain", video="https://v.mp4", seed=3),
        unified("Qubico/flux1-dev", "txt2img", prompt="a fox"),
        unified("Qubico/ace-step", "txt2audio", style_prompt="x", negative_style_prompt="drums"),
    ]
    for per in ("task", "work"):
        frame = tasks_to_frame(tasks, per=per)  # type: ignore[arg-type]
        assert frame["prompt"].tolist() == ["lofi", "jazz", "pop", "Hello.", "rain", "a fox", "x"]

        assert listed(frame, "lyrics")[:3] == ["[inst]", None, "[00:01.00] hi"]
        assert listed(frame, "requested_s") == [45.0, None, 285.0, None, None, None, 240.0]
        assert frame["reference"][1] == "https://r"
        assert frame["reference"][3].startswith("data:audio/wav;base64,…")  # shortened
        assert frame["negative_prompt"][6] == "drums" and frame["seed"][4] == 3
        assert frame["output_kind"].tolist() == ["audio"] * 7


def test_cost_summary_sums_per_model_or_any_grouping() -> None:
    from qubico_nb.frames import cost_summary

    frame = tasks_to_frame(
        [
            unified("Qubico/diffrhythm", "txt2audio-base", style_prompt="a"),
            unified("Qubico/diffrhythm", "txt2audio-full", style_prompt="b"),
            unified("Qubico/tts", "zero-shot", gen_text="c", ref_audio="https://r"),
            FetchFailure("gone", "HTTP 404"),
        ]
    )
    by_model = cost_summary(frame)
    assert by_model["model"].tolist()[:2] == ["Qubico/diffrhythm", "Qubico/tts"]
    assert by_model["tasks"].tolist() == [2, 1, 1] and by_model["charged"].tolist() == [2, 1, 0]
    assert by_model["cost_usd"].tolist()[:2] == [0.04, 0.02]
    assert pd.isna(by_model["mean_usd"][2])
    assert len(cost_summary(frame, ["model", "task_type"])) == 4
    with pytest.raises(ValueError, match="no column 'batch'"):
        cost_summary(frame, "batch")
