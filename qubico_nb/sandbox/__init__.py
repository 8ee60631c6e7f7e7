"""A local, Qubico-compatible HTTP server: the embedded default backend for demos and tests.

It imports nothing from the client side of qubico_nb, so each can be tested against the other.
"""

from .faults import ENDPOINTS, FAULT_KINDS, FaultRule
from .server import SCHEMAS, Sandbox
from .world import FAIL_TRIGGER, PRESETS

__all__ = ["ENDPOINTS", "FAIL_TRIGGER", "FAULT_KINDS", "PRESETS", "SCHEMAS", "FaultRule", "Sandbox"]
