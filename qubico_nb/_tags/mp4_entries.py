"""An MP4's sample descriptions (``stsd``) as a decoder needs them: each sample entry's fixed
fields (a video entry's ``compressorname``, which names the encoder, zeroed) and only the child
boxes that configure its codec or picture; an entry of a kind not listed here is refused."""

from __future__ import annotations

import struct

from .._media import _boxes
from .errors import damaged

#: Video sample entries: 78 bytes of fields, then child boxes.
VISUAL_ENTRIES = frozenset(
    {b"avc1", b"avc2", b"avc3", b"avc4", b"hvc1", b"hev1", b"mp4v", b"vp08", b"vp09", b"av01",
     b"encv", b"s263", b"jpeg", b"mjp2", b"dvh1", b"dvhe", b"apcn", b"apch", b"apcs", b"ap4h"}
)  # fmt: skip
#: Sound sample entries: 28 bytes of fields (44 or 64 in QuickTime's versions 1 and 2).
AUDIO_ENTRIES = frozenset(
    {b"mp4a", b"Opus", b"fLaC", b"ac-3", b"ec-3", b"alac", b"lpcm", b"sowt", b"twos", b"ipcm",
     b"fpcm", b".mp3", b"samr", b"sawb", b"enca"}
)  # fmt: skip
#: Child boxes of a sample entry that configure its decoder or its picture.
CONFIGS = frozenset(
    {b"avcC", b"hvcC", b"av1C", b"vpcC", b"esds", b"dOps", b"dfLa", b"dac3", b"dec3", b"alac",
     b"btrt", b"pasp", b"colr", b"clap", b"fiel", b"chan", b"mdcv", b"clli", b"wave", b"dvcC",
     b"dvvC", b"damr", b"sinf", b"gama"}
)  # fmt: skip
_VISUAL_FIELDS = 78
_COMPRESSOR_NAME = slice(42, 74)  # in a visual sample entry's fields
_AUDIO_FIELDS = {0: 28, 1: 44, 2: 64}  # by the QuickTime sound description version


def sample_descriptions(data: bytes, body: int, end: int) -> bytes:
    """The ``stsd`` payload (version, flags, entry count, entries) rebuilt; see the module doc."""
    if end - body < 8:
        raise damaged("MP4", "a sample description box is too short")
    out = bytearray(data[body : body + 8])
    entries = _boxes(data, body + 8, end)
    if len(entries) != int.from_bytes(data[body + 4 : body + 8], "big"):
        raise damaged("MP4", "a sample description box's count does not match its entries")
    for kind, start, entry_end in entries:
        fields = _fields(kind, data[start:entry_end])
        kept = bytearray(data[start : start + fields])
        if kind in VISUAL_ENTRIES:
            kept[_COMPRESSOR_NAME] = bytes(32)
        for child, c_body, c_end in _boxes(data, start + fields, entry_end):
            if child in CONFIGS:
                kept += struct.pack(">I4s", 8 + c_end - c_body, child) + data[c_body:c_end]
        out += struct.pack(">I4s", 8 + len(kept), kind) + kept
    return bytes(out)


def _fields(kind: bytes, payload: bytes) -> int:
    """How many bytes of a sample entry are its fields (the child boxes follow)."""
    if kind in VISUAL_ENTRIES:
        length = _VISUAL_FIELDS
    elif kind in AUDIO_ENTRIES:
        length = _AUDIO_FIELDS.get(int.from_bytes(payload[8:10], "big"), len(payload) + 1)
    else:
        raise damaged("MP4", f"its sample entry {kind!r} is not one this reads")
    if length > len(payload):
        raise damaged("MP4", f"its {kind!r} sample entry is too short")
    return length
