"""qubico-nb: look at, hear and compare Qubico generative-audio tasks in Jupyter notebooks.

Names load on first use, so ``import qubico_nb.sandbox`` or the CLI does not pay for pandas and
ipywidgets. No submodule shares a name with a public function (``compare`` lives in
``qubico_nb.comparison``), so importing a submodule never shadows a function.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

#: Every public name and the submodule it lives in: the one list `__all__` is derived from.
_EXPORTS: dict[str, str] = {
    # the client and its model
    "Client": "client",
    "connect": "connection",
    "Task": "models",
    "Work": "models",
    "Status": "models",
    "Usage": "models",
    "TaskError": "models",
    "parse_webhook": "webhook",
    # the notebook layer
    "TaskViewer": "viewer",
    "Comparison": "comparison",
    "compare": "comparison",
    "download": "downloads",
    "submit_grid": "batch",
    "estimate_cost": "grids",
    "CostEstimate": "grids",
    "tabulate_tasks": "batch",
    "wait_all": "batch",
    # judging: measure the sound, then review it
    "analyze": "audio",
    "analyze_file": "audio",
    "AudioAnalysis": "audio",
    "review": "review_board",
    "Review": "review_board",
    "read_results": "listening",
    # errors
    "QubicoError": "errors",
    "ConfigurationError": "errors",
    "InvalidRequestError": "errors",
    "APIConnectionError": "errors",
    "APITimeoutError": "errors",
    "CreateOutcomeUnknownError": "errors",
    "ProtocolError": "errors",
    "MalformedResponseError": "errors",
    "ResponseTooLargeError": "errors",
    "WebhookVerificationError": "errors",
    "APIStatusError": "errors",
    "BadRequestError": "errors",
    "AuthenticationError": "errors",
    "PermissionDeniedError": "errors",
    "NotFoundError": "errors",
    "RateLimitError": "errors",
    "ServerError": "errors",
    "TaskFailedError": "errors",
    "WaitTimeoutError": "errors",
    "GridSubmitError": "batch",
    "OverBudgetError": "grids",
    "WaitAllError": "batch",
    "AudioDecodeError": "audio",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:  # for type checkers and IDEs; tests/test_package.py keeps it equal to _EXPORTS
    from .audio import AudioAnalysis, AudioDecodeError, analyze, analyze_file
    from .batch import GridSubmitError, WaitAllError, submit_grid, tabulate_tasks, wait_all
    from .client import Client
    from .comparison import Comparison, compare
    from .connection import connect
    from .downloads import download
    from .errors import (
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        CreateOutcomeUnknownError,
        InvalidRequestError,
        MalformedResponseError,
        NotFoundError,
        PermissionDeniedError,
        ProtocolError,
        QubicoError,
        RateLimitError,
        ResponseTooLargeError,
        ServerError,
        TaskFailedError,
        WaitTimeoutError,
        WebhookVerificationError,
    )
    from .grids import CostEstimate, OverBudgetError, estimate_cost
    from .listening import read_results
    from .models import Status, Task, TaskError, Usage, Work
    from .review_board import Review, review
    from .viewer import TaskViewer
    from .webhook import parse_webhook


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qubico_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
