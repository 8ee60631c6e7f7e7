"""The verdict store: one JSON line per verdict, appended atomically, read back after a restart.

A verdict is a full snapshot of one rater's judgement of one task (score, best pick, note), so
the latest line per ``(rater, task_id)`` is the whole truth and older lines are history. Each
append is one ``write`` of a complete line on an ``O_APPEND`` descriptor, flushed and fsynced,
under an advisory lock where the OS has one: a crash leaves at most one partial last line,
which reading skips (with one warning) and the next append starts on a fresh line.
"""

from __future__ import annotations

import json
import math
import os
import threading
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

try:  # advisory locking keeps two kernels appending to one file from interleaving
    import fcntl
except ImportError:  # pragma: no cover - Windows: O_APPEND single writes are still whole lines
    fcntl = None  # type: ignore[assignment]

#: The file suffix of a verdict store named after its review.
SUFFIX = ".verdicts.jsonl"


@dataclass(frozen=True)
class Verdict:
    """One rater's judgement of one task, as shown at `position` (A, B, ...) in its row."""

    task_id: str
    rater: str
    score: float | None = None
    best: bool = False
    note: str = ""
    rated_at: str = field(default_factory=lambda: now_iso())
    blind: bool = False
    position: str | None = None
    review: str | None = None
    shuffle_seed: int | None = None

    def to_json(self) -> str:
        """One line of JSON (no newline inside: notes with newlines are escaped)."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_obj(cls, obj: object) -> Verdict:
        """A verdict from a parsed line; ValueError if it is not one."""
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        task_id, rater = obj.get("task_id"), obj.get("rater")
        if not isinstance(task_id, str) or not task_id or not isinstance(rater, str):
            raise ValueError("no task_id or rater")
        score = obj.get("score")
        if score is not None and (
            isinstance(score, bool)
            or not isinstance(score, (int, float))
            or not math.isfinite(score)
        ):
            raise ValueError(f"score {score!r} is not a number")
        seed = obj.get("shuffle_seed")
        return cls(
            task_id=task_id,
            rater=rater,
            score=None if score is None else float(score),
            best=bool(obj.get("best", False)),
            note=str(obj.get("note") or ""),
            rated_at=str(obj.get("rated_at") or ""),
            blind=bool(obj.get("blind", False)),
            position=None if obj.get("position") is None else str(obj.get("position")),
            review=None if obj.get("review") is None else str(obj.get("review")),
            shuffle_seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        )


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class VerdictStore:
    """Verdicts in a JSON-lines file; nothing else opens that file.

    `append` is safe against crashes and against other processes appending at the same time;
    `read` returns every well-formed verdict in file order; `latest` the newest per
    ``(rater, task_id)``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(
                f"the verdict store {self.path} is a folder; give a file path "
                f"such as {self.path / ('review' + SUFFIX)}"
            )
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"VerdictStore({str(self.path)!r})"

    @contextmanager
    def _locked(self, descriptor: int) -> Iterator[None]:
        with self._lock:
            if fcntl is not None:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(descriptor, fcntl.LOCK_UN)

    def append(self, verdict: Verdict) -> None:
        """Add one verdict durably: one write of a whole line, then flush and fsync."""
        self.append_many([verdict])

    def append_many(self, verdicts: Iterable[Verdict]) -> None:
        """Add several verdicts in one write (a best pick and the picks it clears)."""
        text = "".join(v.to_json() + "\n" for v in verdicts)
        if not text:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            with self._locked(descriptor):
                if not _ends_with_newline(descriptor):
                    text = "\n" + text  # a crash cut the last line: never glue onto it
                data = text.encode("utf-8")
                written = 0
                while written < len(data):
                    written += os.write(descriptor, data[written:])
                os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def read(self) -> list[Verdict]:
        """Every verdict in file order; corrupt lines are skipped with one warning in all."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        verdicts: list[Verdict] = []
        bad: list[int] = []
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                verdicts.append(Verdict.from_obj(json.loads(line.decode("utf-8"))))
            except (ValueError, UnicodeDecodeError):
                bad.append(number)
        if bad:
            shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
            warnings.warn(
                f"{self.path}: skipped {len(bad)} corrupt line(s) ({shown}); "
                "the other verdicts are loaded",
                stacklevel=2,
            )
        return verdicts

    def latest(self) -> dict[tuple[str, str], Verdict]:
        """The newest verdict per ``(rater, task_id)`` (the last line written wins)."""
        out: dict[tuple[str, str], Verdict] = {}
        for verdict in self.read():
            out[(verdict.rater, verdict.task_id)] = verdict
        return out


def _ends_with_newline(descriptor: int) -> bool:
    size = os.fstat(descriptor).st_size
    if size == 0:
        return True
    return os.pread(descriptor, 1, size - 1) == b"\n"


def verdict_dict(verdict: Verdict) -> dict[str, Any]:
    """A verdict as a plain dict (for frames)."""
    return asdict(verdict)


__all__ = ["SUFFIX", "Verdict", "VerdictStore", "now_iso", "verdict_dict"]
