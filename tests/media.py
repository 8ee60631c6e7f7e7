"""Small media files made at test time (nothing binary is committed), and an MP4 corpus.

`MP4_CORPUS` is the one set of cases both MP4 readers (the client's ``qubico_nb._media`` and the
sandbox's own copy) are tested against, so the two copies stay equally correct.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def large_box(kind: bytes, payload: bytes) -> bytes:
    """A box written with a 64-bit size (size field 1, then the real size), as big files use."""
    return struct.pack(">I", 1) + kind + struct.pack(">Q", 16 + len(payload)) + payload


FTYP = box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")


def mvhd(seconds: float, *, timescale: int = 1000, version: int = 0) -> bytes:
    duration = int(round(seconds * timescale))
    if version == 1:
        times = struct.pack(">QQIQ", 0, 0, timescale, duration)
    else:
        times = struct.pack(">IIII", 0, 0, timescale, duration)
    return box(b"mvhd", bytes([version, 0, 0, 0]) + times + bytes(80))


def mp4_bytes(seconds: float, *, timescale: int = 1000, version: int = 0) -> bytes:
    """A minimal MP4 (ftyp + moov/mvhd) whose header says it lasts `seconds`."""
    return FTYP + box(b"moov", mvhd(seconds, timescale=timescale, version=version))


def mp4_data_uri(seconds: float) -> str:
    return "data:video/mp4;base64," + base64.b64encode(mp4_bytes(seconds)).decode()


def _decoy_media(length: int = 4000) -> bytes:
    """Media data that happens to contain the bytes ``mvhd`` with a plausible header after them.

    A reader that searches for ``mvhd`` instead of walking the boxes reads 1.33 s from it.
    """
    fake = b"mvhd" + bytes(12) + struct.pack(">II", 600, 800)
    return bytes(100) + fake + bytes(length - 100 - len(fake))


@dataclass(frozen=True)
class Mp4Case:
    """One file and the duration a correct reader finds in it (None: not a readable MP4)."""

    name: str
    data: bytes
    seconds: float | None


MP4_CORPUS: tuple[Mp4Case, ...] = (
    Mp4Case("moov at the front", mp4_bytes(12.5), 12.5),
    Mp4Case(
        "moov at the end, after media data",
        FTYP + box(b"mdat", _decoy_media()) + box(b"moov", mvhd(7.0)),
        7.0,
    ),
    Mp4Case(
        "moov at the end, media data with a 64-bit size",
        FTYP + large_box(b"mdat", _decoy_media()) + box(b"moov", mvhd(7.0)),
        7.0,
    ),
    Mp4Case("moov with a 64-bit size", FTYP + large_box(b"moov", mvhd(4.0)), 4.0),
    Mp4Case("version-1 mvhd (64-bit times)", mp4_bytes(3.0, version=1, timescale=90000), 3.0),
    Mp4Case(
        "other boxes before mvhd inside moov",
        FTYP
        + box(b"free", bytes(16))
        + box(b"moov", box(b"udta", b"mvhd" + bytes(40)) + mvhd(9.5)),
        9.5,
    ),
    Mp4Case(
        "a last box whose size is 0 (runs to the end of the file)",
        FTYP + struct.pack(">I", 0) + b"moov" + mvhd(6.0),
        6.0,
    ),
    Mp4Case("empty", b"", None),
    Mp4Case("not an mp4 at all", b"not an mp4 at all", None),
    Mp4Case("a WAV file", b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40), None),
    Mp4Case("truncated inside moov", mp4_bytes(3.0)[:40], None),
    Mp4Case("truncated inside mvhd", FTYP + box(b"moov", box(b"mvhd", b"\0" * 4)), None),
    Mp4Case(
        "moov at the end, file cut before it",
        (FTYP + box(b"mdat", _decoy_media()) + box(b"moov", mvhd(7.0)))[:2000],
        None,
    ),
    Mp4Case("no moov box", FTYP + box(b"mdat", bytes(64)), None),
    Mp4Case("timescale 0", mp4_bytes(0.0, timescale=0), None),
    Mp4Case(
        "unknown duration (all ones)",
        FTYP
        + box(
            b"moov",
            box(b"mvhd", bytes(4) + struct.pack(">IIII", 0, 0, 1000, 0xFFFFFFFF) + bytes(80)),
        ),
        None,
    ),
    Mp4Case(
        "unknown duration, version 1 (all ones)",
        FTYP
        + box(
            b"moov",
            box(
                b"mvhd",
                bytes([1, 0, 0, 0]) + struct.pack(">QQIQ", 0, 0, 1000, 2**64 - 1) + bytes(80),
            ),
        ),
        None,
    ),
    Mp4Case(
        "version-1 mvhd cut short",
        FTYP + box(b"moov", box(b"mvhd", bytes([1, 0, 0, 0]) + struct.pack(">QQI", 0, 0, 1000))),
        None,
    ),
    Mp4Case(
        "a box size smaller than its header",
        FTYP + struct.pack(">I", 4) + b"moov" + mvhd(2.0),
        None,
    ),
)


def wav_bytes(seconds: float, *, rate: int = 8000, noise: bool = False) -> bytes:
    """A mono 16-bit WAV of a 220 Hz tone (or of noise, which compresses badly)."""
    import io
    import wave

    import numpy as np

    n = int(seconds * rate)
    samples = (
        np.random.default_rng(0).uniform(-1, 1, n)
        if noise
        else np.sin(2 * np.pi * 220 * np.arange(n) / rate)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes((samples * 20000).astype("<i2").tobytes())
    return buffer.getvalue()
