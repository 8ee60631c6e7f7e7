"""The html safety core: only safe URLs reach src/href, our own sources pass, text escaped."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qubico_nb.html import core

from .helpers.html import ODD_URLS


def test_media_url_allows_absolute_http_only() -> None:
    assert core.media_url("https://a/b.wav") == "https://a/b.wav"
    assert core.media_url("HTTP://a:8080/b.wav?x=1#t") == "HTTP://a:8080/b.wav?x=1#t"
    assert core.media_url('https://a/"b.wav') == "https://a/%22b.wav"
    for relative in ("downloads/a.wav", "/proxy/1234/temp/x.wav", "x.wav"):
        assert core.media_url(relative) is None, relative  # no base: shown as text
    for bad in ODD_URLS:
        assert core.media_url(bad) is None, bad
        assert core.media_url(bad, base_url="https://api.example") is None, bad


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet="hHtTpPsS:/.[]@%?#&=;'\"<> \\-_~+aZ09", max_size=30),
    st.sampled_from(["", "http://", "https://", "HTTPS://a", "http://a:", "https://a.b/"]),
)
def test_the_plain_url_shortcut_agrees_with_the_full_parse(tail: str, head: str) -> None:
    text = head + tail
    assert core.media_url(text) == core._checked_url(text.strip(" "), None, ())


def test_relative_urls_resolve_against_the_api_base() -> None:
    base = "http://127.0.0.1:8765"
    assert core.media_url("/temp/x.wav", base_url=base) == "http://127.0.0.1:8765/temp/x.wav"
    assert core.media_url("temp/x.wav", base_url=base + "/") == "http://127.0.0.1:8765/temp/x.wav"
    assert core.media_url("../x.wav", base_url="https://a/v1") == "https://a/x.wav"
    assert core.media_url("/temp/x.wav", base_url="javascript:alert(1)//") is None
    # Under the notebook server's own proxy: meant for the page, not for the API's host.
    hub = ("/user/ann/proxy/",)
    assert (
        core.media_url("/user/ann/proxy/8765/temp/x.wav", base_url=base, page_paths=hub)
        == "/user/ann/proxy/8765/temp/x.wav"
    )
    assert core.media_url("/user/bob/x.wav", page_paths=hub) is None


def test_local_sources_are_our_paths_or_audio_data_only() -> None:
    assert core.local_source("keep/a%20b.wav") == "keep/a%20b.wav"
    assert core.local_source("data:audio/wav;base64,UklGRg==") == "data:audio/wav;base64,UklGRg=="
    for bad in ("javascript:x", "/etc/passwd", "data:text/html,x", "\\\\evil/x", None, 3):
        assert core.local_source(bad) is None, bad


def test_audio_data_uri_keeps_only_an_audio_media_type() -> None:
    assert core.audio_data_uri(b"RIFF....") == "data:audio/wav;base64,UklGRi4uLi4="
    assert core.audio_data_uri(b"x", 'audio/wav"><b') == "data:audio/wav;base64,eA=="
    assert core.audio_data_uri(b"x", "audio/mpeg") == "data:audio/mpeg;base64,eA=="


def test_display_label_and_shortening() -> None:
    assert core.display_label(None) == "—" and core.display_label(0.5) == "0.5"
    assert core.display_label(float("nan")) == "—" and core.display_label("x") == "x"
    assert core.ellipsize("abcdef", 4) == "abc…" and core.ellipsize("abc", 4) == "abc"
    huge = core.display_label("P" * 5_000_000)  # a label on every card of a board
    assert (
        huge.startswith("P" * core.SHORT_TEXT_CHARS + "…") and len(huge) < 2 * core.SHORT_TEXT_CHARS
    )
    assert core.shorten("x" * 10, 4) == "xxxx… (6 more characters)"
