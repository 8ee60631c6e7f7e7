"""MUSHRA anchors: the reference low-passed at the named cut-off, zero phase, as a WAV."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile
from scipy import signal

from qubico_nb.audio.anchors import anchor_wav, cutoff_hz, lowpass

RATE = 44_100


def _tones(*frequencies: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return sum(0.2 * np.sin(2 * np.pi * f * t) for f in frequencies)[:, None].astype(np.float32)


def _level_db(samples: np.ndarray, frequency: float) -> float:
    """The level of one tone in `samples` (dB re its level in `_tones`), from a Welch spectrum."""
    freqs, power = signal.welch(samples[:, 0], RATE, nperseg=8192)
    _, reference = signal.welch(_tones(frequency)[:, 0], RATE, nperseg=8192)
    k = int(np.argmin(np.abs(freqs - frequency)))
    return float(10 * np.log10(power[k] / reference[k]))


@pytest.mark.parametrize(
    ("name", "hz"), [("lp3.5k", 3500.0), ("lp7k", 7000.0), ("LP5000", 5000.0), (" lp7k ", 7000.0)]
)
def test_anchor_names(name: str, hz: float) -> None:
    assert cutoff_hz(name) == hz


@pytest.mark.parametrize("name", ["7k", "hp3.5k", "lp", "lp10", "lp99k", 3500, None])
def test_an_anchor_that_is_not_one_says_how_to_name_it(name: object) -> None:
    with pytest.raises(ValueError, match=r"'lp3\.5k' or 'lp7k'"):
        cutoff_hz(name)


def test_the_low_range_anchor_keeps_the_lows_and_removes_the_highs() -> None:
    filtered = lowpass(_tones(500.0, 2000.0, 6000.0, 12000.0), RATE, 3500.0)
    assert abs(_level_db(filtered, 500.0)) < 0.1
    assert abs(_level_db(filtered, 2000.0)) < 0.5
    assert _level_db(filtered, 6000.0) < -60  # 96 dB per octave beyond 3.5 kHz
    assert _level_db(filtered, 12000.0) < -100


def test_the_anchor_is_zero_phase_so_it_stays_aligned_with_its_reference() -> None:
    tone = _tones(440.0)
    filtered = lowpass(tone, RATE, 7000.0)
    middle = slice(RATE // 4, 3 * RATE // 4)
    assert np.max(np.abs(filtered[middle] - tone[middle])) < 1e-3  # no delay, no phase shift


def test_anchor_wav_is_a_16_bit_wav_of_the_same_rate_and_length(tmp_path: object) -> None:
    sink = io.BytesIO()
    soundfile.write(sink, _tones(1000.0, 9000.0) * 4.5, RATE, format="FLAC")  # near full scale
    wav = anchor_wav(sink.getvalue(), "lp3.5k")
    info = soundfile.info(io.BytesIO(wav))
    assert (info.format, info.subtype, info.samplerate) == ("WAV", "PCM_16", RATE)
    samples, _ = soundfile.read(io.BytesIO(wav), dtype="float32")
    assert len(samples) == RATE and np.max(np.abs(samples)) <= 1.0


def test_a_cutoff_above_the_files_highest_frequency_is_refused() -> None:
    with pytest.raises(ValueError, match="changes nothing"):
        lowpass(_tones(100.0), 8000, 7000.0)


def test_a_file_too_short_to_filter_becomes_silence_not_an_error() -> None:
    assert not lowpass(np.ones((10, 1), dtype=np.float32), RATE, 3500.0).any()
