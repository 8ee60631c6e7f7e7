"""The task card: escaped, players only from safe sources, each with an accessible name."""

from __future__ import annotations

import pytest

from qubico_nb import Task, Work
from qubico_nb.html import inline_image
from qubico_nb.html import task as h

from .helpers.html import EVIL, ODD_URLS, Elements, assert_clean, evil_task
from .helpers.outputs import OTHER_MODELS


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


@pytest.mark.parametrize(
    ("name", "task", "kind"), OTHER_MODELS, ids=[n for n, _, _ in OTHER_MODELS]
)
def test_every_output_a_task_can_hold_is_shown(name: str, task: Task, kind: str) -> None:
    """Images, videos and anything else get their element (a link for other files), by the same
    URL rules as audio; an image sent as base64 plays from a checked data:image URI."""
    markup = h.task_card(task)
    assert_clean(markup)
    tag = {"image": "<img", "video": "<video", "other": "<a "}[kind]
    assert markup.count(tag) == 1, markup
    (url,) = Elements(markup).urls()
    assert url == task.works[0].playable_url
    assert url.startswith("https://") or url.startswith("data:image/png;base64,")


def test_an_inline_image_must_be_a_raster_in_base64() -> None:
    work = Work.from_url("data:image/svg+xml;base64,PHN2Zz4=", hint="image")
    for bad in (
        "data:image/svg+xml;base64,PHN2Zz4=",
        'data:image/png;base64,AAAA" onerror="x',
        "data:image/png,raw",
    ):
        markup = h.viewer_player(work, bad, label="x")
        assert Elements(markup).urls() == [] and "not a playable address" in markup
    good = h.viewer_player(work, "data:image/gif;base64,R0lGODlh", label="x")
    assert 'src="data:image/gif;base64,R0lGODlh"' in good
    assert inline_image("data:image/webp;base64,UklGR===") is None
