"""Shared helpers for tests of HTML: hostile server text, a parser that lists what a browser
would load, and WCAG contrast against JupyterLab's own theme colours."""

from __future__ import annotations

import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from qubico_nb import Task

EVIL = '<script>alert("x")</script>'
EVIL_URL = 'https://cdn/x.wav"><img/src=x/onerror=alert(1)>'
ODD_URLS = (
    "javascript:alert(1)",
    "JAVASCRIPT:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<b>",
    "data:text/html;base64,PHNjcmlwdD4=",
    "data:audio/wav;base64,UklGRg==",  # a data: URI from a server is not one we built
    "vbscript:x",
    "file:///etc/passwd",
    "//evil.example/x",
    "\\\\evil.example/x.wav",
    "/\\evil.example/x.wav",
    "https://a/b\\c.wav",
    "https://a/x\x00.wav",
    "https://a/x\n.wav",
    "\x01javascript:alert(1)",
    " javascript:alert(1)",
    "https://user:pw@evil.example/x.wav",
    "https:///x.wav",
    "http:x.wav",
    "https://a:99999999999/x.wav",
    "https://a:0/x.wav",
    "ftp://a/x.wav",
    "http://[evil/x.wav",
    "http://a]/x.wav",
    "",
    None,
    42,
)


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser would parse them."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def urls(self) -> list[str]:
        return [v or "" for _, attrs in self.tags for k, v in attrs.items() if k in ("src", "href")]

    def visible_text(self) -> str:
        return "".join(self.text)


def evil_task(**extra: object) -> Task:
    return Task.from_dict(
        {
            "task_id": f"id{EVIL}",
            "model": EVIL,
            "status": f"completed{EVIL}",
            "input": {"prompt": EVIL, "seed": 1},
            "output": {"audio_url": EVIL_URL},
            "error": {"code": 1, "message": EVIL},
            **extra,
        }
    )


def assert_clean(markup: str) -> None:
    """No element or attribute came from server text: only our own tags, no handlers."""
    parsed = Elements(markup)
    for tag, attrs in parsed.tags:
        assert tag in {
            "style",
            "div",
            "span",
            "b",
            "code",
            "table",
            "thead",
            "tbody",
            "tr",
            "td",
            "th",
            "caption",
            "audio",
            "video",
            "img",
            "a",
            "ul",
            "li",
            "svg",
            "path",
        }, tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    for url in parsed.urls():
        # the one inline form a server's output may take: a raster image in base64
        raster = re.fullmatch(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+=*", url)
        assert (
            url.startswith(("https://", "http://", "data:audio/"))
            or raster
            or not re.match(r"^[a-z][a-z0-9+.-]*:|^//|\\", url, re.I)
        ), url


def theme_variables(name: str) -> dict[str, str]:
    spec = importlib.util.find_spec("jupyterlab")  # found, not imported: that takes seconds
    if spec is None or spec.origin is None:
        pytest.skip("jupyterlab is not installed")
    css = (
        Path(spec.origin).parent
        / "themes"
        / "@jupyterlab"
        / f"theme-{name}-extension"
        / "index.css"
    ).read_text()
    return dict(re.findall(r"(--jp-[\w-]+)\s*:\s*([^;}]+)", css))


def resolve_colour(value: str, variables: dict[str, str]) -> str:
    value = value.strip()
    match = re.fullmatch(r"var\((--[\w-]+)\s*(?:,\s*(.+))?\)", value)
    if not match:
        return value
    if match.group(1) in variables:
        return resolve_colour(variables[match.group(1)], variables)
    assert match.group(2), f"{match.group(1)} is undefined and has no fallback"
    return resolve_colour(match.group(2), variables)


def _rgba(colour: str) -> tuple[float, float, float, float]:
    colour = {"white": "#ffffff", "black": "#000000"}.get(colour.strip(), colour.strip())
    if colour.startswith("#"):
        digits = colour[1:]
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16), 1.0)
    parts = [float(p) for p in re.findall(r"[\d.]+", colour)]
    return (parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0)


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio, the foreground's alpha blended over the background."""
    fr, fg, fb, alpha = _rgba(foreground)
    br, bg, bb, _ = _rgba(background)
    blended = (
        fr * alpha + br * (1 - alpha),
        fg * alpha + bg * (1 - alpha),
        fb * alpha + bb * (1 - alpha),
    )
    light, dark = sorted((_luminance(blended), _luminance((br, bg, bb))), reverse=True)
    return (light + 0.05) / (dark + 0.05)
