"""The one error of `qubico_nb._tags`."""

from __future__ import annotations

from ..errors import QubicoError


class MetadataError(QubicoError, ValueError):
    """The bytes are not a media file whose metadata can be removed (unknown or damaged): they
    must not reach a blind listener as they are."""


def damaged(kind: str, why: str) -> MetadataError:
    return MetadataError(f"cannot remove metadata from this {kind} file: {why}")
