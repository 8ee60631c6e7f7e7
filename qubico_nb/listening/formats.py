"""`read_results`: listening-test results written by webMUSHRA and BeaqleJS, as a verdict frame.

webMUSHRA (github.com/audiolabs/webMUSHRA) appends one CSV per test type to
``results/<testId>/`` (its ``service/write.php``): ``session_test_id``, the questionnaire's
fields (one column each, e.g. ``email``, ``age``), then per type:

- ``mushra.csv``: session_uuid, trial_id, rating_stimulus, rating_score, rating_time,
  rating_comment (the hidden reference is the stimulus "reference", the anchors "anchor35" and
  "anchor70");
- ``lms.csv`` / ``lss.csv`` (Likert multi / single stimulus): trial_id, stimuli_rating (padded
  with spaces, "NA" when not rated), stimuli, rating_time;
- ``bs1116.csv``: trial_id, rating_reference, rating_non_reference, rating_reference_score,
  rating_non_reference_score, rating_time, choice_comment;
- ``paired_comparison.csv`` records whether the rater found the reference (correct/incorrect),
  a detection test rather than a preference, so it is refused here.

BeaqleJS (github.com/HSU-ANT/beaqlejs) saves one JSON array per rater (``js/beaqle.js``, as a
download or through ``web_service/beaqleJS_Service.php``, often with a .txt suffix): per test
set ``{"TestID", "Runtime", ...}`` and last ``{"UserName", "UserEmail", "UserComment"}``. A
MUSHRA set holds ``"rating": {file id: score}`` (the hidden reference is the file id
"Reference"); a preference set holds ``"PresentationOrder": "A=B, B=A"`` (which of the
config's files A and B each button played) and ``"Preference": "A"`` (the button chosen).
ABX sets are stored as bare true/false and refused (a detection test).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import frame as vf

PathLike = str | os.PathLike[str]
FORMATS = ("webmushra", "beaqlejs")
_SUFFIXES = {".csv": "webmushra", ".json": "beaqlejs", ".txt": "beaqlejs"}


def read_results(
    path: PathLike | Sequence[PathLike],
    format: str | None = None,
    *,
    rater: str | None = None,
    values: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Read listening-test results from webMUSHRA (CSV) or BeaqleJS (JSON) into a verdict frame.

    `path` is a results file, a folder of them (searched recursively) or a list of either;
    `format` is "webmushra" or "beaqlejs" (by default from the suffix: .csv is webMUSHRA, .json
    and .txt BeaqleJS). The frame has one row per judgement: ``rater``, ``item`` (webMUSHRA's
    trial_id, BeaqleJS's TestID), ``condition`` (the stimulus or file id) and ``score`` for rating
    tests, or ``rater``, ``item``, ``a``, ``b``, ``choice`` ("a" or "b") for BeaqleJS preference
    tests, plus the tool's own columns (test, time, comment, file). Missing ratings are NaN.

    `rater` picks the column that names a rater: webMUSHRA's mushra.csv has a session_uuid per
    rater (the default); its other files need a questionnaire field (``rater="email"``).
    BeaqleJS names a rater by UserName (the default), ``rater="UserEmail"``, or ``rater="file"``
    (each file a rater). `values` maps Likert answers that are words to numbers
    (``values={"bad": 1, "poor": 2, ...}``).
    """
    files = _files(path, format)
    kind = format or _format_of(files)
    if kind not in FORMATS:
        raise ValueError(f"format must be 'webmushra' or 'beaqlejs', not {format!r}")
    if kind == "webmushra":
        parts = [_read_webmushra(file, rater, values) for file in files]
    else:
        parts = _read_beaqlejs(files, rater, values)
    designs = {vf.design_of(p) for p in parts}
    if len(designs) > 1:
        raise ValueError(
            "these files mix rating and preference tests; read each kind on its own "
            f"({', '.join(str(f) for f in files[:4])})"
        )
    out = pd.concat(parts, ignore_index=True)
    if kind == "beaqlejs" and rater != "file":
        _warn_shared_raters(out)
    out.attrs["source"] = kind
    return out


def _files(path: PathLike | Sequence[PathLike], format: str | None) -> list[Path]:
    given = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not given:
        raise ValueError("read_results needs a file or a folder; it was given an empty list")
    suffixes = {s for s, f in _SUFFIXES.items() if format is None or f == format}
    files: list[Path] = []
    for item in given:
        place = Path(item)
        if place.is_dir():
            found = sorted(
                p for p in place.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
            )
            if not found:
                raise ValueError(
                    f"no results file ({', '.join(sorted(suffixes))}) in the folder {place}"
                )
            files.extend(found)
        elif place.is_file():
            files.append(place)
        else:
            raise FileNotFoundError(f"no such results file or folder: {place}")
    return files


def _format_of(files: list[Path]) -> str:
    kinds = {_SUFFIXES.get(f.suffix.lower()) for f in files}
    if None in kinds:
        odd = next(f for f in files if f.suffix.lower() not in _SUFFIXES)
        raise ValueError(
            f"cannot tell the format of {odd.name}; pass format='webmushra' or format='beaqlejs'"
        )
    if len(kinds) > 1:
        raise ValueError(
            "the files are of both formats (.csv and .json/.txt); pass format= to pick one"
        )
    return str(kinds.pop())


# -- webMUSHRA ----------------------------------------------------------------------------------

_WEBMUSHRA_TYPES: dict[str, tuple[str, ...]] = {
    "mushra": ("session_uuid", "trial_id", "rating_stimulus", "rating_score"),
    "bs1116": ("trial_id", "rating_reference", "rating_non_reference", "rating_reference_score"),
    "paired_comparison": ("trial_id", "choice_reference", "choice_non_reference", "choice_answer"),
    "likert": ("trial_id", "stimuli", "rating_time"),
}
#: Columns after the questionnaire's fields, which sit between session_test_id and these.
_WEBMUSHRA_OWN = {
    "session_uuid",
    "trial_id",
    "rating_stimulus",
    "rating_score",
    "rating_time",
    "rating_comment",
    "rating_reference",
    "rating_non_reference",
    "rating_reference_score",
    "rating_non_reference_score",
    "choice_comment",
    "choice_reference",
    "choice_non_reference",
    "choice_answer",
    "choice_time",
    "stimuli",
}


def _read_webmushra(
    file: Path, rater: str | None, values: Mapping[str, float] | None
) -> pd.DataFrame:
    try:
        raw = pd.read_csv(file, dtype=str, keep_default_na=False, skipinitialspace=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise ValueError(f"{file}: not a webMUSHRA results CSV ({error})") from error
    columns = set(raw.columns)
    kind = next((k for k, need in _WEBMUSHRA_TYPES.items() if set(need) <= columns), None)
    if "session_test_id" not in columns or kind is None:
        raise ValueError(
            f"{file}: not a webMUSHRA rating results file (mushra, lms, lss or bs1116 CSV); "
            f"its columns are {', '.join(raw.columns)}"
        )
    if kind == "paired_comparison":
        raise ValueError(
            f"{file}: webMUSHRA's paired comparison records whether the rater found the "
            "reference (correct/incorrect), a detection test, not a preference between "
            "conditions; read it with pandas.read_csv"
        )
    fields = [c for c in raw.columns if c not in _WEBMUSHRA_OWN and c != "session_test_id"]
    fields = [c for c in fields if not re.fullmatch(r"stimuli_rating\d*", c)]
    who = _webmushra_rater(file, raw, rater, fields)
    common = {"rater": who, "item": raw["trial_id"]}
    ours = {"rater", "item", "condition", "score", "time", "comment", "test", "file"}
    extra = {
        "test": raw["session_test_id"],
        **{f"participant_{c}" if c in ours else c: raw[c] for c in fields if c != rater},
    }
    if kind == "mushra":
        table = pd.DataFrame(
            {
                **common,
                "condition": raw["rating_stimulus"],
                "score": _numbers(raw["rating_score"], file, values),
                "time": _numbers(raw["rating_time"], file, None),
                "comment": raw.get("rating_comment", pd.Series("", index=raw.index)),
                **extra,
            }
        )
    elif kind == "bs1116":
        shared = {**common, "time": _numbers(raw["rating_time"], file, None), **extra}
        reference = pd.DataFrame(
            {
                **shared,
                "condition": raw["rating_reference"],
                "score": _numbers(raw["rating_reference_score"], file, values),
            }
        )
        other = pd.DataFrame(
            {
                **shared,
                "condition": raw["rating_non_reference"],
                "score": _numbers(raw["rating_non_reference_score"], file, values),
            }
        )
        table = pd.concat([reference, other]).sort_index(kind="stable").reset_index(drop=True)
    else:
        ratings = [c for c in raw.columns if re.fullmatch(r"stimuli_rating\d*", c)]
        if ratings != ["stimuli_rating"]:
            raise ValueError(
                f"{file}: {len(ratings)} ratings per stimulus ({', '.join(ratings)}); a verdict "
                "frame holds one score: read it with pandas.read_csv and pick one"
            )
        table = pd.DataFrame(
            {
                **common,
                "condition": raw["stimuli"],
                "score": _numbers(raw["stimuli_rating"], file, values),
                "time": _numbers(raw["rating_time"], file, None),
                **extra,
            }
        )
    table["file"] = str(file)
    return _ordered_columns(table, ("rater", "item", "condition", "score"))


def _webmushra_rater(
    file: Path, raw: pd.DataFrame, rater: str | None, fields: list[str]
) -> pd.Series:
    if rater is None:
        if "session_uuid" in raw.columns:
            return raw["session_uuid"]
        raise ValueError(
            f"{file} has no session_uuid to tell raters apart; name the questionnaire field that "
            f"does with rater= (its fields: {', '.join(fields) or 'none: add one to the test'})"
        )
    if rater not in raw.columns:
        raise ValueError(
            f"{file} has no column {rater!r} to name raters; "
            f"its columns are {', '.join(raw.columns)}"
        )
    empty = raw[rater].str.strip() == ""
    if bool(empty.any()):
        raise ValueError(f"{file}: {int(empty.sum())} row(s) have an empty {rater!r}")
    return raw[rater]


def _numbers(text: pd.Series, file: Path | None, values: Mapping[str, float] | None) -> pd.Series:
    """Scores written as text: padded, "NA" or empty when missing; words through `values`."""
    stripped = text.astype(str).str.strip()
    missing = stripped.isin(["", "NA", "NaN", "null", "undefined"])
    if values:
        stripped = stripped.map(lambda v: values.get(v, v))
    try:
        return vf.numeric_scores(stripped.where(~missing, np.nan), "score")
    except ValueError as error:
        raise ValueError(f"{file}: {error}; or pass values={{...}} to read_results") from error


def _ordered_columns(table: pd.DataFrame, first: Iterable[str]) -> pd.DataFrame:
    head = list(first)
    return table[head + [c for c in table.columns if c not in head]]


# -- BeaqleJS -----------------------------------------------------------------------------------

_ORDER = re.compile(r"^\s*A\s*=\s*(?P<a>[^,]+?)\s*,\s*B\s*=\s*(?P<b>.+?)\s*$")


_RATING_COLUMNS = ("rater", "item", "condition", "score", "time", "audio", "comment", "file")


def _read_beaqlejs(
    files: list[Path], rater: str | None, values: Mapping[str, float] | None
) -> list[pd.DataFrame]:
    """All BeaqleJS files as one frame per kind of test (columns gathered first: one frame each,
    not one per file)."""
    ratings: dict[str, list[Any]] = {name: [] for name in _RATING_COLUMNS}
    choices: list[dict[str, Any]] = []
    for file in files:
        _beaqlejs_rows(file, rater, ratings, choices)
    parts = []
    if ratings["rater"]:
        table = pd.DataFrame(ratings)
        try:
            table["score"] = _numbers(table["score"].fillna(""), None, values)
        except ValueError:
            for file, part in table.groupby("file", sort=False):  # find the file to name
                _numbers(part["score"].fillna(""), Path(str(file)), values)
            raise
        parts.append(table)
    if choices:
        parts.append(_ordered_columns(pd.DataFrame(choices), ("rater", "item", "a", "b", "choice")))
    for table in parts:
        table["time"] = pd.to_numeric(table["time"], errors="coerce")
    return parts


def _beaqlejs_rows(
    file: Path, rater: str | None, ratings: dict[str, list[Any]], choices: list[dict[str, Any]]
) -> None:
    """Append one file's MUSHRA ratings (to the columns of `ratings`) and preferences."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{file}: not BeaqleJS results (not JSON: {error})") from error
    if not isinstance(data, list):
        raise ValueError(f"{file}: not BeaqleJS results (a JSON array of test sets is expected)")
    if any(isinstance(entry, bool) for entry in data):
        raise ValueError(
            f"{file}: BeaqleJS ABX results (true/false per test set) record whether the rater "
            "found X, a detection test, not a rating or a preference"
        )
    user = [e for e in data if isinstance(e, dict) and "UserName" in e and "TestID" not in e]
    sets = [e for e in data if isinstance(e, dict) and "TestID" in e]
    who = _beaqlejs_rater(file, user[-1] if user else {}, rater)
    comment = str(user[-1].get("UserComment") or "") if user else ""
    found = 0
    for entry in sets:
        item, runtime = str(entry["TestID"]), entry.get("Runtime")
        rating = entry.get("rating")
        if isinstance(rating, dict):
            names = entry.get("filename")
            names = names if isinstance(names, dict) else {}
            for file_id, score in rating.items():
                for column, value in zip(
                    _RATING_COLUMNS,
                    (
                        who,
                        item,
                        str(file_id),
                        score,
                        runtime,
                        names.get(file_id),
                        comment,
                        str(file),
                    ),
                    strict=True,
                ):
                    ratings[column].append(value)
                found += 1
        elif "PresentationOrder" in entry:
            choices.append(
                {"rater": who, "item": item, "time": runtime, **_preference(file, entry)}
                | {"comment": comment, "file": str(file)}
            )
            found += 1
    if not found:
        raise ValueError(f"{file}: no rated or preferred test set in these BeaqleJS results")


def _beaqlejs_rater(file: Path, user: dict[str, Any], rater: str | None) -> str:
    if rater == "file":
        return file.stem
    key = rater or "UserName"
    if key not in ("UserName", "UserEmail"):
        raise ValueError(
            f"BeaqleJS results name a rater by 'UserName', 'UserEmail' or 'file', not {rater!r}"
        )
    name = str(user.get(key) or "").strip()
    if name:
        return name
    if rater is None and str(user.get("UserEmail") or "").strip():
        return str(user["UserEmail"]).strip()
    return file.stem


def _preference(file: Path, entry: dict[str, Any]) -> dict[str, Any]:
    match = _ORDER.match(str(entry["PresentationOrder"]))
    if match is None:
        raise ValueError(
            f"{file}: test set {entry['TestID']!r} has an unreadable PresentationOrder "
            f"{entry['PresentationOrder']!r} (expected 'A=..., B=...')"
        )
    played = {"A": match["a"], "B": match["b"]}
    chosen = entry.get("Preference")
    choice: str | None = None
    if chosen in played:
        choice = "a" if played[chosen] == "A" else "b"
    elif chosen is not None:
        raise ValueError(
            f"{file}: test set {entry['TestID']!r} has Preference {chosen!r}; expected 'A' or 'B'"
        )
    return {"a": "A", "b": "B", "choice": choice, "shown_first": played["A"]}


def _warn_shared_raters(table: pd.DataFrame) -> None:
    files_per_rater = table.groupby("rater")["file"].nunique()
    shared = files_per_rater[files_per_rater > 1]
    if len(shared):
        names = ", ".join(f"{r!r} ({n} files)" for r, n in shared.items())
        warnings.warn(
            f"rater name(s) {names} appear in several result files; their verdicts are counted "
            "as one rater's. Pass rater='file' if these are different people",
            stacklevel=3,
        )
