"""In Chromium: every file `strip_metadata` made from a tagged one still plays, the demo clip
at its size and length, each sound for its whole length."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from qubico_nb._tags import strip_metadata

from .helpers.browser import ARGS, CHROMIUM, PLAY
from .helpers.browser import require_browser as _require
from .test_tags import (
    DEMO,
    SECRET,
    encoded,
    grown,
    mp3_cases,
    mp4_cases,
    tagged_by,
    wav_cases,
    with_handler_name,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _files(tmp_path: Path) -> dict[str, tuple[str, str, bytes]]:
    """name -> (element, media type, tagged bytes)."""
    from mutagen import flac, oggopus, oggvorbis

    def comments(kind: type) -> object:
        def tag(path: str) -> None:
            audio = kind(path)
            audio["title"] = "a prompt to hide"
            audio.save()

        return tag

    mp3 = encoded("MP3", "MPEG_LAYER_III")
    return {
        "wav": ("audio", "audio/wav", encoded("WAV", "PCM_16")),
        **{
            f"wav {name}": ("audio", "audio/wav", data)
            for name, data in wav_cases(encoded("WAV", "PCM_16")).items()
            if name != "BW64"  # Chromium reads RF64, not BW64
        },
        "flac with bytes after its last frame": (
            "audio",
            "audio/flac",
            encoded("FLAC", "PCM_24") + SECRET,
        ),
        "mp3 with bytes between frames": ("audio", "audio/mpeg", mp3[:5000] + SECRET + mp3[5000:]),
        "flac": (
            "audio",
            "audio/flac",
            tagged_by(tmp_path, encoded("FLAC", "PCM_16"), ".flac", comments(flac.FLAC)),
        ),
        "vorbis": (
            "audio",
            "audio/ogg",
            tagged_by(tmp_path, encoded("OGG", "VORBIS"), ".ogg", comments(oggvorbis.OggVorbis)),
        ),
        "opus": (
            "audio",
            "audio/ogg",
            tagged_by(tmp_path, encoded("OGG", "OPUS", 48000), ".opus", comments(oggopus.OggOpus)),
        ),
        **{
            f"mp3 {name}": ("audio", "audio/mpeg", data)
            for name, data in mp3_cases(mp3, tmp_path).items()
        },
        **{
            f"mp4 {name}": ("video", "video/mp4", data)
            for name, data in mp4_cases(tmp_path).items()
        },
        "mp4 with text after its sample sizes": (
            "video",
            "video/mp4",
            grown(
                with_handler_name(DEMO, ""),
                [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsz"],
                SECRET,
            ),
        ),
    }


def test_every_stripped_file_plays_in_chromium(tmp_path: Path) -> None:
    _require()
    from playwright.sync_api import sync_playwright

    files = _files(tmp_path)
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_content("<!doctype html><body></body>")
            for name, (element, mime, data) in files.items():
                src = f"data:{mime};base64," + base64.b64encode(strip_metadata(data)).decode()
                played = page.evaluate(PLAY, [element, src])
                want = 8.0 if element == "video" else 1.5
                assert abs(played["duration"] - want) < 0.1, (name, played)
                assert element == "audio" or played["width"] == 320, (name, played)
        finally:
            browser.close()
