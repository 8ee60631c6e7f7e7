"""The HTML builders: every server text escaped, only http(s) or relative media URLs."""

from __future__ import annotations

import re

import pandas as pd

from qubico_nb import Task
from qubico_nb import html as h
from qubico_nb.frames import tasks_to_frame

EVIL = '<script>alert("x")</script>'
EVIL_URL = 'https://cdn/x.wav"><img src=x onerror=alert(1)>'


def evil_task(**extra: object) -> Task:
    return Task.from_dict({
        "task_id": f"id{EVIL}", "model": EVIL, "status": f"completed{EVIL}",
        "input": {"prompt": EVIL, "seed": 1},
        "output": {"audio_url": EVIL_URL},
        "error": {"code": 1, "message": EVIL}, **extra})


def assert_clean(markup: str) -> None:
    assert "<script" not in markup.lower()
    assert "onerror=" not in markup.replace("onerror=alert(1)%3E", "")  # only inside a URL
    assert not re.search(r"<img[^>]*onerror", markup)


def test_task_card_escapes_everything() -> None:
    markup = h.task_card(evil_task())
    assert_clean(markup)
    assert "&lt;script&gt;" in markup
    assert 'src="https://cdn/x.wav%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E"' in markup


def test_media_url_allows_only_http_and_relative() -> None:
    assert h.media_url("https://a/b.wav") == "https://a/b.wav"
    assert h.media_url("downloads/a b.wav") == "downloads/a%20b.wav"
    assert h.media_url("/proxy/1234/temp/x.wav") == "/proxy/1234/temp/x.wav"
    for bad in ("javascript:alert(1)", "JAVASCRIPT:alert(1)", "java\tscript:alert(1)",
                "data:text/html,<b>", "vbscript:x", "file:///etc/passwd", "//evil.example/x",
                "\x01javascript:alert(1)", " javascript:alert(1)", "", None, 42):
        assert h.media_url(bad) is None, bad
    # Browsers read a backslash like a slash: "\\evil/x" would leave the page's host.
    assert h.media_url("\\\\evil.example/x.wav") == "%5C%5Cevil.example/x.wav"
    assert h.media_url("/\\evil.example/x.wav") == "/%5Cevil.example/x.wav"


def test_players() -> None:
    audio = h.audio_player("https://a/b.wav")
    assert 'preload="none"' in audio and 'src="https://a/b.wav"' in audio
    assert "qnb-error" in h.audio_player("javascript:alert(1)")
    embedded = h.embedded_audio(b"RIFF....")
    assert 'src="data:audio/wav;base64,UklGRi4uLi4="' in embedded
    assert "qnb-error" in h.audio_player("data:text/html;base64,PHNjcmlwdD4=")


def test_status_badge_escapes_unknown_status() -> None:
    badge = h.status_badge(EVIL)
    assert "<script" not in badge and "&lt;script&gt;" in badge


def test_table_escapes_headers_and_cells() -> None:
    frame = pd.DataFrame({EVIL: [EVIL, None, pd.NA]})
    markup = h.table(frame)
    assert "<script" not in markup and markup.count("&lt;script&gt;") == 2


def test_compare_grid_escapes_and_lays_out() -> None:
    tasks = [evil_task(), Task.from_dict({"task_id": "b", "status": "failed",
                                          "input": {"prompt": EVIL, "seed": 2},
                                          "error": {"message": "bad video"}})]
    markup = h.compare_grid(tasks_to_frame(tasks), by="prompt", across="seed",
                            columns=("status", "model"))
    assert_clean(markup)
    assert markup.count("<tr>") == 2  # header + one prompt
    assert "bad video" in markup
