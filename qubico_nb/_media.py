"""Facts about media files: how each format's bytes begin (`looks_like`, `audio_media_type`) and an
MP4's duration; what the client checks before it sends a video, what a download is checked
against, what the board tells the browser a file is, and what the sandbox reads when it prices
a video.

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


#: How files of each media type begin: alternatives, each a set of (offset, bytes) that must all
#: match. MPEG audio has a rule of its own (`is_mpeg_audio`); a type missing here is not checked.
SIGNATURES: dict[str, tuple[tuple[tuple[int, bytes], ...], ...]] = {
    # RIFF and its big-endian and 64-bit forms; WAVE says it is sound (WebP and AVI are RIFF too)
    "audio/wav": tuple(((0, riff), (8, b"WAVE")) for riff in (b"RIFF", b"RIFX", b"RF64", b"BW64")),
    "audio/flac": (((0, b"fLaC"),),),
    "audio/ogg": (((0, b"OggS"),),),
    "audio/mp4": (((4, b"ftyp"),),),
    "video/mp4": (((4, b"ftyp"),),),
    # old QuickTime files may open with any of these top-level boxes
    "video/quicktime": tuple(
        ((4, kind),) for kind in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
    ),
    "video/webm": (((0, b"\x1a\x45\xdf\xa3"),),),
    "image/png": (((0, b"\x89PNG"),),),
    "image/jpeg": (((0, b"\xff\xd8\xff"),),),
    "image/gif": (((0, b"GIF8"),),),
    "image/webp": (((0, b"RIFF"), (8, b"WEBP")),),
}
#: The audio types `audio_media_type` tells apart, in the order it tries them.
_AUDIO_TYPES = ("audio/wav", "audio/flac", "audio/ogg", "audio/mpeg")
#: The raster image types `image_media_type` tells apart (no SVG: it can carry scripts).
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def is_mpeg_audio(head: bytes) -> bool:
    """An MP3 (or MP2) file's start: an ID3v2 tag, or an MPEG audio frame header."""
    return head[:3] == b"ID3" or is_mpeg_frame_header(head)


def is_mpeg_frame_header(head: bytes) -> bool:
    """The one rule for an MPEG audio frame header (its first 3 bytes are enough): 11 sync bits,
    a version that is not the reserved one, layer I, II or III (AAC's ADTS, layer 0, is not),
    a bitrate index that is not the forbidden 15 and a sample rate index that exists."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 0b11, (head[1] >> 1) & 0b11
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0b11
    return version != 0b01 and layer != 0b00 and bitrate != 0b1111 and rate != 0b11


def looks_like(head: bytes, media_type: str) -> bool | None:
    """Whether `head` (a file's first bytes) begins as a `media_type` file does; None for a type
    whose signature we do not know."""
    if media_type == "audio/mpeg":
        return is_mpeg_audio(head)
    signatures = SIGNATURES.get(media_type)
    if signatures is None:
        return None
    return any(
        all(head[at : at + len(magic)] == magic for at, magic in alternative)
        for alternative in signatures
    )


def audio_media_type(head: bytes) -> str | None:
    """The media type of an audio file's first bytes (WAV, FLAC, Ogg, MPEG), or None for
    anything else."""
    return next((kind for kind in _AUDIO_TYPES if looks_like(head, kind)), None)


def image_media_type(head: bytes) -> str | None:
    """The media type of a raster image's first bytes (PNG, JPEG, GIF, WebP; 12 bytes are
    enough), or None for anything else."""
    return next((kind for kind in _IMAGE_TYPES if looks_like(head, kind)), None)


def is_mp4(data: bytes) -> bool:
    return bool(looks_like(data, "video/mp4"))
