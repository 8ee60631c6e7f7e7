"""Secrets removed by value from what a server answers, wherever it echoes them.

The one mechanism for every secret this package sends: the API key (the transport removes it
from every answer before a `Task` is made of it) and webhook secrets (the task cache removes
them before the store writes). A `Secrets` never shows its values: not in its repr, not in a
pickle, not in the locals of a frame an error passes (it is the only holder in those frames).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

#: A secret shorter than this (a sandbox's placeholder key, a test's "k") is removed only where
#: a whole string equals it: cut out of longer text it would garble words such as "task".
MIN_SECRET_CHARS = 8

#: Deeper than this, data is not checked (no real answer comes close): `TooDeep`.
MAX_DEPTH = 200


class TooDeep(ValueError):
    """The data nests deeper than `MAX_DEPTH`: it was not checked for secrets."""


class Secrets:
    """Some secret values, and what removes them from text and from JSON-like data."""

    __slots__ = ("_exact", "_long", "_written")

    def __init__(self, values: Iterable[object] = ()) -> None:
        self._exact = frozenset(v for v in values if isinstance(v, str) and v)
        self._long = tuple(
            sorted((s for s in self._exact if len(s) >= MIN_SECRET_CHARS), key=len, reverse=True)
        )
        #: Each secret as `json.dumps` writes it, either ``ensure_ascii``.
        self._written = tuple(
            {json.dumps(s, ensure_ascii=a)[1:-1] for s in self._exact for a in (True, False)}
        )

    def __bool__(self) -> bool:
        return bool(self._exact)

    def __repr__(self) -> str:
        return f"Secrets(<{len(self._exact)} hidden>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secrets hold secrets and are not picklable")

    def text(self, text: str, mark: str = "") -> str:
        """`text` with each secret replaced by `mark`: the whole text when it equals one, else
        every occurrence of one of at least `MIN_SECRET_CHARS`."""
        if text in self._exact:
            return mark
        for secret in self._long:
            if secret in text:
                text = text.replace(secret, mark)
        return text

    def in_json_text(self, text: str) -> bool:
        """Whether JSON that `json.dumps` wrote (either ``ensure_ascii``) holds a secret: the
        secret is in it as JSON writes it. Only for text this package wrote; any other may
        write one character otherwise (see `remove_from`)."""
        return any(written in text for written in self._written)

    def remove_from(self, value: Any, mark: str = "", *, source: bytes | None = None) -> Any:
        """`value` (JSON-like) rebuilt with every string in it, keys too and at any depth,
        cleaned by `text`; other values as they are. `source` is the JSON text `value` was
        read from, if any (it makes the check of an answer without a secret cheap). `TooDeep`
        past `MAX_DEPTH` levels (not returned rather than not checked)."""
        if not self._exact or not self._may_be_in(value, source):
            return value
        return self._clean(value, mark, 0)

    def _may_be_in(self, value: Any, source: bytes | None) -> bool:
        """False only when no string in `value` holds a secret. Most answers hold none, and
        the walk is slow, so: a secret that JSON writes as it is (no quote, backslash or
        control character) is in the JSON text of any value holding it, and in UTF-8 JSON
        without a backslash (no escape) every string is its text as written."""
        if any(_escaped(secret) for secret in self._exact):
            return True
        if source is not None and b"\\" not in source and json.detect_encoding(source) == "utf-8":
            return any(secret.encode("utf-8") in source for secret in self._exact)
        try:
            text = json.dumps(value, ensure_ascii=False, check_circular=False)
        except (TypeError, ValueError, RecursionError):
            return True  # not plain JSON: the walk decides
        return any(secret in text for secret in self._exact)

    def _clean(self, item: Any, mark: str, depth: int) -> Any:
        if isinstance(item, str):
            return self.text(item, mark)
        if depth > MAX_DEPTH:
            raise TooDeep(f"the data nests more than {MAX_DEPTH} levels deep")
        if isinstance(item, Mapping):
            return {
                self.text(str(k), mark): self._clean(v, mark, depth + 1) for k, v in item.items()
            }
        if isinstance(item, (list, tuple)):
            return [self._clean(part, mark, depth + 1) for part in item]
        return item


def _escaped(text: str) -> bool:
    """Whether JSON writes `text` otherwise than as it is (ensure_ascii off)."""
    return any(c in '"\\' or c < " " for c in text)
