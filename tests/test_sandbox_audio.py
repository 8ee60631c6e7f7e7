"""The sandbox's synthesized audio: deterministic, and different where a comparison needs it."""

from __future__ import annotations

import io
import itertools
import wave

import numpy as np

from qubico_nb.sandbox.audio import mp4_duration_s, synthesize_wav, textures_for

from .media import mp4_bytes


def samples(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(float)


def spectrum_bands(data: bytes) -> np.ndarray:
    """Energy share in 8 log-spaced bands: a coarse fingerprint of how a sound is coloured."""
    mags = np.abs(np.fft.rfft(samples(data)))
    freqs = np.fft.rfftfreq(len(samples(data)), 1 / 44100)
    edges = [20, 150, 400, 900, 2000, 4000, 8000, 14000, 22050]
    bands = itertools.pairwise(edges)
    energy = np.array([mags[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in bands])
    return energy / energy.sum()


def test_deterministic_for_the_same_inputs() -> None:
    synthesize_wav.cache_clear()
    first = synthesize_wav("rain on a roof", "", 1, 25, 1.0)
    synthesize_wav.cache_clear()
    assert synthesize_wav("rain on a roof", "", 1, 25, 1.0) == first


def test_prompt_words_choose_textures() -> None:
    assert textures_for("waves crashing, seagulls") == ["waves", "birds"]
    assert textures_for("waves crashing, seagulls", "birds and seagulls") == ["waves"]
    assert textures_for("an unknown thing") == ["tones"]
    assert textures_for("car ENGINE idling") == ["engine"]


def test_prompts_sound_different() -> None:
    rain = spectrum_bands(synthesize_wav("heavy rain", seconds=2.0))
    engine = spectrum_bands(synthesize_wav("truck engine", seconds=2.0))
    # rain lives in the highs, an engine in the lows
    assert rain[5:].sum() > 0.4 and engine[:3].sum() > 0.4
    assert np.abs(rain - engine).sum() > 0.5


def test_seeds_sound_different_but_alike() -> None:
    one = samples(synthesize_wav("birds chirping", seed=1, seconds=2.0))
    two = samples(synthesize_wav("birds chirping", seed=2, seconds=2.0))
    correlation = np.corrcoef(one, two)[0, 1]
    assert abs(correlation) < 0.5


def test_fewer_steps_leave_more_hiss() -> None:
    coarse = spectrum_bands(synthesize_wav("a bell", steps=20, seconds=2.0))
    fine = spectrum_bands(synthesize_wav("a bell", steps=50, seconds=2.0))
    assert coarse[6:].sum() > fine[6:].sum()


def test_level_is_normalised_without_clipping() -> None:
    pcm = samples(synthesize_wav("fire crackling", seconds=1.0))
    assert 0.8 * 32767 < np.abs(pcm).max() <= 0.9 * 32767


def test_mp4_duration() -> None:
    assert mp4_duration_s(mp4_bytes(12.5)) == 12.5
    assert mp4_duration_s(mp4_bytes(3.0, version=1, timescale=90000)) == 3.0
    assert mp4_duration_s(b"not an mp4 at all") is None
    assert mp4_duration_s(mp4_bytes(3.0)[:40]) is None


def test_files_are_made_once_per_batch(monkeypatch) -> None:
    """A batch of 100 files is served again from the cache, without synthesizing again."""
    from qubico_nb.sandbox import audio

    audio.FILE_CACHE.clear()
    first = [audio.render_audio("rain", seed=seed, seconds=1.0) for seed in range(100)]
    calls: list[object] = []
    real = audio.synthesize_samples
    monkeypatch.setattr(
        audio, "synthesize_samples", lambda *a, **k: calls.append(a) or real(*a, **k)
    )
    again = [audio.render_audio("rain", seed=seed, seconds=1.0) for seed in range(100)]
    assert calls == [] and all(a is b for a, b in zip(first, again, strict=True))


def test_mp3_output_decodes_to_the_right_length() -> None:
    import soundfile

    from qubico_nb.sandbox.audio import render_audio

    data = render_audio("waves", seconds=3.0, audio_format="mp3")
    assert data[:3] == b"ID3" or data[0] == 0xFF  # an MP3 stream, not WAV
    info = soundfile.info(io.BytesIO(data))
    assert info.format == "MP3" and info.channels == 1 and info.samplerate == 44100
    assert abs(info.duration - 3.0) < 0.06
    samples, _ = soundfile.read(io.BytesIO(data))
    assert 0.5 < np.abs(samples).max() <= 1.0
