"""The safety core of the html layer: escaping, URL checks, the text rules every view shares.

Every text goes through `esc`; every media or link URL a server sent goes through `media_url`
(absolute http(s), or a relative one resolved against a known base; anything odd is shown as
text, never put into ``src``/``href``). The only other sources are ones we built:
``data:audio/...`` URIs from bytes and paths of local copies (`local_source`).
"""

from __future__ import annotations

import base64
import html as _html
import re
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import SplitResult, quote, urljoin, urlsplit

import pandas as pd

from .._constants import AUDIO_DATA_URI_PREFIX


@cache
def style(name: str) -> str:
    """The ``<style>`` block of one of the CSS files beside this module (read once)."""
    text = files(__package__).joinpath(name).read_text(encoding="utf-8")
    return f"<style>\n{text}</style>"


def esc(value: object) -> str:
    """Escaped text for HTML content or a quoted attribute; None and NA become ''."""
    if isinstance(value, str):
        return _html.escape(value, quote=True)
    if is_na(value):
        return ""
    return _html.escape(str(value), quote=True)


#: Characters that make a URL odd: controls, spaces inside, and the backslash (browsers read it
#: as a slash, so ``/\\evil`` would leave the page's host).
_ODD_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
#: What may stay literal in a URL we put into an attribute (quotes and brackets are encoded).
_URL_SAFE = "/:?#[]@!$&()*+,;=%-._~"
#: The common case, decided without a full parse: http(s), a plain host, an optional port, and
#: only characters `quote` would keep (so the answer is the text itself).
_PLAIN_HTTP_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::(\d{1,5}))?(?:[/?#][A-Za-z0-9/:?#\[\]@!$&()*+,;=%._~-]*)?",
    re.IGNORECASE,
)
#: A URL shown as text is cut to this many characters.
_URL_TEXT_LIMIT = 200


def media_url(
    url: object, *, base_url: str | None = None, page_paths: Sequence[str] = ()
) -> str | None:
    """A URL a server sent, made safe for ``src``/``href``; None where it must be shown as text.

    Absolute http(s) URLs pass (percent-encoded where they could end an attribute). A relative
    URL is resolved against `base_url` (the API's base, when known); one under one of
    `page_paths` (paths the notebook's own server serves, e.g. JupyterHub's ``.../proxy/``) stays
    relative to the page. Everything else is None: other schemes (``javascript:``, ``data:``),
    protocol-relative ``//host``, userinfo, control characters, spaces and backslashes.
    """
    if not isinstance(url, str):
        return None
    text = url.strip(" ")
    plain = _PLAIN_HTTP_URL.fullmatch(text)
    if plain is not None and (plain.group(1) is None or 0 < int(plain.group(1)) < 65536):
        return text
    return _checked_url(text, base_url, page_paths)


def _checked_url(text: str, base_url: str | None, page_paths: Sequence[str]) -> str | None:
    """`media_url` by a full parse (what the plain-URL shortcut must agree with)."""
    parts = _split(text)
    if parts is None:
        return None
    if parts.scheme:
        return _absolute_http(text, parts)
    if text.startswith("//"):
        return None  # protocol-relative: would follow the page to any host
    if text.startswith("/") and any(text.startswith(p) for p in page_paths if p.startswith("/")):
        return quote(text, safe=_URL_SAFE)
    if base_url:
        joined = urljoin(base_url.rstrip("/") + "/", text)
        joined_parts = _split(joined)
        if joined_parts is not None and _absolute_http(base_url, _split(base_url)):
            return _absolute_http(joined, joined_parts)
    return None


def _split(text: str) -> SplitResult | None:
    """`text` split into URL parts, or None when it is empty, odd or unparseable."""
    if not text or _ODD_URL_CHARS.search(text):
        return None
    try:
        return urlsplit(text)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 host
        return None


def _absolute_http(text: str, parts: SplitResult | None) -> str | None:
    if parts is None or parts.scheme.lower() not in ("http", "https"):
        return None
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
        host = parts.hostname
    except ValueError:  # a port that is not a number, or out of range
        return None
    if not port_ok or not host or "@" in parts.netloc:
        return None
    return quote(text, safe=_URL_SAFE)


def url_as_text(url: object) -> str:
    """A URL that is not put into ``src``/``href``, escaped (and shortened) for reading."""
    text = str(url)
    if len(text) > _URL_TEXT_LIMIT:
        text = text[:_URL_TEXT_LIMIT] + "…"
    return f'<code class="qnb-url">{esc(text)}</code>'


def unplayable_reason(url: object, *, base_url: str | None = None) -> str:
    """Why `media_url` refused `url`, in words a user can act on."""
    text = str(url).strip(" ")
    parts = _split(text)
    if parts is not None and not parts.scheme and not text.startswith("//") and not base_url:
        return "relative URL, and the API's address is unknown (pass client= or base_url=)"
    return "not an http(s) URL: shown, not played"


def audio_data_uri(data: bytes, content_type: str | None = "audio/wav") -> str:
    """File bytes as a ``data:audio/...`` URI (only ever on request: it grows the notebook)."""
    mime = (
        content_type
        if content_type and re.fullmatch(r"audio/[\w.+-]+", content_type)
        else "audio/wav"
    )
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def is_embedded(url: object) -> bool:
    """A ``data:audio/...;base64,`` URI as `audio_data_uri` builds it."""
    return (
        isinstance(url, str)
        and url.startswith(AUDIO_DATA_URI_PREFIX)
        and re.match(r"data:audio/[\w.+-]+;base64,", url) is not None
    )


#: An image a server sent as its bytes, as `qubico_nb.models.image_data_uri` writes it: raster
#: types only (an SVG can carry scripts), base64 text only.
_INLINE_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}")


def inline_image(url: object) -> str | None:
    """`url` when it is an inline raster image (``data:image/png;base64,...``), safe in an
    ``<img src>``; None for anything else."""
    return url if isinstance(url, str) and _INLINE_IMAGE.fullmatch(url) else None


def local_source(source: object) -> str | None:
    """A player source we built (a local copy's relative path or a ``data:audio`` URI), checked
    once more: only those two shapes pass, percent-encoded where needed."""
    if is_embedded(source):
        return str(source)
    if not isinstance(source, str) or source.startswith(("/", " ")):
        return None
    parts = _split(source.replace(" ", "%20"))
    if parts is None or parts.scheme:
        return None
    return quote(source, safe=_URL_SAFE)


def player_source(source: object, *, page_paths: Sequence[str] = ()) -> str | None:
    """A source `qubico_nb.playback` chose, checked once more before it goes into ``src``: an
    http(s) URL, a path under one of `page_paths`, a saved copy's relative path or a
    ``data:audio`` URI we built; None for anything else."""
    return media_url(source, page_paths=page_paths) or local_source(source)


def error_box(message: object) -> str:
    """An error line (shortened: a server can send megabytes), announced to screen readers."""
    return f'<div class="qnb-error" role="alert">{esc(shorten(message))}</div>' if message else ""


#: How much of one text the viewer shows (the whole text stays on the Task).
SHORT_TEXT_CHARS = 2000


def shorten(value: object, limit: int = SHORT_TEXT_CHARS) -> str:
    """`value` as text, cut to `limit` characters plus a note of how many more there are."""
    text = "" if is_na(value) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def absolute_media_url(url: object) -> str | None:
    """`url` as a ``src`` only when it is an absolute http(s) URL (else None: shown as text)."""
    try:  # urlsplit raises on some malformed URLs ("http://[::1")
        safe = media_url(url)
        return safe if safe is not None and urlsplit(safe).scheme in ("http", "https") else None
    except ValueError:
        return None


def ellipsize(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_na(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return value is None
    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def display_label(value: Any) -> str:
    """A cell value as a header or label shows it (every view: grid, board, static view):
    text cut to `SHORT_TEXT_CHARS` (a 5 MB prompt must not become 5 MB of widget state per card),
    a missing value as "—", a float without trailing zeros (``0.5``, ``20``)."""
    if isinstance(value, str):
        return shorten(value)
    if is_na(value):
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
