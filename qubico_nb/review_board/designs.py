"""The board's test designs, and the deterministic schedules they need. Pure: no I/O.

- ``"score"``: a score per card on the board's scale, a best pick per row and a note (an
  ACR/MOS test);
- ``"mushra"``: a 0-100 slider per card, with an open reference and the same reference hidden
  among the cards (and low-passed anchors) when the board has one (ITU-R BS.1534-3), else a
  reference-free MUSHRA-style test;
- ``"pairwise"``: two cards at a time, a forced choice (optionally "no preference"), every pair
  of a row presented once to each rater, the order counterbalanced (`pair_schedule`).

**The per-rater shuffle.** An exported test re-shuffles rows and cards for every rater, in the
browser, from the rater's name and the test's id; the page (``static/export/plan.js``) and
`shuffled` here compute the same order, so a result can be checked: the seed of a shuffle is
the 32-bit FNV-1a hash of the UTF-8 text ``test_id + "\\x1f" + rater + "\\x1f" + what``
(`fnv1a`), its random numbers come from mulberry32 (`Mulberry32`), and the order is a
Fisher-Yates shuffle drawing ``j = floor(random() * (i + 1))`` for ``i = n-1 .. 1``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

DESIGNS = ("score", "mushra", "pairwise")
#: MUSHRA's scale (ITU-R BS.1534-3: a continuous 0-100 quality scale).
MUSHRA_SCALE = (0.0, 100.0)
#: What a pairwise choice may be: the first card, the second, or no preference.
CHOICES = ("a", "b", "tie")
#: The condition names the analysis gives cards that are not candidates.
HIDDEN_REFERENCE = "hidden reference"
#: Separates the parts of a shuffle's seed text (a control character no name contains).
SEPARATOR = "\x1f"

_MASK = 0xFFFFFFFF


def draws_waveforms(design: str) -> bool:
    """Whether the design's cards may show waveforms and spectrograms. Not MUSHRA's: the
    hidden reference would look exactly like the open one, and anchors like each other."""
    return design != "mushra"


def fnv1a(text: str) -> int:
    """The 32-bit FNV-1a hash of `text`'s UTF-8 bytes."""
    value = 0x811C9DC5
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x01000193) & _MASK
    return value


class Mulberry32:
    """mulberry32, a small 32-bit generator whose exact sequence the page reproduces with
    ``Math.imul``; not for secrets, only for an order that both sides agree on."""

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    def random(self) -> float:
        """The next number in [0, 1)."""
        self.state = (self.state + 0x6D2B79F5) & _MASK
        a = self.state
        t = ((a ^ (a >> 15)) * (1 | a)) & _MASK
        t = ((t + (((t ^ (t >> 7)) * (61 | t)) & _MASK)) & _MASK) ^ t
        return ((t ^ (t >> 14)) & _MASK) / 2**32


def seed_text(test_id: str, rater: str, what: str) -> str:
    """The text a shuffle's seed is hashed from."""
    return SEPARATOR.join((test_id, rater, what))


def shuffled(items: Sequence[T], test_id: str, rater: str, what: str) -> list[T]:
    """`items` in the order the page shows them to `rater` (`what` names the shuffle: "rows",
    "row:<key>", "pairs:<key>")."""
    out = list(items)
    generator = Mulberry32(fnv1a(seed_text(test_id, rater, what)))
    for i in range(len(out) - 1, 0, -1):
        j = int(generator.random() * (i + 1))
        out[i], out[j] = out[j], out[i]
    return out


def rater_slot(test_id: str, rater: str) -> int:
    """0 or 1: which half of the counterbalanced pair orders `rater` gets."""
    return fnv1a(seed_text(test_id, rater, "slot")) & 1


def pair_schedule(n: int, *, row: int, slot: int) -> list[tuple[int, int]]:
    """Every pair of `n` cards once, as (shown first, shown second) indices into the row's
    cards in their fixed order.

    The order of a pair flips when ``i + j + row + slot`` is odd, so: each rater hears every
    pair of every row once; within one row each card comes first in (n-1)/2 of its pairs
    (rounded either way); over two consecutive rows, or two raters of different slots, each
    ordered pair comes exactly once (position bias cancels).
    """
    if n < 0:
        raise ValueError("a row has no fewer than 0 cards")
    out = []
    for i in range(n):
        for j in range(i + 1, n):
            out.append((j, i) if (i + j + row + slot) % 2 else (i, j))
    return out


def check_design(design: object) -> str:
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {', '.join(map(repr, DESIGNS))}, not {design!r}")
    return str(design)


def secret_for(task_ids: Iterable[str]) -> bytes:
    """A key only the kernel knows (the board's task ids never reach a rater's page), from
    which the page's opaque names are derived."""
    return hashlib.sha256(SEPARATOR.join(sorted(set(task_ids))).encode("utf-8")).digest()


def identify(secret: bytes, settings: Any) -> str:
    """A test's id: the same board (tasks, design, scale, reference, anchors) gives the same
    id in any session, so a result file can be matched to it; nothing about it can be read
    back from the id."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def token(secret: bytes, name: str) -> str:
    """An opaque name for a card or file in the page (12 hex digits), stable for the board."""
    return hmac.new(secret, name.encode("utf-8"), hashlib.sha256).hexdigest()[:12]
