"""The sandbox's music (ACE-Step, DiffRhythm): a beat at the prompt's tempo, tonal chords, a lead
only when there are lyrics, the same every time; plucked (DiffRhythm) and padded (ACE-Step)."""

from __future__ import annotations

import numpy as np
import pytest

from qubico_nb.sandbox.music import TEMPI, arrangement, synthesize_music

RATE = 16000


def beat_period_s(samples: np.ndarray, rate: int = RATE) -> float:
    """The strongest period (0.25-1.5 s) of the onset envelope: where the beat repeats."""
    hop = rate // 100
    frames = samples[: len(samples) // hop * hop].reshape(-1, hop)
    energy = np.sqrt((frames**2).mean(axis=1))
    onset = np.maximum(np.diff(energy), 0)
    onset -= onset.mean()
    ac = np.correlate(onset, onset, mode="full")[len(onset) - 1 :]
    lags = np.arange(25, 150)
    return float(lags[np.argmax(ac[lags])] / 100)


def tonality(samples: np.ndarray, rate: int = RATE) -> float:
    """The share of spectral energy in the 20 strongest bins below 2 kHz: high for chords."""
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    low = spectrum[freqs < 2000]
    return float(np.sort(low)[-20:].sum() / low.sum())


@pytest.mark.parametrize(("style", "family"), [("lofi chill beat", "lofi"), ("hard rock", "rock")])
def test_the_beat_follows_the_style_prompts_tempo(style: str, family: str) -> None:
    song = synthesize_music(style, "", "k", 10.0, RATE)
    bpm = arrangement(style, "", "k", plucked=False).bpm
    low, high = TEMPI[family]
    assert low <= bpm <= high
    period = beat_period_s(song)
    beat = 60 / bpm
    assert min(abs(period - k * beat) for k in (1, 2)) < 0.03, (period, beat)


def test_a_bpm_in_the_prompt_is_kept() -> None:
    assert arrangement("house, 124 bpm", "", "k", plucked=False).bpm == 124
    assert arrangement("dark ambient", "", "k", plucked=False).scale[2] == 3  # minor third


def test_it_is_music_not_noise() -> None:
    song = synthesize_music("pop", "", "k", 6.0, RATE)
    noise = np.random.default_rng(0).uniform(-1, 1, len(song))
    assert tonality(song) > 10 * tonality(noise)
    assert song.dtype == np.float32 and 0.88 < float(np.abs(song).max()) <= 0.89 + 1e-6


def test_lyrics_add_a_sung_lead_and_inst_means_none() -> None:
    plain = synthesize_music("pop", "", "k", 4.0, RATE)
    instrumental = synthesize_music("pop", "[inst]", "k", 4.0, RATE)
    sung = synthesize_music("pop", "[verse] walking in the rain tonight", "k", 4.0, RATE)
    assert not arrangement("pop", "[inst]", "k", plucked=False).sung
    assert arrangement("pop", "[verse] la la", "k", plucked=False).sung
    assert np.array_equal(plain, synthesize_music("pop", "", "k", 4.0, RATE))
    assert not np.array_equal(instrumental, sung)


def test_the_same_input_sounds_the_same_and_another_differs() -> None:
    one = synthesize_music("jazz", "", "task-a", 3.0, RATE)
    assert np.array_equal(one, synthesize_music("jazz", "", "task-a", 3.0, RATE))
    assert not np.array_equal(one, synthesize_music("jazz", "", "task-b", 3.0, RATE))
    padded = synthesize_music("jazz", "", "task-a", 3.0, RATE, plucked=False)
    plucked = synthesize_music("jazz", "", "task-a", 3.0, RATE, plucked=True)
    assert not np.array_equal(padded, plucked)


@pytest.mark.parametrize("seconds", [0.01, 0.5, 2.0])
def test_any_length(seconds: float) -> None:
    assert len(synthesize_music("pop", "[verse] la", "k", seconds, RATE)) == round(seconds * RATE)
