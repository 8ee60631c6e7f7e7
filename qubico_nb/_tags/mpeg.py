"""MP3: drop ID3v2 tags in front (footer included) and every tag kind stuck on the end: ID3v1
and 1.1, the Enhanced TAG, APEv1 and APEv2, Lyrics3 v1 and v2, an appended ID3v2.4. The MPEG
frames (the Xing/LAME frame of gapless playback included) are kept as they are."""

from __future__ import annotations

from .errors import damaged

_ID3V1 = 128
_ENHANCED = 227
_APE_FOOTER = 32
_APE_HAS_HEADER = 1 << 31
_LYRICS3V1_MAX = 5100 + len(b"LYRICSBEGIN") + len(b"LYRICSEND")


def strip_mp3(data: bytes) -> bytes:
    """The MPEG audio frames without any tag; see the module doc."""
    frames = without_trailing_tags(without_id3v2_head(data))
    if not _is_frame_header(frames[:4]):
        raise damaged("MP3", "no MPEG audio frame follows its tags")
    return frames


def without_id3v2_head(data: bytes) -> bytes:
    """`data` without the ID3v2 tags at its start (there may be several)."""
    at = 0
    while data[at : at + 3] == b"ID3":
        at += _id3v2_length(data[at : at + 10], footer_flag=True, where="at its start")
    return data[at:]


def without_trailing_tags(data: bytes) -> bytes:
    """`data` without the tags at its end (in any order, each kind as often as it appears)."""
    end = len(data)
    while True:
        tail = data[:end]
        if end >= _ID3V1 and tail[-_ID3V1:][:3] == b"TAG":
            end -= _ID3V1
            if end >= _ENHANCED and data[end - _ENHANCED : end][:4] == b"TAG+":
                end -= _ENHANCED
        elif end >= _APE_FOOTER and tail[-_APE_FOOTER:][:8] == b"APETAGEX":
            footer = tail[-_APE_FOOTER:]
            size = int.from_bytes(footer[12:16], "little")
            flags = int.from_bytes(footer[20:24], "little")
            size += _APE_FOOTER if flags & _APE_HAS_HEADER else 0
            if not _APE_FOOTER <= size <= end:
                raise damaged("audio", "its APE tag's size is not possible")
            end -= size
        elif end >= 15 and tail[-9:] == b"LYRICS200":
            digits = tail[-15:-9]
            if not digits.isdigit() or int(digits) + 15 > end:
                raise damaged("audio", "its Lyrics3 v2 tag's size is not possible")
            end -= int(digits) + 15
            if data[end : end + 11] != b"LYRICSBEGIN":
                raise damaged("audio", "its Lyrics3 v2 tag does not begin where it says")
        elif tail[-9:] == b"LYRICSEND":
            start = tail.rfind(b"LYRICSBEGIN", max(0, end - _LYRICS3V1_MAX))
            if start < 0:
                raise damaged("audio", "its Lyrics3 tag has no beginning")
            end = start
        elif end >= 10 and tail[-10:][:3] == b"3DI":  # an ID3v2.4 tag appended, with its footer
            end -= _id3v2_length(tail[-10:], footer_flag=False, where="at its end") + 10
            if end < 0:
                raise damaged("audio", "its appended ID3v2 tag is larger than the file")
        else:
            return data[:end]


def _id3v2_length(header: bytes, *, footer_flag: bool, where: str) -> int:
    """The whole tag's length from its 10-byte header (or footer: then without that footer)."""
    size_bytes = header[6:10]
    if len(header) < 10 or header[3] == 0xFF or any(b & 0x80 for b in size_bytes):
        raise damaged("audio", f"the ID3v2 tag {where} has an invalid header")
    size = 0
    for byte in size_bytes:  # "syncsafe": 7 bits a byte
        size = (size << 7) | byte
    has_footer = footer_flag and header[3] >= 4 and header[5] & 0x10
    return 10 + size + (10 if has_footer else 0)


def _is_frame_header(header: bytes) -> bool:
    """An MPEG audio frame header: sync, a layer, a bitrate and a sample rate that exist."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return False
    version, layer = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    bitrate, rate = header[2] >> 4, (header[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate != 15 and rate != 3
