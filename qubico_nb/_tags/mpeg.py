"""MP3: an allow-list of MPEG audio frames. The tags in front (ID3v2, footer included) and at
the end (ID3v1 and 1.1, the Enhanced TAG, APEv1 and APEv2, Lyrics3 v1 and v2, an appended
ID3v2.4) are read and dropped; then the frames are walked one after the other, each from its
header's length, and only they are kept (the Xing/LAME frame of gapless playback included):
bytes between frames, a cut last frame and whatever follows the last frame are left out."""

from __future__ import annotations

from .._media import is_mpeg_frame_header
from .errors import damaged

_ID3V1 = 128
_ENHANCED = 227
_APE_FOOTER = 32
_APE_HAS_HEADER = 1 << 31
_LYRICS3V1_MAX = 5100 + len(b"LYRICSBEGIN") + len(b"LYRICSEND")


def strip_mp3(data: bytes) -> bytes:
    """The MPEG audio frames without any tag or other byte; see the module doc."""
    body = without_trailing_tags(without_id3v2_head(data))
    if not is_mpeg_frame_header(body[:3]):
        raise damaged("MP3", "no MPEG audio frame follows its tags")
    frames = _frames(body)
    if not frames:
        raise damaged("MP3", "it has no whole frame of a bitrate this reads (not free format)")
    return b"".join(body[start:end] for start, end in frames)


def _frames(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each whole frame like the first (same version, layer and sample rate);
    after bytes that are not one, the walk goes on at the next header followed by another."""
    first = data[1] & 0xFE, data[2] & 0x0C
    found: list[tuple[int, int]] = []
    at = 0
    while at + 4 <= len(data):
        length = _frame_length(data, at, first)
        if length and at + length <= len(data):
            found.append((at, at + length))
            at += length
            continue
        at = _next_frame(data, at + 1, first)
    return found


def _next_frame(data: bytes, at: int, first: tuple[int, int]) -> int:
    """The next offset from `at` where a frame like the first begins and another follows it
    (or the data ends there); len(data) when there is none."""
    while (at := data.find(b"\xff", at)) >= 0:
        length = _frame_length(data, at, first)
        after = at + length
        if length and (after == len(data) or _frame_length(data, after, first)):
            return at
        at += 1
    return len(data)


#: Bitrates (kbit/s) by index, for (MPEG-1?, layer bits): layer bits 3 is layer I, 1 layer III.
_BITRATES = {
    (True, 3): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 1): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 3): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 1): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = (44100, 48000, 32000)
_MPEG1, _MPEG2 = 3, 2  # version bits (0 is MPEG-2.5)


def _frame_length(data: bytes, at: int, first: tuple[int, int]) -> int:
    """The length of the frame whose header is at `at`, 0 if there is none like the first
    (a free-format bitrate, index 0, cannot be walked: it is not taken)."""
    head = data[at : at + 3]
    if not is_mpeg_frame_header(head) or (head[1] & 0xFE, head[2] & 0x0C) != first:
        return 0
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    kbits = _BITRATES[version == _MPEG1, layer][head[2] >> 4]
    if not kbits:
        return 0
    rate = _RATES[(head[2] >> 2) & 3] >> {_MPEG1: 0, _MPEG2: 1}.get(version, 2)
    padding = (head[2] >> 1) & 1
    if layer == 3:
        return (12 * kbits * 1000 // rate + padding) * 4
    per_frame = 72 if layer == 1 and version != _MPEG1 else 144
    return per_frame * kbits * 1000 // rate + padding


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
