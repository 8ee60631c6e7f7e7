"""Deterministic sound for sandbox tasks: mono 16-bit WAV, textures chosen from prompt words.

MMAudio writes mono 44.1 kHz audio; the sandbox imitates that with cheap procedural textures so a
batch of prompts x seeds sounds different cell by cell (rain is noise, birds chirp, engines hum).
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import wave
from collections.abc import Callable
from functools import lru_cache

import numpy as np

Rng = np.random.Generator
Texture = Callable[[Rng, np.ndarray, int], np.ndarray]

WORDS: dict[str, tuple[str, ...]] = {
    "rain": ("rain", "drizzle", "shower", "storm", "thunder", "downpour"),
    "waves": ("wave", "waves", "ocean", "sea", "surf", "beach", "river", "stream", "water"),
    "wind": ("wind", "breeze", "gust", "howl", "static"),
    "birds": ("bird", "birds", "chirp", "seagull", "seagulls", "gull", "tweet", "songbird", "crow"),
    "engine": ("engine", "car", "motor", "truck", "traffic", "machine", "train", "plane", "drone"),
    "tones": ("bell", "bells", "chime", "chimes", "tone", "beep", "piano", "music", "synth", "hum"),
    "impacts": ("footstep", "footsteps", "knock", "door", "drum", "clap", "hammer", "click"),
    "fire": ("fire", "crackle", "crackling", "campfire", "fireworks", "sizzle"),
}


def _band_noise(rng: Rng, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    spectrum[(freqs < lo) | (freqs > hi)] = 0
    out = np.fft.irfft(spectrum, n)
    peak = float(np.max(np.abs(out))) or 1.0
    return out / peak


def _add(out: np.ndarray, at: int, piece: np.ndarray) -> None:
    """Mix `piece` into `out` from sample `at`, cut at the end of `out`."""
    end = min(out.size, at + piece.size)
    if at < end:
        out[at:end] += piece[: end - at]


def _rain(rng: Rng, t: np.ndarray, sr: int) -> np.ndarray:
    out = 0.35 * _band_noise(rng, t.size, sr, 1200, 9000)
    drop_len = int(0.015 * sr)
    env = np.exp(-np.linspace(0, 8, drop_len))
    for start in rng.integers(0, max(1, t.size - drop_len), size=int(t[-1] * 25) + 1):
        freq = rng.uniform(2000, 5000)
        _add(out, int(start), 0.4 * env * np.sin(2 * np.pi * freq * np.arange(drop_len) / sr))
    return out


def _waves(rng: Rng, t: np.ndarray, sr: int) -> np.ndarray:
    swell = (0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(0.08, 0.22) * t + rng.uniform(0, 6.3)))
    return _band_noise(rng, t.size, sr, 60, rng.uniform(500, 1200)) * swell**2


def _wind(rng: Rng, t: np.ndarray, sr: int) -> np.ndarray:
    wobble = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t + rng.uniform(0, 6.3))
    return 0.8 * _band_noise(rng, t.size, sr, 150, rng.uniform(900, 2000)) * wobble


def _birds(rng: Rng, t: np.ndarray, sr: int) -> np.ndarray:
    out = np.zeros_like(t)
    for _ in range(int(rng.integers(6, 15))):
        f0, f1 = rng.uniform(1800, 5200, size=2)
        dur = rng.uniform(0.06, 0.22)
        n = int(dur * sr)
        local = np.arange(n) / sr
        phase = 2 * np.pi * (f0 * local + (f1 - f0) * local**2 / (2 * dur))
        chirp = np.sin(phase) * np.hanning(n)
        start = int(rng.integers(0, max(1, t.size - 4 * n)))
        for repeat in range(int(rng.integers(1, 4))):
            at = start + repeat * int(1.4 * n)
            _add(out, at, 0.7 * chirp)
    return out


def _engine(rng: Rng, t: np.ndarray, sr: int) -> np.ndarray:
    base = rng.uniform(32, 90)
    freq = base * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t))
    phase = 2 * np.pi * np.cumsum(freq) / sr
    saw = sum(np.sin(k * phase) / k for k in range(1, 13))
    return 0.6 * saw / 2.0 + 0.3 * _band_noise(rng, t.size, sr, 20, 300)


def _tones(rng: Rng, t: np.ndarray, sr: int) -> np.ndarray:
    out = np.zeros_like(t)
    scale = np.array([0, 2, 4, 7, 9, 12, 14, 16])
    root = rng.uniform(196, 392)
    for at in np.sort(rng.uniform(0, max(t[-1] - 0.5, 0.01), size=int(rng.integers(4, 10)))):
        start = int(at * sr)
        freq = root * 2 ** (scale[int(rng.integers(0, scale.size))] / 12)
        local = t[: t.size - start]
        decay = np.exp(-local * rng.uniform(1.5, 4.0))
        ring = np.sin(2 * np.pi * freq * local) + 0.3 * np.sin(2 * np.pi * 2.76 * freq * local)
        out[start:] += 0.5 * decay * ring
    return out


def _impacts(rng: Rng, t: np.ndarray, sr: int) -> np.ndarray:
    out = np.zeros_like(t)
    hit_len = int(0.08 * sr)
    env = np.exp(-np.linspace(0, 10, hit_len))
    thump = _band_noise(rng, hit_len, sr, 40, 900)
    period = rng.uniform(0.35, 0.7)
    at = rng.uniform(0, period)
    while at < t[-1] - 0.1:
        start = int(at * sr)
        _add(out, start, env * thump * rng.uniform(0.6, 1.0))
        at += period * rng.uniform(0.85, 1.15)
    return out


def _fire(rng: Rng, t: np.ndarray, sr: int) -> np.ndarray:
    out = 0.25 * _band_noise(rng, t.size, sr, 40, 400)
    pops = rng.integers(0, max(1, t.size - 200), size=int(t[-1] * 40) + 1)
    for start in pops:
        width = int(rng.integers(20, 200))
        _add(out, int(start), rng.uniform(-1, 1) * np.exp(-np.linspace(0, 6, width)))
    return out


TEXTURES: dict[str, Texture] = {
    "rain": _rain,
    "waves": _waves,
    "wind": _wind,
    "birds": _birds,
    "engine": _engine,
    "tones": _tones,
    "impacts": _impacts,
    "fire": _fire,
}


def textures_for(prompt: str, negative_prompt: str = "") -> list[str]:
    """Texture names the prompt's words ask for, minus those the negative prompt names."""
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    banned = set(re.findall(r"[a-z]+", negative_prompt.lower()))
    chosen = [name for name, keys in WORDS.items() if words & set(keys)]
    kept = [name for name in chosen if not banned & set(WORDS[name])]
    return kept or ["tones"]


def _rng_for(*parts: object) -> Rng:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


@lru_cache(maxsize=64)
def synthesize_wav(
    prompt: str,
    negative_prompt: str = "",
    seed: int = 42,
    steps: int = 25,
    seconds: float = 8.0,
    sample_rate: int = 44100,
) -> bytes:
    """A mono 16-bit PCM WAV, the same bytes for the same arguments."""
    n = max(1, int(round(seconds * sample_rate)))
    t = np.arange(n) / sample_rate
    mix = np.zeros(n)
    for name in textures_for(prompt, negative_prompt):
        mix += TEXTURES[name](_rng_for(prompt, negative_prompt, seed, name), t, sample_rate)
    # Fewer diffusion steps leave more hiss, as a coarse sampler would.
    hiss_level = 0.02 + 0.08 * (50 - min(max(steps, 20), 50)) / 30
    mix += hiss_level * _band_noise(_rng_for(seed, steps, "hiss"), n, sample_rate, 20, 16000)
    fade = min(n // 2, int(0.02 * sample_rate))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        mix[:fade] *= ramp
        mix[-fade:] *= ramp[::-1]
    peak = float(np.max(np.abs(mix))) or 1.0
    pcm = np.round(mix / peak * 0.89 * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(pcm.tobytes())
    return buffer.getvalue()


def mp4_duration_s(data: bytes) -> float | None:
    """Duration from an MP4's ``mvhd`` box, or None when the bytes do not look like an MP4."""
    if data[4:8] != b"ftyp":
        return None
    at = data.find(b"mvhd")
    if at < 4 or at + 24 > len(data):
        return None
    version = data[at + 4]
    try:
        if version == 1:
            timescale, duration = struct.unpack(">IQ", data[at + 24 : at + 36])
        else:
            timescale, duration = struct.unpack(">II", data[at + 16 : at + 24])
    except struct.error:
        return None
    return duration / timescale if timescale else None
