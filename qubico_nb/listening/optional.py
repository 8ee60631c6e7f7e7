"""Optional libraries: imported when a function needs them, with an error naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str, needed_for: str) -> ModuleType:
    """Import `module`, or raise an ImportError that says which qubico-nb extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = module.split(".")[0]
        raise ImportError(
            f"{needed_for} needs {package}, which is not installed; install it with "
            f"pip install 'qubico-nb[{extra}]'"
        ) from error
