"""The measures of a sound taken a block at a time, so that memory does not grow with duration.

Each measure is fed consecutive blocks of samples (frames, channels) whose total length it was
told up front, and gives the same numbers it would give for the whole signal at once: the blocks
are cut on 50 ms windows and on the K-weighting filter's blocks, the filter's state goes from
block to block, and the loudness gating is done at the end from per-stretch powers.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from .blockfilter import BLOCK, BlockFilter
from .errors import AudioDecodeError

FloatArray = npt.NDArray[np.float32]

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
#: About this many frames are measured at once (a little fewer, to end on whole windows).
BLOCK_FRAMES = 1 << 19


def silence_window(sample_rate: int) -> int:
    return max(1, round(SILENCE_WINDOW_S * sample_rate))


def block_frames(sample_rate: int) -> int:
    """Frames per block: a whole number of 50 ms windows and of K-weighting blocks."""
    unit = math.lcm(silence_window(sample_rate), BLOCK)
    return unit * max(1, BLOCK_FRAMES // unit)


class Levels:
    """Peak, clipped share, RMS and the silent share (50 ms windows)."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.window = silence_window(sample_rate)
        self.channels = channels
        self.peak = 0.0
        self.clipped = 0
        self.sums: list[npt.NDArray[np.float64]] = []
        self.sizes: list[npt.NDArray[np.int64]] = []

    def feed(self, data: FloatArray) -> None:
        if not len(data):
            return
        peak = max(float(data.max()), -float(data.min()))
        if not math.isfinite(peak):  # NaN or inf in a float file: every measure would be wrong
            raise AudioDecodeError("the audio holds NaN or infinite samples; the file is damaged")
        self.peak = max(self.peak, peak)
        if peak >= CLIP_LEVEL:
            self.clipped += int(np.count_nonzero(np.abs(data) >= CLIP_LEVEL))
        sums, sizes = _window_power(data, self.window)
        self.sums.append(sums)
        self.sizes.append(sizes)

    def rms_power(self, n_frames: int) -> float:
        return float(sum(float(s.sum()) for s in self.sums)) / n_frames if n_frames else 0.0

    def silent_fraction(self) -> float:
        """The share of frames in windows whose mean power is below -60 dBFS (1.0 when empty)."""
        sizes = np.concatenate(self.sizes) if self.sizes else np.zeros(0, dtype=np.int64)
        total = int(sizes.sum())
        if total == 0:
            return 1.0
        silent = np.concatenate(self.sums) < sizes * 10.0 ** (SILENCE_DBFS / 10.0)
        return int(sizes[silent].sum()) / total


def _window_power(
    data: FloatArray, window: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Sums of per-frame power (mean over channels) over windows, the last one maybe shorter,
    and the windows' sizes in frames."""
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


class Peaks:
    """(n, 2) int8: min and max of the mono mix in each of n equal slices, full scale ±127."""

    def __init__(self, n_frames: int, n: int) -> None:
        self.n_frames = n_frames
        self.n = n
        self.starts = (np.arange(n, dtype=np.int64) * n_frames) // n
        self.lows = np.full(n, np.inf, dtype=np.float32)
        self.highs = np.full(n, -np.inf, dtype=np.float32)
        self.at = 0

    def feed(self, mono: FloatArray) -> None:
        first, end = self.at, self.at + mono.size
        self.at = end
        if not mono.size:
            return
        if self.n_frames < self.n:  # fewer samples than slices: each shows the sample under it
            inside = (self.starts >= first) & (self.starts < end)
            self.lows[inside] = self.highs[inside] = mono[self.starts[inside] - first]
            return
        lo = int(np.searchsorted(self.starts, first, "right")) - 1
        hi = int(np.searchsorted(self.starts, end, "left"))
        local = np.maximum(self.starts[lo:hi] - first, 0)
        np.minimum(self.lows[lo:hi], np.minimum.reduceat(mono, local), out=self.lows[lo:hi])
        np.maximum(self.highs[lo:hi], np.maximum.reduceat(mono, local), out=self.highs[lo:hi])

    def result(self) -> npt.NDArray[np.int8]:
        out = np.zeros((self.n, 2), dtype=np.int8)
        if self.n_frames == 0:
            return out
        out[:, 0] = np.rint(np.clip(self.lows, -1.0, 1.0) * 127.0)
        out[:, 1] = np.rint(np.clip(self.highs, -1.0, 1.0) * 127.0)
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
def _hann(n_fft: int) -> npt.NDArray[np.float32]:
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic Hann
    # A full-scale sine then reads 0 dB: the Hann window's coherent gain is 1/2.
    window *= 4.0 / n_fft
    window.setflags(write=False)
    return window


class Spectrogram:
    """(bins, frames) uint8 log-magnitude image, row 0 = lowest band (see `AudioAnalysis`).

    Hann-windowed FFTs cover every sample (a long file gets more FFTs than columns, and each
    column averages the power of its FFTs, so a short click still shows); each band shows its
    strongest FFT bin, so a tone reads its level whatever the band's width. The FFTs' places
    depend only on the length, so they are taken block by block, the last FFT_SIZE - 1 samples
    of a block kept for the windows that straddle into the next.
    """

    def __init__(self, n_frames: int, sample_rate: int, bins: int, frames: int) -> None:
        self.n_fft = SPECTROGRAM_FFT
        self.size = n_frames
        self.padded = max(n_frames, self.n_fft)  # shorter than one FFT: zero-padded
        self.bins, self.frames = bins, frames
        self.band_starts = _band_starts(sample_rate, bins, self.n_fft)
        n_ffts = max(frames, -(-n_frames // self.n_fft))
        centers = ((np.arange(n_ffts, dtype=np.int64) * 2 + 1) * n_frames) // (2 * n_ffts)
        self.starts = np.clip(centers - self.n_fft // 2, 0, self.padded - self.n_fft)
        self.counts: npt.NDArray[np.float64] | None = None
        if n_ffts > frames:  # mean power of the FFTs under each column
            first = (np.arange(frames, dtype=np.int64) * n_ffts + frames - 1) // frames
            self.columns = np.searchsorted(first, np.arange(n_ffts), "right") - 1
            self.counts = np.diff(np.append(first, n_ffts)).astype(np.float64)[:, None]
        else:
            self.columns = np.arange(n_ffts)
        self.power = np.zeros((frames, bins), dtype=np.float64)
        self.done = 0  # FFTs taken so far
        self.kept = np.zeros(0, dtype=np.float32)  # samples before `at` still needed
        self.at = 0

    def feed(self, mono: FloatArray) -> None:
        # scipy's pocketfft works in float32 and is several times numpy's at this size.
        from scipy import fft

        end = self.at + mono.size
        if end >= self.size and self.size < self.padded:
            mono = np.concatenate([mono, np.zeros(self.padded - self.size, dtype=np.float32)])
            end = self.padded
        if not mono.size:
            return
        signal = np.concatenate([self.kept, mono]) if self.kept.size else mono
        origin = end - signal.size
        last = int(np.searchsorted(self.starts, end - self.n_fft, "right"))
        if last > self.done:
            chunks = sliding_window_view(signal, self.n_fft)[self.starts[self.done : last] - origin]
            chunks *= _hann(self.n_fft)
            spectra = fft.rfft(chunks, axis=1, overwrite_x=True)
            power = np.abs(spectra)  # the band's strongest bin is the same in magnitude as power
            bands = np.maximum.reduceat(power, self.band_starts, axis=1)
            np.square(bands, out=bands)
            columns = self.columns[self.done : last]
            if self.counts is None:  # one FFT a column
                self.power[columns] = bands
            else:  # columns ascend: add up each run of FFTs that share one
                runs = np.flatnonzero(np.diff(columns, prepend=-1))
                self.power[columns[runs]] += np.add.reduceat(bands, runs, axis=0, dtype=np.float64)
            self.done = last
        keep_from = int(self.starts[self.done]) if self.done < len(self.starts) else end
        self.kept = signal[max(0, keep_from - origin) :].copy()
        self.at = end

    def result(self) -> npt.NDArray[np.uint8]:
        if self.size == 0:
            return np.zeros((self.bins, self.frames), dtype=np.uint8)
        bands = self.power if self.counts is None else self.power / self.counts
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
#: pyloudnorm's gating blocks: 400 ms, a new one every quarter of that.
_GATE_BLOCK, _GATE_STEP = LOUDNESS_BLOCK_S, 0.25


class Loudness:
    """Integrated loudness (LUFS) by ITU-R BS.1770-4; see `AudioAnalysis.lufs` for -inf, nan.

    The filters are pyloudnorm's, applied in blocks (`BlockFilter`, its state carried from one
    block to the next); the K-weighted power is summed over the stretches between the gating
    blocks' bounds (computed exactly as pyloudnorm does), and the gating is pyloudnorm's
    algorithm, vectorized, over those sums at the end (the tests check both agree to 0.01 LU).
    """

    def __init__(self, n_frames: int, sample_rate: int, channels: int, *, whole: bool) -> None:
        self.rate, self.channels, self.n_frames = sample_rate, channels, n_frames
        self.defined = (
            channels <= LOUDNESS_MAX_CHANNELS and n_frames >= LOUDNESS_BLOCK_S * sample_rate
        )
        self.filter = _k_weighting(sample_rate) if self.defined else None
        # Without pyloudnorm's filters in reach, its own meter measures a file read whole.
        self.fallback: list[FloatArray] | None = (
            [] if self.defined and self.filter is None and whole else None
        )
        n_blocks = (
            int(np.round((n_frames / sample_rate - _GATE_BLOCK) / (_GATE_BLOCK * _GATE_STEP))) + 1
        )
        j = np.arange(max(n_blocks, 0))
        self.lower = (_GATE_BLOCK * (j * _GATE_STEP) * sample_rate).astype(np.int64)
        self.upper = np.minimum(
            (_GATE_BLOCK * (j * _GATE_STEP + 1) * sample_rate).astype(np.int64), n_frames
        )
        self.bounds = np.unique(np.concatenate([self.lower, self.upper, [n_frames]]))
        self.stretches = np.zeros((max(self.bounds.size - 1, 0), channels), dtype=np.float64)
        self.states: list[npt.NDArray[np.float64] | None] = [None] * channels
        self.at = 0

    def feed(self, data: FloatArray) -> None:
        if not self.defined or not len(data):
            return
        if self.fallback is not None:
            self.fallback.append(data)
            return
        if self.filter is None:
            return
        first, end = self.at, self.at + len(data)
        self.at = end
        # The stretches this block touches, and where each begins inside it.
        lo = int(np.searchsorted(self.bounds, first, "right")) - 1
        hi = int(np.searchsorted(self.bounds, end, "left"))
        local = np.maximum(self.bounds[lo:hi] - first, 0)
        for channel in range(self.channels):
            weighted, self.states[channel] = self.filter.run(
                np.ascontiguousarray(data[:, channel]), self.states[channel]
            )
            np.square(weighted, out=weighted)
            # float32 sums over stretches of at most 100 ms: off by a few 1e-3 dB at the worst
            self.stretches[lo:hi, channel] += np.add.reduceat(weighted, local)

    def result(self) -> float:
        if not self.defined:
            return math.nan
        if self.fallback is not None:
            import pyloudnorm

            whole = np.concatenate(self.fallback).astype(np.float64)
            return float(pyloudnorm.Meter(self.rate).integrated_loudness(whole))
        if self.filter is None:
            return math.nan  # pyloudnorm changed and the file was too long to read whole
        cumulative = np.zeros((self.bounds.size, self.channels), dtype=np.float64)
        np.cumsum(self.stretches, axis=0, out=cumulative[1:])
        at = np.searchsorted(self.bounds, self.lower), np.searchsorted(self.bounds, self.upper)
        z = np.maximum(cumulative[at[1]] - cumulative[at[0]], 0.0) / (_GATE_BLOCK * self.rate)
        gains = np.asarray(_CHANNEL_GAINS[: self.channels])
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


def read_only(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.setflags(write=False)
    return array
