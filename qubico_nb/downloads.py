"""Save generated files before their URLs expire: atomic, skip-if-present, safe names."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from ._progress import progress_bar
from .client import Client
from .errors import InvalidRequestError, QubicoError
from .frames import tasks_to_frame
from .models import Task

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")
_EXTENSIONS = {"wav", "mp3", "flac", "ogg", "m4a", "mp4", "webm", "mov", "png", "jpg", "jpeg",
               "webp", "gif", "glb"}


def file_name(task_id: str, index: int, url: str, content_type: str | None = None) -> str:
    """``<task id>_<index>.<ext>``, with only safe characters (server ids are untrusted)."""
    stem = _SAFE.sub("_", task_id).strip("_")[:80] or "task"
    ext = urlsplit(url).path.rsplit(".", 1)[-1].lower() if "." in urlsplit(url).path else ""
    if ext not in _EXTENSIONS:
        ext = (content_type or "").split("/")[-1].replace("mpeg", "mp3").replace("x-wav", "wav")
        ext = ext if ext in _EXTENSIONS else "bin"
    return f"{stem}_{index}.{ext}"


def _frame(tasks_or_frame: pd.DataFrame | Iterable[Task]) -> pd.DataFrame:
    if isinstance(tasks_or_frame, pd.DataFrame):
        return tasks_or_frame.copy()
    items = list(tasks_or_frame)
    if not all(isinstance(t, Task) for t in items):
        raise InvalidRequestError("download takes Task objects or a frame from tabulate_tasks")
    return tasks_to_frame(items, per="work")


def download(
    tasks_or_frame: pd.DataFrame | Iterable[Task],
    folder: str | os.PathLike[str],
    *,
    client: Client | None = None,
    overwrite: bool = False,
    progress: bool = True,
    max_workers: int = 4,
) -> pd.DataFrame:
    """Save each work's file into `folder`; return the frame with ``local_path`` (and
    ``download_error``) columns.

    Files stream to a temporary name and are renamed only when complete, so an interrupted
    download never leaves a half-written file under the real name. Existing files are kept
    unless `overwrite`. One failed download is recorded in its row; the rest go on.
    """
    frame = _frame(tasks_or_frame)
    url_column = "url" if "url" in frame.columns else "audio_url"
    if url_column not in frame.columns or "task_id" not in frame.columns:
        raise InvalidRequestError("the frame needs task_id and url (or audio_url) columns: "
                                  "make it with tabulate_tasks")
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    client = client or Client()
    jobs: list[tuple[int, str, Path]] = []
    local: list[str | None] = [None] * len(frame)
    problems: list[str | None] = [None] * len(frame)
    for position, (_, row) in enumerate(frame.iterrows()):
        url = row[url_column]
        if not isinstance(url, str) or not url:
            continue
        index = row.get("work_index")
        name = file_name(str(row["task_id"]), 0 if pd.isna(index) else int(index), url,
                         row.get("content_type") if isinstance(row.get("content_type"), str)
                         else None)
        path = target / name
        if path.exists() and not overwrite:
            local[position] = str(path)
            continue
        jobs.append((position, url, path))

    def fetch(job: tuple[int, str, Path]) -> tuple[int, str | None, str | None]:
        position, url, path = job
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            with open(partial, "wb") as sink:
                client.fetch_file(url, sink)
            os.replace(partial, path)
            return position, str(path), None
        except (QubicoError, OSError) as err:
            return position, None, str(err)
        finally:
            partial.unlink(missing_ok=True)

    with progress_bar(len(jobs), "downloading", progress) as bar, \
            ThreadPoolExecutor(max(1, min(max_workers, len(jobs) or 1))) as pool:
        for position, path_text, problem in pool.map(fetch, jobs):
            local[position] = path_text
            problems[position] = problem
            bar.update(1)
    frame["local_path"] = pd.array(local, dtype="string")
    frame["download_error"] = pd.array(problems, dtype="string")
    return frame
