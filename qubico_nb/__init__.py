"""qubico-nb: look at, hear and compare Qubico generative-audio tasks in Jupyter notebooks."""

__version__ = "0.1.0"

from .client import Client
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

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConfigurationError",
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
    "Usage",
    "WaitTimeoutError",
    "Work",
    "__version__",
]
