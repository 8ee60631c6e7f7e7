"""plot(): a matplotlib Figure of report()'s figures, saved whole as PNG or SVG."""

from __future__ import annotations

import sys
from itertools import product as itertools_product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from qubico_nb.listening import plot, report


def scores() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    rows = [
        (f"r{r}", f"p{i}", steps, float(np.clip(40 + steps / 2 + rng.normal(0, 10), 0, 100)))
        for r in range(5)
        for i in range(6)
        for steps in (10, 25, 50)
    ]
    return pd.DataFrame(rows, columns=["rater", "prompt", "steps", "mos"])


def test_the_points_and_bars_are_reports_means_and_intervals(tmp_path: Path) -> None:
    frame = scores()
    figure = plot(frame, "steps", item="prompt", score="mos", title="MOS by steps")
    assert isinstance(figure, Figure)
    expected = report(frame, "steps", item="prompt", score="mos")
    axes = figure.axes[0]
    line = axes.lines[0]
    assert line.get_ydata() == pytest.approx(expected["mean"].to_numpy())
    bars = axes.collections[0].get_segments()
    assert [seg[0][1] for seg in bars] == pytest.approx(expected["ci_low"].to_numpy())
    assert [seg[1][1] for seg in bars] == pytest.approx(expected["ci_high"].to_numpy())
    labels = [t.get_text() for t in axes.get_xticklabels()]
    assert labels == ["10\nn=30", "25\nn=30", "50\nn=30"]
    assert axes.get_title() == "MOS by steps"


def test_saves_png_and_svg_and_refuses_other_suffixes(tmp_path: Path) -> None:
    frame = scores()
    plot(frame, "steps", item="prompt", score="mos", path=tmp_path / "out" / "mos.png")
    assert (tmp_path / "out" / "mos.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    plot(frame, "steps", item="prompt", score="mos", path=tmp_path / "mos.svg")
    assert b"<svg" in (tmp_path / "mos.svg").read_bytes()[:400]
    with pytest.raises(ValueError, match=r"\.png or \.svg, not 'mos.pdf'"):
        plot(frame, "steps", item="prompt", score="mos", path=tmp_path / "mos.pdf")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["mos.png", "mos.svg", "out"]


def test_pairwise_plots_strengths_around_zero() -> None:
    rng = np.random.default_rng(4)
    worth = {"10 steps": -0.7, "25 steps": 0.1, "50 steps": 0.6}
    rows = []
    for r, i, (x, y) in itertools_product(
        range(6),
        range(5),
        [("10 steps", "25 steps"), ("25 steps", "50 steps"), ("10 steps", "50 steps")],
    ):
        p = 1 / (1 + np.exp(worth[y] - worth[x]))
        rows.append((f"r{r}", f"i{i}", x, y, "a" if rng.random() < p else "b"))
    frame = pd.DataFrame(rows, columns=["rater", "item", "a", "b", "choice"])
    figure = plot(frame, n_resamples=200)
    axes = figure.axes[0]
    expected = report(frame, n_resamples=200)
    assert axes.lines[0].get_ydata() == pytest.approx(expected["strength"].to_numpy())
    assert "Bradley-Terry" in axes.get_ylabel()


def test_without_matplotlib_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"plot needs matplotlib.*qubico-nb\[plot\]"):
        plot(scores(), "steps", item="prompt", score="mos")
