"""What a JSON value from a server means as text, a whole number, a finite number or an object.

Each answers None (or an empty mapping) for a value it cannot read, never an exception: a server
may send anything, and one odd field must not sink a table. The parser (`models`) and the
frames read fields through these. A leaf module (stdlib only, nothing else of qubico_nb).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

#: The mapping a missing or non-object value reads as (read-only, shared).
EMPTY: Mapping[str, Any] = MappingProxyType({})

_INTEGER_TEXT = re.compile(r"\s*-?\d{1,40}\s*")


def as_mapping(value: object) -> Mapping[str, Any]:
    """An object as it is; anything else as `EMPTY`."""
    if type(value) is dict:
        return value
    if value is None or not isinstance(value, Mapping):
        return EMPTY
    return value


def as_text(value: object) -> str | None:
    """Text as it is, a number as its text (``42`` -> ``"42"``); None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:  # an integer of more digits than Python will print
            return None
    return None


def as_int(value: object) -> int | None:
    """A whole number, from an int, a whole float (``3.0``) or its text (``" 42 "``); None for
    anything else (booleans, fractions, text longer than 64 characters)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and len(value) <= 64 and _INTEGER_TEXT.fullmatch(value):
        return int(value)
    return None


def as_number(value: object) -> float | None:
    """A finite float, from a number or its text; None for anything else (booleans, infinities,
    NaN, integers too large for a float, text longer than 64 characters)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a float
            return None
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        if len(value) > 64:
            return None
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def as_positive(value: object) -> float | None:
    """`as_number`, when it is above zero; None otherwise."""
    number = as_number(value)
    return number if number and number > 0 else None
