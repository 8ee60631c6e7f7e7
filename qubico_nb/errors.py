"""One error hierarchy for everything qubico_nb raises; every message says what to do next.

Every error is an ordinary exception: it has ``args``, is hashable, and survives `pickle` and
`copy.deepcopy` with all its fields (batches run in worker processes). This module imports
only `_constants` of the package, so anything may import it.
"""

from __future__ import annotations

from typing import Any

from ._constants import API_KEY_ENV


def _rebuild(
    cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]
) -> BaseException:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class QubicoError(Exception):
    """Base class of every qubico_nb error."""

    def __reduce__(self) -> Any:
        # Rebuilt from args and fields, not by calling __init__ again (whose signature differs
        # from class to class), so pickle and deepcopy keep every field.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class ConfigurationError(QubicoError, ValueError):
    """The client is set up wrongly (no API key, an insecure URL, a bad argument)."""


class InvalidRequestError(QubicoError, ValueError):
    """An argument fails the API's rules; caught before anything is sent."""


class APIConnectionError(QubicoError):
    """The server could not be reached, or the connection broke before an answer came."""


class APITimeoutError(QubicoError):
    """The server took longer than the client's ``timeout`` to answer."""


class CreateOutcomeUnknownError(APIConnectionError):
    """A create was sent but its answer was lost (cut off, timed out, not JSON, 502/504): the task
    may exist and be billed. ``model``, ``task_type``, ``input`` and ``sent_at`` (Unix seconds)
    identify it; look for it with ``client.history(model=..., since=sent_at - 60)`` before
    sending it again. It is never retried automatically."""

    def __init__(
        self,
        message: str,
        *,
        model: str = "",
        task_type: str = "",
        input: dict[str, Any] | None = None,
        sent_at: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.task_type = task_type
        self.input = dict(input or {})
        self.sent_at = sent_at


class ProtocolError(QubicoError):
    """The server answered with something that is not what the API promises (not JSON, no task)."""


class MalformedResponseError(ProtocolError):
    """An answer could not be read at all (not JSON, corrupt compression, cut short): often a
    proxy or captive portal in the way, so reads are asked again."""


class ResponseTooLargeError(ProtocolError):
    """An answer or file was larger than its cap (``limit`` bytes, counted after
    decompression); it was not read further."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class APIStatusError(QubicoError):
    """The server answered with an error status: ``status`` (HTTP), ``code`` (the envelope's),
    ``server_message`` (only the server's own text, redacted; ``str(error)`` is the full
    explanation) and ``retry_after`` (seconds, from a ``Retry-After`` header)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | None = None,
        server_message: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.server_message = server_message
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        """Read-only alias of ``server_message`` (its old name)."""
        return self.server_message


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
    """A task ended in ``failed``; ``task`` holds it (a `Task`), with ``task.error`` saying why."""

    def __init__(self, task: Any) -> None:
        error = getattr(task, "error", None)
        reason = getattr(error, "message", None) or "no reason given"
        super().__init__(f"task {getattr(task, 'id', '?')!r} failed: {reason}")
        self.task = task


class WebhookVerificationError(QubicoError):
    """A webhook failed its check (a missing or wrong secret): it was not parsed; do not trust
    it. Not an HTTP error of ours: answer the sender 401 yourself if you like."""


class WaitTimeoutError(QubicoError, TimeoutError):
    """A wait ran out of time; ``task_id`` and ``last_status`` say where it stood."""

    def __init__(self, task_id: str, last_status: str | None, timeout: float) -> None:
        super().__init__(
            f"task {task_id!r} was still {last_status or 'unknown'} after {timeout:g} s; "
            f"wait again with a longer timeout, or check it later with get_task({task_id!r})"
        )
        self.task_id = task_id
        self.last_status = last_status
        self.timeout = timeout


#: Errors that asking again later may cure (network, timeouts, unreadable answers, 5xx, 429).
#: The one list: `RetryPolicy` (``_retry.py``) decides single requests with it and its table of
#: statuses; the viewer and `wait` ride these out.
TRANSIENT_ERRORS: tuple[type[QubicoError], ...] = (
    APIConnectionError,
    APITimeoutError,
    MalformedResponseError,
    ServerError,
    RateLimitError,
)
#: Errors that asking again will not cure (unknown id, bad key, bad request).
PERMANENT_ERRORS: tuple[type[QubicoError], ...] = (
    NotFoundError,
    AuthenticationError,
    PermissionDeniedError,
    BadRequestError,
    InvalidRequestError,
)

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}

_ADVICE = {
    400: "check the request's fields",
    401: f"check the API key ({API_KEY_ENV})",
    403: "this plan or key may not do that",
    404: "check the task id",
    429: "slow down, or wait for running tasks to finish",
}


def status_error(
    status: int,
    server_message: str,
    *,
    code: int | None = None,
    what: str = "request",
    retry_after: float | None = None,
) -> APIStatusError:
    """The APIStatusError subclass for an HTTP status, with a message that says what to do."""
    cls = _STATUS_CLASSES.get(status, ServerError if status >= 500 else APIStatusError)
    advice = _ADVICE.get(status, "try again later" if status >= 500 else "see the message")
    detail = f": {server_message}" if server_message else ""
    text = f"{what} failed with HTTP {status}{detail} ({advice})"
    return cls(
        text, status=status, code=code, server_message=server_message, retry_after=retry_after
    )
