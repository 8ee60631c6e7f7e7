"""The client-side MP4 reader that checks a local video before it is sent."""

from __future__ import annotations

from qubico_nb._media import is_mp4, mp4_duration_s

from .media import box, mp4_bytes


def test_durations() -> None:
    assert mp4_duration_s(mp4_bytes(12.5)) == 12.5
    assert mp4_duration_s(mp4_bytes(3.0, version=1, timescale=90000)) == 3.0
    assert is_mp4(mp4_bytes(1)) and not is_mp4(b"RIFF....WAVE")


def test_moov_after_media_data() -> None:
    data = mp4_bytes(7.0)
    ftyp_len = int.from_bytes(data[:4], "big")
    moved = data[:ftyp_len] + box(b"mdat", b"\0" * 1000) + data[ftyp_len:]
    assert mp4_duration_s(moved) == 7.0


def test_unreadable_input_is_none() -> None:
    assert mp4_duration_s(b"") is None
    assert mp4_duration_s(b"not an mp4 at all") is None
    assert mp4_duration_s(mp4_bytes(3.0)[:40]) is None
    assert mp4_duration_s(box(b"ftyp", b"isom") + box(b"moov", box(b"mvhd", b"\0" * 4))) is None
