"""The task card: escaped, players only from safe sources, each with an accessible name."""

from __future__ import annotations

from qubico_nb.html import task as h

from .helpers.html import EVIL, ODD_URLS, Elements, assert_clean, evil_task


def test_task_card_escapes_everything() -> None:
    markup = h.task_card(evil_task())
    assert_clean(markup)
    assert "&lt;script&gt;" in markup
    assert 'src="https://cdn/x.wav%22%3E%3Cimg/src=x/onerror=alert(1)%3E"' in markup


def test_status_badge_escapes_unknown_status() -> None:
    badge = h.status_badge(EVIL)
    assert "<script" not in badge and "&lt;script&gt;" in badge


def test_odd_urls_are_shown_as_text_never_as_src_or_href() -> None:
    work = evil_task().works[0]
    # `source` is one the viewer chose; a data:audio URI there is one it built (the grid test
    # shows a server's data: URI is refused).
    for bad in (u for u in ODD_URLS if not (isinstance(u, str) and u.startswith("data:audio"))):
        markup = h.viewer_player(work, bad if isinstance(bad, str) else None, label="x")
        assert_clean(markup)
        assert Elements(markup).urls() == [], (bad, markup)
        assert "not a playable address" in markup
    assert len(h.viewer_player(work, "https://a/" + "x y" * 9999, label="x")) < 600


def test_players_have_accessible_names() -> None:
    task = evil_task()
    audio = h.viewer_player(task.works[0], "https://a/b.wav", label=f"audio: {EVIL}")
    assert 'preload="none"' in audio and 'src="https://a/b.wav"' in audio
    assert 'aria-label="audio: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"' in audio
    assert h.work_label(task, 0).startswith("Generated audio for task id&lt;") is False
    assert h.work_label(task, 0).startswith("Generated audio for task id<script>")
    embedded = h.viewer_player(task.works[0], "data:audio/wav;base64,UklGRg==", label="a")
    assert 'src="data:audio/wav;base64,UklGRg=="' in embedded
