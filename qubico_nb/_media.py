"""Facts about local media files that a request needs before it is sent (MP4 duration)."""

from __future__ import annotations

import struct


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the ISO-BMFF boxes between start and end."""
    found = []
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        header = 8
        if size == 1 and at + 16 <= end:
            size = struct.unpack(">Q", data[at + 8 : at + 16])[0]
            header = 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            break
        found.append((kind, at + header, at + size))
        at += size
    return found


def mp4_duration_s(data: bytes) -> float | None:
    """An MP4's duration from ``moov/mvhd``; None when the bytes are not an MP4 we can read."""
    top = _boxes(data, 0, len(data))
    if not top or top[0][0] != b"ftyp":
        return None
    for kind, start, end in top:
        if kind != b"moov":
            continue
        for inner, body, body_end in _boxes(data, start, end):
            if inner != b"mvhd" or body_end - body < 20:
                continue
            if data[body] == 1 and body_end - body >= 32:
                timescale, duration = struct.unpack(">IQ", data[body + 20 : body + 32])
            else:
                timescale, duration = struct.unpack(">II", data[body + 12 : body + 20])
            return duration / timescale if timescale else None
    return None


def is_mp4(data: bytes) -> bool:
    return data[4:8] == b"ftyp"
