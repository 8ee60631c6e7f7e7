"""Tasks to frames: documented columns, dtypes, order, error rows, per-work rows."""

from __future__ import annotations

import pandas as pd
import pytest

from qubico_nb import Task
from qubico_nb.frames import TASK_COLUMNS, FetchFailure, columns, short_video, tasks_to_frame

from .test_models import SEED, UNIFIED


def test_columns_and_dtypes_are_stable() -> None:
    frame = tasks_to_frame([Task.from_dict(UNIFIED)])
    assert list(frame.columns) == list(TASK_COLUMNS)
    assert {c: str(t) for c, t in frame.dtypes.items()} == TASK_COLUMNS
    empty = tasks_to_frame([])
    assert list(empty.columns) == list(TASK_COLUMNS) and len(empty) == 0
    assert {c: str(t) for c, t in empty.dtypes.items()} == TASK_COLUMNS


def test_values_and_order_with_an_error_row() -> None:
    frame = tasks_to_frame([Task.from_dict(SEED), FetchFailure("gone", "HTTP 404"),
                            Task.from_dict(UNIFIED)])
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
    many = Task.from_dict({**UNIFIED, "output": {"audio_url": "https://c/a.mp3",
                                                 "video_url": "https://c/v.mp4"}})
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
