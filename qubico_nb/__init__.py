"""qubico-nb: look at, hear and compare Qubico generative-audio tasks in Jupyter notebooks.

Names load on first use, so ``import qubico_nb.sandbox`` or the CLI does not pay for pandas and
ipywidgets.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .batch import GridSubmitError, WaitAllError, submit_grid, tabulate_tasks, wait_all
    from .client import Client
    from .compare import Comparison, compare
    from .connection import connect
    from .download import download
    from .errors import (
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        InvalidRequestError,
        NotFoundError,
        PermissionDeniedError,
        ProtocolError,
        QubicoError,
        RateLimitError,
        ServerError,
        TaskFailedError,
        WaitTimeoutError,
    )
    from .models import Status, Task, TaskError, Usage, Work
    from .viewer import TaskViewer
    from .webhook import parse_webhook

_EXPORTS = {
    "APIConnectionError": "errors",
    "APIStatusError": "errors",
    "APITimeoutError": "errors",
    "AuthenticationError": "errors",
    "BadRequestError": "errors",
    "Client": "client",
    "Comparison": "compare",
    "ConfigurationError": "errors",
    "GridSubmitError": "batch",
    "WaitAllError": "batch",
    "InvalidRequestError": "errors",
    "NotFoundError": "errors",
    "PermissionDeniedError": "errors",
    "ProtocolError": "errors",
    "QubicoError": "errors",
    "RateLimitError": "errors",
    "ServerError": "errors",
    "Status": "models",
    "Task": "models",
    "TaskError": "models",
    "TaskFailedError": "errors",
    "TaskViewer": "viewer",
    "Usage": "models",
    "WaitTimeoutError": "errors",
    "Work": "models",
    "compare": "compare",
    "connect": "connection",
    "download": "download",
    "submit_grid": "batch",
    "tabulate_tasks": "batch",
    "wait_all": "batch",
    "parse_webhook": "webhook",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qubico_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "Comparison",
    "ConfigurationError",
    "GridSubmitError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProtocolError",
    "QubicoError",
    "RateLimitError",
    "ServerError",
    "Status",
    "Task",
    "TaskError",
    "TaskFailedError",
    "TaskViewer",
    "Usage",
    "WaitAllError",
    "WaitTimeoutError",
    "Work",
    "__version__",
    "compare",
    "connect",
    "download",
    "parse_webhook",
    "submit_grid",
    "tabulate_tasks",
    "wait_all",
]
