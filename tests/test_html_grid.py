"""The compare grid: escaped, survives odd rows, says each fact once, readable in both themes."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from qubico_nb import Task
from qubico_nb.frames import FetchFailure, tasks_to_frame
from qubico_nb.html import grid as h

from .helpers.html import (
    EVIL,
    ODD_URLS,
    Elements,
    assert_clean,
    contrast,
    evil_task,
    resolve_colour,
    theme_variables,
)


def one_cell(url: object) -> str:
    """A one-cell grid whose audio URL is `url` as a server might send it (unchecked)."""
    task = Task.from_dict(
        {
            "task_id": "t",
            "status": "completed",
            "input": {"prompt": "p", "seed": 1},
            "output": {"audio_url": "https://cdn/a.wav"},
        }
    )
    frame = tasks_to_frame([task])
    frame["audio_url"] = pd.Series([url], dtype=object)
    return h.compare_grid(frame, by="prompt", across="seed")


def test_odd_urls_are_shown_as_text_never_as_src_or_href() -> None:
    for bad in ODD_URLS:
        markup = one_cell(bad)
        assert_clean(markup)
        assert Elements(markup).urls() == [], (bad, markup)
        if isinstance(bad, str) and bad.strip():
            assert "not played" in markup, bad
    assert '<code class="qnb-url">javascript:alert(1)</code>' in one_cell("javascript:alert(1)")
    assert "pass client= or base_url=" in one_cell("/temp/x.wav")
    assert len(one_cell("https://a/" + "x y" * 10_000)) < 3000  # shortened, not megabytes


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
    assert "failed: video too long" in markup
    assert "relative URL" in markup
    # A task whose only file is an image shows it (same URL rules as audio).
    assert Elements(markup).urls() == ["https://cdn/a.wav", "https://cdn/a.png"]
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
    assert '<img class="qnb-image" src="https://cdn/a.png"' in h.compare_grid(
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


def test_compare_grid_says_how_late_each_sound_lands_once_measured() -> None:
    frame = grid_frame()
    assert "qnb-sync" not in h.compare_grid(frame, by="prompt", across="seed")
    size = len(frame)
    frame["av_offset_s"] = pd.array([0.0425, -0.12, 0.00004] + [None] * (size - 3), "Float64")
    frame["av_sync_confidence"] = pd.array([0.62, 0.1, 0.9] + [None] * (size - 3), "Float64")
    frame["av_sync_error"] = pd.array(
        [None, None, None, f"the task has no source video {EVIL}"] + [None] * (size - 4), "string"
    )
    markup = h.compare_grid(frame, by="prompt", across="seed")
    assert_clean(markup)
    lines = re.findall(r'<div class="qnb-facts qnb-sync"[^>]*>([^<]*)</div>', markup)
    assert lines[:3] == ["sound 42.5 ms late", "sound 120.0 ms early (unsure)", "in sync"]
    assert lines[3].startswith("sync: the task has no source video &lt;")
    assert len(lines) == 4  # no offset and no reason: nothing said
    assert 'title="av_offset_s +0.043, confidence 0.62"' in markup
    assert h.sync_line(float("nan"), None, None) == ""
    assert "(unsure)" in h.sync_line(0.2, None, None)  # no confidence is no trust
    assert ">sound offset out of range<" in h.sync_line(1e300, 0.9, None)  # not 300 digits


def test_contrast_helper_matches_known_ratios() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("rgba(0,0,0,.54)", "#ffffff") == pytest.approx(4.6, abs=0.05)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_compare_text_has_4_5_to_1_contrast_in_jupyterlab_themes(theme: str) -> None:
    variables = theme_variables(theme)
    text_colours = re.findall(
        r"(?<![-\w])color:(var\([^;}]+\)|#[0-9a-fA-F]+|[a-z]+)", h.COMPARE_STYLE
    )
    assert len(text_colours) >= 4
    backgrounds = [
        resolve_colour("var(--jp-layout-color0)", variables),
        resolve_colour("var(--jp-layout-color1)", variables),
    ]
    for declared in text_colours:
        # Only theme variables (with a fallback that inherits the host's colour) are allowed.
        assert declared.startswith("var(--jp-") and declared.endswith(
            (",inherit)", ",currentColor)")
        ), declared
        colour = resolve_colour(declared, variables)
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
