"""`compare`: batches of generations side by side, as HTML that works without a kernel."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from . import html
from .batch import tabulate_tasks
from .client import Client
from .errors import InvalidRequestError
from .models import Task, guess_content_type

DEFAULT_COLUMNS = ("steps", "duration_s")
#: Embedding puts file bytes into the notebook: capped, and only on request.
DEFAULT_EMBED_LIMIT_MB = 20.0


class Comparison:
    """A grid of players: one row per `by` value, one column per `across` value."""

    def __init__(self, frame: pd.DataFrame, *, by: str, across: str, columns: Sequence[str],
                 sources: dict[Any, str]) -> None:
        self.frame = frame
        self.by = by
        self.across = across
        self.columns = tuple(columns)
        self._sources = sources

    def to_html(self) -> str:
        return html.compare_grid(self.frame, by=self.by, across=self.across,
                                 columns=self.columns, sources=self._sources)

    def _repr_html_(self) -> str:
        return self.to_html()

    def pivot(self) -> pd.DataFrame:
        """The grid as a frame of statuses (a plain-text view)."""
        if self.frame.empty:
            return pd.DataFrame()
        return self.frame.pivot_table(index=self.by, columns=self.across, values="status",
                                      aggfunc=lambda s: ",".join(map(str, s)), dropna=False)

    def __repr__(self) -> str:
        return (f"Comparison(by={self.by!r}, across={self.across!r}, {len(self.frame)} tasks)\n"
                f"{self.pivot().to_string() if not self.frame.empty else ''}")


def _relative_to_cwd(path_text: str) -> str | None:
    """The path relative to the kernel's folder (where the notebook is), or None if outside it."""
    path = Path(path_text).resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return None


def compare(
    tasks_or_frame: pd.DataFrame | Iterable[Task | str],
    *,
    by: str = "prompt",
    across: str = "seed",
    columns: Sequence[str] = DEFAULT_COLUMNS,
    client: Client | None = None,
    local: bool = True,
    embed: bool = False,
    embed_limit_mb: float = DEFAULT_EMBED_LIMIT_MB,
) -> Comparison:
    """Compare generations side by side: rows by `by` (e.g. prompt), columns `across` (seed,
    steps, model, or any column).

    Players load nothing until played (``preload="none"``). With a ``local_path`` column (from
    `download`) they play the local copy (`local`) when it lies under the notebook's folder, where
    Jupyter can serve it; `embed=True` puts file bytes into the page, up to `embed_limit_mb`.
    """
    frame = (tasks_or_frame.copy() if isinstance(tasks_or_frame, pd.DataFrame)
             else tabulate_tasks(tasks_or_frame, client=client, progress=False))
    for name in (by, across):
        if name not in frame.columns:
            raise InvalidRequestError(
                f"no column {name!r} to compare by; choose from {', '.join(frame.columns)}")
    sources: dict[Any, str] = {}
    if "local_path" in frame.columns and (local or embed):
        budget = int(embed_limit_mb * 1024 * 1024)
        skipped = 0
        for index, path_text in frame["local_path"].items():
            if not isinstance(path_text, str) or not os.path.isfile(path_text):
                continue
            if embed:
                size = Path(path_text).stat().st_size
                if size > budget:
                    skipped += 1
                    continue
                budget -= size
                sources[index] = html.audio_data_uri(Path(path_text).read_bytes(),
                                                     guess_content_type(path_text))
            else:
                relative = _relative_to_cwd(path_text)
                if relative is not None:  # the notebook's server can serve it
                    sources[index] = quote(relative)
        if skipped:
            warnings.warn(f"embedded files up to {embed_limit_mb:g} MB; {skipped} more play "
                          "from their URLs (raise embed_limit_mb to embed them too)",
                          stacklevel=2)
    return Comparison(frame, by=by, across=across, columns=columns, sources=sources)
