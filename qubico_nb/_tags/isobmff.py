"""MP4, M4A and MOV (ISO base media and QuickTime): an allow-list of boxes. At the top only
``ftyp``, ``moov``, ``mdat`` and ``moof`` are kept (``udta``, ``meta``, ``uuid`` such as XMP,
``free``/``skip`` padding and any box of a kind not listed are left out); inside ``moov`` only
the boxes playback needs (`ALLOWED`), handler names, encoder names of video sample entries and
creation times blanked, the data reference rewritten as "in this file"; the chunk offsets
(``stco``/``co64``) move by what was removed before the media data, so every sample is read
from the same bytes as before. A movie fragment is kept as it is and must hold only the boxes
listed for it."""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field

from .._media import _boxes
from .errors import damaged
from .mp4_entries import sample_descriptions

#: Box -> the child boxes kept (any other child is left out); the top level is b"".
ALLOWED: dict[bytes, frozenset[bytes]] = {
    b"": frozenset({b"ftyp", b"moov", b"mdat", b"moof"}),
    b"moov": frozenset({b"mvhd", b"trak", b"mvex"}),
    b"trak": frozenset({b"tkhd", b"edts", b"mdia"}),
    b"edts": frozenset({b"elst"}),
    b"mdia": frozenset({b"mdhd", b"hdlr", b"minf"}),
    b"minf": frozenset({b"vmhd", b"smhd", b"hmhd", b"nmhd", b"sthd", b"dinf", b"stbl"}),
    b"dinf": frozenset({b"dref"}),
    b"stbl": frozenset(
        {b"stsd", b"stts", b"ctts", b"cslg", b"stss", b"stps", b"stsc", b"stsz", b"stz2",
         b"stco", b"co64", b"sdtp", b"sbgp", b"sgpd", b"subs", b"saiz", b"saio"}
    ),
    b"mvex": frozenset({b"mehd", b"trex"}),
    b"moof": frozenset({b"mfhd", b"traf"}),
    b"traf": frozenset(
        {b"tfhd", b"tfdt", b"trun", b"sbgp", b"sgpd", b"saiz", b"saio", b"senc", b"subs"}
    ),
}  # fmt: skip
#: Boxes whose children are walked (and filtered by `ALLOWED`) inside ``moov``.
CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"mvex"})
#: The data reference of a track whose media is in this very file: one ``url `` entry, flag 1.
_SELF_CONTAINED = 1
_DREF = struct.pack(">I4sII", 28, b"dref", 0, 1) + struct.pack(">I4sI", 12, b"url ", 1)
#: Handlers of tracks whose samples are text (subtitles, chapter titles): refused, since their
#: words are in the media data itself.
TEXT_HANDLERS = frozenset({b"text", b"sbtl", b"subt", b"tx3g", b"clcp"})
_TIMED = frozenset({b"mvhd", b"tkhd", b"mdhd"})  # full boxes that open with two times
_BASE_DATA_OFFSET = 0x000001  # tfhd flag: an absolute file offset follows


@dataclass
class _Out:
    """A box tree being written, with the places that hold file offsets to move later."""

    data: bytearray = field(default_factory=bytearray)
    offsets: list[tuple[int, int]] = field(default_factory=list)  # (position, width in bytes)


def strip_mp4(data: bytes) -> bytes:
    """The file with its metadata boxes removed; see the module doc."""
    top = _children(data, 0, len(data), "the file")
    kinds = [kind for kind, *_ in top]
    if b"moov" not in kinds:
        raise damaged("MP4", "it has no 'moov' box")
    out = _Out()
    kept: list[tuple[int, int, int]] = []  # (old start, old end, new start) of media boxes
    for kind, start, header, end in top:
        if kind not in ALLOWED[b""]:
            continue
        new_start = len(out.data)
        if kind == b"moov":
            _write_container(data, kind, start, header, end, out)
        else:
            if kind == b"moof":
                _check_fragment(data, start, header, end, out)
            out.data += data[start:end]
        if kind not in (b"moov", b"moof"):  # what offsets may point into: the media data
            kept.append((start, end, new_start))
    _move_offsets(out, kept)
    return bytes(out.data)


def _children(data: bytes, start: int, end: int, where: str) -> list[tuple[bytes, int, int, int]]:
    """(type, box start, header length, box end) of the boxes that fill start..end exactly."""
    found = []
    at = start
    for kind, body, body_end in _boxes(data, start, end):
        found.append((kind, at, body - at, body_end))
        at = body_end
    if at != end and not (end - at == 4 and data[at:end] == bytes(4)):  # QuickTime terminator
        raise damaged("MP4", f"the boxes of {where} do not fill it (damaged at byte {at})")
    return found


def _write_container(
    data: bytes, kind: bytes, start: int, header: int, end: int, out: _Out
) -> None:
    at = len(out.data)
    out.data += bytes(8) if end - start <= 0xFFFFFFFF else bytes(16)
    size_bytes = len(out.data) - at
    for child, c_start, c_header, c_end in _children(data, start + header, end, repr(kind)):
        if child not in ALLOWED[kind]:
            continue
        body = c_start + c_header
        if child in CONTAINERS:
            _write_container(data, child, c_start, c_header, c_end, out)
        elif child == b"hdlr":
            _write_hdlr(data, body, c_end, out)
        elif child == b"dref":
            _check_self_contained(data, body, c_end)
            out.data += _DREF
        elif child == b"stsd":
            entries = sample_descriptions(data, body, c_end)
            out.data += struct.pack(">I4s", 8 + len(entries), child) + entries
        else:
            c_end = body + _defined_length(child, data[body:c_end])
            if 8 + c_end - body > 0xFFFFFFFF:
                raise damaged("MP4", f"its {child!r} box is too large")
            box_at = len(out.data)
            out.data += struct.pack(">I4s", 8 + c_end - body, child) + data[body:c_end]
            payload = box_at + 8
            if child in _TIMED:
                _blank_times(out.data, payload, c_end - body)
            elif child in (b"stco", b"co64"):
                _note_chunk_offsets(out, payload, c_end - body, 4 if child == b"stco" else 8)

    size = len(out.data) - at
    if size_bytes == 8:
        struct.pack_into(">I4s", out.data, at, size, kind)
    else:
        struct.pack_into(">I4sQ", out.data, at, 1, kind, size)


#: Full boxes of fixed length: (length in version 0, in version 1).
_FIXED = {
    b"mvhd": (100, 112),
    b"tkhd": (84, 96),
    b"mdhd": (24, 36),
    b"vmhd": (12, 12),
    b"smhd": (8, 8),
}
#: Tables: bytes per entry (version 0, version 1), after the version, flags and entry count.
_TABLES = {
    b"stts": (8, 8),
    b"ctts": (8, 8),
    b"stss": (4, 4),
    b"stsc": (12, 12),
    b"stco": (4, 4),
    b"co64": (8, 8),
    b"elst": (12, 20),
}


def _defined_length(kind: bytes, payload: bytes) -> int:
    """How many of a leaf box's payload bytes its fields take (bytes after them are dropped:
    they may hold anything); the whole payload for a box whose layout is not spelt out here."""
    if len(payload) < 8 and (kind in _FIXED or kind in _TABLES or kind == b"stsz"):
        raise damaged("MP4", f"a {kind!r} box is too short")
    version = 1 if payload[:1] == b"\x01" else 0
    if kind in _FIXED:
        length = _FIXED[kind][version]
    elif kind in _TABLES:
        length = 8 + _TABLES[kind][version] * int.from_bytes(payload[4:8], "big")
    elif kind == b"stsz":
        uniform = int.from_bytes(payload[4:8], "big")
        length = 12 + (0 if uniform else 4 * int.from_bytes(payload[8:12], "big"))
    else:
        return len(payload)
    if length > len(payload):
        raise damaged("MP4", f"a {kind!r} box is shorter than its fields")
    return length


def _write_hdlr(data: bytes, body: int, end: int, out: _Out) -> None:
    """The handler box with an empty name (it may name the tool or the file)."""
    if end - body < 24:
        raise damaged("MP4", "a handler box is too short")
    if data[body + 8 : body + 12] in TEXT_HANDLERS:
        raise damaged("MP4", "it has a text track (subtitles or chapters), whose words are media")
    fixed = data[body : body + 24]
    out.data += struct.pack(">I4s", 8 + len(fixed) + 1, b"hdlr") + fixed + b"\x00"


def _check_self_contained(data: bytes, body: int, end: int) -> None:
    """Every data reference says "in this file" (one that names another file is refused)."""
    if end - body < 8:
        raise damaged("MP4", "a data reference box is too short")
    for _, entry, entry_end in _boxes(data, body + 8, end):
        if entry_end - entry < 4 or not data[entry + 3] & _SELF_CONTAINED:
            raise damaged("MP4", "a track's media is in another file")


def _blank_times(buffer: bytearray, payload: int, length: int) -> None:
    """Zero the creation and modification times of an mvhd, tkhd or mdhd (they date the file)."""
    width = 8 if buffer[payload] == 1 else 4
    if length < 4 + 2 * width:
        raise damaged("MP4", "a header box is too short")
    buffer[payload + 4 : payload + 4 + 2 * width] = bytes(2 * width)


def _note_chunk_offsets(out: _Out, payload: int, length: int, width: int) -> None:
    if length < 8:
        raise damaged("MP4", "a chunk offset box is too short")
    (count,) = struct.unpack_from(">I", out.data, payload + 4)
    if 8 + count * width != length:
        raise damaged("MP4", "a chunk offset box's count does not match its size")
    first = payload + 8
    out.offsets.extend((first + n * width, width) for n in range(count))


def _check_fragment(data: bytes, start: int, header: int, end: int, out: _Out) -> None:
    """A movie fragment is copied as it is (its sample offsets count from its own start): it
    must hold nothing to drop. An absolute base offset in it is noted, to be moved."""
    new_start = len(out.data)
    for kind, c_start, c_header, c_end in _children(data, start + header, end, "'moof'"):
        if kind not in ALLOWED[b"moof"]:
            raise damaged("MP4", f"a movie fragment holds a {kind!r} box (not supported)")
        if kind != b"traf":
            continue
        for inner, i_start, i_header, i_end in _children(data, c_start + c_header, c_end, "'traf'"):
            if inner not in ALLOWED[b"traf"]:
                raise damaged("MP4", f"a track fragment holds a {inner!r} box (not supported)")
            body = i_start + i_header
            if inner == b"tfhd" and i_end - body >= 16 and data[body + 3] & _BASE_DATA_OFFSET:
                out.offsets.append((new_start + body + 8 - start, 8))


def _move_offsets(out: _Out, kept: list[tuple[int, int, int]]) -> None:
    """Each noted file offset, moved to where the bytes it pointed at now are."""
    starts = [old for old, _, _ in kept]
    for position, width in out.offsets:
        fmt = ">I" if width == 4 else ">Q"
        (old,) = struct.unpack_from(fmt, out.data, position)
        index = bisect.bisect_right(starts, old) - 1
        if index < 0 or not kept[index][0] <= old <= kept[index][1]:
            raise damaged("MP4", f"a file offset ({old}) points outside the media data")
        struct.pack_into(fmt, out.data, position, old - kept[index][0] + kept[index][2])
