"""MUSHRA anchors: the reference low-passed as ITU-R BS.1534-3 describes them.

BS.1534-3 describes its anchors as the reference low-pass filtered: at 3.5 kHz for the
low-range anchor, at 7 kHz for the mid-range anchor. An anchor is named
``"lp<cutoff>"``: ``"lp3.5k"``, ``"lp7k"`` (or ``"lp5000"`` in Hz). The filter is a
Butterworth low-pass (`scipy.signal.butter`, second-order sections) run forwards and backwards
(`scipy.signal.sosfiltfilt`): zero phase, so an anchor stays sample-aligned with its reference
when the board switches between them, and the two passes give twice the slope of one
(16th-order, 96 dB per octave, -6 dB at the cut-off).
"""

from __future__ import annotations

import io
import re

import numpy as np
import numpy.typing as npt
from scipy import signal

from .analysis import decode

#: The filter's order for one pass (the forward-backward run doubles its slope).
ORDER = 8
#: BS.1534-3's anchors.
LOW_RANGE, MID_RANGE = "lp3.5k", "lp7k"
_NAME = re.compile(r"lp(\d+(?:\.\d+)?)(k?)", re.IGNORECASE)


def cutoff_hz(name: object) -> float:
    """The cut-off of an anchor named ``"lp3.5k"`` (3500.0), ``"lp7k"`` or ``"lp5000"``;
    ValueError that says how to name one otherwise."""
    match = _NAME.fullmatch(name.strip()) if isinstance(name, str) else None
    value = float(match[1]) * (1000.0 if match[2] else 1.0) if match else 0.0
    if not match or not 20.0 <= value <= 48_000.0:
        raise ValueError(
            f"an anchor is a low-pass named like 'lp3.5k' or 'lp7k' (BS.1534-3's low- and "
            f"mid-range anchors) or 'lp5000' in Hz, between 20 Hz and 48 kHz; not {name!r}"
        )
    return value


def lowpass(samples: npt.NDArray[np.floating], rate: int, cutoff: float) -> npt.NDArray[np.float32]:
    """`samples` (frames, channels) low-passed at `cutoff` Hz, zero phase; ValueError when the
    cut-off is not below the file's Nyquist frequency (the anchor would be the reference)."""
    if cutoff >= rate / 2:
        raise ValueError(
            f"a {cutoff:g} Hz low-pass of audio sampled at {rate:,} Hz changes nothing (its "
            f"highest frequency is {rate / 2:,.0f} Hz): choose a lower anchor"
        )
    data = np.asarray(samples, dtype=np.float64)
    sections = signal.butter(ORDER, cutoff, btype="lowpass", fs=rate, output="sos")
    padding = 3 * (2 * len(sections) + 1)  # sosfiltfilt's default pad, which needs this many
    if data.shape[0] <= padding:
        return np.zeros_like(data, dtype=np.float32)  # too short to filter: silence, no sound
    return np.asarray(signal.sosfiltfilt(sections, data, axis=0), dtype=np.float32)


def anchor_wav(data: bytes, name: str) -> bytes:
    """The anchor `name` of a reference file (any format `decode` reads) as a 16-bit WAV at
    the reference's rate; a filter that would clip is scaled down to full scale."""
    from soundfile import write  # type: ignore[import-untyped]

    samples, rate = decode(data)
    filtered = lowpass(samples, rate, cutoff_hz(name))
    peak = float(np.max(np.abs(filtered))) if filtered.size else 0.0
    if peak > 1.0:
        filtered = filtered / peak
    sink = io.BytesIO()
    write(sink, filtered, rate, format="WAV", subtype="PCM_16")
    return sink.getvalue()
