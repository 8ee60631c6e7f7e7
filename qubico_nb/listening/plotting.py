"""`plot`: the figure a paper shows, per condition a point and its interval (matplotlib extra)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import frame as vf
from .optional import require
from .reporting import report

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The formats `plot(path=...)` writes, by file suffix.
FORMATS = {".png": "png", ".svg": "svg"}


def plot(
    frame: pd.DataFrame,
    by: str = vf.CONDITION,
    *,
    design: vf.Design = "auto",
    exclude: Iterable[Hashable] = (),
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
    level: float = 0.95,
    n_resamples: int | None = None,
    seed: int | None = 0,
    rater: str = vf.RATER,
    item: str = vf.ITEM,
    score: str = vf.SCORE,
    best: str = vf.BEST,
    a: str = vf.A,
    b: str = vf.B,
    choice: str = vf.CHOICE,
) -> Figure:
    """Per condition, the mean score (or the Bradley-Terry / Luce strength) with its `level`
    interval, as `report` computes them; each condition is labelled with its verdicts (or
    comparisons). Returns the matplotlib Figure (shown by Jupyter); with `path` ending in .png
    or .svg it is also saved there (written whole, then moved into place). `level`,
    `n_resamples`, `seed` and the column keywords are `report`'s. Needs matplotlib:
    ``pip install 'qubico-nb[plot]'``.
    """
    figure_module = require("matplotlib.figure", "plot", "plot")
    target = None
    if path is not None:
        target = Path(path)
        if target.suffix.lower() not in FORMATS:
            raise ValueError(
                f"plot saves PNG or SVG; give a path ending in .png or .svg, not {target.name!r}"
            )
    result = report(
        frame,
        by,
        design=design,
        exclude=exclude,
        level=level,
        n_resamples=n_resamples,
        seed=seed,
        rater=rater,
        item=item,
        score=score,
        best=best,
        a=a,
        b=b,
        choice=choice,
    )
    kind = result.attrs["design"]
    figure: Figure = figure_module.Figure(figsize=(max(4.0, 1.1 * len(result) + 2.0), 3.6))
    axes = figure.add_subplot()
    positions = np.arange(len(result))
    centre = result["mean"] if kind == "scores" else result["strength"]
    low = (centre - result["ci_low"]).clip(lower=0).fillna(0.0)
    high = (result["ci_high"] - centre).clip(lower=0).fillna(0.0)
    axes.errorbar(
        positions,
        centre.to_numpy(dtype=float),
        yerr=np.vstack([low.to_numpy(dtype=float), high.to_numpy(dtype=float)]),
        fmt="o",
        color="#1f4e79",
        ecolor="#1f4e79",
        elinewidth=1.5,
        capsize=5,
        markersize=7,
    )
    counts = result[
        "verdicts" if kind == "scores" else "comparisons" if kind == "pairwise" else "picks"
    ]
    noun = {"scores": "n", "pairwise": "n", "best": "picks"}[kind]
    axes.set_xticks(positions)
    axes.set_xticklabels(
        [f"{c}\n{noun}={int(n)}" for c, n in zip(result.index, counts, strict=True)]
    )
    axes.set_xlim(-0.6, len(result) - 0.4)
    percent = f"{level:.0%}"
    if kind == "scores":
        axes.set_ylabel(f"mean score, {percent} interval")
    else:
        axes.axhline(0.0, color="#999999", linewidth=0.8, zorder=0)
        bottom, top = axes.get_ylim()
        axes.set_ylim(min(bottom, -0.5), max(top, 0.5))  # equal strengths: no axis of 1e-16
        model = "Bradley-Terry" if kind == "pairwise" else "Luce (best pick)"
        axes.set_ylabel(f"{model} strength, {percent} interval")
    axes.set_xlabel(str(result.index.name or by))
    axes.grid(axis="y", color="#dddddd", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if title:
        axes.set_title(title)
    figure.tight_layout()
    if target is not None:
        _save(figure, target)
    return figure


def _save(figure: Figure, target: Path) -> None:
    """Write the figure next to `target` and move it into place: never a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        figure.savefig(scratch, format=FORMATS[target.suffix.lower()], dpi=150)
        os.replace(scratch, target)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
