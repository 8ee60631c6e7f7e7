"""The one MP4 reader (shared by the client and the sandbox) over a corpus of odd files."""

from __future__ import annotations

import pytest

from qubico_nb import _media
from qubico_nb.sandbox import assets, audio, world

from .media import MP4_CORPUS, Mp4Case, mp4_bytes

DEMO_CLIP = assets.ASSETS_DIR / assets.DEMO_VIDEO


def test_the_sandbox_reads_with_the_same_reader() -> None:
    assert world.mp4_duration_s is audio.mp4_duration_s is _media.mp4_duration_s


@pytest.mark.parametrize("case", MP4_CORPUS, ids=[case.name for case in MP4_CORPUS])
def test_reader_finds_the_duration(case: Mp4Case) -> None:
    assert _media.mp4_duration_s(case.data) == case.seconds


def test_reader_reads_the_shipped_demo_clip() -> None:
    assert _media.mp4_duration_s(DEMO_CLIP.read_bytes()) == pytest.approx(8.0, abs=0.05)


def test_is_mp4() -> None:
    assert _media.is_mp4(mp4_bytes(1)) and not _media.is_mp4(b"RIFF....WAVE")


# -- how each format begins: one table, read by downloads and the board ------------------------

#: First bytes of MPEG audio files, and whether they are one (frame headers: 11 sync bits, then
#: version, layer and CRC bits).
MPEG_HEADS = {
    b"ID3\x04\x00": True,  # an ID3v2 tag first
    b"\xff\xfb\x90": True,  # MPEG-1 layer III
    b"\xff\xfa\x90": True,  # ... with a CRC (the board's rule once missed it)
    b"\xff\xf3\x90": True,  # MPEG-2 layer III
    b"\xff\xe3\x90": True,  # MPEG-2.5 layer III
    b"\xff\xfd\x90": True,  # MPEG-1 layer II
    b"\xff\xf1\x50": False,  # AAC in ADTS: layer 0, not MPEG audio
    b"\xff\xeb\x90": False,  # the reserved version
    b"\xff\xfb\xf0": False,  # the forbidden bitrate index 15
    b"\xff\xfb\x9c": False,  # the reserved sample rate index 3
    b"\xff\x0b": False,
    b"\xff": False,
    b"": False,
    b"RIFF": False,
}


@pytest.mark.parametrize("head", list(MPEG_HEADS), ids=[h.hex() or "empty" for h in MPEG_HEADS])
def test_mpeg_audio_is_told_by_its_tag_or_frame_header(head: bytes) -> None:
    assert _media.is_mpeg_audio(head) is MPEG_HEADS[head]
    assert (_media.audio_media_type(head) == "audio/mpeg") is MPEG_HEADS[head]


def test_audio_media_type_names_each_audio_format() -> None:
    assert _media.audio_media_type(b"RIFF\x24\x00\x00\x00WAVE") == "audio/wav"
    assert _media.audio_media_type(b"RF64\xff\xff\xff\xffWAVE") == "audio/wav"
    assert _media.audio_media_type(b"fLaC\x00") == "audio/flac"
    assert _media.audio_media_type(b"OggS\x00\x02") == "audio/ogg"
    assert _media.audio_media_type(b"RIFF\x24\x00\x00\x00WEBPVP8 ") is None  # RIFF, not sound
    assert _media.audio_media_type(b"<!doctype html>") is None
    assert _media.audio_media_type(mp4_bytes(1)) is None  # audio in MP4 is not told from video


def test_image_media_type_names_each_raster_format() -> None:
    assert _media.image_media_type(b"\x89PNG\r\n\x1a\n") == "image/png"
    assert _media.image_media_type(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert _media.image_media_type(b"GIF89a") == "image/gif"
    assert _media.image_media_type(b"RIFF\x24\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert _media.image_media_type(b"RIFF\x24\x00\x00\x00WAVEfmt ") is None  # sound
    assert _media.image_media_type(b"<svg xmlns=") is None  # SVG can carry scripts


def test_looks_like_knows_what_it_cannot_check() -> None:
    assert _media.looks_like(b"\x89PNG\r\n", "image/png") is True
    assert _media.looks_like(b"GIF89a", "image/png") is False
    assert _media.looks_like(b"anything", "image/avif") is None
    assert _media.looks_like(b"anything", "") is None


def test_every_signature_is_of_a_media_type_the_package_knows() -> None:
    from qubico_nb._constants import MEDIA_TYPES

    known = set(MEDIA_TYPES.values())
    assert set(_media.SIGNATURES) <= known
    assert {"audio/mpeg", *_media._AUDIO_TYPES} <= known
