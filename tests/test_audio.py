"""Audio analysis against signals whose answers are known, and `analyze` against the sandbox."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from qubico_nb._constants import CACHE_DIR_ENV
from qubico_nb.audio import (
    ANALYSIS_COLUMNS,
    AudioAnalysis,
    AudioDecodeError,
    analyze,
    analyze_file,
    analyze_samples,
    decode_peaks,
    encode_peaks,
)
from qubico_nb.batch import tabulate_tasks
from qubico_nb.errors import QubicoError
from qubico_nb.sandbox import Sandbox
from qubico_nb.store.files import FileCache

from .helpers.sandbox import VIDEO, client_for

RATE = 44100


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache directory: nothing is ever written to the user's cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(folder))
    return folder


def sine(dbfs: float, seconds: float = 2.0, freq: float = 1000.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)).astype(np.float64)


def encode(
    samples: np.ndarray, fmt: str = "WAV", subtype: str | None = "FLOAT", rate: int = RATE
) -> bytes:
    buffer = io.BytesIO()
    if fmt == "MP3":
        sf.write(buffer, samples, rate, format="MP3")
    else:
        sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


# -- levels ----------------------------------------------------------------------------------------
def test_sine_at_minus_6_dbfs_reads_its_peak_and_rms() -> None:
    result = analyze_file(encode(sine(-6.0)))
    assert result.peak_dbfs == pytest.approx(-6.0, abs=0.1)
    assert result.rms_dbfs == pytest.approx(-9.0, abs=0.1)  # a sine's RMS is 3.01 dB below peak
    assert result.clipped_fraction == 0.0
    assert result.silent_fraction == 0.0
    assert (result.sample_rate, result.channels) == (RATE, 1)
    assert result.duration_s == pytest.approx(2.0)


def test_16_bit_wav_reads_the_same_levels() -> None:
    result = analyze_file(encode(sine(-6.0), subtype="PCM_16"))
    assert result.peak_dbfs == pytest.approx(-6.0, abs=0.1)
    assert result.rms_dbfs == pytest.approx(-9.0, abs=0.1)


def test_silence_is_minus_infinity_and_all_silent() -> None:
    result = analyze_file(encode(np.zeros(RATE)))
    assert result.peak_dbfs == -math.inf
    assert result.rms_dbfs == -math.inf
    assert result.lufs == -math.inf  # no block above BS.1770's absolute gate
    assert result.silent_fraction == 1.0
    assert result.clipped_fraction == 0.0
    assert not result.peaks.any()
    assert not result.spectrogram.any()


def test_quiet_half_counts_as_silent_time() -> None:
    loud = sine(-20.0, seconds=1.0)
    quiet = sine(-70.0, seconds=1.0)  # RMS -73 dBFS: below the -60 dBFS silence threshold
    result = analyze_file(encode(np.concatenate([loud, quiet])))
    assert result.silent_fraction == pytest.approx(0.5, abs=0.03)


def test_hard_clipped_sine_reports_its_clipped_share() -> None:
    boosted = np.clip(2.0 * sine(0.0), -1.0, 1.0)
    # |2 sin x| >= 0.999 exactly where |sin x| >= 0.4995: a third of the time (arcsin rule).
    expected = 1 - 2 * math.asin(0.4995) / math.pi
    result = analyze_file(encode(boosted))
    assert result.clipped_fraction == pytest.approx(expected, abs=0.005)
    assert result.peak_dbfs == pytest.approx(0.0, abs=0.01)


def test_unclipped_loud_sine_has_no_clipping() -> None:
    assert analyze_file(encode(sine(-0.1))).clipped_fraction == 0.0


# -- loudness --------------------------------------------------------------------------------------
def test_1khz_sine_at_minus_20_dbfs_is_about_minus_23_lufs() -> None:
    # BS.1770: K-weighting adds ~+0.7 dB at 1 kHz, and -0.691 + 10 log10(mean square):
    # -20 dBFS peak -> -23.01 dB mean square -> -23.05 LUFS (pyloudnorm agrees).
    result = analyze_file(encode(sine(-20.0, seconds=3.0)))
    assert result.lufs == pytest.approx(-23.0, abs=0.1)


@pytest.mark.parametrize("channels", [1, 2, 5])
@pytest.mark.parametrize("rate", [44100, 48000, 22050])
def test_loudness_agrees_with_pyloudnorm_including_gating(channels: int, rate: int) -> None:
    import pyloudnorm

    rng = np.random.default_rng(channels * rate)
    noise = rng.standard_normal((int(5.3 * rate), channels)) * 0.1
    noise[rate : 2 * rate] *= 0.01  # 40 dB down: dropped by the relative gate
    noise[3 * rate : 4 * rate] = 0.0  # silence: dropped by the absolute gate
    expected = pyloudnorm.Meter(rate).integrated_loudness(noise)
    result = analyze_samples(noise, rate)
    assert result.lufs == pytest.approx(expected, abs=0.01)


def test_loudness_of_a_clip_shorter_than_one_block_is_nan() -> None:
    result = analyze_file(encode(sine(-20.0, seconds=0.3)))
    assert math.isnan(result.lufs)
    assert result.peak_dbfs == pytest.approx(-20.0, abs=0.1)  # the rest is still measured


def test_loudness_is_nan_beyond_five_channels() -> None:
    six = np.tile(sine(-20.0, seconds=1.0)[:, None], (1, 6))
    result = analyze_samples(six, RATE)
    assert math.isnan(result.lufs)
    assert result.channels == 6


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
def test_block_k_weighting_gives_sosfilts_output(rate: int) -> None:
    from scipy.signal import sosfilt

    from qubico_nb.audio.analysis import k_weighting_sections
    from qubico_nb.audio.blockfilter import BlockFilter

    sections = k_weighting_sections(rate)
    assert sections is not None
    kweighting = BlockFilter.design(sections)
    rng = np.random.default_rng(rate)
    # every way a length can fall on the blocks, and a low rumble the high-pass must remove
    for size in (1, 63, 64, 65, 1000, 3 * rate + 17):
        samples = (rng.standard_normal(size) * 0.3).astype(np.float32)
        samples += (0.5 * np.sin(2 * np.pi * 20 * np.arange(size) / rate)).astype(np.float32)
        expected = sosfilt(sections, samples.astype(np.float64))
        got = kweighting(samples)
        assert got.shape == (size,) and got.dtype == np.float32
        # float32's resolution (sosfilt itself, run in float32, is off ten times more)
        assert np.max(np.abs(got - expected)) <= 3e-5 * np.max(np.abs(expected)), size
        energy = np.sum(np.square(got, dtype=np.float64))
        assert energy == pytest.approx(np.sum(np.square(expected)), rel=1e-5), size  # 4e-5 dB


def test_block_filter_matches_sosfilt_for_any_cascade() -> None:
    from scipy.signal import butter, sosfilt

    from qubico_nb.audio.blockfilter import BlockFilter

    samples = np.random.default_rng(3).standard_normal(10_007).astype(np.float32)
    for order, kind in ((1, "lowpass"), (4, "highpass"), (6, "bandpass")):
        band = [0.1, 0.3] if kind == "bandpass" else 0.05
        sections = butter(order, band, btype=kind, output="sos")
        got = BlockFilter.design(sections, block=32)(samples)
        assert np.max(np.abs(got - sosfilt(sections, samples.astype(np.float64)))) < 1e-4, kind
    with pytest.raises(ValueError, match="sos must have shape"):
        BlockFilter.design(np.zeros((2, 5)))


@pytest.mark.parametrize(
    ("fmt", "subtype"),
    [
        ("WAV", "PCM_16"),
        ("WAV", "PCM_24"),
        ("WAV", "PCM_32"),
        ("FLAC", "PCM_16"),
        ("FLAC", "PCM_24"),
        ("WAV", "FLOAT"),
    ],
)
def test_decoded_samples_are_libsndfiles_float_values(fmt: str, subtype: str) -> None:
    from qubico_nb.audio.analysis import decode

    rng = np.random.default_rng(9)
    stereo = np.clip(rng.standard_normal((5000, 2)) * 0.5, -1.0, 1.0)
    stereo[:2] = [[1.0, -1.0], [-1.0, 1.0]]  # both ends of the integer range
    data = encode(stereo, fmt, subtype)
    expected, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    samples, got_rate = decode(data)
    assert samples.dtype == np.float32 and got_rate == rate
    assert np.array_equal(samples, expected)


# -- waveform and spectrogram -----------------------------------------------------------------
def test_peaks_are_min_max_pairs_symmetric_for_a_sine() -> None:
    result = analyze_file(encode(sine(-6.0)), peaks=100)
    assert result.peaks.shape == (100, 2)
    assert result.peaks.dtype == np.int8
    level = round(10 ** (-6 / 20) * 127)
    assert np.all(np.abs(result.peaks[:, 1] - level) <= 1)
    assert np.all(np.abs(result.peaks[:, 0] + level) <= 1)


def test_peaks_follow_the_envelope_and_default_to_200() -> None:
    ramp = sine(0.0) * np.linspace(0.0, 1.0, 2 * RATE)
    result = analyze_file(encode(ramp))
    assert result.peaks.shape == (200, 2)
    highs = result.peaks[:, 1].astype(int)
    assert highs[0] <= 2 and highs[-1] >= 125
    assert np.all(np.diff(highs) >= -1)


def test_peaks_of_a_file_shorter_than_the_slices() -> None:
    result = analyze_samples(np.array([0.5, -0.5, 1.0]), RATE, peaks=6)
    assert result.peaks.tolist() == [
        [64, 64],
        [64, 64],
        [-64, -64],
        [-64, -64],
        [127, 127],
        [127, 127],
    ]


def test_peaks_reject_nonsense_counts() -> None:
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="peaks"):
            analyze_file(encode(sine(-6.0, seconds=0.1)), peaks=bad)  # type: ignore[arg-type]


def test_spectrogram_puts_a_tone_in_its_band_with_low_frequencies_first() -> None:
    low = analyze_file(encode(sine(-6.0, freq=200.0))).spectrogram
    high = analyze_file(encode(sine(-6.0, freq=8000.0))).spectrogram
    assert low.shape == (64, 200) and low.dtype == np.uint8
    low_row = int(np.argmax(low[:, 100]))
    high_row = int(np.argmax(high[:, 100]))
    assert low_row < high_row
    # the strongest band reads the tone's level: -6 dBFS on a -100..0 dB scale, within scalloping
    assert low[low_row, 100] == pytest.approx(255 * 94 / 100, abs=255 * 1.5 / 100)


def test_spectrogram_of_a_long_file_still_shows_a_short_click() -> None:
    samples = np.zeros(30 * RATE)
    samples[10 * RATE : 10 * RATE + 220] = sine(-6.0, seconds=220 / RATE, freq=3000.0)
    image = analyze_samples(samples, RATE).spectrogram
    assert image.max(axis=0).nonzero()[0].tolist() == [66]  # 10 s of 30 s, in 200 columns


def test_spectrogram_shape_is_configurable() -> None:
    result = analyze_file(encode(sine(-6.0, seconds=0.01)), spectrogram_shape=(16, 40))
    assert result.spectrogram.shape == (16, 40)


def test_arrays_are_read_only() -> None:
    result = analyze_file(encode(sine(-6.0, seconds=0.5)))
    with pytest.raises(ValueError):
        result.peaks[0, 0] = 1
    with pytest.raises(ValueError):
        result.spectrogram[0, 0] = 1


# -- formats and inputs -------------------------------------------------------------------------
def test_stereo_counts_channels_and_measures_all_of_them() -> None:
    left = sine(-6.0)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    result = analyze_file(encode(stereo))
    assert result.channels == 2
    assert result.peak_dbfs == pytest.approx(-6.0, abs=0.1)
    assert result.rms_dbfs == pytest.approx(-9.0 - 3.01, abs=0.1)  # over both channels
    level = round(10 ** (-6 / 20) / 2 * 127)  # the mono mix halves a one-sided signal
    assert abs(int(result.peaks[:, 1].max()) - level) <= 1


def test_wav_flac_and_ogg_round_trips() -> None:
    signal = sine(-6.0, seconds=1.5)
    for fmt, subtype in (("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("OGG", "VORBIS")):
        result = analyze_file(encode(signal, fmt, subtype))
        assert result.duration_s == pytest.approx(1.5, abs=1e-3), fmt
        assert result.rms_dbfs == pytest.approx(-9.0, abs=0.2), fmt
        if fmt != "OGG":  # a lossy codec may overshoot its peaks a little
            assert result.peak_dbfs == pytest.approx(-6.0, abs=0.1), fmt


def test_mp3_round_trip_keeps_duration_within_a_frame_and_level() -> None:
    result = analyze_file(encode(sine(-6.0, seconds=2.0), "MP3"))
    assert result.duration_s == pytest.approx(2.0, abs=1152 / RATE)  # one MPEG-1 frame
    assert result.sample_rate == RATE
    assert result.rms_dbfs == pytest.approx(-9.0, abs=0.3)
    assert result.lufs == pytest.approx(analyze_file(encode(sine(-6.0))).lufs, abs=0.3)


def test_bytes_and_path_give_equal_results(tmp_path: Path) -> None:
    data = encode(sine(-12.0, seconds=1.0), "FLAC", "PCM_24")
    path = tmp_path / "tone.flac"
    path.write_bytes(data)
    from_path = analyze_file(path)
    assert from_path == analyze_file(data)
    assert from_path == analyze_file(str(path))
    assert from_path == analyze_file(bytearray(data))


def test_undecodable_bytes_raise_a_clear_error() -> None:
    with pytest.raises(
        AudioDecodeError, match=r"cannot decode audio.*WAV, FLAC, OGG or MP3"
    ) as info:
        analyze_file(b"<html>not found</html>" * 10)
    assert isinstance(info.value, QubicoError)
    with pytest.raises(AudioDecodeError, match="empty"):
        analyze_file(b"")


def test_nan_samples_are_refused_rather_than_measured_wrong() -> None:
    samples = sine(-6.0, seconds=0.5)
    samples[100] = np.nan
    with pytest.raises(AudioDecodeError, match="NaN or infinite"):
        analyze_file(encode(samples))


def test_spectrogram_shape_must_be_two_positive_integers() -> None:
    for bad in ((0, 10), (10,), (2.5, 10), [64, 200]):
        with pytest.raises(ValueError, match="spectrogram_shape"):
            analyze_samples(np.zeros(10), RATE, spectrogram_shape=bad)  # type: ignore[arg-type]


def test_a_missing_path_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no audio file"):
        analyze_file(tmp_path / "nope.wav")


def test_an_empty_sound_file_is_measured_not_crashed() -> None:
    result = analyze_file(encode(np.zeros(0)))
    assert result.duration_s == 0.0
    assert result.peak_dbfs == -math.inf and math.isnan(result.lufs)
    assert result.silent_fraction == 1.0
    assert result.peaks.shape == (200, 2) and not result.peaks.any()


# -- sending it to a browser -------------------------------------------------------------------
def test_to_dict_is_json_ready_and_round_trips_the_arrays() -> None:
    result = analyze_file(encode(sine(-6.0, seconds=0.3)))
    out = result.to_dict()
    text = json.dumps(out, allow_nan=False)
    assert out["lufs"] is None  # nan: too short to measure
    assert out["peak_dbfs"] == pytest.approx(-6.0, abs=0.1)
    assert np.array_equal(decode_peaks(out["peaks"]), result.peaks)
    spectrogram: dict[str, Any] = out["spectrogram"]
    import base64

    raw = np.frombuffer(base64.b64decode(spectrogram["data"]), dtype=np.uint8)
    assert np.array_equal(
        raw.reshape(spectrogram["bins"], spectrogram["frames"]), result.spectrogram
    )
    assert len(text) < 20_000


def test_encoded_peaks_are_compact() -> None:
    peaks = analyze_file(encode(sine(-6.0))).peaks
    text = encode_peaks(peaks)
    assert len(text) == math.ceil(400 / 3) * 4  # 400 bytes as base64
    with pytest.raises(ValueError, match="int8"):
        encode_peaks(peaks.astype(np.int16))  # type: ignore[arg-type]


def test_equality_and_repr() -> None:
    one = analyze_file(encode(sine(-6.0, seconds=0.5)))
    other = analyze_file(encode(sine(-7.0, seconds=0.5)))
    assert one != other
    assert isinstance(one, AudioAnalysis)
    assert "peak_dbfs=-6.00" in repr(one) and "200 pairs" in repr(one)


# -- analyze(): a table of works, against the real sandbox ------------------------------------
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(preset="instant", audio_seconds=1.0) as sandbox:
        yield sandbox


def finished(client: Any, video: str, seed: int) -> Any:
    return client.wait(client.generate_audio(video, "rain on a tin roof", seed=seed), timeout=30)


def test_analyze_measures_good_rows_and_explains_the_others(
    sb: Sandbox, _private_cache: Path
) -> None:
    client = client_for(sb)
    good = finished(client, "https://cdn.example.com/clips/beach.mp4", 1)
    bad = finished(client, "https://cdn.example.com/clips/corrupt.mp4", 2)
    table = analyze([good, bad, UNKNOWN_ID], client=client, progress=False)
    assert list(table.columns[-len(ANALYSIS_COLUMNS) :]) == list(ANALYSIS_COLUMNS)
    assert {c: str(table[c].dtype) for c in ANALYSIS_COLUMNS} == ANALYSIS_COLUMNS
    row = table.iloc[0]
    assert pd.isna(row["analysis_error"])
    assert row["measured_duration_s"] == pytest.approx(1.0, abs=0.01)
    assert row["sample_rate"] == 44100 and row["channels"] == 1
    assert -30 < row["peak_dbfs"] <= 0 and row["rms_dbfs"] < row["peak_dbfs"]
    assert -40 < row["lufs"] < 0
    assert row["peaks"].shape == (200, 2) and row["peaks"].dtype == np.int8
    assert row["peaks"].any()
    assert table.iloc[1]["analysis_error"].startswith("task failed:")
    assert table.iloc[2]["analysis_error"].startswith("task could not be fetched:")
    for position in (1, 2):
        assert pd.isna(table.iloc[position]["peak_dbfs"])
        assert table.iloc[position]["peaks"] is None
    assert sb.requests["file"] == 1
    assert any((_private_cache / "files").iterdir())  # kept in the (test's) cache folder


def test_second_run_uses_the_file_cache(sb: Sandbox) -> None:
    client = client_for(sb)
    task = finished(client, "https://cdn.example.com/clips/beach.mp4", 3)
    first = analyze([task], client=client, progress=False)
    assert sb.requests["file"] == 1
    second = analyze([task], client=client, progress=False)
    assert sb.requests["file"] == 1
    columns = [c for c in ANALYSIS_COLUMNS if c != "peaks"]
    pd.testing.assert_frame_equal(first[columns], second[columns])
    assert np.array_equal(first["peaks"][0], second["peaks"][0])
    analyze([task], client=client, progress=False, cache=False)
    assert sb.requests["file"] == 2  # cache=False fetches again


def test_server_duration_is_never_overwritten(sb: Sandbox) -> None:
    client = client_for(sb)
    task = finished(client, "https://cdn.example.com/clips/beach.mp4", 4)
    frame = tabulate_tasks([task], client=client, per="work", progress=False)
    frame["duration_s"] = pd.array([99.0], dtype="Float64")
    table = analyze(frame, client=client, progress=False)
    assert table["duration_s"][0] == 99.0
    assert table["measured_duration_s"][0] == pytest.approx(1.0, abs=0.01)
    assert "measured_duration_s" not in frame.columns  # the caller's frame is left alone


def test_a_per_task_frame_and_repeated_urls_fetch_each_file_once(sb: Sandbox) -> None:
    client = client_for(sb)
    task = finished(client, "https://cdn.example.com/clips/beach.mp4", 5)
    frame = tabulate_tasks([task.id, task.id], client=client, per="task", progress=False)
    table = analyze(frame, client=client, progress=False, max_workers=2)
    assert table["analysis_error"].isna().all()
    assert sb.requests["file"] == 1
    assert table["peak_dbfs"][0] == table["peak_dbfs"][1]


def test_unfetchable_and_undecodable_files_become_row_errors(sb: Sandbox) -> None:
    client = client_for(sb)
    task = finished(client, "https://cdn.example.com/clips/beach.mp4", 6)
    not_audio = client.upload(b"<html>this is not a sound</html>", "fake.wav")
    frame = tabulate_tasks([task, task, task], client=client, per="work", progress=False)
    frame.loc[1, "url"] = f"{sb.url}/temp/no-such-file.wav"
    frame.loc[2, "url"] = not_audio
    table = analyze(frame, client=client, progress=False)
    assert pd.isna(table["analysis_error"][0])
    assert table["analysis_error"][1].startswith("could not fetch the file:")
    assert "404" in table["analysis_error"][1]
    assert table["analysis_error"][2].startswith("could not analyze the file: cannot decode")
    assert FileCache().get(task.audio.url) is not None
    assert FileCache().get(not_audio) is None  # bad bytes are not kept: the next run refetches


def test_rows_without_an_audio_file_say_why_and_need_no_client() -> None:
    frame = pd.DataFrame(
        {
            "task_id": ["a", "b", "c", "d"],
            "status": ["processing", "completed", "completed", "pending"],
            "url": [None, None, "https://cdn.example.com/x.mp4", None],
            "kind": [None, None, "video", None],
            "error": [None, None, None, None],
        }
    )
    table = analyze(frame, progress=False)  # nothing to fetch: no client is made
    errors = table["analysis_error"].tolist()
    assert errors[0].startswith("task is processing, not completed")
    assert errors[1] == "task has no audio file"
    assert errors[2] == "not audio: this work is a video file"
    assert errors[3].startswith("task is pending")
    assert table["peaks"].isna().all()


def test_analyze_refuses_frames_without_urls_and_bad_worker_counts() -> None:
    from qubico_nb.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="url"):
        analyze(pd.DataFrame({"task_id": ["a"]}), progress=False)
    with pytest.raises(InvalidRequestError, match="max_workers"):
        analyze(pd.DataFrame({"url": []}), progress=False, max_workers=0)


def test_a_filtered_frame_keeps_its_index_and_rows_line_up(sb: Sandbox) -> None:
    client = client_for(sb)
    tasks = [finished(client, "https://cdn.example.com/clips/beach.mp4", seed) for seed in (7, 8)]
    failed = finished(client, "https://cdn.example.com/clips/corrupt.mp4", 9)
    frame = tabulate_tasks([tasks[0], failed, tasks[1]], client=client, per="work", progress=False)
    frame.index = [10, 20, 30]
    table = analyze(frame.iloc[::-1], client=client, progress=False)
    assert list(table.index) == [30, 20, 10]
    assert table.loc[20, "analysis_error"].startswith("task failed")
    assert table.loc[30, "peaks"] is not None and table.loc[10, "peaks"] is not None
    alone = analyze([tasks[1]], client=client, progress=False)
    assert table.loc[30, "rms_dbfs"] == alone["rms_dbfs"][0]


def test_an_empty_table_gets_the_columns() -> None:
    table = analyze(pd.DataFrame({"url": pd.Series([], dtype="string")}), progress=False)
    assert list(table.columns) == ["url", *ANALYSIS_COLUMNS]


# -- bounded memory ----------------------------------------------------------------------------
def _mp3_declaring(frames_field: int) -> bytes:
    """An MP3 whose Xing header declares `frames_field` MPEG frames (1152 samples each)."""
    data = bytearray(encode(sine(-6.0, seconds=1.0), "MP3"))
    xing = data.find(b"Xing")
    if xing < 0:
        xing = data.find(b"Info")
    assert xing > 0 and int.from_bytes(data[xing + 4 : xing + 8], "big") & 1  # frames field
    data[xing + 8 : xing + 12] = frames_field.to_bytes(4, "big")
    return bytes(data)


def _flac_declaring(samples: int) -> bytes:
    """A FLAC whose STREAMINFO declares `samples` samples (a 36-bit field)."""
    data = bytearray(encode(sine(-6.0, seconds=1.0), "FLAC", "PCM_16"))
    field = int.from_bytes(data[18:26], "big") & ~((1 << 36) - 1)
    data[18:26] = (field | samples).to_bytes(8, "big")
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (encode(np.zeros(4096), "WAV", "PCM_16", rate=1), "sample rate is 1 Hz"),
        (encode(np.zeros(64), "WAV", "PCM_16", rate=400_000), "sample rate is 400,000 Hz"),
        (encode(np.zeros((64, 9)), "WAV", "PCM_16"), "9 channels"),
        (_flac_declaring((1 << 36) - 1), "lasts 1,558,265 s"),
        (_mp3_declaring(0xFFFFFFFF), "more than 3,600 s"),
        (encode(np.zeros((64, 8)), "WAV", "PCM_16", rate=384_000), None),
    ],
    ids=["1 Hz", "400 kHz", "9 channels", "FLAC of 2^36 samples", "MP3 of 2^32 frames", "ok"],
)
def test_a_header_beyond_the_limits_is_refused_before_decoding(
    data: bytes, why: str | None
) -> None:
    """A 4 MB WAV at 1 Hz became 1.34 GB, a FLAC declaring 2^36 samples a MemoryError."""
    import tracemalloc

    analyze_file(encode(np.zeros((64, 8)), "WAV", "PCM_16", rate=384_000))  # imports, filters
    tracemalloc.start()
    try:
        if why is None:
            assert analyze_file(data).channels == 8
        else:
            with pytest.raises(AudioDecodeError, match=f"refused before decoding: .*{why}"):
                analyze_file(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


def test_a_long_file_is_measured_in_blocks_with_the_numbers_of_one_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Blocks of a few thousand frames give what one block of the whole file gives."""
    from qubico_nb.audio import measures

    rng = np.random.default_rng(7)
    stereo = np.stack([sine(-12.0, 20.0, 440.0), sine(-18.0, 20.0, 3000.0)], axis=1)
    stereo[: RATE * 3] *= 1e-4  # a quiet start: silence and the loudness gates count
    stereo[RATE * 7] = 1.0  # a click, clipped
    stereo += 1e-3 * rng.standard_normal(stereo.shape)
    data = encode(stereo, "WAV", "FLOAT")
    whole = analyze_file(data, peaks=300, spectrogram_shape=(48, 150))
    monkeypatch.setattr(measures, "BLOCK_FRAMES", 5000)
    assert measures.block_frames(RATE) * 6 < len(stereo)  # seven blocks
    blocked = analyze_file(data, peaks=300, spectrogram_shape=(48, 150))
    for field in ("duration_s", "peak_dbfs", "clipped_fraction", "silent_fraction"):
        assert getattr(blocked, field) == getattr(whole, field), field
    assert blocked.rms_dbfs == pytest.approx(whole.rms_dbfs, abs=1e-9)
    assert blocked.lufs == pytest.approx(whole.lufs, abs=1e-4)
    assert np.array_equal(blocked.peaks, whole.peaks)
    assert np.abs(blocked.spectrogram.astype(int) - whole.spectrogram).max() <= 1


def test_peak_memory_does_not_grow_with_duration() -> None:
    """Two minutes of stereo (42 MB as float32) are measured within a few blocks' memory."""
    import tracemalloc

    minutes = encode(np.tile(sine(-6.0, 10.0)[:, None], (12, 2)), "WAV", "PCM_16")
    decoded = len(minutes) * 2  # int16 samples as float32
    tracemalloc.start()
    try:
        result = analyze_file(minutes)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.duration_s == pytest.approx(120.0)
    assert peak < decoded / 2


def test_a_header_that_miscounts_its_frames_is_measured_with_the_real_count() -> None:
    """An Ogg whose last page claims 2 s more than it holds: laid out by the header at first,
    then measured again by what the decoder really found."""
    import struct

    from qubico_nb._tags.ogg import page_crc

    data = bytearray(encode(sine(-6.0, 14.0), "OGG", "VORBIS"))
    last = data.rfind(b"OggS")
    granule = struct.unpack_from("<q", data, last + 6)[0]
    struct.pack_into("<q", data, last + 6, granule + 2 * RATE)
    struct.pack_into("<I", data, last + 22, 0)
    struct.pack_into("<I", data, last + 22, page_crc(data[last:]))
    with sf.SoundFile(io.BytesIO(bytes(data))) as sound:
        assert sound.frames == granule + 2 * RATE  # the header's word
    from qubico_nb.audio.analysis import decode

    result = analyze_file(bytes(data))
    samples, rate = decode(bytes(data))  # what the decoder really gives
    assert result == analyze_samples(samples, rate)
    assert result.duration_s == pytest.approx(14.0, abs=0.05)


def _flooding_mp3() -> bytes:
    """An MP3 frame, then 200 kB of invalid frame headers: libmpg123 writes a line for each."""
    good = encode(sine(-6.0, seconds=1.0), "MP3")
    return good[:418] + b"\xff\xe2\x00\x00" * 50_000


def test_a_decoder_flooding_stderr_is_silenced_and_its_message_is_the_error(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(AudioDecodeError) as caught:
        analyze_file(_flooding_mp3())
    written = capfd.readouterr().err
    assert len(written) < 1000, f"{len(written):,} characters reached stderr"
    message = str(caught.value)
    assert "the decoder says: Frame smaller than mandatory side info" in message, message
    assert "[src/" not in message and len(message) < 500


def test_stderr_is_given_back_after_decoding(capfd: pytest.CaptureFixture[str]) -> None:
    import os

    with pytest.raises(AudioDecodeError):
        analyze_file(_flooding_mp3())
    os.write(2, b"still here\n")
    assert "still here" in capfd.readouterr().err


def test_analyze_gives_a_flooding_decoder_its_row_error_and_keeps_stderr_clean(
    sb: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    client = client_for(sb)
    task = finished(client, "https://cdn.example.com/clips/beach.mp4", 6)
    frame = tabulate_tasks([task] * 4, client=client, per="work", progress=False)
    for row in (1, 3):  # two at once: they share the one redirection of stderr
        frame.loc[row, "url"] = client.upload(_flooding_mp3() + bytes(row), f"junk{row}.mp3")
    capfd.readouterr()
    table = analyze(frame, client=client, progress=False, max_workers=4)
    assert len(capfd.readouterr().err) < 1000
    assert pd.isna(table["analysis_error"][0]) and table["measured_duration_s"][2] > 0
    for row in (1, 3):
        error = table["analysis_error"][row]
        assert error.startswith("could not analyze the file: cannot decode audio"), error
        assert "the decoder says: frame smaller" in error.lower(), error


def test_every_models_audio_is_analyzed() -> None:
    """Music, songs, speech and sound effects: each file decodes and is measured."""
    from qubico_nb.batch import wait_all

    from .helpers.outputs import one_task_per_model

    with Sandbox(preset="instant", audio_seconds=1.0, audio_format="mp3") as sb:
        client = client_for(sb)
        tasks = wait_all(one_task_per_model(client, VIDEO), client=client, progress=False)
        table = analyze(tasks, client=client, progress=False, cache=False)
    assert table["analysis_error"].isna().all(), table["analysis_error"].tolist()
    assert table["measured_duration_s"].between(0.95, 1.1).all()
    assert (table["lufs"] > -40).all() and (table["peak_dbfs"] <= 0).all()
    assert table["model"].nunique() == 4
