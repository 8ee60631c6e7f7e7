"""Both MP4 readers (the client's and the sandbox's copy) over one shared corpus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from qubico_nb import _media
from qubico_nb.sandbox import mp4 as sandbox_mp4

from .media import MP4_CORPUS, Mp4Case, mp4_bytes

READERS: dict[str, Callable[[bytes], float | None]] = {
    "client": _media.mp4_duration_s,
    "sandbox": sandbox_mp4.mp4_duration_s,
}
DEMO_CLIP = Path(sandbox_mp4.__file__).parent / "assets" / "demo.mp4"


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("case", MP4_CORPUS, ids=[case.name for case in MP4_CORPUS])
def test_reader_finds_the_duration(reader: str, case: Mp4Case) -> None:
    assert READERS[reader](case.data) == case.seconds


@pytest.mark.parametrize("reader", list(READERS))
def test_reader_reads_the_shipped_demo_clip(reader: str) -> None:
    assert READERS[reader](DEMO_CLIP.read_bytes()) == pytest.approx(8.0, abs=0.05)


def test_is_mp4() -> None:
    assert _media.is_mp4(mp4_bytes(1)) and not _media.is_mp4(b"RIFF....WAVE")
