"""qubico-nb: look at, hear and compare Qubico generative-audio tasks in Jupyter notebooks."""

from ._version import __version__
from .batch import GridSubmitError, submit_grid, tabulate_tasks, wait_all
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
    "WaitTimeoutError",
    "Work",
    "__version__",
    "compare",
    "connect",
    "download",
    "submit_grid",
    "tabulate_tasks",
    "wait_all",
]
