"""Where a FLAC stream's last audio frame ends. A frame does not say its length: its end is found
by reading it (header, subframes, residual) bit by bit, as a decoder does, and checking its
CRC-16. Only the last frame is read so: the frames before it end where the next begins."""

from __future__ import annotations

from .errors import damaged

#: How many frame-like headers (sync, fields and CRC-8 right), from the end backwards, may fail
#: to read to a matching CRC-16 before the file is refused (bytes after the last frame may
#: look like a header by chance), and how many sync patterns may be looked at in all.
_TRIES = 32
_SYNCS = 1 << 16
_UNREAD, _NO_HEADER = 0, -1
_BLOCK_SIZES = {1: 192, **{n: 576 << (n - 2) for n in range(2, 6)}}
_SAMPLE_SIZES = {1: 8, 2: 12, 4: 16, 5: 20, 6: 24, 7: 32}
_LEFT_SIDE, _RIGHT_SIDE, _MID_SIDE = 8, 9, 10


def streaminfo_bits(block: bytes) -> int:
    """The bits per sample STREAMINFO declares (a frame header may leave them to it)."""
    return ((int.from_bytes(block[10:18], "big") >> 36) & 31) + 1


def last_frame_end(frames: bytes, bits: int) -> int:
    """The offset just past the last whole frame in `frames` (0 when there is none); raises
    MetadataError when no frame near the end can be read."""
    if not frames:
        return 0
    at, tries = len(frames), 0
    for _ in range(_SYNCS):
        at = _previous_sync(frames, at)
        if at < 0:
            break
        end = _frame_end(frames, at, bits)
        if end > 0:
            return end
        tries += end == _UNREAD
        if tries >= _TRIES:
            break
    raise damaged("FLAC", "its last audio frame cannot be read to its end")


def _previous_sync(data: bytes, before: int) -> int:
    """The last offset before `before` where a frame sync (0xFFF8 or 0xFFF9) begins."""
    return max(data.rfind(b"\xff\xf8", 0, before), data.rfind(b"\xff\xf9", 0, before))


class _Bits:
    """A big-endian bit reader over `data` from byte `start`; IndexError past the end."""

    def __init__(self, data: bytes, start: int) -> None:
        self.data, self.at = data, start * 8

    def read(self, count: int) -> int:
        value = 0
        while count:
            byte, used = divmod(self.at, 8)
            take = min(count, 8 - used)
            bits = (self.data[byte] >> (8 - used - take)) & ((1 << take) - 1)
            value, count, self.at = (value << take) | bits, count - take, self.at + take
        return value

    def unary(self) -> int:
        """Zeros until a one (the one read too)."""
        zeros = 0
        while True:
            byte, used = divmod(self.at, 8)
            rest = self.data[byte] & (0xFF >> used)
            if rest:
                found = 8 - rest.bit_length()  # the one's bit position in this byte
                zeros += found - used
                self.at = byte * 8 + found + 1
                return zeros
            zeros += 8 - used
            self.at = (byte + 1) * 8

    def skip(self, count: int) -> None:
        self.at += count
        if (self.at + 7) // 8 > len(self.data):
            raise IndexError("past the end")


def _frame_end(data: bytes, start: int, streaminfo_bits: int) -> int:
    """The end of the frame at `start` if it reads as one to a CRC-16 that matches; else
    `_UNREAD` when its header looked right (a try that counts), `_NO_HEADER` when not."""
    try:
        bits = _Bits(data, start)
        header = _header(bits, streaminfo_bits)
        if header is None or _crc8(data[start : bits.at // 8]) != bits.read(8):
            return _NO_HEADER
    except IndexError:
        return _NO_HEADER
    try:
        block, code, size = header
        for channel in range(code + 1 if code < _LEFT_SIDE else 2):
            _subframe(bits, block, size + _side_bit(code, channel))
        end = (bits.at + 7) // 8 + 2
        if end > len(data) or _crc16(data[start:end]) != 0:
            return _UNREAD
        return end
    except (IndexError, ValueError):
        return _UNREAD


def _header(bits: _Bits, streaminfo_bits: int) -> tuple[int, int, int] | None:
    """(block size, channel code, sample size) of a frame header, or None if it is not one."""
    bits.read(16)  # the sync and the blocking strategy
    block_code, rate_code = bits.read(4), bits.read(4)
    channel_code, size_code, reserved = bits.read(4), bits.read(3), bits.read(1)
    if block_code == 0 or rate_code == 15 or channel_code > 10 or size_code == 3 or reserved:
        return None
    first = bits.read(8)  # the frame or sample number, UTF-8 coded
    ones = 8 - (~first & 0xFF).bit_length()
    if ones == 1 or ones == 8:
        return None
    for _ in range(max(0, ones - 1)):
        if bits.read(8) >> 6 != 2:
            return None
    block = _BLOCK_SIZES.get(block_code, 0)
    if block_code == 6:
        block = bits.read(8) + 1
    elif block_code == 7:
        block = bits.read(16) + 1
    elif block_code >= 8:
        block = 256 << (block_code - 8)
    if rate_code == 12:
        bits.read(8)
    elif rate_code in (13, 14):
        bits.read(16)
    size = _SAMPLE_SIZES.get(size_code, streaminfo_bits)
    return block, channel_code, size


def _side_bit(channel_code: int, channel: int) -> int:
    """The side channel of a stereo decorrelation has one bit more."""
    side = {_LEFT_SIDE: 1, _RIGHT_SIDE: 0, _MID_SIDE: 1}.get(channel_code)
    return int(side == channel)


def _subframe(bits: _Bits, block: int, size: int) -> None:
    if bits.read(1):
        raise ValueError("subframe padding bit set")
    kind = bits.read(6)
    if bits.read(1):
        size -= bits.unary() + 1  # wasted bits
    if size <= 0:
        raise ValueError("no bits left per sample")
    if kind == 0:
        bits.skip(size)
    elif kind == 1:
        bits.skip(size * block)
    elif 8 <= kind <= 12:
        order = kind - 8
        bits.skip(order * size)
        _residual(bits, block, order)
    elif kind >= 32:
        order = kind - 31
        bits.skip(order * size)
        precision = bits.read(4) + 1
        if precision == 16:
            raise ValueError("invalid coefficient precision")
        bits.skip(5 + order * precision)
        _residual(bits, block, order)
    else:
        raise ValueError("reserved subframe type")


def _residual(bits: _Bits, block: int, order: int) -> None:
    method = bits.read(2)
    if method > 1:
        raise ValueError("reserved residual coding method")
    width, escape = (4, 15) if method == 0 else (5, 31)
    partitions = bits.read(4)
    per = block >> partitions
    if per << partitions != block or per < order:
        raise ValueError("partitions do not divide the block")
    for index in range(1 << partitions):
        count = per - order if index == 0 else per
        parameter = bits.read(width)
        if parameter == escape:
            bits.skip(count * bits.read(5))
            continue
        for _ in range(count):
            bits.unary()
            bits.skip(parameter)


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16(data: bytes) -> int:
    """FLAC's CRC-16 (polynomial 0x8005, MSB first); 0 over a frame that ends with its own."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16_TABLE[(crc >> 8) ^ byte]
    return crc


def _table() -> list[int]:
    table = []
    for n in range(256):
        crc = n << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        table.append(crc)
    return table


_CRC16_TABLE = _table()
