"""Speech-like sound for the sandbox's TTS tasks: formant-synthesised syllables, one per syllable
of the text, in a voice chosen by the reference recording, the same every time.

No words a person could understand, but unmistakably a voice: a glottal pulse train at a
speaking pitch that falls over each sentence (and rises at a question), shaped by the formants
of the syllable's vowel, with hissed and stopped consonants and pauses at spaces and punctuation.
No text-to-speech engine is needed (espeak is not a Python dependency).
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

#: Formant frequencies (Hz) and bandwidths of English vowels (Peterson & Barney averages).
VOWELS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "a": ((730, 1090, 2440), (90, 110, 160)),
    "e": ((530, 1840, 2480), (60, 100, 150)),
    "i": ((270, 2290, 3010), (60, 90, 150)),
    "o": ((570, 840, 2410), (70, 80, 160)),
    "u": ((300, 870, 2240), (60, 80, 150)),
    "y": ((270, 2290, 3010), (60, 90, 150)),
}
_FRICATIVES = frozenset("sfzvhxc")
_STOPS = frozenset("ptkbdgq")
_SYLLABLE = re.compile(r"[^aeiouy\s]*[aeiouy]+[^aeiouy\s]*?(?=[^aeiouy\s]?[aeiouy]|$)|[^\s]+")
_SENTENCE = re.compile(r"[^.!?]+[.!?]?")


def _rng_for(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def voice_pitch(voice: str) -> float:
    """The speaking pitch (Hz) of a reference voice: low or high, chosen by its name."""
    rng = _rng_for("voice", voice)
    return float(rng.choice((rng.uniform(95, 135), rng.uniform(175, 230))))


def _resonate(source: np.ndarray, freq: float, bandwidth: float, sr: int) -> np.ndarray:
    """A two-pole resonator (one formant) over `source`."""
    from scipy.signal import lfilter  # scipy.signal takes seconds to import: not for `--help`

    radius = np.exp(-np.pi * bandwidth / sr)
    theta = 2 * np.pi * freq / sr
    a = [1.0, -2 * radius * np.cos(theta), radius * radius]
    return np.asarray(lfilter([1.0 - radius], a, source))


def _vowel(vowel: str, f0: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    phase = np.cumsum(f0 * (1 + 0.01 * rng.standard_normal(f0.size))) / sr
    pulses = 2 * (phase % 1.0) - 1  # a sawtooth: the glottis' buzz, rich in harmonics
    formants, widths = VOWELS.get(vowel, VOWELS["a"])
    out = sum(
        gain * _resonate(pulses, f, w, sr)
        for f, w, gain in zip(formants, widths, (1.0, 0.6, 0.3), strict=True)
    )
    n = f0.size
    env = np.minimum(1, np.arange(n) / (0.025 * sr)) * np.minimum(
        1, (n - np.arange(n)) / (0.04 * sr)
    )
    return np.asarray(out) * env


def _consonant(letter: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    if letter in _FRICATIVES:
        n = int(0.07 * sr)
        hiss = np.diff(rng.standard_normal(n + 1)) * 0.25
        return hiss * np.hanning(n)
    if letter in _STOPS:
        gap, burst = int(0.04 * sr), int(0.012 * sr)
        return np.concatenate([np.zeros(gap), rng.standard_normal(burst) * 0.5])
    return np.zeros(int(0.02 * sr))


def synthesize_speech(
    text: str, voice: str = "", seconds: float = 8.0, sample_rate: int = 44100
) -> np.ndarray:
    """Mono float32 speech-like audio in [-0.89, 0.89], at most `seconds` long (padded with
    silence to exactly that), the same for the same arguments."""
    n = max(1, int(round(seconds * sample_rate)))
    out = np.zeros(n)
    rng = _rng_for(text, voice)
    base = voice_pitch(voice)
    at = int(0.1 * sample_rate)
    for sentence in _SENTENCE.findall(text) or [text]:
        words = re.findall(r"[a-z']+|[,;:]", sentence.lower())
        syllables = [s for w in words for s in (_SYLLABLE.findall(w) if w.isalpha() else [w])]
        question = sentence.strip().endswith("?")
        for index, syllable in enumerate(syllables):
            if at >= n:
                break
            if syllable in ",;:":
                at += int(0.18 * sample_rate)
                continue
            progress = index / max(1, len(syllables) - 1)
            pitch = base * (1.15 - 0.3 * progress) * (1 + (0.35 * progress**3 if question else 0))
            for letter in syllable:
                if letter in VOWELS:
                    break
                piece = _consonant(letter, sample_rate, rng)
                _add(out, at, piece)
                at += piece.size
            vowel = next((c for c in syllable if c in VOWELS), "a")
            length = int(sample_rate * rng.uniform(0.12, 0.2))
            f0 = np.full(length, pitch) * np.linspace(1.03, 0.97, length)
            _add(out, at, 0.6 * _vowel(vowel, f0, sample_rate, rng))
            at += length + int(sample_rate * rng.uniform(0.01, 0.04))
        at += int(0.35 * sample_rate)  # the pause between sentences
    peak = float(np.max(np.abs(out))) or 1.0
    return (out * (0.89 / peak)).astype(np.float32)


def _add(out: np.ndarray, at: int, piece: np.ndarray) -> None:
    end = min(out.size, at + piece.size)
    if 0 <= at < end:
        out[at:end] += piece[: end - at]
