"""One error hierarchy for everything qubico_nb raises; every message says what to do next."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Task


class QubicoError(Exception):
    """Base class of every qubico_nb error."""


class ConfigurationError(QubicoError, ValueError):
    """The client is set up wrongly (no API key, an insecure URL, a bad argument)."""


class InvalidRequestError(QubicoError, ValueError):
    """An argument fails the API's rules; caught before anything is sent."""


class APIConnectionError(QubicoError):
    """The server could not be reached, or the connection broke before an answer came."""


class APITimeoutError(QubicoError):
    """The server took longer than the client's ``timeout`` to answer."""


class CreateOutcomeUnknownError(APIConnectionError):
    """A create was sent but its answer was lost (cut off, not JSON, 502/504): the task may exist
    and be billed. ``model``, ``task_type``, ``input`` and ``sent_at`` (Unix seconds) identify it;
    look for it with ``client.history(since=...)`` before sending it again."""

    def __init__(self, message: str, *, model: str = "", task_type: str = "",
                 input: dict[str, Any] | None = None, sent_at: float = 0.0) -> None:
        super().__init__(message)
        self.model = model
        self.task_type = task_type
        self.input = dict(input or {})
        self.sent_at = sent_at

    def __reduce__(self) -> Any:
        return (_rebuild_create_unknown,
                (self.args[0] if self.args else "", self.model, self.task_type, self.input,
                 self.sent_at))


def _rebuild_create_unknown(message: str, model: str, task_type: str, input: dict[str, Any],
                            sent_at: float) -> CreateOutcomeUnknownError:
    return CreateOutcomeUnknownError(message, model=model, task_type=task_type, input=input,
                                     sent_at=sent_at)


class ProtocolError(QubicoError):
    """The server answered with something that is not what the API promises (not JSON, no task)."""


class APIStatusError(QubicoError):
    """The server answered with an error status; ``status``, ``code`` and ``message`` say which."""

    def __init__(self, message: str, *, status: int, code: int | None = None,
                 server_message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = server_message
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    """400: the request was refused as invalid; the message names the field."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this (e.g. uploads on the free plan)."""


class NotFoundError(APIStatusError):
    """404: no such task (or endpoint)."""


class RateLimitError(APIStatusError):
    """429: too many requests or too many tasks at once; ``retry_after`` says how long to wait."""


class ServerError(APIStatusError):
    """5xx: the service failed; retrying later usually helps."""


class TaskFailedError(QubicoError):
    """A task ended in ``failed``; ``task`` holds it, with ``task.error`` saying why."""

    def __init__(self, task: Task) -> None:
        reason = task.error.message if task.error else "no reason given"
        super().__init__(f"task {task.id} failed: {reason}")
        self.task = task


class WaitTimeoutError(QubicoError, TimeoutError):
    """A wait ran out of time; ``task_id`` and ``last_status`` say where it stood."""

    def __init__(self, task_id: str, last_status: str | None, timeout: float) -> None:
        super().__init__(
            f"task {task_id} was still {last_status or 'unknown'} after {timeout:g} s; "
            f"wait again with a longer timeout, or check it later with get_task({task_id!r})"
        )
        self.task_id = task_id
        self.last_status = last_status
        self.timeout = timeout


#: Errors that asking again later may cure (network, timeouts, 5xx, 429).
TRANSIENT_ERRORS: tuple[type[QubicoError], ...] = (
    APIConnectionError, APITimeoutError, ServerError, RateLimitError)
#: Errors that asking again will not cure (unknown id, bad key, bad request).
PERMANENT_ERRORS: tuple[type[QubicoError], ...] = (
    NotFoundError, AuthenticationError, PermissionDeniedError, BadRequestError,
    InvalidRequestError)

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}

_ADVICE = {
    400: "check the request's fields",
    401: "check the API key (QUBICO_API_KEY)",
    403: "this plan or key may not do that",
    404: "check the task id",
    429: "slow down, or wait for running tasks to finish",
}


def status_error(status: int, server_message: str, *, code: int | None = None,
                 what: str = "request", retry_after: float | None = None) -> APIStatusError:
    """The APIStatusError subclass for an HTTP status, with a message that says what to do."""
    cls = _STATUS_CLASSES.get(status, ServerError if status >= 500 else APIStatusError)
    advice = _ADVICE.get(status, "try again later" if status >= 500 else "see the message")
    detail = f": {server_message}" if server_message else ""
    text = f"{what} failed with HTTP {status}{detail} ({advice})"
    return cls(text, status=status, code=code, server_message=server_message,
               retry_after=retry_after)
