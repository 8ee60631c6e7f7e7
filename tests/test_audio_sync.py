"""The audio-video offset: known answers from the sandbox, the table, every bad input."""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
import soundfile as sf

from qubico_nb.audio import (
    CONFIDENT,
    AudioDecodeError,
    SyncEstimate,
    analyze,
    sync_offset,
    video_events,
)
from qubico_nb.audio.onsets import ENVELOPE_RATE
from qubico_nb.audio.sync import align
from qubico_nb.audio.table import SYNC_COLUMNS
from qubico_nb.audio.video_events import VisualEvents
from qubico_nb.sandbox import Sandbox
from qubico_nb.sandbox.assets import ASSETS_DIR
from qubico_nb.sandbox.sync import DEMO_EVENTS, OFFSET_RANGE_S

from .conftest import client_for

av = pytest.importorskip("av")

CLIP = (ASSETS_DIR / "demo.mp4").read_bytes()
RATE = 44100


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(preset="instant", schema="unified", audio_seconds=8.0) as sandbox:
        yield sandbox


def _true_offset(sb: Sandbox, task_id: str) -> Any:
    answer = requests.get(f"{sb.url}/sandbox/tasks/{task_id}/sync", timeout=5)
    assert answer.status_code == 200
    return answer.json()["data"]["offset_s"]


def _video(frames: list[np.ndarray], fps: int = 25) -> bytes:
    """An MP4 of grey frames (H.264)."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.height, stream.width = frames[0].shape
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for image in frames:
            frame = av.VideoFrame.from_ndarray(np.repeat(image[..., None], 3, axis=2), "rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _flashes(seconds: float, at: list[float], fps: int = 25) -> bytes:
    """A lamp switched on or off at each time in `at` (a switch clicks each time)."""
    frames = []
    for k in range(int(seconds * fps)):
        image = np.full((48, 64), 40, dtype=np.uint8)
        if sum(k / fps >= t for t in at) % 2:
            image[8:40, 8:56] = 220
        frames.append(image)
    return _video(frames, fps)


def _square(image: np.ndarray, x: float, y: float, size: float, shade: float) -> None:
    """Draw a square at a sub-pixel position (edge pixels partly covered), as a camera sees it."""

    def cover(start: float, n: int) -> np.ndarray:
        edges = np.arange(n)
        return np.clip(np.minimum(edges + 1, start + size) - np.maximum(edges, start), 0, 1)

    share = np.outer(cover(y, image.shape[0]), cover(x, image.shape[1]))
    image += share * (shade - image)


def _clicks(seconds: float, at: list[float]) -> bytes:
    samples = np.zeros(int(seconds * RATE), dtype=np.float32)
    burst = np.random.default_rng(0).standard_normal(2000).astype(np.float32)
    burst *= np.exp(-np.arange(2000) / 300).astype(np.float32)
    for t in at:
        start = int(t * RATE)
        samples[start : start + 2000] += 0.5 * burst[: samples.size - start]
    return _wav(samples)


def _wav(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


# -- known answers ------------------------------------------------------------------------------
def test_the_sandbox_sound_lands_on_the_demo_clip_at_its_true_offset(sb: Sandbox) -> None:
    client = client_for(sb)
    seen = []
    for seed in (3, 11):
        task = client.wait(client.generate_audio(sb.demo_video_url, "a ball", seed=seed))
        truth = _true_offset(sb, task.id)
        assert OFFSET_RANGE_S[0] <= truth <= OFFSET_RANGE_S[1]
        estimate = sync_offset(sb.demo_video_url, task.audio.url, client=client)
        assert estimate.offset_s == pytest.approx(truth, abs=0.03)
        assert estimate.confidence >= CONFIDENT
        seen.append(truth)
    assert seen[0] != seen[1]  # the offset follows the seed


def test_the_true_offset_route_is_null_for_a_video_the_sandbox_does_not_know(sb: Sandbox) -> None:
    client = client_for(sb)
    missing = sb.demo_video_url.replace("demo.mp4", "missing.mp4")
    task = client.wait(client.generate_audio(missing, "a", seed=1))
    data = requests.get(f"{sb.url}/sandbox/tasks/{task.id}/sync", timeout=5).json()["data"]
    assert data["offset_s"] is None and data["events_s"] == []
    assert requests.get(f"{sb.url}/sandbox/tasks/nope/sync", timeout=5).status_code == 404


def test_the_true_offset_route_is_null_for_other_models(sb: Sandbox) -> None:
    client = client_for(sb)
    task = client.wait(client.generate_music("lofi, piano", "[verse] rain"))
    data = requests.get(f"{sb.url}/sandbox/tasks/{task.id}/sync", timeout=5).json()["data"]
    assert data["offset_s"] is None and data["events_s"] == []


def test_a_known_shift_of_flashes_and_clicks_is_found_either_way() -> None:
    events = [0.6, 1.5, 1.9, 3.1, 4.4]
    video = _flashes(5.5, events)
    for shift in (-0.32, 0.0, 0.21):
        audio = _clicks(5.5, [t + shift for t in events])
        estimate = sync_offset(video, audio)
        assert estimate.offset_s == pytest.approx(shift, abs=0.03), shift
        assert estimate.confidence >= CONFIDENT


def test_the_estimate_holds_its_envelopes_read_only_and_reads_plainly(tmp_path: Any) -> None:
    events = [0.6, 1.5, 2.7]
    (tmp_path / "v.mp4").write_bytes(_flashes(3.5, events))
    (tmp_path / "a.wav").write_bytes(_clicks(3.5, [t + 0.1 for t in events]))
    estimate = sync_offset(tmp_path / "v.mp4", str(tmp_path / "a.wav"), max_offset_s=0.5)
    assert isinstance(estimate, SyncEstimate)
    assert estimate.envelope_rate == 200 and estimate.frame_rate == pytest.approx(25.0)
    assert estimate.correlation.size == 201 and estimate.lags_s[[0, -1]].tolist() == [-0.5, 0.5]
    assert abs(estimate.visual.size - 3.5 * 200) < 10 and abs(estimate.onsets.size - 700) < 10
    assert estimate.visual.max() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        estimate.onsets[0] = 1
    text = repr(estimate)
    assert text.startswith("SyncEstimate(offset_s=+0.1") and "at 200 Hz" in text
    assert len(text) < 120


def _events(times: list[float], strengths: list[float], seconds: float) -> VisualEvents:
    """Visual events at 25 fps: `strengths` at `times`, a faint flicker everywhere else."""
    grid = (np.arange(int(seconds * 25) - 2) + 0.5) / 25
    strength = np.full(grid.size, 0.05)
    for t, s in zip(times, strengths, strict=True):
        strength[np.argmin(np.abs(grid - t))] = s
    return VisualEvents(times=grid, strength=strength, frame_rate=25.0, duration_s=seconds)


def _onsets(times: list[float], heights: list[float], seconds: float) -> np.ndarray:
    envelope = np.zeros(int(seconds * ENVELOPE_RATE) + 1)
    for t, h in zip(times, heights, strict=True):
        envelope[round(t * ENVELOPE_RATE)] = h
    return envelope


def test_one_bright_flash_does_not_outweigh_every_other_event() -> None:
    # Six impacts, each with its loud thud 0.1 s late; a flash 30 times stronger in the picture
    # whose own zap is faint.
    impacts = [0.8, 1.6, 2.4, 3.9, 4.6, 5.4]
    events = _events([*impacts, 3.2], [1.0] * 6 + [30.0], 6.5)
    onsets = _onsets([t + 0.1 for t in [*impacts, 3.2]], [1.0] * 5 + [3.0, 0.2], 6.5)
    estimate = align(events, onsets)
    assert estimate.offset_s == pytest.approx(0.1, abs=0.02)


def test_events_in_one_half_of_the_clip_only_earn_three_quarters_of_the_margin() -> None:
    def margin(estimate: SyncEstimate) -> float:
        corr, lags = estimate.correlation, estimate.lags_s
        best = int(np.argmax(corr))
        others = np.abs(lags - lags[best]) > 2 / 25 + 1e-9
        return float((corr[best] - max(corr[others].max(), 0)) / corr[best])

    times = [0.7, 1.5, 2.1, 2.8, 3.4, 4.2, 5.0, 5.9]
    spread = align(
        _events(times, [1.0] * 8, 6.5), _onsets([t + 0.1 for t in times], [1.0] * 8, 6.5)
    )
    early = [t / 2 for t in times]  # the same events, all in the first half
    one_half = align(
        _events(early, [1.0] * 8, 6.5), _onsets([t + 0.1 for t in early], [1.0] * 8, 6.5)
    )
    assert spread.confidence == pytest.approx(margin(spread))
    assert one_half.confidence == pytest.approx(0.75 * margin(one_half))
    assert spread.offset_s == pytest.approx(0.1, abs=0.01) == one_half.offset_s


def test_motion_that_stops_is_an_event_and_motion_that_starts_or_goes_on_is_not() -> None:
    frames = []
    for k in range(100):
        t = k / 25
        image = np.full((48, 64), 40.0)
        _square(image, 4 + 15 * min(t, 2.0), 8, 8, 220)  # glides right, stops at 2 s
        _square(image, 44, 20 + 15 * max(0.0, t - 3.0), 8, 200)  # still, then falls from 3 s
        frames.append(np.round(image).astype(np.uint8))
    events = video_events.video_events(_video(frames))
    stop, start = (events.strength[np.abs(events.times - t) < 0.05].max() for t in (2.0, 3.0))
    gliding = events.strength[(events.times > 0.3) & (events.times < 1.8)].max()
    assert stop == events.strength.max()
    assert stop > 3 * gliding and stop > 3 * start


def test_sounds_unrelated_to_the_picture_are_never_confident() -> None:
    video = _flashes(6.0, [0.5, 1.3, 2.9, 3.6, 4.8])
    estimate = sync_offset(video, _clicks(6.0, [0.9, 2.1, 2.5, 4.1, 5.2]))
    assert estimate.confidence < CONFIDENT


# -- the table ----------------------------------------------------------------------------------
def test_analyze_adds_the_offset_and_fetches_each_video_once(sb: Sandbox) -> None:
    client = client_for(sb)
    tasks = [
        client.wait(client.generate_audio(sb.demo_video_url, "a ball", seed=seed))
        for seed in (1, 2, 3)
    ]
    missing = sb.demo_video_url.replace("demo.mp4", "missing.mp4")  # 404: cannot be measured
    other = client.wait(client.generate_audio(missing, "a", seed=4))
    sb.reset_counters()
    table = analyze([*tasks, other], client=client, progress=False, video=True, cache=False)
    assert {c: str(table[c].dtype) for c in SYNC_COLUMNS} == SYNC_COLUMNS
    for position, task in enumerate(tasks):
        row = table.iloc[position]
        assert pd.isna(row["av_sync_error"])
        assert row["av_offset_s"] == pytest.approx(_true_offset(sb, task.id), abs=0.03)
        assert row["av_sync_confidence"] >= CONFIDENT
    last = table.iloc[3]
    assert pd.isna(last["av_offset_s"]) and pd.isna(last["av_sync_confidence"])
    assert last["av_sync_error"].startswith("could not measure the source video")
    assert pd.isna(last["analysis_error"])  # its sound was still measured
    # four sounds, and the demo clip fetched once for three of them (and the missing one tried)
    assert sb.requests["file"] == 6


def test_analyze_without_video_adds_no_sync_columns_and_rows_without_video_say_why() -> None:
    frame = pd.DataFrame(
        {
            "status": ["failed", "completed", "completed"],
            "error": ["boom", None, None],
            "url": [None, None, None],
            "video": [None, None, "data:video/mp4;base64,… (9 chars)"],
        }
    )
    assert "av_offset_s" not in analyze(frame, progress=False).columns
    table = analyze(frame, progress=False, video=True)
    assert table["av_sync_error"].tolist()[0] == "task failed: boom"
    assert table["av_sync_error"].tolist()[1] == "task has no audio file"


def test_the_table_says_why_for_an_inline_video(sb: Sandbox) -> None:
    from qubico_nb.audio.table import _Videos
    from qubico_nb.store.files import FileCache

    videos = _Videos(FileCache(enabled=False), 1.0)
    assert videos.offset(None, b"", None) == "the task has no source video"
    assert "inline" in str(videos.offset("data:video/mp4;base64,AAAA", b"", None))


# -- bad input ----------------------------------------------------------------------------------
def test_a_still_video_gives_no_offset_and_no_confidence() -> None:
    still = _video([np.full((48, 64), 90, dtype=np.uint8)] * 100)
    estimate = sync_offset(still, _clicks(4.0, [0.5, 1.7, 2.9]))
    assert math.isnan(estimate.offset_s) and estimate.confidence == 0.0
    assert "no motion" in str(estimate.reason)


def test_silent_audio_gives_no_offset_and_no_confidence() -> None:
    estimate = sync_offset(_flashes(4.0, [0.5, 1.7]), _wav(np.zeros(4 * RATE, np.float32)))
    assert math.isnan(estimate.offset_s) and estimate.confidence == 0.0
    assert "silent" in str(estimate.reason)


def test_a_clip_shorter_than_the_lag_window_says_so() -> None:
    estimate = sync_offset(_flashes(1.2, [0.4]), _clicks(1.2, [0.4]))
    assert math.isnan(estimate.offset_s) and estimate.confidence == 0.0
    assert "too short for the lag window" in str(estimate.reason)
    assert "max_offset_s" in str(estimate.reason)


def test_periodic_events_are_never_confident() -> None:
    events = [0.4 + 0.5 * k for k in range(10)]  # every 0.5 s: lags 0.5 s apart fit as well
    estimate = sync_offset(_flashes(5.6, events), _clicks(5.6, [t + 0.1 for t in events]))
    assert estimate.confidence < CONFIDENT


@pytest.mark.parametrize(
    ("video", "message"),
    [
        (b"not a video at all", "cannot decode video"),
        (b"", "empty"),
        (CLIP[: len(CLIP) // 20], "cannot decode video"),
    ],
)
def test_a_video_that_cannot_be_decoded_is_a_clear_error(video: bytes, message: str) -> None:
    with pytest.raises(AudioDecodeError, match=message):
        sync_offset(video, _clicks(8.0, [1.0]))


def test_audio_that_cannot_be_decoded_is_a_clear_error() -> None:
    with pytest.raises(AudioDecodeError, match="cannot decode audio"):
        sync_offset(CLIP, b"RIFF but not really a sound file")


def test_absurd_headers_are_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video_events, "MAX_FRAME_PIXELS", 100 * 100)
    with pytest.raises(AudioDecodeError, match="declares 320x180 frames"):
        sync_offset(CLIP, _clicks(8.0, [1.0]))
    monkeypatch.undo()
    monkeypatch.setattr(video_events, "MAX_VIDEO_SECONDS", 5.0)
    with pytest.raises(AudioDecodeError, match="declares 8 s"):
        sync_offset(CLIP, _clicks(8.0, [1.0]))


def test_max_offset_is_checked() -> None:
    for bad in (0, -1.0, 11, True, "1"):
        with pytest.raises(ValueError, match="max_offset_s"):
            sync_offset(CLIP, b"x", max_offset_s=bad)  # type: ignore[arg-type]


def test_without_pyav_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(ImportError, match=r"qubico-nb\[video\]"):
        sync_offset(CLIP, b"x")
    frame = pd.DataFrame({"status": ["completed"], "url": ["http://x/a.wav"]})
    with pytest.raises(ImportError, match=r"qubico-nb\[video\]"):
        analyze(frame, progress=False, video=True)


def test_the_demo_events_are_what_the_clip_shows() -> None:
    """A click on every event of DEMO_EVENTS lines up with the clip at offset 0."""
    audio = _clicks(8.0, [at for at, _ in DEMO_EVENTS])
    estimate = sync_offset(CLIP, audio)
    assert estimate.offset_s == pytest.approx(0.0, abs=0.025)
    assert estimate.confidence >= CONFIDENT
