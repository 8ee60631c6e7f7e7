"""FLAC: an allow-list. Kept: ``fLaC``, STREAMINFO (the one metadata block decoding needs) and the
audio frames up to the end of the last one, found by reading that frame bit by bit; dropped:
every other block (VORBIS_COMMENT, PICTURE, APPLICATION, CUESHEET, SEEKTABLE, PADDING) and any
byte after the last frame (an ID3 or APE tag, or anything else)."""

from __future__ import annotations

from .errors import damaged
from .flac_frames import last_frame_end, streaminfo_bits
from .mpeg import without_trailing_tags

STREAMINFO = 0
#: Block type 127 is forbidden (it would read like a frame sync).
_INVALID = 127


def strip_flac(data: bytes) -> bytes:
    """``fLaC``, STREAMINFO flagged as the last metadata block, then the frames as they were."""
    at = 4
    streaminfo: bytes | None = None
    while True:
        if at + 4 > len(data):
            raise damaged("FLAC", "its metadata blocks run past the end of the file")
        header = data[at]
        kind, last = header & 0x7F, bool(header & 0x80)
        size = int.from_bytes(data[at + 1 : at + 4], "big")
        if kind == _INVALID or at + 4 + size > len(data):
            raise damaged("FLAC", f"metadata block {kind} at byte {at} is invalid")
        if kind == STREAMINFO:
            if streaminfo is not None or at != 4 or size != 34:
                raise damaged("FLAC", "STREAMINFO must be the first block, once, of 34 bytes")
            streaminfo = data[at + 4 : at + 4 + size]
        at += 4 + size
        if last:
            break
    if streaminfo is None:
        raise damaged("FLAC", "it has no STREAMINFO block")
    frames = without_trailing_tags(data[at:])
    if frames[:2] and (frames[0] != 0xFF or frames[1] & 0xFE != 0xF8):
        raise damaged("FLAC", "no frame follows the metadata blocks")
    frames = frames[: last_frame_end(frames, streaminfo_bits(streaminfo))]
    return b"fLaC" + bytes([0x80 | STREAMINFO]) + (34).to_bytes(3, "big") + streaminfo + frames
