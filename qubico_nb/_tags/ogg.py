"""Ogg Vorbis and Ogg Opus: the comment header emptied (its vendor string too: it names the
encoder and its version), the header pages laid out anew, every later page re-numbered with a
fresh CRC; the identification and setup headers and every audio page's data and granule
position are kept as they were."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .errors import damaged

_HEADER = struct.Struct("<4sBBqIII B")
_CONTINUED, _FIRST, _LAST = 1, 2, 4
#: The granule position of a page on which no packet ends.
_NO_PACKET_ENDS = -1
_MAX_SEGMENTS = 255

#: Codec -> (how its identification header begins, how many header packets it has, the empty
#: comment header it gets).
_CODECS = {
    "Vorbis": (b"\x01vorbis", 3, b"\x03vorbis", b"\x03vorbis" + bytes(8) + b"\x01"),
    "Opus": (b"OpusHead", 2, b"OpusTags", b"OpusTags" + bytes(8)),
}


@dataclass
class _Page:
    flags: int
    granule: int
    serial: int
    sequence: int
    lacing: bytes
    body: bytes
    raw: bytes  # the page as it was, for a copy that needs no change


@dataclass
class _Stream:
    codec: str
    first_sequence: int
    packets: list[bytes]
    partial: bytes = b""
    shift: int = 0  # pages added (+) or removed (-) from this stream's sequence numbers
    headers_done: bool = False


def strip_ogg(data: bytes) -> bytes:
    """The Ogg file with its comment headers emptied; see the module doc."""
    out: list[bytes] = []
    streams: dict[int, _Stream] = {}
    for page in _pages(data):
        stream = streams.get(page.serial)
        if page.flags & _FIRST:
            stream = streams[page.serial] = _begin(page)
            out.append(page.raw)  # the identification header, alone on its page, unchanged
            continue
        if stream is None:
            raise damaged("Ogg", f"page {page.sequence} belongs to a stream that never began")
        if stream.headers_done:
            out.append(page.raw if not stream.shift else _renumbered(page, stream.shift))
            continue
        _collect(stream, page)
        _, count, magic, empty = _CODECS[stream.codec]
        if len(stream.packets) < count:
            continue
        if len(stream.packets) > count or stream.partial:
            raise damaged("Ogg", f"audio shares a page with the {stream.codec} headers")
        if not stream.packets[1].startswith(magic):
            raise damaged("Ogg", f"the second {stream.codec} header is not a comment header")
        fresh = _paginate(
            [empty, *stream.packets[2:]], page.serial, stream.first_sequence + 1, page.flags
        )
        out.extend(fresh)
        stream.shift = (stream.first_sequence + len(fresh)) - page.sequence
        stream.headers_done = True
    unfinished = [s.codec for s in streams.values() if not s.headers_done]
    if not streams or unfinished:
        raise damaged("Ogg", "it ends before its headers do")
    return b"".join(out)


def _begin(page: _Page) -> _Stream:
    if page.flags & _CONTINUED or len(page.lacing) == 0 or page.lacing[-1] == 255:
        raise damaged("Ogg", "its first page does not hold exactly one whole header")
    for codec, (head, _, _, _) in _CODECS.items():
        if page.body.startswith(head) and sum(1 for v in page.lacing if v < 255) == 1:
            return _Stream(codec, page.sequence, [page.body])
    raise damaged("Ogg", "a stream is neither Vorbis nor Opus (the codecs this reads)")


def _collect(stream: _Stream, page: _Page) -> None:
    """Add the page's packets (and the piece of one it leaves open) to the stream's."""
    if bool(page.flags & _CONTINUED) != bool(stream.partial):
        raise damaged("Ogg", f"page {page.sequence} does not continue the packet before it")
    at = 0
    pending = stream.partial
    for value in page.lacing:
        pending += page.body[at : at + value]
        at += value
        if value < 255:
            stream.packets.append(pending)
            pending = b""
    stream.partial = pending


def _paginate(packets: list[bytes], serial: int, sequence: int, last_flags: int) -> list[bytes]:
    """The header packets laid on pages (the last one gets the EOS flag if the old one had it)."""
    segments: list[tuple[bytes, bool]] = []  # (segment, a packet ends with it)
    for packet in packets:
        pieces = [packet[i : i + 255] for i in range(0, len(packet), 255)]
        if len(packet) % 255 == 0:
            pieces.append(b"")  # a packet of a multiple of 255 bytes ends with a 0 lacing value
        segments.extend((piece, n == len(pieces) - 1) for n, piece in enumerate(pieces))
    pages: list[bytes] = []
    continued = False
    for first in range(0, len(segments), _MAX_SEGMENTS):
        group = segments[first : first + _MAX_SEGMENTS]
        ends = any(end for _, end in group)
        flags = _CONTINUED if continued else 0
        if first + _MAX_SEGMENTS >= len(segments):
            flags |= last_flags & _LAST
        pages.append(
            _page(
                flags,
                0 if ends else _NO_PACKET_ENDS,
                serial,
                sequence + len(pages),
                bytes(len(piece) for piece, _ in group),
                b"".join(piece for piece, _ in group),
            )
        )
        continued = not group[-1][1]
    return pages


def _renumbered(page: _Page, shift: int) -> bytes:
    return _page(
        page.flags, page.granule, page.serial, page.sequence + shift, page.lacing, page.body
    )


def _page(
    flags: int, granule: int, serial: int, sequence: int, lacing: bytes, body: bytes
) -> bytes:
    header = _HEADER.pack(b"OggS", 0, flags, granule, serial, sequence, 0, len(lacing))
    page = bytearray(header + lacing + body)
    struct.pack_into("<I", page, 22, page_crc(page))
    return bytes(page)


def _pages(data: bytes) -> list[_Page]:
    pages = []
    at = 0
    while at < len(data):
        if data[at : at + 4] != b"OggS" or at + _HEADER.size > len(data):
            raise damaged("Ogg", f"no Ogg page where one should begin (byte {at})")
        _, version, flags, granule, serial, sequence, crc, count = _HEADER.unpack_from(data, at)
        lacing = data[at + _HEADER.size : at + _HEADER.size + count]
        end = at + _HEADER.size + count + sum(lacing)
        if version != 0 or len(lacing) != count or end > len(data):
            raise damaged("Ogg", f"page {sequence} is cut short or of an unknown version")
        raw = data[at:end]
        blank = bytearray(raw)
        blank[22:26] = bytes(4)
        if page_crc(blank) != crc:
            raise damaged("Ogg", f"page {sequence} fails its checksum")
        body = data[at + _HEADER.size + count : end]
        pages.append(_Page(flags, granule, serial, sequence, lacing, body, raw))
        at = end
    return pages


#: Bit-reversal of every byte value.
_REVERSED = bytes(int(f"{n:08b}"[::-1], 2) for n in range(256))


def page_crc(page: bytes | bytearray) -> int:
    """Ogg's CRC-32 (polynomial 0x04C11DB7, MSB first, no initial or final XOR), computed with
    zlib's reflected CRC-32 over bit-reversed bytes, at C speed."""
    reflected = zlib.crc32(bytes(page).translate(_REVERSED), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)
