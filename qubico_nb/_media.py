"""Facts about media files (an MP4's duration): what the client checks before it sends a video,
and what the sandbox reads when it prices one.

A leaf module (stdlib only, nothing else of qubico_nb), so the sandbox may share it without
depending on the client side; ``tests/test_media.py`` runs it over a corpus of odd files.
"""

from __future__ import annotations

import struct

#: A duration field of all ones means "unknown" (ISO/IEC 14496-12, 8.2.2.3).
_UNKNOWN = {0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF}


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the ISO-BMFF boxes between start and end."""
    found = []
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        header = 8
        if size == 1:
            if at + 16 > end:
                break
            size = struct.unpack(">Q", data[at + 8 : at + 16])[0]
            header = 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            break
        found.append((kind, at + header, at + size))
        at += size
    return found


def _mvhd_seconds(data: bytes, body: int, end: int) -> float | None:
    version = data[body]
    if version == 1:
        if end - body < 32:
            return None
        timescale, duration = struct.unpack(">IQ", data[body + 20 : body + 32])
    else:
        if end - body < 20:
            return None
        timescale, duration = struct.unpack(">II", data[body + 12 : body + 20])
    if not timescale or duration in _UNKNOWN:
        return None
    return duration / timescale


def mp4_duration_s(data: bytes) -> float | None:
    """An MP4's duration from ``moov/mvhd``; None when the bytes are not an MP4 we can read."""
    top = _boxes(data, 0, len(data))
    if not top or top[0][0] != b"ftyp":
        return None
    for kind, start, end in top:
        if kind != b"moov":
            continue
        for inner, body, body_end in _boxes(data, start, end):
            if inner == b"mvhd":
                return _mvhd_seconds(data, body, body_end)
    return None


def is_mp4(data: bytes) -> bool:
    return data[4:8] == b"ftyp"


def audio_media_type(data: bytes) -> str | None:
    """The media type of an audio file's bytes (WAV, MP3, FLAC, Ogg), or None for anything else."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"fLaC":
        return "audio/flac"
    if data[:4] == b"OggS":
        return "audio/ogg"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return None
