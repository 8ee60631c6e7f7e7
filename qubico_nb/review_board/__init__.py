"""The review board: judge generations side by side, blind if you like, verdicts kept on disk."""

from __future__ import annotations

from ..store.verdicts import Verdict, VerdictStore
from .widget import Review, review

__all__ = ["Review", "Verdict", "VerdictStore", "review"]
