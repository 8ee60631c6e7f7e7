"""WAV (RIFF, big-endian RIFX, and RF64/BW64 for files over 4 GiB): an allow-list. The file is
rebuilt from the first ``fmt `` (cut to the fields its format tag defines), ``fact`` (its sample
count only), RF64's ``ds64`` (its three sizes) and the first ``data`` chunk (whole sample frames
only); every other chunk (``LIST``/``INFO``, ``id3 ``, ``bext``, ``iXML``, a second ``data``...)
and every byte no decoder reads is left out."""

from __future__ import annotations

import struct

from .errors import damaged

#: The chunks kept, each cut to what a decoder reads (the rest of the file is dropped).
KEPT = (b"fmt ", b"data", b"fact", b"ds64")
#: RF64 writes this in a 32-bit size field whose real value is in ``ds64``.
_SIZE_IN_DS64 = 0xFFFFFFFF
_EXTENSIBLE = 0xFFFE
#: Format tag -> the length of the extension after cbSize that format defines (None: no
#: extension, so no cbSize either; the WAVEFORMATEX base is 16 bytes, 18 with cbSize).
_EXTENSION = {
    0x0001: None,  # PCM
    0x0003: None,  # IEEE float
    0x0006: None,  # A-law
    0x0007: None,  # mu-law
    0x0011: 2,  # IMA ADPCM: samples per block
    0x0031: 2,  # GSM 6.10: samples per block
    0x0055: 12,  # MPEG layer III
    _EXTENSIBLE: 22,  # valid bits, channel mask, sub-format GUID
}
_MS_ADPCM = 0x0002  # its extension is 4 + 4 bytes per coefficient pair
#: Formats whose bytes per second and block align follow from channels, rate and sample size.
_LINEAR = frozenset({0x0001, 0x0003, 0x0006, 0x0007, _EXTENSIBLE})
#: The speaker bits WAVE_FORMAT_EXTENSIBLE defines (18 positions).
_SPEAKER_BITS = (1 << 18) - 1


def strip_riff(data: bytes) -> bytes:
    """The WAV rebuilt from the `KEPT` chunks only, each cut to its known fields; see the
    module doc."""
    form = data[:4]
    order = ">" if form == b"RIFX" else "<"
    is_64 = form in (b"RF64", b"BW64")
    if len(data) < 12 or data[8:12] != b"WAVE":
        raise damaged("WAV", "it has no RIFF/WAVE header")
    chunks = _chunks(data, order)
    first = {kind: (start, end) for kind, start, end in reversed(chunks) if kind in KEPT}
    if b"fmt " not in first or b"data" not in first:
        raise damaged("WAV", "it lacks a 'fmt ' or 'data' chunk")
    if is_64 and chunks[0][0] != b"ds64":
        raise damaged("WAV", "an RF64 file must begin with its 'ds64' chunk")
    fmt = _fmt(data[slice(*first[b"fmt "])], order)
    block_align = struct.unpack(order + "H", fmt[12:14])[0]
    start, end = first[b"data"]
    samples = data[start : end - (end - start) % block_align]
    out = bytearray(form + bytes(4) + b"WAVE")
    if is_64:
        ds64_start, ds64_end = first[b"ds64"]
        if ds64_end - ds64_start < 24:
            raise damaged("WAV", "its 'ds64' chunk is too short")
        sample_count = data[ds64_start + 16 : ds64_start + 24]
        out += _chunk(b"ds64", bytes(16) + sample_count + bytes(4), order)  # no size table
    out += _chunk(b"fmt ", fmt, order)
    if b"fact" in first:
        fact_start, fact_end = first[b"fact"]
        if fact_end - fact_start < 4:
            raise damaged("WAV", "its 'fact' chunk is too short")
        out += _chunk(b"fact", data[fact_start : fact_start + 4], order)
    data_at = len(out)
    out += _chunk(b"data", samples, order, large=is_64 and len(samples) > 0xFFFFFFFF)
    if is_64:
        struct.pack_into("<QQ", out, 20, len(out) - 8, len(samples))
        struct.pack_into("<I", out, 4, _SIZE_IN_DS64)
        if len(samples) > 0xFFFFFFFF:
            struct.pack_into("<I", out, data_at + 4, _SIZE_IN_DS64)
    else:
        if len(out) - 8 > 0xFFFFFFFF:
            raise damaged("WAV", "it is too large for a RIFF size")
        struct.pack_into(order + "I", out, 4, len(out) - 8)
    return bytes(out)


def _fmt(body: bytes, order: str) -> bytes:
    """The ``fmt `` payload cut to the fields its format tag defines, with every field a
    decoder does not need recomputed or zeroed; MetadataError for a format it does not know."""
    if len(body) < 16:
        raise damaged("WAV", "its 'fmt ' chunk is too short")
    tag, channels, rate, _, align, bits = struct.unpack(order + "HHIIHH", body[:16])
    if channels == 0 or align == 0:
        raise damaged("WAV", "its 'fmt ' chunk declares no channels or no block size")
    if tag == _MS_ADPCM and len(body) >= 22:
        (pairs,) = struct.unpack(order + "H", body[20:22])
        extension: int | None = 4 + 4 * pairs
    elif tag in _EXTENSION:
        extension = _EXTENSION[tag]
    else:
        raise damaged("WAV", f"its sample format 0x{tag:04x} is not one this reads")
    per_second = rate * align if tag in _LINEAR else struct.unpack(order + "I", body[8:12])[0]
    base = struct.pack(order + "HHIIHH", tag, channels, rate, per_second, align, bits)
    if extension is None:
        return base
    if len(body) < 18 + extension:
        raise damaged("WAV", f"its 'fmt ' chunk is too short for format 0x{tag:04x}")
    tail = bytearray(body[18 : 18 + extension])
    if tag == _EXTENSIBLE:
        (mask,) = struct.unpack(order + "I", tail[2:6])
        struct.pack_into(order + "I", tail, 2, mask & _SPEAKER_BITS)
    return base + struct.pack(order + "H", extension) + bytes(tail)


def _chunk(kind: bytes, body: bytes, order: str, *, large: bool = False) -> bytes:
    """One chunk: its header, its body, a zero pad byte after an odd body."""
    size = _SIZE_IN_DS64 if large else len(body)
    return kind + struct.pack(order + "I", size) + body + b"\x00" * (len(body) % 2)


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
