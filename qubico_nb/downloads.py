"""Save generated files before their URLs expire: atomic, skip-if-present, readable names.

A file is written to a hidden ``.part`` name and renamed only once it is complete and looks like
what it claims to be (not a web page, not cut short), so the folder never holds half a file.
"""

from __future__ import annotations

import contextlib
import os
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ._constants import MEDIA_TYPE_ALIASES, MEDIA_TYPES
from ._media import looks_like
from ._net import file_url
from ._progress import progress_bar
from ._workers import Workers
from .client import Client
from .errors import InvalidRequestError, ProtocolError, QubicoError
from .frames import tasks_to_frame
from .models import Task, file_extension

#: The extension a file of each known media type is saved with (the first one listed for it).
_EXTENSION_OF_TYPE = {media_type: ext[1:] for ext, media_type in reversed(MEDIA_TYPES.items())}
#: Names Windows refuses for a file whatever its extension (``CON.wav`` included).
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}
#: Longest file name written: far below every file system's 255, leaving room for the folder
#: within Windows' 260-character path limit.
MAX_NAME_CHARS = 96
_PROMPT_CHARS = 40
_SHORT_ID_CHARS = 8


def slug(text: str, max_chars: int = _PROMPT_CHARS) -> str:
    """Lower-case ASCII words joined by ``-``, cut at a word boundary: ``"Waves crashing!"`` ->
    ``"waves-crashing"``. Accents are folded (``é`` -> ``e``); other scripts drop out."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    out = ""
    for word in words:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > max_chars:
            return out or word[:max_chars]
        out = candidate
    return out


def file_name(
    task_id: str,
    index: int,
    url: str,
    content_type: str | None = None,
    *,
    prompt: str | None = None,
    seed: int | None = None,
    steps: int | None = None,
    several: bool = False,
    id_chars: int = _SHORT_ID_CHARS,
) -> str:
    """A name a person can read and every OS accepts:
    ``waves-crashing_seed42_steps25_1a2b3c4d.wav`` (prompt, seed, steps where known, a short task
    id, ``_<index>`` when the task has several works). Only ``[a-z0-9_-]`` and one dot: server
    text is untrusted, and names differ by more than letter case."""
    parts = []
    prompt_slug = slug(prompt) if isinstance(prompt, str) else ""
    if prompt_slug:
        parts.append(prompt_slug)
    if seed is not None:
        parts.append(f"seed{seed}"[:24])
    if steps is not None:
        parts.append(f"steps{steps}"[:24])
    ident = re.sub(r"[^a-z0-9]+", "", task_id.lower())[: max(id_chars, 1)] or "task"
    parts.append(ident)
    if several:
        parts.append(str(index))
    stem = "_".join(parts)
    ext = _extension(url, content_type)
    stem = stem[: MAX_NAME_CHARS - len(ext) - 1].rstrip("_-")
    if stem.split("_", 1)[0] in _WINDOWS_RESERVED or not stem:
        stem = f"_{stem}"
    return f"{stem}.{ext}"


def _extension(url: str, content_type: str | None) -> str:
    """The URL's extension where it is a known media type's, else the one of the type the
    server named, else ``bin``."""
    ext = file_extension(url)
    if ext is not None and ext in MEDIA_TYPES:
        return ext[1:]
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    media_type = MEDIA_TYPE_ALIASES.get(media_type, media_type)
    if media_type in _EXTENSION_OF_TYPE:
        return _EXTENSION_OF_TYPE[media_type]
    subtype = media_type.rpartition("/")[2]
    return subtype if f".{subtype}" in MEDIA_TYPES else "bin"


_WEB_PAGE = (
    "the server sent a web page (HTML), not a file: the link may have expired or need a "
    "login; fetch the task again for a fresh URL"
)


class _NotAFile(ProtocolError):
    """The answer's headers say it is a message (a web page, a JSON error), not the file."""


#: Media types that say an answer is a message, not the file asked for.
_MESSAGE_TYPES = {"text/html": _WEB_PAGE, "application/xhtml+xml": _WEB_PAGE}


def refuse_messages(headers: Mapping[str, str]) -> None:
    """Stop a download whose answer says it is a web page or a JSON message (for `fetch_file`'s
    ``on_headers``), before its body is read: whatever its first bytes look like, it is not the
    file."""
    media_type = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if media_type in _MESSAGE_TYPES:
        raise _NotAFile(_MESSAGE_TYPES[media_type])
    if media_type == "application/json" or media_type.endswith("+json"):
        raise _NotAFile(f"the server sent a JSON message ({media_type}), not a file")


def check_file(path: Path, ext: str) -> str | None:
    """Why the downloaded bytes at `path` are not a usable ``.ext`` file, or None if they are.

    Catches what a server sends instead of a file (a login or error page, a JSON error) and a
    WAV shorter than its own header promises.
    """
    size = path.stat().st_size
    with open(path, "rb") as source:
        head = source.read(512)
    if not head:
        return "the server sent an empty file"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<?xml")):
        return _WEB_PAGE
    if text.startswith(b"{") and ext not in ("json",):
        return "the server sent a JSON message, not a file: " + head[:200].decode(
            "utf-8", "replace"
        )
    if looks_like(head, MEDIA_TYPES.get(f".{ext}", "")) is False:
        return f"the bytes are not a .{ext} file (they start with {head[:8]!r})"
    if ext == "wav" and head[:4] == b"RIFF" and len(head) >= 8:
        promised = int.from_bytes(head[4:8], "little") + 8
        if promised not in (8, 0xFFFFFFFF + 8) and size < promised:
            return f"the file is cut short: its header promises {promised} bytes, got {size}"
    return None


def _frame(tasks_or_frame: pd.DataFrame | Iterable[Task]) -> pd.DataFrame:
    if isinstance(tasks_or_frame, pd.DataFrame):
        return tasks_or_frame.copy()
    items = list(tasks_or_frame)
    if not all(isinstance(t, Task) for t in items):
        raise InvalidRequestError("download takes Task objects or a frame from tabulate_tasks")
    return tasks_to_frame(items, per="work")


def _cell(row: pd.Series, name: str) -> Any:
    value = row.get(name)
    return (
        None
        if value is None or value is pd.NA or (isinstance(value, float) and value != value)
        else value
    )


def _whole(value: Any) -> int | None:
    try:
        return None if value is None or pd.isna(value) else int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def download(
    tasks_or_frame: pd.DataFrame | Iterable[Task],
    folder: str | os.PathLike[str],
    *,
    client: Client | None = None,
    overwrite: bool = False,
    progress: bool = True,
    max_workers: int = 4,
    max_bytes: int | None = None,
) -> pd.DataFrame:
    """Save each work's file into `folder`; return the frame with ``local_path`` (and
    ``download_error``) columns.

    Files are named by prompt, seed, steps and a short task id (see `file_name`); two works
    never share a name. Each streams to a temporary name and is renamed only when complete and
    checked (not an HTML page or JSON message by its Content-Type or its first bytes, not
    shorter than promised), so an interrupted or bad download never leaves a file under the real
    name. A file larger than `max_bytes` (default 512 MiB) is an error, stopped as soon as it
    passes the cap. Existing files are kept unless `overwrite`. Relative
    work URLs are resolved against the client's base URL. A failed download (or a folder that
    cannot be written) is recorded in its row's ``download_error``; the rest go on.
    """
    frame = _frame(tasks_or_frame)
    url_column = "url" if "url" in frame.columns else "audio_url"
    if url_column not in frame.columns or "task_id" not in frame.columns:
        raise InvalidRequestError(
            "the frame needs task_id and url (or audio_url) columns: make it with tabulate_tasks"
        )
    target = Path(folder)
    local_paths: list[str | None] = [None] * len(frame)
    download_errors: list[str | None] = [None] * len(frame)
    folder_problem: str | None = None
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        folder_problem = f"cannot create the folder {str(target)!r}: {err.strerror or err}"
    client = client or Client()
    planned = _plan(frame, url_column, client.base_url, target)
    jobs: dict[Path, tuple[str, list[int]]] = {}
    for position, url, path in planned:
        if folder_problem:
            download_errors[position] = folder_problem
            continue
        try:
            present = path.is_file()
        except OSError:
            present = False
        if present and not overwrite:
            local_paths[position] = str(path)
            continue
        jobs.setdefault(path, (url, []))[1].append(position)

    def fetch(job: tuple[Path, tuple[str, list[int]]]) -> tuple[list[int], str | None, str | None]:
        path, (url, positions) = job
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            with open(partial, "wb") as sink:
                client.fetch_file(url, sink, on_headers=refuse_messages, max_bytes=max_bytes)
            problem = check_file(partial, path.suffix.lstrip("."))
            if problem:
                return positions, None, f"download {url}: {problem}"
            os.replace(partial, path)
            return positions, str(path), None
        except _NotAFile as err:
            return positions, None, f"download {url}: {err}"
        except (QubicoError, OSError) as err:
            return positions, None, str(err)
        finally:
            with contextlib.suppress(OSError):  # a folder gone read-only: nothing to remove
                partial.unlink(missing_ok=True)

    with (
        progress_bar(len(jobs), "downloading", progress) as bar,
        Workers(max(1, min(max_workers, len(jobs) or 1))) as pool,
    ):
        for positions, path_text, problem in pool.map(fetch, jobs.items()):
            for position in positions:
                local_paths[position] = path_text
                download_errors[position] = problem
            bar.update(1)
    frame["local_path"] = pd.array(local_paths, dtype="string")
    frame["download_error"] = pd.array(download_errors, dtype="string")
    return frame


def _plan(
    frame: pd.DataFrame, url_column: str, base_url: str, target: Path
) -> list[tuple[int, str, Path]]:
    """(row position, absolute URL, path) for each row with a URL; distinct works get distinct
    names (compared without letter case, as macOS and Windows do)."""
    per_task: dict[str, int] = {}
    rows: list[tuple[int, str, str, Any, tuple[str, int, str]]] = []
    for position, (_, row) in enumerate(frame.iterrows()):
        url = _cell(row, url_column)
        if not isinstance(url, str) or not url:
            continue
        task_id = str(row["task_id"])
        index = _whole(_cell(row, "work_index")) or 0
        rows.append((position, url, task_id, row, (task_id, index, url)))
        per_task[task_id] = per_task.get(task_id, 0) + 1
    names: dict[tuple[str, int, str], str] = {}
    owner: dict[str, tuple[str, int, str]] = {}
    for _position, url, task_id, row, key in rows:
        if key in names:
            continue
        n_works = _whole(_cell(row, "n_works")) or 0
        content_type, prompt = _cell(row, "content_type"), _cell(row, "prompt")
        for id_chars in (_SHORT_ID_CHARS, 16, 64):
            name = file_name(
                task_id,
                key[1],
                url,
                content_type if isinstance(content_type, str) else None,
                prompt=prompt if isinstance(prompt, str) else None,
                seed=_whole(_cell(row, "seed")),
                steps=_whole(_cell(row, "steps")),
                several=max(n_works, per_task[task_id]) > 1,
                id_chars=id_chars,
            )
            if owner.get(name.lower(), key) == key:
                break
        else:  # the same task id twice with different URLs: number them
            stem, ext = name.rsplit(".", 1)
            number = 2
            while f"{stem}-{number}.{ext}".lower() in owner:
                number += 1
            name = f"{stem}-{number}.{ext}"
        owner[name.lower()] = key
        names[key] = name
    return [
        (position, file_url(url, base_url), target / names[key])
        for position, url, _task_id, _row, key in rows
    ]
