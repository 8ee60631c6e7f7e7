"""A local, Qubico-compatible HTTP server: the embedded default backend for demos and tests.

It imports nothing from the client side of qubico_nb, so each can be tested against the other.
Modules: ``app`` (the `Sandbox`), ``routes`` (the one route table), ``endpoints`` (what each
endpoint does), ``server`` (HTTP plumbing), ``world`` (tasks and account, validated by
`qubico_nb.catalogue`), ``render`` (both schemas), ``tracks`` (a task's file, by model): ``audio``
(MMAudio's textures, WAV/MP3), ``music`` (ACE-Step, DiffRhythm), ``speech`` (TTS); ``mp4``,
``faults``, ``webhooks``, ``assets``.
"""

from .app import SCHEMAS, OptionError, Sandbox
from .audio import AUDIO_FORMATS
from .faults import FAULT_KINDS, FaultRule
from .routes import ENDPOINTS
from .world import FAIL_TRIGGER, PRESETS

__all__ = [
    "AUDIO_FORMATS",
    "ENDPOINTS",
    "FAIL_TRIGGER",
    "FAULT_KINDS",
    "PRESETS",
    "SCHEMAS",
    "FaultRule",
    "OptionError",
    "Sandbox",
]
