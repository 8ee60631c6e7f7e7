"""Where sounds begin: the onset envelope the sync measure lines up with the video's events.

Spectral flux over mel bands: how much the log energy of each band rises from one short window
to the next, summed over the bands, sampled at `ENVELOPE_RATE`.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from .analysis import decode
from .errors import AudioDecodeError
from .video_events import MAX_VIDEO_SECONDS, declared_seconds, open_for_reading, require_av

#: The envelope's rate; also the step between the lags the sync measure tries (5 ms).
ENVELOPE_RATE = 200
N_MELS = 40
MEL_FMIN = 40.0
MEL_FMAX = 16000.0
#: Analysis window of the onset envelope, in seconds (1024 samples at 44.1 kHz)...
ONSET_WINDOW_S = 0.023
#: ...and windows per second: half overlapping would be 87; more place onsets more finely.
FLUX_RATE = 100
#: Chunks of this many analysis frames keep the STFT's memory small on long clips.
_STFT_CHUNK = 2048

FloatArray = npt.NDArray[np.float64]


def decode_mono(source: bytes | Path, name: str) -> tuple[npt.NDArray[np.float32], int]:
    """Mono samples and rate: soundfile's formats, else (an MP4's AAC track) through PyAV."""
    try:
        samples, rate = decode(source)
    except AudioDecodeError as first:
        try:
            return _decode_mono_av(source, name)
        except ImportError:
            raise first from None
    mono = samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1, dtype=np.float32)
    return mono, rate


def _decode_mono_av(source: bytes | Path, name: str) -> tuple[npt.NDArray[np.float32], int]:
    av = require_av()
    handle: Any = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        with open_for_reading(av, handle) as container:
            if not container.streams.audio:
                raise AudioDecodeError(f"cannot decode audio ({name}): it holds no sound")
            stream = container.streams.audio[0]
            rate = int(stream.codec_context.sample_rate or stream.rate or 0)
            seconds = declared_seconds(container, stream)
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
    at time i / ENVELOPE_RATE, each rise placed where the sound that causes it begins."""
    from scipy import fft

    n_fft = 1 << max(8, round(math.log2(ONSET_WINDOW_S * rate)))
    hop = rate / FLUX_RATE
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
    # The rise between frames i and i+1 sits halfway between their centres; but a window
    # already sees a sharp onset when it reaches a quarter of the way in (measured: its flux
    # peaks 6 ms early at 44.1 kHz), so the rise is placed that much later.
    lead = n_fft / 4 / rate
    return np.interp(
        np.arange(int(mono.size / rate * ENVELOPE_RATE) + 1) / ENVELOPE_RATE,
        (np.arange(rises.size) + 0.5) / FLUX_RATE + lead,
        rises,
        left=0.0,
    )
