"""Audio and video for the board, on the kernel side: fetch each file (local copy, on-disk cache
or the client's streaming fetch), measure it once, keep only the measures (waveform,
spectrogram, loudness), and hand the page its bytes through `page_bytes`."""

from __future__ import annotations

import io
import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._media import audio_media_type
from ..client import Client
from ..models import guess_content_type

#: Waveform columns kept in the synced state (and in the saved notebook): 2 bytes each.
STATE_COLUMNS = 160
#: Waveform columns sent with the audio bytes (not saved): a sharp waveform on wide cards.
FINE_COLUMNS = 800
#: Source videos up to this size go to the browser as bytes; larger ones play from their URL.
VIDEO_MAX_BYTES = 64 * 2**20
#: On a blind board, audio whose metadata cannot be removed goes to the page as 16-bit FLAC of
#: its samples, up to this size (about 10 minutes of stereo 44.1 kHz music); larger, the card
#: shows an error instead.
BLIND_FALLBACK_MAX_BYTES = 64 * 2**20
#: Largest spectrogram sent to the browser (frequency bins, time frames).
SPECTROGRAM_MAX = (96, 400)
#: Level matching keeps every card of a row at least this far below full scale (dB).
HEADROOM_DB = 1.0
#: Level matching never turns a card up or down by more than this (dB).
MAX_GAIN_DB = 24.0


@dataclass(frozen=True)
class Media:
    """A card's audio as the board needs it: what to draw and how loud it is (no bytes: the
    page gets those from the file cache when it asks)."""

    mime: str
    duration_s: float
    peaks: np.ndarray  # int8 (n, 2): min, max per column
    spectrogram: np.ndarray  # uint8 (bins, frames), low frequencies first; (0, 0) if none
    lufs: float  # integrated loudness (BS.1770); -inf silent, nan undefined
    peak_dbfs: float


def page_audio(data: bytes, source: str | None, blind: bool) -> tuple[str, bytes]:
    """A card's audio as the page gets it: its media type, named from the bytes actually sent
    (a blind fallback is FLAC whatever the file was), and those bytes (`page_bytes`)."""
    sent = page_bytes(data, mime_for(source, data), blind)
    return mime_for(source, sent), sent


def page_bytes(data: bytes, mime: str, blind: bool) -> bytes:
    """The bytes of an audio or video file as the page may have them: every file the board
    sends goes through here. Unchanged when the board may name things; on a blind board only
    what a decoder needs (`strip_metadata`: tags, comments, pictures, chunk lists and unknown
    bytes can carry the prompt, seed, task id or a file name), the sound and picture bit for bit.

    Audio that cannot be stripped (a container it does not read, or damaged) is decoded and
    sent as 16-bit FLAC of its samples, which has nothing but sound, if that is at most
    BLIND_FALLBACK_MAX_BYTES; else, and for a video that cannot be stripped, ValueError with a
    reason that names nothing (the card shows it; the row shows no video until Reveal).
    """
    if not blind:
        return data
    from .._tags import MetadataError, strip_metadata

    try:
        return strip_metadata(data)
    except MetadataError as exc:
        if not mime.startswith("audio/"):
            raise ValueError(f"the video cannot be sent blind: {exc}") from None
        return _plain_flac(data)


def _plain_flac(data: bytes) -> bytes:
    """The file's samples as 16-bit FLAC at their own rate, with nothing else in it."""
    import soundfile  # type: ignore[import-untyped]

    from .._tags import strip_metadata
    from ..audio.analysis import decode

    samples, rate = decode(data)
    sink = io.BytesIO()
    try:
        soundfile.write(sink, np.clip(samples, -1.0, 1.0), rate, format="FLAC", subtype="PCM_16")
    except (soundfile.LibsndfileError, ValueError) as exc:
        raise ValueError(f"this file cannot be sent blind ({exc})") from None
    encoded = sink.getvalue()
    if len(encoded) > BLIND_FALLBACK_MAX_BYTES:
        raise ValueError(
            f"this file cannot be sent blind: as plain sound it would be {len(encoded):,} bytes, "
            f"over the {BLIND_FALLBACK_MAX_BYTES:,}-byte limit"
        )
    return strip_metadata(encoded)  # the encoder's own comment block too


def mime_for(url: str | None, data: bytes) -> str:
    """The audio type from the file's first bytes, else its URL's extension."""
    by_extension = guess_content_type(url) if url else None
    audio = by_extension if by_extension and by_extension.startswith("audio/") else None
    return audio_media_type(data) or audio or "audio/wav"


def fetch_bytes(url: str | None, local_path: str | None, client: Client | None) -> bytes:
    """The file's bytes: the local copy when there is one, else the on-disk cache or the
    client's streaming fetch (which fills the cache)."""
    if local_path and os.path.isfile(local_path):
        with open(local_path, "rb") as handle:
            return handle.read()
    if not url:
        raise ValueError("no audio URL")
    if client is None:
        from ..connection import default_client

        client = default_client()
    from ..store.files import FileCache

    return FileCache().fetch(url, client.fetch_file)


def fetch_video(url: str, client: Client | None) -> bytes:
    """A source video's bytes through the client, refusing one over VIDEO_MAX_BYTES."""
    if client is None:
        from ..connection import default_client

        client = default_client()
    sink = io.BytesIO()

    def guard(count: int) -> None:
        if sink.tell() > VIDEO_MAX_BYTES:
            raise ValueError(f"the video is larger than {VIDEO_MAX_BYTES // 2**20} MB")

    client.fetch_file(url, sink, on_bytes=guard)
    return sink.getvalue()


def measure(data: bytes, source: str | None, blind: bool = False) -> Media:
    """Measure one file's bytes; raises with a short reason when it cannot, or when a blind
    board cannot send it (`page_bytes`: then the card shows that reason, naming nothing)."""
    from ..audio import analyze_file

    if blind:
        page_bytes(data, mime_for(source, data), blind)

    analysis = analyze_file(data, peaks=FINE_COLUMNS, spectrogram_shape=SPECTROGRAM_MAX)
    return Media(
        mime=mime_for(source, data),
        duration_s=float(analysis.duration_s),
        peaks=np.asarray(analysis.peaks, dtype=np.int8).reshape(-1, 2),
        spectrogram=fit_spectrogram(np.asarray(analysis.spectrogram)),
        lufs=float(analysis.lufs),
        peak_dbfs=float(analysis.peak_dbfs),
    )


def level_gains(lufs: Sequence[float], peak_dbfs: Sequence[float]) -> list[float | None]:
    """Per card, the gain (dB) that brings it to the row's median loudness, all lowered
    together where needed so that no card peaks above -HEADROOM_DB dBFS, each within
    ±MAX_GAIN_DB. None for a card whose loudness is not defined (silent, or too short to
    measure): it plays unchanged."""
    known = [value for value in lufs if math.isfinite(value)]
    if not known:
        return [None] * len(lufs)
    target = statistics.median(known)
    over = max(
        (
            peak + target - loud
            for loud, peak in zip(lufs, peak_dbfs, strict=True)
            if math.isfinite(loud)
        ),
        default=-math.inf,
    )
    if math.isfinite(over) and over > -HEADROOM_DB:
        target -= over + HEADROOM_DB
    return [
        round(max(-MAX_GAIN_DB, min(MAX_GAIN_DB, target - loud)), 2)
        if math.isfinite(loud)
        else None
        for loud in lufs
    ]


def gain_heard(gain_db: float | None, playback: object) -> float | None:
    """The level-matching gain (dB) a card really played at: the page plays a file Web Audio
    cannot decode through an ``<audio>`` element (`playback` "element"), whose volume cannot
    go above 1, so a positive gain was 0 dB there."""
    if playback == "element" and gain_db is not None:
        return min(gain_db, 0.0)
    return gain_db


def fit_spectrogram(spectrogram: np.ndarray) -> np.ndarray:
    """A uint8 (bins, frames) image no larger than SPECTROGRAM_MAX, row 0 the lowest band."""
    image = np.asarray(spectrogram)
    if image.ndim != 2 or image.size == 0:
        return np.zeros((0, 0), dtype=np.uint8)
    bins, frames = SPECTROGRAM_MAX
    image = _pool(image, 0, bins)
    image = _pool(image, 1, frames)
    return np.ascontiguousarray(image.astype(np.uint8))


def _pool(image: np.ndarray, axis: int, limit: int) -> np.ndarray:
    """Max-pool `axis` down to at most `limit` entries (keeps transients visible)."""
    size = image.shape[axis]
    if size <= limit:
        return image
    edges = np.linspace(0, size, limit + 1).astype(int)
    return np.maximum.reduceat(image, edges[:-1], axis=axis)


def reduce_peaks(peaks: np.ndarray, columns: int = STATE_COLUMNS) -> np.ndarray:
    """`peaks` (n, 2) as at most `columns` columns: the min of minima, the max of maxima."""
    peaks = np.asarray(peaks, dtype=np.int8).reshape(-1, 2)
    if len(peaks) <= columns:
        return peaks
    edges = np.linspace(0, len(peaks), columns + 1).astype(int)[:-1]
    low = np.minimum.reduceat(peaks[:, 0], edges)
    high = np.maximum.reduceat(peaks[:, 1], edges)
    return np.stack([low, high], axis=1).astype(np.int8)
