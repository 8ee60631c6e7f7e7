"""The sandbox's speech (TTS): voiced syllables at a speaking pitch set by the reference voice,
with pauses between them, the same every time."""

from __future__ import annotations

import numpy as np
import pytest

from qubico_nb.sandbox.speech import synthesize_speech, voice_pitch

RATE = 16000
TEXT = "Hello there, this is the sandbox speaking. Can you hear me?"


def frames(samples: np.ndarray, size: int = 640) -> np.ndarray:
    return samples[: len(samples) // size * size].reshape(-1, size)


def pitch_hz(frame: np.ndarray, rate: int = RATE) -> float:
    """The fundamental of a voiced 40 ms frame, by autocorrelation (60-400 Hz)."""
    frame = frame - frame.mean()
    ac = np.correlate(frame, frame, mode="full")[len(frame) - 1 :]
    lags = np.arange(rate // 400, rate // 60)
    return rate / float(lags[np.argmax(ac[lags])])


def test_voiced_syllables_at_a_speaking_pitch() -> None:
    voice = "https://cdn.example.com/voice.wav"
    speech = synthesize_speech(TEXT, voice, 6.0, RATE)
    loud = [f for f in frames(speech) if np.sqrt((f**2).mean()) > 0.1]
    assert len(loud) > 20
    pitches = np.array([pitch_hz(f) for f in loud])
    base = voice_pitch(voice)
    assert 90 <= base <= 235
    assert np.median(np.abs(pitches - base) / base) < 0.3


def test_pauses_between_syllables_and_sentences() -> None:
    speech = synthesize_speech(TEXT, "v", 6.0, RATE)
    level = np.sqrt((frames(speech, 160) ** 2).mean(axis=1))
    quiet = level < 0.01
    assert 0.15 < quiet.mean() < 0.8  # speech, not a drone and not silence
    runs = np.diff(np.flatnonzero(np.diff(quiet.astype(int)) != 0))
    assert len(runs) > 20  # many starts and stops: syllables


def test_voices_differ_and_the_same_input_repeats() -> None:
    one = synthesize_speech(TEXT, "voice-a", 3.0, RATE)
    assert np.array_equal(one, synthesize_speech(TEXT, "voice-a", 3.0, RATE))
    assert not np.array_equal(one, synthesize_speech("Another sentence.", "voice-a", 3.0, RATE))
    pitches = {round(voice_pitch(f"voice-{i}")) for i in range(20)}
    assert min(pitches) < 140 and max(pitches) > 170  # low and high voices both occur


@pytest.mark.parametrize("text", ["", "...", "x", "ü ñ 漢字", "a" * 5000])
def test_any_text_gives_audio_of_the_asked_length(text: str) -> None:
    speech = synthesize_speech(text, "v", 1.0, RATE)
    assert len(speech) == RATE and speech.dtype == np.float32
    assert float(np.abs(speech).max()) <= 0.89 + 1e-6
