"""Music for the sandbox's ACE-Step and DiffRhythm tasks: chords, a bass line, a beat, and a
sung-like lead when there are lyrics, chosen from the style prompt and the same every time.

Cheap on purpose (a few milliseconds of numpy per second of audio), and clearly music: a person
hears a tempo, a key and a progression, and tells a lo-fi prompt from a rock one. ACE-Step's
chords are soft pads; DiffRhythm's are plucked, so the two models sound apart on a review board.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

Rng = np.random.Generator

#: Tempo ranges (BPM) by style word; the first word of the prompt found here sets the tempo.
TEMPI: dict[str, tuple[float, float]] = {
    "lofi": (68, 82),
    "lo-fi": (68, 82),
    "chill": (70, 90),
    "ambient": (60, 75),
    "ballad": (62, 76),
    "jazz": (90, 130),
    "folk": (88, 110),
    "pop": (100, 122),
    "funk": (100, 115),
    "hiphop": (84, 98),
    "hip-hop": (84, 98),
    "rock": (118, 142),
    "house": (120, 128),
    "edm": (124, 130),
    "dance": (118, 128),
    "techno": (126, 136),
    "drum": (160, 176),
    "metal": (150, 180),
    "punk": (160, 190),
}
#: Words that ask for a minor key.
MINOR_WORDS = frozenset(("sad", "dark", "melancholic", "minor", "moody", "cinematic", "epic"))
#: Words after which the beat is four on the floor.
FOUR_ON_THE_FLOOR = frozenset(("house", "edm", "dance", "techno", "disco"))
#: Chord progressions as scale degrees (0 = the tonic), one chord a bar.
PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 4, 3), (0, 5, 1, 4))
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_INSTRUMENTAL = re.compile(r"^\s*\[(inst|instrumental)\]\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Arrangement:
    """What a piece is: tempo, key, scale, progression, beat, and whether a lead sings."""

    bpm: float
    root_hz: float
    scale: tuple[int, ...]
    progression: tuple[int, ...]
    four_on_the_floor: bool
    sung: bool
    plucked: bool


def _rng_for(*parts: object) -> Rng:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def arrangement(style_prompt: str, lyrics: str, key: str, *, plucked: bool) -> Arrangement:
    """The arrangement a style prompt asks for; `key` (the task's identity) varies the rest."""
    words = re.findall(r"[a-z][a-z-]*", style_prompt.lower())
    rng = _rng_for(style_prompt, lyrics, key)
    low, high = next((TEMPI[w] for w in words if w in TEMPI), (90, 120))
    bpm_words = re.search(r"(\d{2,3})\s*bpm", style_prompt.lower())
    bpm = float(bpm_words.group(1)) if bpm_words else float(rng.uniform(low, high))
    minor = any(w in MINOR_WORDS for w in words)
    progression = PROGRESSIONS[int(rng.integers(0, len(PROGRESSIONS)))]
    return Arrangement(
        bpm=min(max(bpm, 50.0), 200.0),
        root_hz=float(110.0 * 2 ** (int(rng.integers(0, 12)) / 12)),
        scale=_MINOR if minor else _MAJOR,
        progression=progression,
        four_on_the_floor=any(w in FOUR_ON_THE_FLOOR for w in words),
        sung=bool(lyrics.strip()) and not _INSTRUMENTAL.match(lyrics),
        plucked=plucked,
    )


def _note_hz(arr: Arrangement, degree: int, octave: int = 0) -> float:
    steps = arr.scale[degree % 7] + 12 * (octave + degree // 7)
    return arr.root_hz * 2 ** (steps / 12)


def _tone(freq: float, n: int, sr: int, partials: tuple[float, ...]) -> np.ndarray:
    t = np.arange(n) / sr
    out = np.zeros(n)
    for k, gain in enumerate(partials, 1):
        out += gain * np.sin(2 * np.pi * freq * k * t)
    return out


def _add(out: np.ndarray, at: int, piece: np.ndarray) -> None:
    end = min(out.size, at + piece.size)
    if 0 <= at < end:
        out[at:end] += piece[: end - at]


def _chords(arr: Arrangement, n: int, sr: int, beat: int) -> np.ndarray:
    out = np.zeros(n)
    bar = 4 * beat
    for index, start in enumerate(range(0, n, bar)):
        degree = arr.progression[index % len(arr.progression)]
        length = min(bar, n - start)
        env = np.ones(length)
        if arr.plucked:  # strummed on each beat, each strum dying away
            env = np.concatenate(
                [
                    np.exp(-np.arange(min(beat, length - at)) / (0.25 * sr))
                    for at in range(0, length, beat)
                ]
            )
        else:  # a pad: slow attack and release over the bar
            ramp = min(length // 4, int(0.08 * sr)) or 1
            env[:ramp] = np.linspace(0, 1, ramp)
            env[-ramp:] *= np.linspace(1, 0.3, ramp)
        for step in (0, 2, 4):
            partials = (1.0, 0.5, 0.3, 0.2) if arr.plucked else (1.0, 0.25, 0.08)
            out[start : start + length] += (
                0.22 * env * _tone(_note_hz(arr, degree + step, 1), length, sr, partials)
            )
    return out


def _bass(arr: Arrangement, n: int, sr: int, beat: int) -> np.ndarray:
    out = np.zeros(n)
    length = int(0.9 * beat)
    env = np.exp(-np.arange(length) / (0.35 * beat))
    for index, start in enumerate(range(0, n, beat)):
        degree = arr.progression[(index // 4) % len(arr.progression)]
        octave = -1 if index % 2 == 0 else 0
        _add(out, start, 0.45 * env * _tone(_note_hz(arr, degree, octave), length, sr, (1, 0.3)))
    return out


def _drums(arr: Arrangement, n: int, sr: int, beat: int, rng: Rng) -> np.ndarray:
    out = np.zeros(n)
    kick_n = int(0.18 * sr)
    t = np.arange(kick_n) / sr
    sweep = 2 * np.pi * np.cumsum(45 + 80 * np.exp(-t * 30)) / sr
    kick = np.sin(sweep) * np.exp(-t * 14)
    snare_n = int(0.14 * sr)
    snare = rng.standard_normal(snare_n) * np.exp(-np.arange(snare_n) / (0.035 * sr))
    hat_n = int(0.04 * sr)
    hat = np.diff(rng.standard_normal(hat_n + 1)) * np.exp(-np.arange(hat_n) / (0.008 * sr))
    for index, start in enumerate(range(0, n, beat)):
        if arr.four_on_the_floor or index % 2 == 0:
            _add(out, start, 0.9 * kick)
        if index % 2 == 1:
            _add(out, start, 0.35 * snare)
        _add(out, start, 0.12 * hat)
        _add(out, start + beat // 2, 0.08 * hat)
    return out


def _lead(arr: Arrangement, lyrics: str, n: int, sr: int, beat: int, rng: Rng) -> np.ndarray:
    """One sung-like note per syllable of the lyrics: vibrato, a vowel-ish tone, gaps at lines."""
    out = np.zeros(n)
    words = re.findall(r"[a-z']+", re.sub(r"\[[^\]]*\]", " ", lyrics.lower()))
    syllables = [s for w in words for s in re.findall(r"[^aeiouy]*[aeiouy]+", w) or [w]]
    at, step = 0, beat // 2
    for index, _ in enumerate(syllables):
        if at >= n:
            break
        length = step * (2 if index % 4 == 3 else 1)
        degree = int(rng.choice((0, 2, 4, 2, 1, 4, 5)))
        freq = _note_hz(arr, degree, 2)
        t = np.arange(length) / sr
        vibrato = 1 + 0.012 * np.sin(2 * np.pi * 5.5 * t)
        phase = 2 * np.pi * np.cumsum(freq * vibrato) / sr
        voice = np.sin(phase) + 0.45 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase)
        env = np.minimum(1, t / 0.03) * np.exp(-t * 1.5)
        _add(out, at, 0.3 * voice * env)
        at += length
    return out


def synthesize_music(
    style_prompt: str,
    lyrics: str = "",
    key: str = "",
    seconds: float = 8.0,
    sample_rate: int = 44100,
    *,
    plucked: bool = False,
) -> np.ndarray:
    """Mono float32 music in [-0.89, 0.89], the same for the same arguments."""
    n = max(1, int(round(seconds * sample_rate)))
    arr = arrangement(style_prompt, lyrics, key, plucked=plucked)
    beat = max(1, int(round(60.0 / arr.bpm * sample_rate)))
    rng = _rng_for(style_prompt, lyrics, key, "parts")
    mix = _chords(arr, n, sample_rate, beat) + _bass(arr, n, sample_rate, beat)
    mix += _drums(arr, n, sample_rate, beat, rng)
    if arr.sung:
        mix += _lead(arr, lyrics, n, sample_rate, beat, rng)
    fade = min(n // 2, int(0.05 * sample_rate))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        mix[:fade] *= ramp
        mix[-fade:] *= ramp[::-1]
    peak = float(np.max(np.abs(mix))) or 1.0
    return (mix * (0.89 / peak)).astype(np.float32)
