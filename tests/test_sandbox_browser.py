"""In Chromium: the sandbox's demo clip plays (Range requests included), MP3 and WAV play too."""

from __future__ import annotations

import pytest

from qubico_nb.sandbox import Sandbox

from .helpers.browser import ARGS, CHROMIUM, PLAY
from .helpers.browser import require_browser as _require
from .helpers.sandbox import create_body

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_demo_clip_and_audio_play_in_chromium() -> None:
    _require()
    import requests
    from playwright.sync_api import sync_playwright

    with (
        Sandbox(preset="instant", audio_format="mp3", audio_seconds=2.0) as sb,
        sync_playwright() as play,
    ):
        task_id = requests.post(f"{sb.url}/api/v1/task", json=create_body(), timeout=5).json()[
            "data"
        ]["task_id"]
        browser = play.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{sb.url}/account/info")
            video = page.evaluate(PLAY, ["video", sb.demo_video_url])
            assert abs(video["duration"] - 8.0) < 0.1 and video["width"] == 320
            audio = page.evaluate(PLAY, ["audio", f"{sb.url}/temp/{task_id}.mp3"])
            assert abs(audio["duration"] - 2.0) < 0.1
        finally:
            browser.close()
    assert sb.requests["file"] >= 2
