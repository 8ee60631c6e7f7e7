"""What a sound file measures: level, loudness, clipping, silence, a waveform and a spectrogram.

Pure: it takes a path or bytes, decodes with soundfile (WAV, FLAC, OGG, MP3) and returns numbers and
two small arrays made for drawing. No HTTP, no widgets, no pandas.
"""

from __future__ import annotations

import base64
import io
import math
import os
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile as sf  # type: ignore[import-untyped]
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import QubicoError
from .blockfilter import BlockFilter

#: A sample at or above this share of full scale counts as clipped.
CLIP_LEVEL = 0.999
#: Windows quieter than this (RMS, dBFS) count as silent.
SILENCE_DBFS = -60.0
#: The length of one silence window, in seconds.
SILENCE_WINDOW_S = 0.05
#: The loudness gating block of ITU-R BS.1770: shorter clips have no integrated loudness.
LOUDNESS_BLOCK_S = 0.4
#: BS.1770 defines channel weights for at most five channels (L, R, C, Ls, Rs).
LOUDNESS_MAX_CHANNELS = 5
#: Spectrogram levels map linearly from this floor (value 0) to 0 dBFS (value 255).
SPECTROGRAM_FLOOR_DB = -100.0
SPECTROGRAM_FFT = 2048
DEFAULT_PEAKS = 200
DEFAULT_SPECTROGRAM_SHAPE = (64, 200)

FloatArray = npt.NDArray[np.float32]


class AudioDecodeError(QubicoError, ValueError):
    """The bytes are not a sound soundfile can read (WAV, FLAC, OGG, MP3), or are cut short."""


@dataclass(frozen=True, eq=False)
class AudioAnalysis:
    """The measures of one sound file.

    Levels are dBFS (0 = full scale); silence reads ``-inf``, never a made-up floor.
    ``lufs`` is the integrated loudness of ITU-R BS.1770-4 (the K-weighting filters of pyloudnorm;
    absolute gate -70 LUFS, relative gate -10 LU): ``-inf`` when no 400 ms block is louder than the
    absolute gate (silence), ``nan`` when it is not defined: a clip shorter than one 400 ms block
    or with more than five channels.
    ``clipped_fraction`` is the share of samples (all channels) at or above 0.999 of full scale;
    ``silent_fraction`` the share of the duration in 50 ms windows whose RMS is below -60 dBFS.
    ``peaks`` is an int8 array of shape (n, 2): the min and max of the mono mix in each of n equal
    slices of the file, scaled so full scale is ±127 (a waveform to draw).
    ``spectrogram`` is a uint8 image of shape (bins, frames): row 0 is the LOWEST frequency band
    (mel-spaced up to Nyquist), column 0 the start of the file; each value is the band's level
    from -100 dBFS (0) to 0 dBFS (255), so quiet files look quiet.
    Both arrays are read-only.
    """

    duration_s: float
    sample_rate: int
    channels: int
    peak_dbfs: float
    rms_dbfs: float
    lufs: float
    clipped_fraction: float
    silent_fraction: float
    peaks: npt.NDArray[np.int8]
    spectrogram: npt.NDArray[np.uint8]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AudioAnalysis):
            return NotImplemented
        for field in fields(self):
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if isinstance(mine, np.ndarray):
                if not np.array_equal(mine, theirs):
                    return False
            elif not (mine == theirs or (_is_nan(mine) and _is_nan(theirs))):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"AudioAnalysis(duration_s={self.duration_s:.3f}, sample_rate={self.sample_rate}, "
            f"channels={self.channels}, peak_dbfs={self.peak_dbfs:.2f}, "
            f"rms_dbfs={self.rms_dbfs:.2f}, lufs={self.lufs:.2f}, "
            f"clipped_fraction={self.clipped_fraction:.4f}, "
            f"silent_fraction={self.silent_fraction:.3f}, peaks=<{len(self.peaks)} pairs>, "
            f"spectrogram=<{self.spectrogram.shape[0]}x{self.spectrogram.shape[1]}>)"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``json.dumps(..., allow_nan=False)`` accepts it), for a browser.

        Levels that are ``-inf`` or ``nan`` become ``None``; ``peaks`` is `encode_peaks` text and
        ``spectrogram`` is ``{"bins", "frames", "data"}`` with ``data`` the base64 of its
        row-major bytes (row 0 = lowest band).
        """
        out: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float):
                out[field.name] = value if math.isfinite(value) else None
            elif field.name == "peaks":
                out[field.name] = encode_peaks(value)
            elif field.name == "spectrogram":
                bins, frames = value.shape
                out[field.name] = {
                    "bins": int(bins),
                    "frames": int(frames),
                    "data": base64.b64encode(value.tobytes()).decode("ascii"),
                }
            else:
                out[field.name] = value
        return out


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def encode_peaks(peaks: npt.NDArray[np.int8]) -> str:
    """Peaks as compact text for a browser: base64 of the int8 bytes min0, max0, min1, max1, ...

    In JavaScript: ``new Int8Array(Uint8Array.from(atob(text), c => c.charCodeAt(0)).buffer)``.
    """
    array = np.asarray(peaks)
    if array.ndim != 2 or array.shape[1] != 2 or array.dtype != np.int8:
        raise ValueError(
            f"peaks must be an int8 array of shape (n, 2), got {array.dtype} {array.shape}"
        )
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def decode_peaks(text: str) -> npt.NDArray[np.int8]:
    """The inverse of `encode_peaks`."""
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if len(raw) % 2:
        raise ValueError("encoded peaks must hold an even number of bytes (min, max pairs)")
    return np.frombuffer(raw, dtype=np.int8).reshape(-1, 2).copy()


Source = str | os.PathLike[str] | bytes | bytearray | memoryview


def decode(source: Source) -> tuple[FloatArray, int]:
    """Samples as float32 of shape (frames, channels), and the sample rate."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise AudioDecodeError("cannot decode audio: the data is empty (0 bytes)")
        name = f"{len(data):,} bytes"
        handle: Any = io.BytesIO(data)
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no audio file at {path}")
        name = str(path)
        handle = path
    try:
        with sf.SoundFile(handle) as sound:
            samples = _read_float32(sound)
            rate = sound.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise AudioDecodeError(
            f"cannot decode audio ({name}): {err}; it must be WAV, FLAC, OGG or MP3"
        ) from None
    return samples, int(rate)


#: Integer PCM that libsndfile hands over as is: read it so and scale it here, the very values
#: libsndfile's float conversion gives (a power-of-two scale is exact) at a tenth of its time.
_INTEGER_READS = {
    "PCM_16": ("int16", 2.0**-15),
    "PCM_24": ("int32", 2.0**-31),
    "PCM_32": ("int32", 2.0**-31),
}


def _read_float32(sound: Any) -> FloatArray:
    """All frames of an open `soundfile.SoundFile` as float32 (frames, channels)."""
    integer = _INTEGER_READS.get(sound.subtype)
    if integer is None:
        samples: FloatArray = sound.read(dtype="float32", always_2d=True)
        return samples
    dtype, scale = integer
    raw = sound.read(dtype=dtype, always_2d=True)
    return np.multiply(raw, np.float32(scale), dtype=np.float32)


def analyze_file(
    source: Source,
    *,
    peaks: int = DEFAULT_PEAKS,
    spectrogram_shape: tuple[int, int] = DEFAULT_SPECTROGRAM_SHAPE,
) -> AudioAnalysis:
    """Decode a sound (a path or the file's bytes) and measure it; see `AudioAnalysis`.

    `peaks` is the number of waveform slices; `spectrogram_shape` is (frequency bins, frames).
    Raises `AudioDecodeError` when it is not a sound soundfile can read.
    """
    _check_sizes(peaks, spectrogram_shape)
    samples, rate = decode(source)
    return analyze_samples(samples, rate, peaks=peaks, spectrogram_shape=spectrogram_shape)


def _check_sizes(peaks: int, spectrogram_shape: tuple[int, int]) -> None:
    def positive(value: object) -> bool:
        return (
            isinstance(value, (int, np.integer)) and not isinstance(value, bool) and bool(value > 0)
        )

    if not positive(peaks):
        raise ValueError(f"peaks must be a positive integer, got {peaks!r}")
    if not (
        isinstance(spectrogram_shape, tuple)
        and len(spectrogram_shape) == 2
        and all(positive(n) for n in spectrogram_shape)
    ):
        raise ValueError(
            f"spectrogram_shape must be two positive integers (bins, frames), "
            f"got {spectrogram_shape!r}"
        )


def analyze_samples(
    samples: npt.ArrayLike,
    sample_rate: int,
    *,
    peaks: int = DEFAULT_PEAKS,
    spectrogram_shape: tuple[int, int] = DEFAULT_SPECTROGRAM_SHAPE,
) -> AudioAnalysis:
    """Measure decoded samples (frames, channels) or (frames,), floats with full scale 1.0."""
    _check_sizes(peaks, spectrogram_shape)
    data = np.ascontiguousarray(samples, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[1] < 1:
        raise ValueError(f"samples must have shape (frames, channels), got {data.shape}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    n_frames, channels = data.shape
    mono = data[:, 0] if channels == 1 else data.mean(axis=1, dtype=np.float32)
    window_power, window_sizes = _window_power(data, sample_rate)
    peak = max(float(data.max()), -float(data.min())) if n_frames else 0.0
    if not math.isfinite(peak):  # NaN or inf in a float file: every measure would be wrong
        raise AudioDecodeError("the audio holds NaN or infinite samples; the file is damaged")
    return AudioAnalysis(
        duration_s=n_frames / sample_rate,
        sample_rate=int(sample_rate),
        channels=int(channels),
        peak_dbfs=_db(peak),
        rms_dbfs=_db(math.sqrt(float(window_power.sum()) / n_frames)) if n_frames else -math.inf,
        lufs=integrated_loudness(data, sample_rate),
        clipped_fraction=(
            float(np.count_nonzero(np.abs(data) >= CLIP_LEVEL)) / data.size
            if peak >= CLIP_LEVEL
            else 0.0
        ),
        silent_fraction=_silent_fraction(window_power, window_sizes),
        peaks=_read_only(waveform_peaks(mono, peaks)),
        spectrogram=_read_only(spectrogram(mono, sample_rate, *spectrogram_shape)),
    )


def _read_only(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.setflags(write=False)
    return array


def _db(amplitude: float) -> float:
    return 20.0 * math.log10(amplitude) if amplitude > 0 else -math.inf


def _window_power(
    data: FloatArray, sample_rate: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Sums of per-frame power (mean over channels) over 50 ms windows, the last one maybe
    shorter, and the windows' sizes in frames."""
    window = max(1, round(SILENCE_WINDOW_S * sample_rate))
    n_frames, channels = data.shape
    full, rest = divmod(n_frames, window)
    sums = np.empty(full + (rest > 0), dtype=np.float64)
    # Frames are rows, so each window is one contiguous row of window * channels samples.
    rows = data[: full * window].reshape(full, window * channels)
    sums[:full] = np.einsum("ij,ij->i", rows, rows)
    if rest:
        tail = data[full * window :].ravel()
        sums[full] = np.dot(tail, tail)
    sums /= channels
    sizes = np.full(sums.size, window, dtype=np.int64)
    if rest:
        sizes[-1] = rest
    return sums, sizes


def _silent_fraction(sums: npt.NDArray[np.float64], sizes: npt.NDArray[np.int64]) -> float:
    """The share of frames in windows whose mean power is below -60 dBFS (1.0 when empty)."""
    total = int(sizes.sum())
    if total == 0:
        return 1.0
    silent = sums < sizes * 10.0 ** (SILENCE_DBFS / 10.0)
    return int(sizes[silent].sum()) / total


def waveform_peaks(mono: FloatArray, n: int) -> npt.NDArray[np.int8]:
    """(n, 2) int8: min and max of each of n equal slices, full scale = ±127."""
    out = np.zeros((n, 2), dtype=np.int8)
    size = mono.size
    if size == 0:
        return out
    if size >= n:
        starts = (np.arange(n, dtype=np.int64) * size) // n
        lows = np.minimum.reduceat(mono, starts)
        highs = np.maximum.reduceat(mono, starts)
    else:  # fewer samples than slices: each slice shows the sample under it
        lows = highs = mono[(np.arange(n, dtype=np.int64) * size) // n]
    out[:, 0] = np.rint(np.clip(lows, -1.0, 1.0) * 127.0)
    out[:, 1] = np.rint(np.clip(highs, -1.0, 1.0) * 127.0)
    return out


def _mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


@lru_cache(maxsize=16)
def _band_starts(sample_rate: int, bins: int, n_fft: int) -> npt.NDArray[np.intp]:
    """First FFT bin of each mel-spaced band; equal neighbours mean the band reads one bin."""
    nyquist = sample_rate / 2.0
    edges_mel = np.linspace(0.0, float(_mel(np.array(nyquist))), bins + 1)
    edges_hz = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    starts = np.floor(edges_hz[:-1] / nyquist * (n_fft // 2)).astype(np.intp)
    starts = np.minimum(starts, n_fft // 2)
    starts.setflags(write=False)
    return starts


@lru_cache(maxsize=4)
def _window(n_fft: int) -> npt.NDArray[np.float32]:
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic Hann
    # A full-scale sine then reads 0 dB: the Hann window's coherent gain is 1/2.
    window *= 4.0 / n_fft
    window.setflags(write=False)
    return window


def spectrogram(
    mono: FloatArray, sample_rate: int, bins: int = 64, frames: int = 200
) -> npt.NDArray[np.uint8]:
    """(bins, frames) uint8 log-magnitude image, row 0 = lowest band; see `AudioAnalysis`.

    Hann-windowed FFTs cover every sample (a long file gets more FFTs than columns, and each
    column averages the power of its FFTs, so a short click still shows); each band shows its
    strongest FFT bin, so a tone reads its level whatever the band's width.
    """
    # scipy's pocketfft works in float32 and is several times numpy's at this size.
    from scipy import fft  # type: ignore[import-untyped]

    n_fft = SPECTROGRAM_FFT
    size = mono.size
    if size == 0:
        return np.zeros((bins, frames), dtype=np.uint8)
    if size < n_fft:  # shorter than one FFT: zero-pad it (cheap at this size)
        mono = np.concatenate([mono, np.zeros(n_fft - size, dtype=np.float32)])
    n_ffts = max(frames, -(-size // n_fft))
    # Gather windows straight from the samples (no padded copy of the whole file): the first
    # and last windows start inside the file.
    centers = ((np.arange(n_ffts, dtype=np.int64) * 2 + 1) * size) // (2 * n_ffts)
    starts = np.clip(centers - n_fft // 2, 0, mono.size - n_fft)
    chunks = sliding_window_view(mono, n_fft)[starts]
    chunks *= _window(n_fft)
    spectra = fft.rfft(chunks, axis=1, overwrite_x=True)
    power = np.abs(spectra)  # the band's strongest bin is the same in magnitude as in power
    bands = np.maximum.reduceat(power, _band_starts(sample_rate, bins, n_fft), axis=1)
    np.square(bands, out=bands)
    if n_ffts > frames:  # mean power of the FFTs under each column
        first = (np.arange(frames, dtype=np.int64) * n_ffts + frames - 1) // frames
        counts = np.diff(np.append(first, n_ffts))[:, None]
        bands = np.add.reduceat(bands, first, axis=0, dtype=np.float64) / counts
    with np.errstate(divide="ignore"):
        levels = np.log10(bands.T)
    # 10 log10(power) from -100 dB (0) to 0 dB (255), in place on the small image.
    levels *= 10.0 * 255.0 / -SPECTROGRAM_FLOOR_DB
    levels += 255.0
    np.clip(levels, 0.0, 255.0, out=levels)
    return np.rint(levels, out=levels).astype(np.uint8, order="C")


def k_weighting_sections(sample_rate: int) -> npt.NDArray[np.float64] | None:
    """pyloudnorm's BS.1770 K-weighting filters at this rate as second-order sections (rows
    b0 b1 b2 a0 a1 a2), or None when pyloudnorm no longer keeps them where we look."""
    import pyloudnorm  # type: ignore[import-untyped]

    stages = getattr(pyloudnorm.Meter(sample_rate), "_filters", None)
    try:
        sections = np.array(
            [np.concatenate([np.ravel(stage.b), np.ravel(stage.a)]) for stage in stages.values()],  # type: ignore[union-attr]
            dtype=np.float64,
        )
    except (AttributeError, TypeError, ValueError):
        return None
    return sections if sections.ndim == 2 and sections.shape[1] == 6 else None


@lru_cache(maxsize=8)
def _k_weighting(sample_rate: int) -> BlockFilter | None:
    """The K-weighting at this rate, ready to apply in blocks; None: use pyloudnorm's meter."""
    sections = k_weighting_sections(sample_rate)
    return None if sections is None else BlockFilter.design(sections)


#: BS.1770 channel weights (L, R, C, Ls, Rs), as pyloudnorm applies them.
_CHANNEL_GAINS = (1.0, 1.0, 1.0, 1.41, 1.41)


def integrated_loudness(data: FloatArray, sample_rate: int) -> float:
    """Integrated loudness (LUFS) by ITU-R BS.1770-4; see `AudioAnalysis.lufs` for -inf and nan.

    The filters are pyloudnorm's, applied in blocks (`BlockFilter`: sosfilt's output, faster); the
    gating is pyloudnorm's algorithm in vectorized form (the tests check both agree to 0.01 LU).
    """
    n_frames, channels = data.shape
    if channels > LOUDNESS_MAX_CHANNELS or n_frames < LOUDNESS_BLOCK_S * sample_rate:
        return math.nan
    kweighting = _k_weighting(sample_rate)
    if kweighting is None:
        import pyloudnorm  # type: ignore[import-untyped]

        return float(pyloudnorm.Meter(sample_rate).integrated_loudness(data.astype(np.float64)))
    # Block bounds exactly as pyloudnorm computes them (400 ms blocks, 75 % overlap).
    block, step = LOUDNESS_BLOCK_S, 0.25
    total_s = n_frames / sample_rate
    n_blocks = int(np.round((total_s - block) / (block * step))) + 1
    j = np.arange(n_blocks)
    lower = (block * (j * step) * sample_rate).astype(np.int64)
    upper = np.minimum((block * (j * step + 1) * sample_rate).astype(np.int64), n_frames)
    # Sum the squares once per stretch between block bounds, then add stretches up per block.
    bounds = np.unique(np.concatenate([lower, upper, [n_frames]]))
    stretches = np.empty((bounds.size - 1, channels), dtype=np.float64)
    for channel in range(channels):
        weighted = kweighting(np.ascontiguousarray(data[:, channel]))
        np.square(weighted, out=weighted)
        # float32 sums over stretches of at most 100 ms: off by a few 1e-3 dB at the very worst
        stretches[:, channel] = np.add.reduceat(weighted, bounds[:-1])
    cumulative = np.zeros((bounds.size, channels), dtype=np.float64)
    np.cumsum(stretches, axis=0, out=cumulative[1:])
    at = np.searchsorted(bounds, lower), np.searchsorted(bounds, upper)
    z = np.maximum(cumulative[at[1]] - cumulative[at[0]], 0.0) / (block * sample_rate)
    gains = np.asarray(_CHANNEL_GAINS[:channels])
    with np.errstate(divide="ignore"):
        block_loudness = -0.691 + 10.0 * np.log10(z @ gains)
        above_absolute = block_loudness >= -70.0
        if not above_absolute.any():
            return -math.inf
        relative = -0.691 + 10.0 * np.log10(z[above_absolute].mean(axis=0) @ gains) - 10.0
        gated = (block_loudness > relative) & (block_loudness > -70.0)
        if not gated.any():
            return -math.inf
        return float(-0.691 + 10.0 * np.log10(z[gated].mean(axis=0) @ gains))
