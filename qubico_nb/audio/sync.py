"""`sync_offset`: how late a sound lands on the picture, from video motion and audio onsets.

No model weights: the visual motion of each frame (differences of a small grayscale copy) and the
onsets of the sound (spectral flux over mel bands) are cross-correlated over lags of up to
``max_offset_s``; the lag where they line up best is the offset. Video is decoded with PyAV, the
optional extra ``qubico-nb[video]``. Memory stays small: each frame is shrunk to a few thousand
grey pixels as it is decoded, and what a file's header declares is checked before decoding.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from .analysis import AudioDecodeError, decode

if TYPE_CHECKING:
    from ..client import Client
    from ..store.files import FileCache

#: Both envelopes are sampled at this rate; it is also the step between the lags tried (5 ms).
ENVELOPE_RATE = 200
DEFAULT_MAX_OFFSET_S = 1.0
#: The confidence to trust: see the README's figures (``python benchmarks/bench.py``, "sync").
CONFIDENT = 0.5
#: Video the header says is longer, larger or faster than this is refused before decoding.
MAX_VIDEO_SECONDS = 20 * 60.0
MAX_FRAME_PIXELS = 8192 * 8192
MAX_FRAME_RATE = 480.0
#: The grey copy each frame is shrunk to (its width; the height keeps the aspect ratio).
GRAY_WIDTH = 64
#: Motion is measured per cell of this grid, so a small object's motion is not drowned by the
#: rest of the picture.
GRID = (4, 4)
#: At least this many seconds of overlap beyond the lag window are needed to align anything.
MIN_OVERLAP_S = 1.0

FloatArray = npt.NDArray[np.float64]
VideoSource = str | os.PathLike[str] | bytes | bytearray | memoryview


@dataclass(frozen=True, eq=False)
class SyncEstimate:
    """How far the sound is shifted against the picture, and how sure the measure is.

    ``offset_s`` is positive when the sound comes late (after the motion it belongs to);
    ``nan`` when nothing could be aligned (``reason`` says why). ``confidence`` (0-1) is how
    clearly the best lag stands out from every other lag more than two frames away: 0 when
    another lag fits as well (periodic motion, no events), 1 when nothing else fits at all.
    Estimates at or above `CONFIDENT` are the ones to trust (see the README for measured error).
    ``motion`` and ``onsets`` are the two envelopes compared, both sampled at ``envelope_rate``
    from the start of the clip (each scaled to a peak of 1); ``correlation`` is the normalised
    cross-correlation at each lag from ``-max_offset_s`` to ``+max_offset_s`` in steps of
    ``1 / envelope_rate``. The arrays are read-only.
    """

    offset_s: float
    confidence: float
    motion: npt.NDArray[np.float32]
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
            f"envelopes=<{self.motion.size} samples at {self.envelope_rate:g} Hz>{why})"
        )


# -- inputs -------------------------------------------------------------------------------------
def _require_av() -> Any:
    try:
        import av
    except ImportError:
        raise ImportError(
            "measuring audio-video sync decodes video with PyAV, which is not installed: "
            "pip install 'qubico-nb[video]'"
        ) from None
    return av


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


# -- video: motion per frame --------------------------------------------------------------------
@dataclass(frozen=True)
class Motion:
    """Motion of a video: per frame (but the first and last), the mean absolute second
    difference in time (next - 2 x this + previous) over each grid cell of a small grey copy.

    The second difference marks where motion starts, stops or turns (an impact, a flash) and is
    small for steady motion; measured on the benchmark, it aligns more cases than the plain
    frame difference, whose peak is spread over the fall before an impact.
    """

    times: FloatArray
    cells: npt.NDArray[np.float32]
    frame_rate: float
    duration_s: float


def _header_checks(container: Any, stream: Any, name: str) -> float:
    """The frame rate the header declares; refuses what no sane clip declares."""
    width = int(stream.codec_context.width or 0)
    height = int(stream.codec_context.height or 0)
    if width <= 0 or height <= 0:
        raise AudioDecodeError(f"cannot decode video ({name}): its frames have no size")
    if width * height > MAX_FRAME_PIXELS:
        raise AudioDecodeError(
            f"video ({name}) declares {width}x{height} frames, more than the "
            f"{MAX_FRAME_PIXELS:,} pixels measured here; scale it down first"
        )
    seconds = _declared_seconds(container, stream)
    if seconds is not None and seconds > MAX_VIDEO_SECONDS:
        raise AudioDecodeError(
            f"video ({name}) declares {seconds:,.0f} s, more than the {MAX_VIDEO_SECONDS:,.0f} s "
            "measured here; cut it first"
        )
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    if fps > MAX_FRAME_RATE:
        raise AudioDecodeError(
            f"video ({name}) declares {fps:,.0f} frames per second, more than the "
            f"{MAX_FRAME_RATE:g} measured here"
        )
    return fps


def _declared_seconds(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return None


def video_motion(source: bytes | Path, name: str = "") -> Motion:
    """Decode a video frame by frame into its `Motion` (never holding more than two small
    grey frames). Raises `AudioDecodeError` when it cannot be decoded or declares absurd sizes."""
    av = _require_av()
    name = name or (f"{len(source):,} bytes" if isinstance(source, bytes) else str(source))
    handle: Any = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        container = av.open(handle, mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError) as err:
        raise AudioDecodeError(f"cannot decode video ({name}): {err}") from None
    with container:
        if not container.streams.video:
            raise AudioDecodeError(f"cannot decode video ({name}): it has no video stream")
        stream = container.streams.video[0]
        declared_fps = _header_checks(container, stream, name)
        stream.thread_type = "AUTO"
        width = int(stream.codec_context.width)
        height = int(stream.codec_context.height)
        small_w = min(GRAY_WIDTH, width)
        small_h = max(GRID[0], min(height, round(small_w * height / width)))
        limit = int(MAX_VIDEO_SECONDS * max(declared_fps, 30.0)) + 1
        shrink = av.video.reformatter.VideoReformatter()  # keeps its scaler between frames
        times: list[float] = []
        cells: list[npt.NDArray[np.float32]] = []
        older: npt.NDArray[np.float32] | None = None
        previous: npt.NDArray[np.float32] | None = None
        previous_time = -math.inf
        count = 0
        try:
            for frame in container.decode(stream):
                count += 1
                if count > limit:
                    raise AudioDecodeError(
                        f"video ({name}) holds more frames than its header declares; "
                        "it may be damaged"
                    )
                time = float(frame.time) if frame.time is not None else count / (declared_fps or 25)
                if time <= previous_time:
                    continue  # a duplicated or out-of-order frame shows nothing new
                current = (
                    shrink.reformat(
                        frame, width=small_w, height=small_h, format="gray", interpolation="AREA"
                    )
                    .to_ndarray()
                    .astype(np.float32)
                )
                if older is not None and previous is not None:
                    # The change of the change: what starts, stops or turns at the middle frame.
                    times.append(previous_time)
                    cells.append(_cell_means(np.abs(current - 2 * previous + older)))
                older, previous, previous_time = previous, current, time
        except av.FFmpegError as err:
            if count < 3:
                raise AudioDecodeError(f"cannot decode video ({name}): {err}") from None
            # A clip cut short: what was decoded is still measured.
        if not cells:
            raise AudioDecodeError(
                f"cannot decode video ({name}): fewer than three frames could be decoded"
            )
    stamp = np.asarray(times, dtype=np.float64)
    steps = np.diff(stamp)
    fps = 1.0 / float(np.median(steps)) if steps.size else declared_fps or 25.0
    return Motion(
        times=stamp,
        cells=np.vstack(cells),
        frame_rate=fps,
        duration_s=previous_time + 1.0 / fps,
    )


def _cell_means(diff: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    rows, cols = GRID
    h, w = diff.shape
    ys = (np.arange(rows + 1) * h) // rows
    xs = (np.arange(cols + 1) * w) // cols
    sums = np.add.reduceat(np.add.reduceat(diff, ys[:-1], axis=0), xs[:-1], axis=1)
    areas = np.outer(np.diff(ys), np.diff(xs))
    return (sums / areas).ravel().astype(np.float32)


# -- audio: onsets ------------------------------------------------------------------------------
def _decode_audio(source: bytes | Path, name: str) -> tuple[npt.NDArray[np.float32], int]:
    """Mono samples and rate: soundfile's formats, else (an MP4's AAC track) through PyAV."""
    try:
        samples, rate = decode(source)
    except AudioDecodeError as first:
        try:
            return _decode_audio_av(source, name)
        except ImportError:
            raise first from None
    mono = samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1, dtype=np.float32)
    return mono, rate


def _decode_audio_av(source: bytes | Path, name: str) -> tuple[npt.NDArray[np.float32], int]:
    av = _require_av()
    handle: Any = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        with av.open(handle, mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioDecodeError(f"cannot decode audio ({name}): it holds no sound")
            stream = container.streams.audio[0]
            rate = int(stream.codec_context.sample_rate or stream.rate or 0)
            seconds = _declared_seconds(container, stream)
            if seconds is not None and seconds > MAX_VIDEO_SECONDS:
                raise AudioDecodeError(
                    f"audio ({name}) declares {seconds:,.0f} s, more than the "
                    f"{MAX_VIDEO_SECONDS:,.0f} s measured here"
                )
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            chunks = [
                out.to_ndarray().reshape(-1)
                for frame in container.decode(stream)
                for out in resampler.resample(frame)
            ]
            chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    except av.FFmpegError as err:
        raise AudioDecodeError(f"cannot decode audio ({name}): {err}") from None
    if not chunks or rate <= 0:
        raise AudioDecodeError(f"cannot decode audio ({name}): no samples")
    return np.concatenate(chunks).astype(np.float32, copy=False), rate


N_MELS = 40
MEL_FMIN = 40.0
MEL_FMAX = 16000.0
#: Analysis window of the onset envelope, in seconds (1024 samples at 44.1 kHz).
ONSET_WINDOW_S = 0.023
#: Chunks of this many analysis frames keep the STFT's memory small on long clips.
_STFT_CHUNK = 2048


def _hz_to_mel(hz: FloatArray) -> FloatArray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


@lru_cache(maxsize=8)
def _mel_filters(rate: int, n_fft: int) -> npt.NDArray[np.float32]:
    """(bins, mels) triangular filters on the mel scale (HTK formula)."""
    fmax = min(MEL_FMAX, rate / 2.0)
    edges_mel = np.linspace(_hz_to_mel(np.array(MEL_FMIN)), _hz_to_mel(np.array(fmax)), N_MELS + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    lower = (freqs[:, None] - edges[None, :-2]) / (edges[1:-1] - edges[:-2])[None, :]
    upper = (edges[None, 2:] - freqs[:, None]) / (edges[2:] - edges[1:-1])[None, :]
    filters = np.maximum(0.0, np.minimum(lower, upper)).astype(np.float32)
    filters.setflags(write=False)
    return filters


def onset_envelope(mono: npt.NDArray[np.float32], rate: int) -> FloatArray:
    """Spectral flux over mel bands (log-compressed, rises only) at `ENVELOPE_RATE`, sample i
    at time i / ENVELOPE_RATE."""
    from scipy import fft  # type: ignore[import-untyped]

    n_fft = 1 << max(8, round(math.log2(ONSET_WINDOW_S * rate)))
    hop = rate / ENVELOPE_RATE
    n_out = int(mono.size / hop) + 1
    padded = np.concatenate(
        [np.zeros(n_fft // 2, np.float32), mono.astype(np.float32), np.zeros(n_fft, np.float32)]
    )
    windows = sliding_window_view(padded, n_fft)
    # frame i is centred on sample i * hop
    starts = np.round(np.arange(n_out + 1) * hop).astype(np.int64)
    starts = np.minimum(starts, windows.shape[0] - 1)
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    filters = _mel_filters(rate, n_fft)
    bands = np.empty((starts.size, N_MELS), dtype=np.float32)
    for at in range(0, starts.size, _STFT_CHUNK):
        chunk = windows[starts[at : at + _STFT_CHUNK]] * window
        power = np.abs(fft.rfft(chunk, axis=1)) ** 2
        bands[at : at + _STFT_CHUNK] = power @ filters
    level = np.log1p(bands * np.float32(1e3 / n_fft))
    rises = np.maximum(np.diff(level, axis=0), 0.0).sum(axis=1, dtype=np.float64)
    # the rise between frames i and i+1 sits halfway between their centres
    return np.interp(
        np.arange(n_out) / ENVELOPE_RATE, (np.arange(rises.size) + 0.5) / ENVELOPE_RATE, rises
    )


# -- alignment ----------------------------------------------------------------------------------
def motion_envelope(motion: Motion) -> FloatArray:
    """One motion value per frame interval: log-compressed cell changes, summed over cells,
    with their slow level removed, so onsets of motion stand out of steady movement."""
    cells = np.log1p(motion.cells.astype(np.float64))
    total = cells.sum(axis=1)
    return _transient(total, max(3, round(motion.frame_rate * 0.25)))


def _transient(values: FloatArray, width: int) -> FloatArray:
    """`values` less their running median over `width` samples, negatives cut to 0."""
    from scipy.ndimage import median_filter  # type: ignore[import-untyped]

    baseline = median_filter(values, size=width | 1, mode="nearest")
    return np.maximum(values - baseline, 0.0)


def _triangle(half_width: int) -> FloatArray:
    ramp = np.arange(1, half_width + 1, dtype=np.float64)
    kernel = np.concatenate([ramp, [half_width + 1.0], ramp[::-1]])
    return kernel / kernel.sum()


def align(
    motion: Motion,
    onsets: FloatArray,
    *,
    max_offset_s: float = DEFAULT_MAX_OFFSET_S,
) -> SyncEstimate:
    """The offset where `onsets` (at `ENVELOPE_RATE`) best follows `motion`; see `SyncEstimate`."""
    rate = ENVELOPE_RATE
    max_lag = round(max_offset_s * rate)
    lags = np.arange(-max_lag, max_lag + 1)
    values = motion_envelope(motion)
    # Audio flux spread over one frame either side: an event seen in a frame interval may have
    # happened anywhere in it.
    spread = _triangle(max(1, round(rate / motion.frame_rate)))
    audio = np.convolve(_transient(onsets, max(3, round(rate * 0.25))), spread, mode="same")
    position = motion.times * rate
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
    n, sv, svv, sa, saa, sva = sums
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sva - sv * sa / n
        var_v = svv - sv * sv / n
        var_a = saa - sa * sa / n
        correlation = np.where(
            (n > 2) & (var_v > 1e-12) & (var_a > 1e-12), cov / np.sqrt(var_v * var_a), 0.0
        )
    motion_plot = _on_grid(motion.times, values, motion.duration_s)
    reason = _why_unmeasurable(values, audio, motion, max_offset_s, onsets.size / rate)
    if reason is not None:
        return _estimate(
            math.nan, 0.0, motion_plot, onsets, correlation, max_offset_s, motion, reason
        )
    best = int(np.argmax(correlation))
    peak = float(correlation[best])
    guard = max(2, round(2 * rate / motion.frame_rate))
    others = np.abs(lags - lags[best]) > guard
    runner_up = float(correlation[others].max()) if others.any() else 0.0
    offset = (lags[best] + _vertex(correlation, best)) / rate
    confidence = 0.0 if peak <= 0 else float(np.clip((peak - max(runner_up, 0.0)) / peak, 0, 1))
    return _estimate(
        offset, confidence, motion_plot, onsets, correlation, max_offset_s, motion, None
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
    values: FloatArray, audio: FloatArray, motion: Motion, max_offset_s: float, audio_s: float
) -> str | None:
    overlap = min(motion.duration_s, audio_s)
    if overlap < max_offset_s + MIN_OVERLAP_S:
        return (
            f"the clip ({overlap:.2f} s) is too short for the lag window (±{max_offset_s:g} s): "
            f"it needs at least {max_offset_s + MIN_OVERLAP_S:g} s; pass a smaller max_offset_s"
        )
    if not np.any(values > 1e-6):
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
    motion_plot: FloatArray,
    onsets: FloatArray,
    correlation: FloatArray,
    max_offset_s: float,
    motion: Motion,
    reason: str | None,
) -> SyncEstimate:
    corr = correlation.astype(np.float32)
    corr.setflags(write=False)
    return SyncEstimate(
        offset_s=float(offset),
        confidence=float(confidence),
        motion=_plot_array(motion_plot),
        onsets=_plot_array(onsets),
        envelope_rate=float(ENVELOPE_RATE),
        correlation=corr,
        max_offset_s=float(max_offset_s),
        frame_rate=float(motion.frame_rate),
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
    """How late the sound of `audio` lands on the motion of `video`; see `SyncEstimate`.

    `video` and `audio` are paths, bytes, or http(s) URLs fetched with ``client.fetch_file``
    (default: the client `connect()` made) through the on-disk `FileCache`. The audio may be
    WAV, FLAC, OGG, MP3 or an MP4's sound track. Raises `AudioDecodeError` for a file that
    cannot be decoded, ImportError without PyAV (``pip install 'qubico-nb[video]'``).
    A clip too short for the lag window, a still video or a silent sound give an estimate
    with ``offset_s`` nan, confidence 0 and the ``reason``.
    """
    _check_max_offset(max_offset_s)
    _require_av()
    video_data = _load(video, client=client, cache=cache)
    audio_data = _load(audio, client=client, cache=cache)
    return offset_against(video_motion(video_data), audio_data, max_offset_s=max_offset_s)


def _check_max_offset(max_offset_s: object) -> None:
    if not (
        isinstance(max_offset_s, (int, float))
        and not isinstance(max_offset_s, bool)
        and 0 < max_offset_s <= 10
    ):
        raise ValueError(
            f"max_offset_s must be a number of seconds in (0, 10], got {max_offset_s!r}"
        )


def offset_against(
    motion: Motion, audio: bytes | Path, *, max_offset_s: float = DEFAULT_MAX_OFFSET_S
) -> SyncEstimate:
    """`sync_offset` for a video already measured (many sounds made for one video decode it
    once)."""
    _check_max_offset(max_offset_s)
    mono, rate = _decode_audio(audio, _name(audio))
    if not np.all(np.isfinite(mono)):
        raise AudioDecodeError("the audio holds NaN or infinite samples; the file is damaged")
    return align(motion, onset_envelope(mono, rate), max_offset_s=float(max_offset_s))


def _name(source: bytes | Path) -> str:
    return f"{len(source):,} bytes" if isinstance(source, bytes) else str(source)


__all__ = ["CONFIDENT", "SyncEstimate", "offset_against", "sync_offset", "video_motion"]
