"""The verdict store: one JSON line per verdict, appended atomically, read back after a restart.

A verdict is a full snapshot of one rater's judgement of one task (score, best pick, note, ...),
so the newest line per ``(rater, task_id)`` is the whole truth and older lines are history.
Each append is one ``write`` of complete lines on an ``O_APPEND`` descriptor, flushed and
fsynced, under an advisory lock where the OS has one: a crash leaves at most one partial last
line, which reading skips and the next append starts on a fresh line.

**One declaration of a verdict.** `Verdict`'s fields carry, in their metadata, how each is read
back from a line (and when a line is refused), its column in a verdict frame
(`VERDICT_COLUMNS`), and whether it is one of the rater's marks the board shows
(`MARK_FIELDS`: synced to the page and drawn by the static view). Add a field there and the
store, the frames, the board's marks and the static view follow.

**Bounded waits.** An append waits at most `VerdictStore.lock_timeout` (2 s) for another
process's lock, then raises `StoreBusyError` having written nothing; the caller keeps the
verdict and tries again (the review board does, in the background). Verdicts that still cannot
be written when the kernel exits are set aside in a file of their own next to the store
(``<store>.unsaved-<pid>-<n>.jsonl``): `read` includes them and the next append folds them in.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import QubicoError

if TYPE_CHECKING:
    import pandas as pd

try:  # advisory locking keeps two kernels appending to one file from interleaving
    import fcntl
except ImportError:  # pragma: no cover - Windows: O_APPEND single writes are still whole lines
    fcntl = None  # type: ignore[assignment]

#: The file suffix of a verdict store named after its review.
SUFFIX = ".verdicts.jsonl"
#: The largest score magnitude a verdict may hold: any listening scale is far inside it, and
#: sums of many such scores stay finite.
SCORE_LIMIT = 1e9
#: The largest level-matching gain a verdict may record, in dB either way.
GAIN_LIMIT_DB = 60.0
#: The oldest and newest years a ``rated_at`` may name (pandas' nanosecond times end in 2262).
_YEARS = (1900, 2261)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})")


#: Numbers the set-aside files of this process, whichever store object writes them.
_aside_numbers = itertools.count()
#: Stores (absolute paths) whose lock was held past the wait at this process's last try, with
#: no write since: whoever writes next knows not to wait for it as if it were free.
_busy_paths: set[str] = set()


class StoreBusyError(QubicoError, TimeoutError):
    """Another process held the verdict store's lock past the wait: nothing was written."""


# -- how each field is read back ----------------------------------------------------------------
Reader = Callable[[Any], Any]


def _utf8(text: str) -> str:
    """`text` if UTF-8 can hold it: a lone surrogate (``"\\ud800"`` in JSON) cannot, and would
    break the kernel's messages to the page."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end]
        raise ValueError(
            f"text holding a lone surrogate ({bad!a}), which is not UTF-8; remove it"
        ) from None
    return text


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not text")
    return _utf8(value)


def _key_text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("empty or not text")
    return _utf8(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):  # "false" is text, and text is truthy: never guess
        raise ValueError("not true or false")
    return value


def _finite(value: Any, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("not a number")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError("too large") from None
    if not math.isfinite(number) or abs(number) > limit:
        raise ValueError(f"not a finite number within ±{limit:g}")
    return number


def _score(value: Any) -> float | None:
    return None if value is None else _finite(value, SCORE_LIMIT)


def _gain(value: Any) -> float | None:
    return None if value is None else _finite(value, GAIN_LIMIT_DB)


def _seed(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ValueError("not a seed")
    return value


def _timestamp(value: Any) -> str:
    """ISO 8601 with a UTC offset, in years pandas can hold; kept as written."""
    if not isinstance(value, str) or not _ISO.fullmatch(value):
        raise ValueError("not an ISO 8601 time with an offset")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
    if not _YEARS[0] <= moment.year <= _YEARS[1]:
        raise ValueError("a year out of range")
    return value


def _answers(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError("answers are not an object")
    try:
        _utf8(json.dumps(value, ensure_ascii=False, allow_nan=False))
    except (TypeError, RecursionError):
        raise ValueError("answers hold something that is not a JSON value") from None
    except ValueError as exc:
        raise ValueError(f"answers: {exc}") from None
    return value


def _field(
    reader: Reader,
    *,
    column: str | None = None,
    mark: bool = False,
    shown: Callable[[Any], str | None] | None = None,
) -> dict[str, Any]:
    """A verdict field's metadata: `reader` checks and converts a line's value (ValueError to
    refuse the line); `column` is its dtype in a verdict frame (None: not a column); `mark`
    puts it in the marks the board shows, and `shown` is its text in the static view."""
    return {"reader": reader, "column": column, "mark": mark, "shown": shown}


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _score_text(value: Any) -> str | None:
    return None if value is None else f"score {value:g}"


@dataclass(frozen=True)
class Verdict:
    """One rater's judgement of one task, as shown at `position` (A, B, ...) in its row.

    ``gain_db`` is the level-matching gain the card played at when it was judged (0 when the
    board played it unchanged, None when unknown); ``answers`` holds what a test design asks
    beyond a score (a design's own fields, JSON values: a pairwise board keeps
    ``{"pairs": {other task id: {"first": bool, "choice": "a" | "b" | "tie"}}}``); ``test`` is
    the id of the exported listening test a verdict came back from (None when it was made on
    the board itself).
    """

    task_id: str = field(metadata=_field(_key_text, column="string"))
    rater: str = field(metadata=_field(_text, column="string"))
    score: float | None = field(
        default=None, metadata=_field(_score, column="Float64", mark=True, shown=_score_text)
    )
    best: bool = field(
        default=False,
        metadata=_field(
            _flag, column="boolean", mark=True, shown=lambda v: "★ best" if v else None
        ),
    )
    note: str = field(
        default="",
        metadata=_field(_text, column="string", mark=True, shown=lambda v: f"“{v}”" if v else None),
    )
    rated_at: str = field(
        default_factory=lambda: now_iso(),
        metadata=_field(_timestamp, column="datetime64[ns, UTC]"),
    )
    blind: bool = field(default=False, metadata=_field(_flag, column="boolean"))
    position: str | None = field(default=None, metadata=_field(_optional_text, column="string"))
    review: str | None = field(default=None, metadata=_field(_optional_text))
    shuffle_seed: int | None = field(default=None, metadata=_field(_seed))
    gain_db: float | None = field(default=None, metadata=_field(_gain, column="Float64"))
    answers: Mapping[str, Any] = field(
        default_factory=dict, metadata=_field(_answers, column="object", mark=True)
    )
    test: str | None = field(default=None, metadata=_field(_optional_text, column="string"))

    def to_json(self) -> str:
        """One line of JSON (no newline inside: notes with newlines are escaped). Fields are
        read directly: `asdict` deep-copies every answer, which made writing thousands of
        imported verdicts slow."""
        values = {spec.name: getattr(self, spec.name) for spec in _FIELDS}
        values["answers"] = dict(self.answers)
        return json.dumps(values, ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    def mark(self) -> dict[str, Any]:
        """The fields the board shows as the rater's marks (`MARK_FIELDS`)."""
        return {name: getattr(self, name) for name in MARK_FIELDS}

    def check(self) -> None:
        """ValueError naming the first field that would not read back as it is (its reader
        refuses it): what the board checks before it keeps a verdict."""
        for spec in fields(self):
            try:
                spec.metadata["reader"](getattr(self, spec.name))
            except ValueError as exc:
                raise ValueError(f"{spec.name}: {exc}") from None

    @classmethod
    def from_obj(cls, obj: object, *, scale: tuple[float, float] | None = None) -> Verdict:
        """A verdict from a parsed line, each field as its reader allows; ValueError if the
        line is not one (or, given `scale`, its score lies outside it)."""
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        values: dict[str, Any] = {}
        for spec in _FIELDS:
            if spec.name in obj:
                try:
                    values[spec.name] = spec.metadata["reader"](obj[spec.name])
                except ValueError as exc:
                    raise ValueError(f"{spec.name}: {exc}") from None
            elif spec.name in ("task_id", "rater", "rated_at"):
                raise ValueError(f"no {spec.name}")
        score = values.get("score")
        if scale is not None and score is not None and not scale[0] <= score <= scale[1]:
            raise ValueError(f"score {score:g} outside the scale {scale[0]:g}..{scale[1]:g}")
        return cls(**values)


#: The fields of a verdict, read once (`dataclasses.fields` builds a new tuple on every call).
_FIELDS = fields(Verdict)
#: Columns of a verdict frame (`verdict_frame`, `Review.verdicts`), with their dtypes.
VERDICT_COLUMNS: dict[str, str] = {
    spec.name: spec.metadata["column"] for spec in fields(Verdict) if spec.metadata["column"]
}
#: The rater's marks the board shows per card, in order, with their static-view text.
MARK_FIELDS: dict[str, Callable[[Any], str | None] | None] = {
    spec.name: spec.metadata["shown"] for spec in fields(Verdict) if spec.metadata["mark"]
}


def verdict_frame(verdicts: Iterable[Verdict]) -> pd.DataFrame:
    """Verdicts as a frame of `VERDICT_COLUMNS` (dtypes as declared there), in the given order."""
    import pandas as pd

    items = list(verdicts)
    columns: dict[str, pd.Series[Any]] = {}
    for name, dtype in VERDICT_COLUMNS.items():
        values = [getattr(v, name) for v in items]
        if dtype.startswith("datetime"):
            columns[name] = pd.Series(
                pd.to_datetime(values, utc=True, format="ISO8601"), dtype=dtype
            )
        elif dtype == "object":
            columns[name] = pd.Series([dict(v) for v in values], dtype=object)
        else:
            columns[name] = pd.Series([pd.NA if v is None else v for v in values], dtype=dtype)
    return pd.DataFrame(columns, columns=list(VERDICT_COLUMNS))


def latest(verdicts: Iterable[Verdict]) -> dict[tuple[str, str], Verdict]:
    """The newest verdict per ``(rater, task_id)``: the latest ``rated_at``, and of equal
    times the one read last."""
    out: dict[tuple[str, str], Verdict] = {}
    stamps: dict[tuple[str, str], datetime] = {}
    for verdict in verdicts:
        key = (verdict.rater, verdict.task_id)
        when = _moment(verdict.rated_at)
        if key not in out or when >= stamps[key]:
            out[key], stamps[key] = verdict, when
    return out


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))


class VerdictStore:
    """Verdicts in a JSON-lines file; nothing else opens that file.

    `append` is safe against crashes and against other processes appending at the same time,
    and waits at most `lock_timeout` seconds for them; `read` returns every verdict that reads
    back as written, in file order; `latest` the newest per ``(rater, task_id)``.
    """

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = 2.0) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(
                f"the verdict store {self.path} is a folder; give a file path "
                f"such as {self.path / ('review' + SUFFIX)}"
            )
        self.lock_timeout = lock_timeout
        self._lock = threading.Lock()
        self._where = os.path.abspath(self.path)

    @property
    def busy(self) -> bool:
        """True when this process's last try at the store (through any `VerdictStore` object)
        found its lock held past the wait, and nothing was written since."""
        return self._where in _busy_paths

    def __repr__(self) -> str:
        return f"VerdictStore({str(self.path)!r})"

    @contextmanager
    def _locked(self, descriptor: int) -> Iterator[None]:
        deadline = time.monotonic() + self.lock_timeout
        if not self._lock.acquire(timeout=max(0.0, self.lock_timeout)):
            raise self._busy()
        try:
            if fcntl is not None:
                pause = 0.005
                while True:
                    try:
                        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        _busy_paths.discard(self._where)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise self._busy() from None
                        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                        pause = min(pause * 2, 0.1)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            self._lock.release()

    def _busy(self) -> StoreBusyError:
        _busy_paths.add(self._where)
        return StoreBusyError(
            f"the verdict store {self.path} is locked by another process "
            f"(waited {self.lock_timeout:g} s); nothing was written"
        )

    def append(self, verdict: Verdict) -> None:
        """Add one verdict durably: one write of a whole line, then flush and fsync."""
        self.append_many([verdict])

    def append_many(self, verdicts: Iterable[Verdict]) -> None:
        """Add several verdicts in one write (a best pick and the picks it clears), after any
        set aside earlier; StoreBusyError (nothing written) when the lock stays held."""
        text = "".join(v.to_json() + "\n" for v in verdicts)
        if not text:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            with self._locked(descriptor):
                aside = self._set_aside_files()
                earlier = "".join(
                    _whole_lines(p.read_bytes().decode("utf-8", "replace")) for p in aside
                )
                text = earlier + text
                if not _ends_with_newline(descriptor):
                    text = "\n" + text  # a crash cut the last line: never glue onto it
                data = text.encode("utf-8")
                written = 0
                while written < len(data):
                    written += os.write(descriptor, data[written:])
                os.fsync(descriptor)
                for done in aside:
                    done.unlink(missing_ok=True)
        finally:
            os.close(descriptor)

    def set_aside(self, verdicts: Iterable[Verdict]) -> Path | None:
        """Write verdicts that could not be appended to a file of their own next to the store
        (no lock needed: the name is new, and no file is ever replaced); `read` includes it and
        the next append folds it in. Returns its path (None when there was nothing to write)."""
        data = "".join(v.to_json() + "\n" for v in verdicts).encode("utf-8")
        if not data:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a name no reader looks at, then published under a name of its own.
        descriptor, partial = tempfile.mkstemp(
            prefix=f"{self.path.name}.unsaved-", suffix=".partial", dir=self.path.parent
        )
        try:
            with open(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            return self._publish(Path(partial), data)
        finally:
            Path(partial).unlink(missing_ok=True)

    def _publish(self, partial: Path, data: bytes) -> Path:
        """`partial` under the first free ``<store>.unsaved-<pid>-<n>.jsonl``: a hard link,
        which fails rather than replace a file another board or process set aside there (on a
        file system without links, the bytes are written to a file created only if new)."""
        while True:
            target = self.path.with_name(
                f"{self.path.name}.unsaved-{os.getpid()}-{next(_aside_numbers)}.jsonl"
            )
            try:
                os.link(partial, target)
                return target
            except FileExistsError:
                continue
            except OSError:  # no hard links here
                pass
            try:
                descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            with open(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            return target

    def _set_aside_files(self) -> list[Path]:
        return sorted(self.path.parent.glob(f"{glob_escape(self.path.name)}.unsaved-*.jsonl"))

    def read(self, *, scale: tuple[float, float] | None = None) -> list[Verdict]:
        """Every verdict that reads back as written, in file order (then those set aside).

        A line that does not (cut short, not JSON, nested too deep, a field of the wrong kind,
        a time that is not one, a score that is not finite or, given `scale`, outside it) is
        skipped; one warning says how many were.
        """
        sources = [self.path, *self._set_aside_files()]
        verdicts: list[Verdict] = []
        bad = 0
        for source in sources:
            try:
                raw = source.read_bytes()
            except FileNotFoundError:
                continue
            for line in raw.split(b"\n"):
                if not line.strip():
                    continue
                try:
                    verdicts.append(Verdict.from_obj(json.loads(line.decode("utf-8")), scale=scale))
                except (ValueError, UnicodeDecodeError, RecursionError):
                    bad += 1
        if bad:
            warnings.warn(
                f"{self.path}: skipped {bad} line(s) that are not verdicts this board can read "
                "(cut short, not JSON, a field of the wrong kind, text that is not UTF-8, or a "
                "score outside the scale); the other verdicts are loaded",
                stacklevel=2,
            )
        return verdicts

    def latest(self, *, scale: tuple[float, float] | None = None) -> dict[tuple[str, str], Verdict]:
        """The newest verdict per ``(rater, task_id)`` (see `latest`)."""
        return latest(self.read(scale=scale))


def glob_escape(name: str) -> str:
    """`name` with glob's special characters taken literally."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _whole_lines(text: str) -> str:
    """`text` without a cut last line (a set-aside file is written whole, but be sure)."""
    whole = text.split("\n")[:-1]
    return "".join(line + "\n" for line in whole)


def _ends_with_newline(descriptor: int) -> bool:
    size = os.fstat(descriptor).st_size
    if size == 0:
        return True
    return os.pread(descriptor, 1, size - 1) == b"\n"


__all__ = [
    "MARK_FIELDS",
    "SUFFIX",
    "VERDICT_COLUMNS",
    "StoreBusyError",
    "Verdict",
    "VerdictStore",
    "latest",
    "now_iso",
    "verdict_frame",
]
