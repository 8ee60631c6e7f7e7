"""What a sound file measures: level, loudness, clipping, silence, a waveform and a spectrogram.

Pure: it takes a path or bytes, decodes with soundfile (WAV, FLAC, OGG, MP3) and returns numbers and
two small arrays made for drawing. No HTTP, no widgets, no pandas. A file is checked against the
limits below from its header before a sample is decoded, then measured a block at a time
(`qubico_nb.audio.measures`), so memory does not grow with its length.
"""

from __future__ import annotations

import base64
import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile as sf  # type: ignore[import-untyped]

from .errors import AudioDecodeError
from .measures import (
    CLIP_LEVEL,
    LOUDNESS_BLOCK_S,
    LOUDNESS_MAX_CHANNELS,
    SILENCE_DBFS,
    SILENCE_WINDOW_S,
    SPECTROGRAM_FFT,
    SPECTROGRAM_FLOOR_DB,
    Levels,
    Loudness,
    Peaks,
    Spectrogram,
    block_frames,
    k_weighting_sections,
    read_only,
)
from .quiet import decoder_messages

DEFAULT_PEAKS = 200
DEFAULT_SPECTROGRAM_SHAPE = (64, 200)

#: What a file may declare in its header, checked before a sample is decoded (beyond them the
#: file is refused with `AudioDecodeError`, never half-read): telephone speech to studio rates,
#: up to 7.1 surround, an hour, and 2 GiB of samples as float32. Memory does not grow with any
#: of them: a file is measured in blocks of about half a million frames.
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 384_000
MAX_CHANNELS = 8
MAX_DURATION_S = 3600.0
MAX_DECODED_BYTES = 2 * 2**30

FloatArray = npt.NDArray[np.float32]


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
    """All samples as float32 of shape (frames, channels), and the sample rate; the file must
    be within the limits (`MAX_DURATION_S`...). `analyze_file` never holds a whole file: use it
    to measure one."""
    with _Decoder(source) as decoder:
        blocks = list(decoder.blocks())
        samples = (
            np.concatenate(blocks) if blocks else np.zeros((0, decoder.channels), dtype=np.float32)
        )
    return samples, decoder.rate


class _Decoder:
    """An open sound file, checked against the limits from its header, read block by block
    with the C decoder's messages kept off stderr (their first one explains a failure)."""

    def __init__(self, source: Source) -> None:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            if not data:
                raise AudioDecodeError("cannot decode audio: the data is empty (0 bytes)")
            self.name = f"{len(data):,} bytes"
            self.handle: Any = io.BytesIO(data)
            self.head = data[:4]
        else:
            path = Path(source)
            if not path.is_file():
                raise FileNotFoundError(f"no audio file at {path}")
            self.name = str(path)
            self.handle = path
            with open(path, "rb") as file:
                self.head = file.read(4)
        self.sound: Any = None

    def __enter__(self) -> _Decoder:
        self._quiet = decoder_messages(self.head)
        self._said = self._quiet.__enter__()
        try:
            self.sound = self._call(lambda: sf.SoundFile(self.handle))
        except BaseException:
            self._quiet.__exit__(None, None, None)
            raise
        try:
            self.rate, self.channels = int(self.sound.samplerate), int(self.sound.channels)
            self.declared = int(self.sound.frames)
            self.step = block_frames(self.rate) if self.rate > 0 else 1
            self._check(self.declared)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.sound.close()
        finally:
            self._quiet.__exit__(None, None, None)

    def _check(self, frames: int) -> None:
        """Refuse what the header declares (or the samples turn out to be) beyond the limits."""
        rate, channels = self.rate, self.channels
        why = None
        if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            why = f"its sample rate is {rate:,} Hz, outside {MIN_SAMPLE_RATE:,}-{MAX_SAMPLE_RATE:,}"
        elif not 1 <= channels <= MAX_CHANNELS:
            why = f"it has {channels} channels, more than {MAX_CHANNELS}"
        elif frames > MAX_DURATION_S * rate:
            why = f"it lasts {frames / rate:,.0f} s, more than {MAX_DURATION_S:,.0f} s"
        elif frames * channels * 4 > MAX_DECODED_BYTES:
            why = (
                f"its {frames * channels:,} samples would take more than "
                f"{MAX_DECODED_BYTES // 2**30} GiB decoded"
            )
        if why:
            raise AudioDecodeError(f"audio ({self.name}) is refused before decoding: {why}")

    def _call(self, read: Any) -> Any:
        """A call into the decoder; its failure explained by the decoder's own first message."""
        try:
            return read()
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, MemoryError) as err:
            reason = self._said.summary(wait=True) or str(err)
        raise AudioDecodeError(
            f"cannot decode audio ({self.name}): {reason}; it must be WAV, FLAC, OGG or MP3"
        )

    def blocks(self) -> Iterator[FloatArray]:
        """The samples, block by block (float32 (frames, channels)); at most the limits."""
        total = 0
        while True:
            block = self._call(lambda: _read_float32(self.sound, self.step))
            if not len(block):
                return
            total += len(block)
            if total > self.declared:
                self._check(total)  # a header that said less than the file holds
            yield block

    def measure(self, peaks: int, spectrogram_shape: tuple[int, int]) -> AudioAnalysis:
        """Measure the file in blocks, laid out by its length: the header's, checked at the
        end; if the decoder then found another length (an MP3's header may only estimate
        it), the file is measured again with the length it really has."""
        frames = self.declared
        first = self._call(lambda: _read_float32(self.sound, min(self.step, frames + 1)))
        if len(first) <= frames and len(first) < min(self.step, frames + 1):
            return _measure([first], len(first), self.rate, self.channels, peaks, spectrogram_shape)
        for _ in range(2):
            counted = [len(first)]

            def stream(
                held: list[FloatArray], counted: list[int] = counted
            ) -> Iterator[FloatArray]:
                yield held.pop()  # let go of it: at most one block is held at a time
                for block in self.blocks():
                    counted[0] += len(block)
                    yield block

            blocks, first = stream([first]), None
            try:
                return _measure(blocks, frames, self.rate, self.channels, peaks, spectrogram_shape)
            except _LengthChanged:
                frames = counted[0]
            self._call(lambda: self.sound.seek(0))
            first = self._call(lambda: _read_float32(self.sound, self.step))
        raise AudioDecodeError(
            f"cannot decode audio ({self.name}): its length changes from one read to the next"
        )


#: Integer PCM that libsndfile hands over as is: read it so and scale it here, the very values
#: libsndfile's float conversion gives (a power-of-two scale is exact) at a tenth of its time.
_INTEGER_READS = {
    "PCM_16": ("int16", 2.0**-15),
    "PCM_24": ("int32", 2.0**-31),
    "PCM_32": ("int32", 2.0**-31),
}


def _read_float32(sound: Any, frames: int) -> FloatArray:
    """Up to `frames` frames of an open `soundfile.SoundFile` as float32 (frames, channels)."""
    integer = _INTEGER_READS.get(sound.subtype)
    if integer is None:
        samples: FloatArray = sound.read(frames, dtype="float32", always_2d=True)
        return samples
    dtype, scale = integer
    raw = sound.read(frames, dtype=dtype, always_2d=True)
    return np.multiply(raw, np.float32(scale), dtype=np.float32)


def analyze_file(
    source: Source,
    *,
    peaks: int = DEFAULT_PEAKS,
    spectrogram_shape: tuple[int, int] = DEFAULT_SPECTROGRAM_SHAPE,
) -> AudioAnalysis:
    """Decode a sound (a path or the file's bytes) and measure it; see `AudioAnalysis`.

    `peaks` is the number of waveform slices; `spectrogram_shape` is (frequency bins, frames).
    Raises `AudioDecodeError` when it is not a sound soundfile can read, or declares more than
    the limits (`MIN_SAMPLE_RATE`-`MAX_SAMPLE_RATE`, `MAX_CHANNELS`, `MAX_DURATION_S`,
    `MAX_DECODED_BYTES`); the file is measured in blocks, so memory does not grow with its
    length.
    """
    _check_sizes(peaks, spectrogram_shape)
    with _Decoder(source) as decoder:
        return decoder.measure(peaks, spectrogram_shape)


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
    step = block_frames(sample_rate)
    blocks = (data[at : at + step] for at in range(0, len(data), step))
    return _measure(blocks, len(data), sample_rate, data.shape[1], peaks, spectrogram_shape)


def _measure(
    blocks: Iterator[FloatArray] | list[FloatArray],
    n_frames: int,
    sample_rate: int,
    channels: int,
    peaks: int,
    spectrogram_shape: tuple[int, int],
) -> AudioAnalysis:
    """Every measure of a sound of `n_frames` frames, fed its blocks in order (each a whole
    number of 50 ms windows and filter blocks, but the last)."""
    levels = Levels(sample_rate, channels)
    waveform = Peaks(n_frames, peaks)
    image = Spectrogram(n_frames, sample_rate, *spectrogram_shape)
    loudness = Loudness(n_frames, sample_rate, channels, whole=isinstance(blocks, list))
    fed = 0
    for block in blocks:
        fed += len(block)
        if fed > n_frames:
            break  # the caller measures again with the length the file really has
        mono = block[:, 0] if channels == 1 else block.mean(axis=1, dtype=np.float32)
        levels.feed(block)
        waveform.feed(mono)
        image.feed(mono)
        loudness.feed(block)
        del block, mono  # not held while the next block is read
    if fed != n_frames:
        for _ in blocks:  # read the rest: the caller counts it, to measure again
            pass
        raise _LengthChanged
    return AudioAnalysis(
        duration_s=n_frames / sample_rate,
        sample_rate=int(sample_rate),
        channels=int(channels),
        peak_dbfs=_db(levels.peak),
        rms_dbfs=_db(math.sqrt(levels.rms_power(n_frames))) if n_frames else -math.inf,
        lufs=loudness.result(),
        clipped_fraction=levels.clipped / (n_frames * channels) if levels.clipped else 0.0,
        silent_fraction=levels.silent_fraction(),
        peaks=read_only(waveform.result()),
        spectrogram=read_only(image.result()),
    )


class _LengthChanged(Exception):
    """The file held another number of frames than its header said."""


def _db(amplitude: float) -> float:
    return 20.0 * math.log10(amplitude) if amplitude > 0 else -math.inf


def integrated_loudness(data: FloatArray, sample_rate: int) -> float:
    """Integrated loudness (LUFS) of samples (frames, channels); see `AudioAnalysis.lufs`."""
    meter = Loudness(len(data), sample_rate, data.shape[1], whole=True)
    meter.feed(np.ascontiguousarray(data, dtype=np.float32))
    return meter.result()


__all__ = [
    "CLIP_LEVEL",
    "LOUDNESS_BLOCK_S",
    "LOUDNESS_MAX_CHANNELS",
    "SILENCE_DBFS",
    "SILENCE_WINDOW_S",
    "SPECTROGRAM_FFT",
    "SPECTROGRAM_FLOOR_DB",
    "AudioAnalysis",
    "AudioDecodeError",
    "analyze_file",
    "analyze_samples",
    "decode",
    "decode_peaks",
    "encode_peaks",
    "integrated_loudness",
    "k_weighting_sections",
]
