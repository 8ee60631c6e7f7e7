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
