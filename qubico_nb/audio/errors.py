"""The error of a sound that cannot be measured."""

from __future__ import annotations

from ..errors import QubicoError


class AudioDecodeError(QubicoError, ValueError):
    """The bytes are not a sound soundfile can read (WAV, FLAC, OGG, MP3), are cut short, or
    declare more than the limits of `qubico_nb.audio.analysis` (rate, channels, length)."""
