"""Small media files made at test time (nothing binary is committed)."""

from __future__ import annotations

import base64
import struct


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_bytes(seconds: float, *, timescale: int = 1000, version: int = 0) -> bytes:
    """A minimal MP4 (ftyp + moov/mvhd) whose header says it lasts `seconds`."""
    duration = int(round(seconds * timescale))
    if version == 1:
        times = struct.pack(">QQIQ", 0, 0, timescale, duration)
    else:
        times = struct.pack(">IIII", 0, 0, timescale, duration)
    mvhd = box(b"mvhd", bytes([version, 0, 0, 0]) + times + bytes(80))
    return box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41") + box(b"moov", mvhd)


def mp4_data_uri(seconds: float) -> str:
    return "data:video/mp4;base64," + base64.b64encode(mp4_bytes(seconds)).decode()
