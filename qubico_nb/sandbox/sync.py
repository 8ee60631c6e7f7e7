"""Sound that lands on the demo clip's visual events, late or early by a known offset.

The demo clip (``assets/demo.mp4``, drawn by ``scripts/make-demo-video`` from `DEMO_EVENTS`)
shows balls hitting the floor and a lamp flashing. A task on that clip gets, over its usual
texture, a thud at every impact and a zap at every flash, all shifted by an offset drawn from
the task's seed and prompt in `OFFSET_RANGE_S` (positive: the sound comes late). The sandbox
tells that true offset at the sandbox-only route ``GET /sandbox/tasks/{task_id}/sync`` (never
part of the live API), so the sync measure can be tested against a known answer.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from .assets import DEMO_VIDEO, asset_bytes
from .audio import AUDIO_FORMATS, FILE_CACHE, synthesize_samples

#: When something audible happens in the demo clip: (seconds, "impact" or "flash").
DEMO_EVENTS: tuple[tuple[float, str], ...] = (
    (1.00, "impact"),
    (1.55, "impact"),
    (1.93, "impact"),
    (3.20, "flash"),
    (4.40, "impact"),
    (4.90, "impact"),
    (5.22, "impact"),
    (6.35, "flash"),
    (7.20, "impact"),
)
#: The offsets a task's sound is shifted by, in seconds (uniform over the range).
OFFSET_RANGE_S = (-0.5, 0.5)
#: The texture sits this far under the events, so the events are what one hears.
BED_GAIN = 0.3


def true_offset_s(prompt: str, seed: int) -> float:
    """The offset (s, to the millisecond) a task with this prompt and seed is shifted by."""
    digest = hashlib.sha256(f"sync\x1f{prompt}\x1f{seed}".encode()).digest()
    share = int.from_bytes(digest[:8], "big") / 2**64
    low, high = OFFSET_RANGE_S
    return round(low + share * (high - low), 3)


def events_of(video: bytes | None) -> tuple[tuple[float, str], ...]:
    """The visual events of a video the sandbox knows (the demo clip), else none."""
    demo = asset_bytes(DEMO_VIDEO)
    return DEMO_EVENTS if video is not None and demo is not None and video == demo else ()


def _sound(kind: str, number: int, sample_rate: int) -> np.ndarray:
    """A thud (impact) or a zap (flash), different for each event number."""
    rng = np.random.default_rng([number, 7])
    if kind == "impact":
        n = int(0.25 * sample_rate)
        t = np.arange(n) / sample_rate
        spectrum = np.fft.rfft(rng.standard_normal(n))
        spectrum[np.fft.rfftfreq(n, 1 / sample_rate) > 1500] = 0
        body = np.fft.irfft(spectrum, n)
        body /= float(np.max(np.abs(body))) or 1.0
        mode = np.sin(2 * np.pi * rng.uniform(90, 220) * t)
        return np.exp(-t * 25) * (0.7 * body + 0.5 * mode)
    n = int(0.18 * sample_rate)
    t = np.arange(n) / sample_rate
    sweep = np.sin(2 * np.pi * (1800 * t - 2500 * t * t))
    return np.exp(-t * 20) * (0.6 * sweep + 0.4 * rng.standard_normal(n) * np.exp(-t * 300))


@lru_cache(maxsize=16)
def _event_track(offset_s: float, seconds: float, sample_rate: int) -> np.ndarray:
    out = np.zeros(max(1, int(round(seconds * sample_rate))), dtype=np.float32)
    for number, (at, kind) in enumerate(DEMO_EVENTS):
        piece = _sound(kind, number, sample_rate).astype(np.float32)
        start = int(round((at + offset_s) * sample_rate))
        lo, hi = max(0, start), min(out.size, start + piece.size)
        if lo < hi:
            out[lo:hi] += piece[lo - start : hi - start]
    out.setflags(write=False)
    return out


def render_synced_audio(
    prompt: str,
    negative_prompt: str,
    seed: int,
    steps: int,
    seconds: float,
    sample_rate: int,
    audio_format: str,
) -> bytes:
    """A demo-clip task's audio: its texture with the clip's events shifted by the offset."""
    key = ("synced", prompt, negative_prompt, seed, steps, seconds, sample_rate, audio_format)
    found = FILE_CACHE.get(key)
    if found is None:
        bed = synthesize_samples(prompt, negative_prompt, seed, steps, seconds, sample_rate)
        events = _event_track(true_offset_s(prompt, seed), seconds, sample_rate)
        mix = BED_GAIN * bed + events[: bed.size]
        mix *= 0.89 / (float(np.max(np.abs(mix))) or 1.0)
        found = AUDIO_FORMATS[audio_format].encode(mix.astype(np.float32), sample_rate)
        FILE_CACHE.put(key, found)
    return found
