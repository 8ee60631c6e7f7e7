"""WAV (RIFF, big-endian RIFX, and RF64 for files over 4 GiB): keep the chunks that make the
sound, drop every other one (``LIST``/``INFO``, ``id3 ``, ``ID3 ``, ``bext``, ``iXML``...)."""

from __future__ import annotations

import struct

from .errors import damaged

#: Chunks that make the sound: its format, its samples, the sample count of compressed formats,
#: and RF64's 64-bit sizes.
KEPT = (b"fmt ", b"data", b"fact", b"ds64")
#: RF64 writes this in a 32-bit size field whose real value is in ``ds64``.
_SIZE_IN_DS64 = 0xFFFFFFFF


def strip_riff(data: bytes) -> bytes:
    """The WAV with only `KEPT` chunks, sizes rewritten; see the module doc."""
    form, is_rf64 = data[:4], data[:4] == b"RF64"
    order = ">" if form == b"RIFX" else "<"
    if len(data) < 12 or data[8:12] != b"WAVE":
        raise damaged("WAV", "it has no RIFF/WAVE header")
    chunks = _chunks(data, order)
    kinds = [kind for kind, _, _ in chunks]
    if b"fmt " not in kinds or b"data" not in kinds:
        raise damaged("WAV", "it lacks a 'fmt ' or 'data' chunk")
    if is_rf64 and kinds[0] != b"ds64":
        raise damaged("WAV", "an RF64 file must begin with its 'ds64' chunk")
    out = bytearray(data[:12])
    for kind, start, end in chunks:
        if kind not in KEPT:
            continue
        out += data[start - 8 : end]
        if (end - start) % 2:
            out += b"\x00"  # the pad byte (a writer may have left the last one out)
    if is_rf64:
        struct.pack_into("<Q", out, 20, len(out) - 8)  # ds64's RIFF size
    else:
        if len(out) - 8 > 0xFFFFFFFF:
            raise damaged("WAV", "it is too large for a RIFF size")
        struct.pack_into(order + "I", out, 4, len(out) - 8)
    return bytes(out)


def _chunks(data: bytes, order: str) -> list[tuple[bytes, int, int]]:
    """(kind, body start, body end) of every chunk; the whole file must be chunks."""
    ds64_data_size: int | None = None
    found = []
    at = 12
    while at < len(data):
        if at + 8 > len(data):
            raise damaged("WAV", f"{len(data) - at} stray bytes after the last chunk")
        kind = data[at : at + 4]
        (size,) = struct.unpack(order + "I", data[at + 4 : at + 8])
        if kind == b"ds64" and size >= 16:
            (ds64_data_size,) = struct.unpack("<Q", data[at + 16 : at + 24])
        if kind == b"data" and size == _SIZE_IN_DS64 and ds64_data_size is not None:
            size = ds64_data_size
        end = at + 8 + size
        if end > len(data):
            raise damaged("WAV", f"its {kind!r} chunk runs past the end of the file")
        found.append((kind, at + 8, end))
        at = end + (size % 2)
    return found
