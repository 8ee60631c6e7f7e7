"""The HTML builders: server text escaped, only safe URLs in src/href, readable grids."""

from __future__ import annotations

import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qubico_nb import Task
from qubico_nb import html as h
from qubico_nb.frames import FetchFailure, tasks_to_frame

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
            "a",
            "ul",
            "li",
            "svg",
            "path",
        }, tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    for url in parsed.urls():
        assert url.startswith(("https://", "http://", "data:audio/")) or not re.match(
            r"^[a-z][a-z0-9+.-]*:|^//|\\", url, re.I
        ), url


def test_task_card_escapes_everything() -> None:
    markup = h.task_card(evil_task())
    assert_clean(markup)
    assert "&lt;script&gt;" in markup
    assert 'src="https://cdn/x.wav%22%3E%3Cimg/src=x/onerror=alert(1)%3E"' in markup


def test_media_url_allows_absolute_http_only() -> None:
    assert h.media_url("https://a/b.wav") == "https://a/b.wav"
    assert h.media_url("HTTP://a:8080/b.wav?x=1#t") == "HTTP://a:8080/b.wav?x=1#t"
    assert h.media_url('https://a/"b.wav') == "https://a/%22b.wav"
    for relative in ("downloads/a.wav", "/proxy/1234/temp/x.wav", "x.wav"):
        assert h.media_url(relative) is None, relative  # no base: shown as text
    for bad in ODD_URLS:
        assert h.media_url(bad) is None, bad
        assert h.media_url(bad, base_url="https://api.example") is None, bad


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet="hHtTpPsS:/.[]@%?#&=;'\"<> \\-_~+aZ09", max_size=30),
    st.sampled_from(["", "http://", "https://", "HTTPS://a", "http://a:", "https://a.b/"]),
)
def test_the_plain_url_shortcut_agrees_with_the_full_parse(tail: str, head: str) -> None:
    text = head + tail
    assert h.media_url(text) == h._checked_url(text.strip(" "), None, ())


def test_relative_urls_resolve_against_the_api_base() -> None:
    base = "http://127.0.0.1:8765"
    assert h.media_url("/temp/x.wav", base_url=base) == "http://127.0.0.1:8765/temp/x.wav"
    assert h.media_url("temp/x.wav", base_url=base + "/") == "http://127.0.0.1:8765/temp/x.wav"
    assert h.media_url("../x.wav", base_url="https://a/v1") == "https://a/x.wav"
    assert h.media_url("/temp/x.wav", base_url="javascript:alert(1)//") is None
    # Under the notebook server's own proxy: meant for the page, not for the API's host.
    hub = ("/user/ann/proxy/",)
    assert (
        h.media_url("/user/ann/proxy/8765/temp/x.wav", base_url=base, page_paths=hub)
        == "/user/ann/proxy/8765/temp/x.wav"
    )
    assert h.media_url("/user/bob/x.wav", page_paths=hub) is None


def test_odd_urls_are_shown_as_text_never_as_src_or_href() -> None:
    for bad in ODD_URLS:
        for markup in (h.audio_player(bad), h.video_player(bad), h.link(bad, "file")):
            assert_clean(markup)
            assert Elements(markup).urls() == [], (bad, markup)
        if isinstance(bad, str) and bad.strip():
            assert "not played" in h.audio_player(bad)
    shown = h.audio_player("javascript:alert(1)")
    assert '<code class="qnb-url">javascript:alert(1)</code>' in shown
    assert "pass client= or base_url=" in h.audio_player("/temp/x.wav")
    assert len(h.audio_player("https://a/" + "x y" * 10_000)) < 600  # shortened, not megabytes


def test_players_have_accessible_names() -> None:
    audio = h.audio_player("https://a/b.wav", title=f"audio: {EVIL}")
    assert 'preload="none"' in audio and 'src="https://a/b.wav"' in audio
    assert 'aria-label="audio: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"' in audio
    assert 'aria-label="generated audio"' in h.work_player(evil_task().works[0])
    embedded = h.embedded_audio(b"RIFF....")
    assert 'src="data:audio/wav;base64,UklGRi4uLi4="' in embedded
    assert h.audio_data_uri(b"x", 'audio/wav"><b') == "data:audio/wav;base64,eA=="


def test_local_sources_are_our_paths_or_audio_data_only() -> None:
    assert h.local_source("keep/a%20b.wav") == "keep/a%20b.wav"
    assert h.local_source("data:audio/wav;base64,UklGRg==") == "data:audio/wav;base64,UklGRg=="
    for bad in ("javascript:x", "/etc/passwd", "data:text/html,x", "\\\\evil/x", None, 3):
        assert h.local_source(bad) is None, bad


def test_status_badge_escapes_unknown_status() -> None:
    badge = h.status_badge(EVIL)
    assert "<script" not in badge and "&lt;script&gt;" in badge


def test_table_escapes_headers_and_cells() -> None:
    frame = pd.DataFrame({EVIL: [EVIL, None, pd.NA]})
    markup = h.table(frame)
    assert "<script" not in markup and markup.count("&lt;script&gt;") == 2


def test_compare_grid_escapes_and_lays_out() -> None:
    tasks = [
        evil_task(),
        Task.from_dict(
            {
                "task_id": "b",
                "status": "failed",
                "input": {"prompt": EVIL, "seed": 2},
                "error": {"message": "bad video"},
            }
        ),
    ]
    markup = h.compare_grid(
        tasks_to_frame(tasks), by="prompt", across="seed", columns=("status", "model")
    )
    assert_clean(markup)
    assert markup.count("<tr>") == 2  # header + one prompt
    assert "failed: bad video" in markup


def grid_frame() -> pd.DataFrame:
    def task(task_id: str, status: str, seed: int, **extra: object) -> Task:
        return Task.from_dict(
            {
                "task_id": task_id,
                "status": status,
                "input": {"prompt": "rain on a tin roof", "seed": seed, "steps": 25},
                **extra,
            }
        )

    return tasks_to_frame(
        [
            task("done", "completed", 1, output={"audio_url": "https://cdn/a.wav"}),
            task("waiting", "pending", 2),
            task("running", "processing", 3),
            task("broken", "failed", 4, error={"message": "video too long"}),
            task("picture", "completed", 5, output={"image_url": "https://cdn/a.png"}),
            task("relative", "completed", 6, output={"audio_url": "/temp/r.wav"}),
            FetchFailure("no-such-<id>", "task not found (404)"),
        ]
    )


def test_compare_grid_survives_pending_failed_and_non_audio_rows() -> None:
    markup = h.compare_grid(grid_frame(), by="prompt", across="seed", columns=("steps",))
    assert_clean(markup)
    assert "pending: no audio yet" in markup and "processing: no audio yet" in markup
    assert "failed: video too long" in markup and "completed: no audio file" in markup
    assert "relative URL" in markup and Elements(markup).urls() == ["https://cdn/a.wav"]
    per_work = tasks_to_frame(
        [
            Task.from_dict(
                {
                    "task_id": "picture",
                    "status": "completed",
                    "input": {"prompt": "p", "seed": 1},
                    "output": {"image_url": "https://cdn/a.png"},
                }
            )
        ],
        per="work",
    )
    assert "completed: image file, not audio" in h.compare_grid(
        per_work, by="prompt", across="seed"
    )


def test_compare_grid_labels_say_what_they_are_and_repeat_nothing() -> None:
    markup = h.compare_grid(grid_frame(), by="prompt", across="seed", columns=("steps",))
    parsed = Elements(markup)
    text = parsed.visible_text()
    assert '<th scope="col">seed = 1</th>' in markup
    assert '<th scope="row">prompt = rain on a tin roof</th>' in markup
    assert text.count("rain on a tin roof") == 1  # in the row header, not in every cell
    assert text.count("steps = 25") == 1  # shared by all: said once, above the grid
    assert markup.count("<tr>") == 2 and markup.count('<th scope="col">') == 6
    # The id that could not be fetched is listed under the grid, not given a row and a column.
    assert (
        "could not show: <code>no-such-&lt;id&gt;</code>: task not found (404)"
        in markup.split("</table>")[1]
    )
    assert "seed = —" not in markup and "prompt = —" not in markup
    assert 'aria-label="audio: rain on a tin roof, seed 1"' in markup


def test_compare_grid_keeps_distinguishing_facts_in_cells() -> None:
    tasks = [
        Task.from_dict(
            {
                "task_id": f"t{s}{st}",
                "status": "completed",
                "input": {"prompt": "p", "seed": s, "steps": st},
                "output": {"audio_url": f"https://cdn/{s}{st}.wav"},
            }
        )
        for s in (1, 2)
        for st in (20, 40)
    ]
    markup = h.compare_grid(
        tasks_to_frame(tasks), by="prompt", across="seed", columns=("steps", "duration_s")
    )
    assert markup.count('<div class="qnb-facts">steps = 20</div>') == 2
    assert 'aria-label="audio: p, seed 2, steps 40"' in markup
    assert "duration" not in Elements(markup).visible_text()  # nobody has one: no empty fact
    assert h._fact("duration_s", 2.25) == "duration = 2.2 s"


def drawn_points(path: str) -> list[tuple[int, int]]:
    """The absolute points a path of M/m (x y) and v (dy) commands visits."""
    x = y = 0
    points = []
    for command, args in re.findall(r"([Mmv])([-0-9 ]+)", path):
        numbers = [int(n) for n in re.findall(r"-?\d+", args)]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        else:
            y += numbers[0]
        points.append((x, y))
    return points


def test_waveform_svg_is_small_integer_and_labelled() -> None:
    rng = np.random.default_rng(1)
    lows = rng.integers(-127, 0, 200)
    peaks = np.stack([lows, -lows], axis=1).astype(np.int8)
    svg = h.waveform_svg(peaks, label=f"waveform: {EVIL}")
    assert svg.startswith("<svg") and svg.count("<path") == 1
    assert 'role="img"' in svg and "&lt;script&gt;" in svg and "<script" not in svg
    assert len(svg.encode()) < 1500
    path = re.search(r' d="([^"]+)"', svg)
    assert path and re.fullmatch(r"[Mmv0-9 -]+", path.group(1))  # integers only
    assert all(0 <= x <= 160 and 0 <= y <= 32 for x, y in drawn_points(path.group(1)))
    loud = h.waveform_svg(np.array([[-127, 127]] * 10, dtype=np.int8), width=20, height=32)
    assert "M1 1v30" in loud  # full scale spans the height, less one pixel each side
    for bad in (None, pd.NA, [], np.zeros((3, 3)), "x", [[np.nan, 1]]):
        assert h.waveform_svg(bad) == "", bad


def test_compare_grid_draws_waveforms_from_a_peaks_column() -> None:
    frame = grid_frame()
    frame["peaks"] = [np.array([[-60, 60]] * 120, dtype=np.int8)] + [None] * (len(frame) - 1)
    markup = h.compare_grid(frame, by="prompt", across="seed")
    assert markup.count("<svg") == 1
    assert 'aria-label="waveform: rain on a tin roof, seed 1"' in markup
    assert "<svg" not in h.compare_grid(frame, by="prompt", across="seed", thumbnails=False)


# -- contrast in JupyterLab's themes ---------------------------------------------------------


def _theme_variables(name: str) -> dict[str, str]:
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


def _resolve(value: str, variables: dict[str, str]) -> str:
    value = value.strip()
    match = re.fullmatch(r"var\((--[\w-]+)\s*(?:,\s*(.+))?\)", value)
    if not match:
        return value
    if match.group(1) in variables:
        return _resolve(variables[match.group(1)], variables)
    assert match.group(2), f"{match.group(1)} is undefined and has no fallback"
    return _resolve(match.group(2), variables)


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


def test_contrast_helper_matches_known_ratios() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("rgba(0,0,0,.54)", "#ffffff") == pytest.approx(4.6, abs=0.05)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_compare_text_has_4_5_to_1_contrast_in_jupyterlab_themes(theme: str) -> None:
    variables = _theme_variables(theme)
    text_colours = re.findall(
        r"(?<![-\w])color:(var\([^;}]+\)|#[0-9a-fA-F]+|[a-z]+)", h.COMPARE_STYLE
    )
    assert len(text_colours) >= 4
    backgrounds = [
        _resolve("var(--jp-layout-color0)", variables),
        _resolve("var(--jp-layout-color1)", variables),
    ]
    for declared in text_colours:
        # Only theme variables (with a fallback that inherits the host's colour) are allowed.
        assert declared.startswith("var(--jp-") and declared.endswith(
            (",inherit)", ",currentColor)")
        ), declared
        colour = _resolve(declared, variables)
        for background in backgrounds:
            assert contrast(colour, background) >= 4.5, (theme, declared, colour, background)
    # The old fixed grey and red fail on the dark background: the test can tell.
    assert theme == "light" or contrast("#555555", backgrounds[0]) < 4.5


def test_compare_grid_of_nothing_and_of_huge_prompts() -> None:
    empty = h.compare_grid(tasks_to_frame([]), by="prompt", across="seed")
    assert '<table class="qnb-compare">' in empty and "<audio" not in empty
    huge = "x" * 1_000_000
    frame = tasks_to_frame(
        [
            Task.from_dict(
                {
                    "task_id": "t",
                    "status": "completed",
                    "input": {"prompt": huge, "seed": 1},
                    "output": {"audio_url": "https://cdn/a.wav"},
                }
            )
        ]
    )
    markup = h.compare_grid(frame, by="prompt", across="seed")
    assert len(markup) < 5_000 and "…" in markup  # shortened in the header and the name
