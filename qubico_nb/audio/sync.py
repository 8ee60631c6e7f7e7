"""`sync_offset`: how late a sound lands on the picture, from visual events and audio onsets.

No model weights: the moments something visibly happens (motion that stops or turns, light that
comes on: `qubico_nb.audio.video_events`) and the onsets of the sound (spectral flux over mel
bands: `qubico_nb.audio.onsets`) are cross-correlated over lags of up to ``max_offset_s``; the
lag where they line up best is the offset; how clearly it beats every other lag, and whether
each half of the clip alone agrees, is the confidence. Video is decoded with PyAV, the optional
extra ``qubico-nb[video]``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .._constants import SYNC_CONFIDENT
from .errors import AudioDecodeError
from .onsets import ENVELOPE_RATE, decode_mono, onset_envelope
from .video_events import VisualEvents, require_av, video_events

if TYPE_CHECKING:
    from ..client import Client
    from ..store.files import FileCache

DEFAULT_MAX_OFFSET_S = 1.0
#: The confidence to trust: see the README's figures (``python benchmarks/bench.py``, "sync").
CONFIDENT = SYNC_CONFIDENT
#: At least this many seconds of overlap beyond the lag window are needed to align anything.
MIN_OVERLAP_S = 1.0
#: Audio onsets are measured against their running median over this long, so a steady sound
#: (a hum, a bed of noise) does not count as onsets.
ONSET_BASELINE_S = 0.25
#: Visual strengths are log-compressed above this many times their median (the typical frame),
#: so one very strong event (a bright flash) cannot outweigh all the others put together.
VISUAL_KNEE = 3.0

FloatArray = npt.NDArray[np.float64]
VideoSource = str | os.PathLike[str] | bytes | bytearray | memoryview


@dataclass(frozen=True, eq=False)
class SyncEstimate:
    """How far the sound is shifted against the picture, and how sure the measure is.

    ``offset_s`` is positive when the sound comes late (after the event it belongs to); ``nan``
    when nothing could be aligned (``reason`` says why). ``confidence`` (0-1) is how clearly the
    best lag stands out from every other lag more than two frames away (0 when another lag fits
    as well: periodic motion, no events; 1 when nothing else fits at all), times 1 when each
    half of the clip on its own finds the same lag, 0.75 when one half does, 0.5 when neither
    does. Estimates at or above `CONFIDENT` are the ones to trust (see the README for measured
    error). ``visual`` (how strongly something happens in the picture, log-compressed) and
    ``onsets`` (how strongly a sound begins) are the two envelopes compared, both sampled at
    ``envelope_rate`` from the start of the clip (each scaled to a peak of 1); ``correlation``
    is their normalised cross-correlation (scaled by the share of the picture's events with
    sound to compare at that lag) at each lag from ``-max_offset_s`` to ``+max_offset_s`` in
    steps of ``1 / envelope_rate``. The arrays are read-only.
    """

    offset_s: float
    confidence: float
    visual: npt.NDArray[np.float32]
    onsets: npt.NDArray[np.float32]
    envelope_rate: float
    correlation: npt.NDArray[np.float32]
    max_offset_s: float
    frame_rate: float
    reason: str | None = None

    @property
    def lags_s(self) -> FloatArray:
        """The lag of each value of ``correlation``, in seconds."""
        half = (self.correlation.size - 1) // 2
        return np.arange(-half, half + 1, dtype=np.float64) / self.envelope_rate

    def __repr__(self) -> str:
        offset = "nan" if math.isnan(self.offset_s) else f"{self.offset_s:+.3f}"
        why = f", reason={self.reason!r}" if self.reason else ""
        return (
            f"SyncEstimate(offset_s={offset}, confidence={self.confidence:.2f}, "
            f"envelopes=<{self.visual.size} samples at {self.envelope_rate:g} Hz>{why})"
        )


# -- inputs -------------------------------------------------------------------------------------
def _is_url(source: object) -> bool:
    return isinstance(source, str) and source.startswith(("http://", "https://"))


def _load(source: VideoSource, *, client: Client | None, cache: FileCache | bool) -> bytes | Path:
    """The bytes or path behind a path, bytes or an http(s) URL (fetched through the client)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise AudioDecodeError("cannot decode: the data is empty (0 bytes)")
        return data
    if _is_url(source):
        from ..store.files import FileCache

        if client is None:
            from ..connection import default_client

            client = default_client()
        files = cache if isinstance(cache, FileCache) else FileCache(enabled=bool(cache))
        return files.fetch(str(source), client.fetch_file)
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}")
    return path


def check_max_offset(max_offset_s: object) -> None:
    """A ValueError unless `max_offset_s` is a number of seconds in (0, 10]."""
    if not (
        isinstance(max_offset_s, (int, float))
        and not isinstance(max_offset_s, bool)
        and 0 < max_offset_s <= 10
    ):
        raise ValueError(
            f"max_offset_s must be a number of seconds in (0, 10], got {max_offset_s!r}"
        )


# -- alignment ----------------------------------------------------------------------------------
def _transient(values: FloatArray, width: int) -> FloatArray:
    """`values` less their running median over `width` samples, negatives cut to 0."""
    from scipy.ndimage import median_filter

    baseline = median_filter(values, size=width | 1, mode="nearest")
    return np.maximum(values - baseline, 0.0)


def _triangle(half_width: int) -> FloatArray:
    ramp = np.arange(1, half_width + 1, dtype=np.float64)
    kernel = np.concatenate([ramp, [half_width + 1.0], ramp[::-1]])
    return kernel / kernel.sum()


def _compressed(strength: FloatArray) -> FloatArray:
    """Visual strengths, log-compressed above `VISUAL_KNEE` times their median."""
    knee = max(VISUAL_KNEE * float(np.median(strength)), 0.01 * float(strength.max()), 1e-12)
    return np.log1p(strength / knee)


def _moments(
    times: FloatArray, values: FloatArray, audio: FloatArray, lags: npt.NDArray[np.int64]
) -> FloatArray:
    """Per lag, the sums a Pearson correlation needs (count, sum v, sum v², sum a, sum a²,
    sum va) of the visual `values` against the audio envelope, linearly interpolated at each
    time plus the lag, over the pairs that fall in both. Sums of parts add up to the whole."""
    rate = ENVELOPE_RATE
    position = times * rate
    base = np.floor(position).astype(np.int64)
    frac = position - base
    sums = np.zeros((6, lags.size))
    chunk = max(1, 2_000_000 // lags.size)
    for at in range(0, base.size, chunk):
        index = base[at : at + chunk, None] + lags[None, :]
        inside = (index >= 0) & (index + 1 < audio.size)
        clipped = np.clip(index, 0, audio.size - 2)
        f = frac[at : at + chunk, None]
        a = np.where(inside, (1 - f) * audio[clipped] + f * audio[clipped + 1], 0.0)
        v = np.where(inside, values[at : at + chunk, None], 0.0)
        sums += [
            inside.sum(axis=0),
            v.sum(axis=0),
            (v * v).sum(axis=0),
            a.sum(axis=0),
            (a * a).sum(axis=0),
            (v * a).sum(axis=0),
        ]
    return sums


def _correlation(sums: FloatArray, count: int) -> FloatArray:
    """The Pearson correlation at each lag from `_moments` of `count` visual values, scaled by
    the share of them that had sound to compare: a lag that leaves much of the picture out
    rests on less evidence (short clips, lags near the window's ends)."""
    n, sv, svv, sa, saa, sva = sums
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sva - sv * sa / n
        var_v = svv - sv * sv / n
        var_a = saa - sa * sa / n
        pearson = np.where(
            (n > 2) & (var_v > 1e-12) & (var_a > 1e-12), cov / np.sqrt(var_v * var_a), 0.0
        )
    return pearson * (n / max(count, 1))


def align(
    events: VisualEvents,
    onsets: FloatArray,
    *,
    max_offset_s: float = DEFAULT_MAX_OFFSET_S,
) -> SyncEstimate:
    """The offset where `onsets` (at `ENVELOPE_RATE`) best follows `events`; see
    `SyncEstimate`."""
    rate = ENVELOPE_RATE
    max_lag = round(max_offset_s * rate)
    lags = np.arange(-max_lag, max_lag + 1)
    # Audio onsets spread over one frame either side: an event seen in a frame interval may
    # have happened anywhere in it.
    spread = _triangle(max(1, round(rate / events.frame_rate)))
    audio = np.convolve(_transient(onsets, round(rate * ONSET_BASELINE_S)), spread, mode="same")
    visual = _compressed(events.strength)
    first = events.times < 0.5 * (events.times[0] + events.times[-1])
    halves = [
        (_moments(events.times[part], visual[part], audio, lags), int(part.sum()))
        for part in (first, ~first)
    ]
    correlation = _correlation(halves[0][0] + halves[1][0], visual.size)
    visual_plot = _on_grid(events.times, visual, events.duration_s)
    reason = _why_unmeasurable(events, audio, max_offset_s, onsets.size / rate)
    if reason is not None:
        return _estimate(
            math.nan, 0.0, visual_plot, onsets, correlation, max_offset_s, events, reason
        )
    best = int(np.argmax(correlation))
    peak = float(correlation[best])
    guard = max(2, round(2 * rate / events.frame_rate))
    others = np.abs(lags - lags[best]) > guard
    runner_up = float(correlation[others].max()) if others.any() else 0.0
    offset = (lags[best] + _vertex(correlation, best)) / rate
    margin = 0.0 if peak <= 0 else float(np.clip((peak - max(runner_up, 0.0)) / peak, 0, 1))
    # Each half of the clip on its own should point to the same lag; a half that points
    # elsewhere (or has nothing to align) halves its share of the confidence.
    agreeing = sum(
        abs(lags[int(np.argmax(_correlation(sums, count)))] - lags[best]) <= guard
        for sums, count in halves
    )
    confidence = margin * (0.5 + 0.25 * agreeing)
    return _estimate(
        offset, confidence, visual_plot, onsets, correlation, max_offset_s, events, None
    )


def _vertex(values: FloatArray, at: int) -> float:
    """Sub-step position of the peak at `at`: the vertex of the parabola through it and its
    neighbours (0 at the ends)."""
    if at == 0 or at == values.size - 1:
        return 0.0
    left, mid, right = values[at - 1], values[at], values[at + 1]
    denominator = left - 2 * mid + right
    return (
        0.0 if denominator >= 0 else float(np.clip(0.5 * (left - right) / denominator, -0.5, 0.5))
    )


def _why_unmeasurable(
    events: VisualEvents, audio: FloatArray, max_offset_s: float, audio_s: float
) -> str | None:
    overlap = min(events.duration_s, audio_s)
    if overlap < max_offset_s + MIN_OVERLAP_S:
        return (
            f"the clip ({overlap:.2f} s) is too short for the lag window (±{max_offset_s:g} s): "
            f"it needs at least {max_offset_s + MIN_OVERLAP_S:g} s; pass a smaller max_offset_s"
        )
    if not np.any(events.strength > 1e-6):
        return "the video shows no motion to align the sound with"
    if not np.any(audio > 1e-6):
        return "the audio has no onsets (silent or steady) to align with the motion"
    return None


def _on_grid(times: FloatArray, values: FloatArray, duration_s: float) -> FloatArray:
    grid = np.arange(int(duration_s * ENVELOPE_RATE) + 1) / ENVELOPE_RATE
    return np.interp(grid, times, values, left=0.0, right=0.0)


def _plot_array(values: FloatArray) -> npt.NDArray[np.float32]:
    peak = float(np.max(values)) if values.size else 0.0
    out = (values / peak if peak > 0 else values).astype(np.float32)
    out.setflags(write=False)
    return out


def _estimate(
    offset: float,
    confidence: float,
    visual_plot: FloatArray,
    onsets: FloatArray,
    correlation: FloatArray,
    max_offset_s: float,
    events: VisualEvents,
    reason: str | None,
) -> SyncEstimate:
    corr = correlation.astype(np.float32)
    corr.setflags(write=False)
    return SyncEstimate(
        offset_s=float(offset),
        confidence=float(confidence),
        visual=_plot_array(visual_plot),
        onsets=_plot_array(onsets),
        envelope_rate=float(ENVELOPE_RATE),
        correlation=corr,
        max_offset_s=float(max_offset_s),
        frame_rate=float(events.frame_rate),
        reason=reason,
    )


def sync_offset(
    video: VideoSource,
    audio: VideoSource,
    *,
    max_offset_s: float = DEFAULT_MAX_OFFSET_S,
    client: Client | None = None,
    cache: FileCache | bool = True,
) -> SyncEstimate:
    """How late the sound of `audio` lands on what happens in `video`; see `SyncEstimate`.

    `video` and `audio` are paths, bytes, or http(s) URLs fetched with ``client.fetch_file``
    (default: the client `connect()` made) through the on-disk `FileCache`. The audio may be
    WAV, FLAC, OGG, MP3 or an MP4's sound track. Raises `AudioDecodeError` for a file that
    cannot be decoded, ImportError without PyAV (``pip install 'qubico-nb[video]'``).
    A clip too short for the lag window, a still video or a silent sound give an estimate
    with ``offset_s`` nan, confidence 0 and the ``reason``.
    """
    check_max_offset(max_offset_s)
    require_av()
    video_data = _load(video, client=client, cache=cache)
    audio_data = _load(audio, client=client, cache=cache)
    return offset_against(video_events(video_data), audio_data, max_offset_s=max_offset_s)


def offset_against(
    events: VisualEvents, audio: bytes | Path, *, max_offset_s: float = DEFAULT_MAX_OFFSET_S
) -> SyncEstimate:
    """`sync_offset` for a video already measured (many sounds made for one video decode it
    once)."""
    check_max_offset(max_offset_s)
    mono, rate = decode_mono(audio, _name(audio))
    # Sound after the picture's end (and the lag window) can align with nothing.
    mono = mono[: int((events.duration_s + max_offset_s + 1.0) * rate)]
    if not np.all(np.isfinite(mono)):
        raise AudioDecodeError("the audio holds NaN or infinite samples; the file is damaged")
    return align(events, onset_envelope(mono, rate), max_offset_s=float(max_offset_s))


def _name(source: bytes | Path) -> str:
    return f"{len(source):,} bytes" if isinstance(source, bytes) else str(source)


__all__ = ["CONFIDENT", "SyncEstimate", "align", "offset_against", "sync_offset"]
