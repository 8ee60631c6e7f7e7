"""Deterministic sound for sandbox tasks: mono WAV or MP3, textures chosen from prompt words.

MMAudio writes mono 44.1 kHz audio; the sandbox imitates that with cheap procedural textures so a
batch of prompts x seeds sounds different cell by cell (rain is noise, birds chirp, engines hum).
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import wave
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .._media import mp4_duration_s

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
    swell = 0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(0.08, 0.22) * t + rng.uniform(0, 6.3))
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


#: Each texture is rendered once per sample rate in this many takes of `STEM_SECONDS`; a task
#: then mixes a take chosen by its seed, started at a seed-chosen point. That keeps an 8 s file
#: to a few milliseconds of numpy instead of a fresh synthesis (100-400 ms) per request.
STEM_TAKES = 2
STEM_SECONDS = 8.0


@lru_cache(maxsize=len(TEXTURES) * STEM_TAKES * 2 + 4)
def _stem(name: str, take: int, sample_rate: int) -> np.ndarray:
    n = int(STEM_SECONDS * sample_rate)
    t = np.arange(n) / sample_rate
    if name == "hiss":
        out = _band_noise(_rng_for("hiss", take), n, sample_rate, 20, 16000)
    else:
        out = TEXTURES[name](_rng_for(name, take), t, sample_rate)
    peak = float(np.max(np.abs(out))) or 1.0
    return (out / peak).astype(np.float32)


def _mix_in(mix: np.ndarray, stem: np.ndarray, start: int, gain: float) -> None:
    """Add `stem` (looped) to `mix` from sample `start` of the stem, in place."""
    n, at = mix.size, 0
    while at < n:
        piece = stem[start : start + n - at]
        mix[at : at + piece.size] += gain * piece
        at += piece.size
        start = 0


def synthesize_samples(
    prompt: str,
    negative_prompt: str = "",
    seed: int = 42,
    steps: int = 25,
    seconds: float = 8.0,
    sample_rate: int = 44100,
) -> np.ndarray:
    """Mono float32 samples in [-0.89, 0.89], the same for the same arguments."""
    n = max(1, int(round(seconds * sample_rate)))
    mix = np.zeros(n, dtype=np.float32)
    stem_length = int(STEM_SECONDS * sample_rate)
    for name in textures_for(prompt, negative_prompt):
        rng = _rng_for(prompt, negative_prompt, seed, name)
        take = int(rng.integers(0, STEM_TAKES))
        _mix_in(
            mix,
            _stem(name, take, sample_rate),
            int(rng.integers(0, stem_length)),
            float(rng.uniform(0.7, 1.0)),
        )
    # Fewer diffusion steps leave more hiss, as a coarse sampler would.
    hiss_level = 0.02 + 0.08 * (50 - min(max(steps, 20), 50)) / 30
    rng = _rng_for(seed, steps, "hiss")
    _mix_in(
        mix,
        _stem("hiss", int(rng.integers(0, STEM_TAKES)), sample_rate),
        int(rng.integers(0, stem_length)),
        hiss_level,
    )
    fade = min(n // 2, int(0.02 * sample_rate))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        mix[:fade] *= ramp
        mix[-fade:] *= ramp[::-1]
    peak = float(np.max(np.abs(mix))) or 1.0
    mix *= 0.89 / peak
    return mix


def _wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    pcm = np.round(samples * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(pcm.tobytes())
    return buffer.getvalue()


def _mp3_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    import soundfile  # type: ignore[import-untyped]  # lazy: only MP3 output needs it

    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate, format="MP3")
    return buffer.getvalue()


@dataclass(frozen=True)
class AudioFormat:
    """One output format: file extension, media type, and its encoder."""

    extension: str
    content_type: str
    encode: Callable[[np.ndarray, int], bytes]


AUDIO_FORMATS: dict[str, AudioFormat] = {
    "wav": AudioFormat("wav", "audio/wav", _wav_bytes),
    # As the live service serves its sibling audio models (libsndfile >= 1.1 writes MP3).
    "mp3": AudioFormat("mp3", "audio/mpeg", _mp3_bytes),
}


class _FileCache:
    """Rendered files, least recently used dropped first, within a byte budget.

    A batch asks for each file a few times (player, download, analysis); MP3 encoding is the slow
    part, so a file is made once per batch rather than on every request.
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._files: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> bytes | None:
        with self._lock:
            found = self._files.get(key)
            if found is not None:
                self._files.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], data: bytes) -> None:
        with self._lock:
            if key in self._files or len(data) > self.budget_bytes:
                return
            self._files[key] = data
            self._size += len(data)
            while self._size > self.budget_bytes:
                _, dropped = self._files.popitem(last=False)
                self._size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
            self._size = 0


FILE_CACHE = _FileCache(budget_bytes=96 * 1024 * 1024)


def render_audio(
    prompt: str,
    negative_prompt: str = "",
    seed: int = 42,
    steps: int = 25,
    seconds: float = 8.0,
    sample_rate: int = 44100,
    audio_format: str = "wav",
) -> bytes:
    """A task's audio file in `audio_format` (``wav`` or ``mp3``), the same bytes every time."""
    key = (prompt, negative_prompt, seed, steps, seconds, sample_rate, audio_format)
    found = FILE_CACHE.get(key)
    if found is None:
        samples = synthesize_samples(prompt, negative_prompt, seed, steps, seconds, sample_rate)
        found = AUDIO_FORMATS[audio_format].encode(samples, sample_rate)
        FILE_CACHE.put(key, found)
    return found


def synthesize_wav(
    prompt: str,
    negative_prompt: str = "",
    seed: int = 42,
    steps: int = 25,
    seconds: float = 8.0,
    sample_rate: int = 44100,
) -> bytes:
    """A mono 16-bit PCM WAV, the same bytes for the same arguments."""
    return render_audio(prompt, negative_prompt, seed, steps, seconds, sample_rate, "wav")


synthesize_wav.cache_clear = FILE_CACHE.clear  # type: ignore[attr-defined]


__all__ = ["AUDIO_FORMATS", "mp4_duration_s", "render_audio", "synthesize_wav", "textures_for"]
