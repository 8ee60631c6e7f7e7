"""Audio for the board, on the kernel side: fetch each file once (local copy or the client's
streaming fetch), analyze it, and pack waveform peaks and spectrogram compactly."""

from __future__ import annotations

import io
import os
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
#: Largest spectrogram sent to the browser (frequency bins, time frames).
SPECTROGRAM_MAX = (96, 400)


@dataclass
class Media:
    """A card's audio: the bytes the browser plays, and what the board draws."""

    data: bytes
    mime: str
    duration_s: float
    peaks: np.ndarray  # int8 (n, 2): min, max per column
    spectrogram: np.ndarray | None  # uint8 (bins, frames), low frequencies first


def mime_for(url: str | None, data: bytes) -> str:
    """The audio type from the file's first bytes, else its URL's extension."""
    by_extension = guess_content_type(url) if url else None
    audio = by_extension if by_extension and by_extension.startswith("audio/") else None
    return audio_media_type(data) or audio or "audio/wav"


def fetch_bytes(url: str | None, local_path: str | None, client: Client | None) -> bytes:
    """The file's bytes: the local copy when there is one, else the on-disk cache or the
    client's streaming fetch."""
    if local_path and os.path.isfile(local_path):
        with open(local_path, "rb") as handle:
            return handle.read()
    if not url:
        raise ValueError("no audio URL")
    if client is None:
        from ..connection import default_client

        client = default_client()
    from ..store.files import FileCache

    return FileCache().fetch(url, client.fetch_file)  # what analyze() fetched is on disk


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


def load(url: str | None, local_path: str | None, client: Client | None) -> Media:
    """Fetch and analyze one file; raises with a short reason when it cannot."""
    from ..audio import analyze_file

    data = fetch_bytes(url, local_path, client)
    analysis = analyze_file(data, peaks=FINE_COLUMNS, spectrogram_shape=SPECTROGRAM_MAX)
    peaks = np.asarray(analysis.peaks, dtype=np.int8).reshape(-1, 2)
    return Media(
        data=data,
        mime=mime_for(url or local_path, data),
        duration_s=float(analysis.duration_s),
        peaks=peaks,
        spectrogram=fit_spectrogram(np.asarray(analysis.spectrogram)),
    )


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
