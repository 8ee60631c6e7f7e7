"""URL rules (`qubico_nb._net`): an API base, an origin, a redirect's target, a place to name in a
message; each answers a value or a ValueError that says what is wrong, never a crash."""

from __future__ import annotations

import pytest

from qubico_nb import _net


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://API.piapi.ai/", "https://api.piapi.ai"),
        ("HTTP://127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1"),
        ("http://[::1]:9", "http://[::1]:9"),
    ],
)
def test_an_api_base_is_normalized(url: str, normalized: str) -> None:
    assert _net.api_base(url) == normalized


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (42, "is not a string"),
        ("https://a b", "whitespace"),
        ("https://x\\y", "backslash"),
        ("https://ü.example", "non-ASCII"),
        ("ftp://x", "does not start with http"),
        ("https://x/?a=1", "query or fragment"),
        ("https://user@x", "user name or password"),
        ("https://x:0", "port"),
        ("https://x:99999", "port"),
        ("https://x:", "port"),
        ("https://[nothex]", "IPv6"),
        ("https://[::1]:x", "port"),
        ("https://-x-", "no valid host name"),
        ("https://x/a<b", "path"),
    ],
)
def test_an_unusable_api_base_says_why(url: object, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        _net.api_base(url)


def test_origin_fills_in_the_default_port() -> None:
    assert _net.origin("HTTPS://Example.com/a") == ("https", "example.com", 443)
    assert _net.origin("http://x:8000") == ("http", "x", 8000)
    assert _net.origin("http://x:bad") == ("http", "x", -1)


@pytest.mark.parametrize(
    ("location", "target"),
    [
        ("/b", "https://x/b"),
        ("https://y:8443/c", "https://y:8443/c"),
        ("javascript:alert(1)", None),
        ("mailto:a@x", None),
        ("http://y:0/", None),
        ("http://[::1", None),
        ("", None),
    ],
)
def test_a_redirect_points_to_an_http_url_or_nowhere(location: str, target: str | None) -> None:
    assert _net.redirect_target("https://x/a", location) == target


def test_where_names_the_place_and_nothing_else() -> None:
    assert _net.where("https://user:pw@x.example:8443/p?key=s") == "https://x.example:8443"
    assert _net.where("http://x:bad/p") == "http://x"
    assert _net.where("/relative") == "://?"
