"""Read a webhook Qubico sent: check its secret, then parse it into a `Task`."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from .errors import ProtocolError, QubicoError, WebhookVerificationError
from .models import Task

SECRET_HEADER = "x-webhook-secret"  # noqa: S105 - a header name, not a secret
#: Largest webhook body read; a task answer is a few kilobytes.
MAX_WEBHOOK_BYTES = 1024 * 1024


def parse_webhook(
    body: bytes | str | Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    *,
    secret: str | None = None,
) -> Task:
    """The Task a webhook carries. With `secret`, the ``x-webhook-secret`` header must match
    (compared in constant time), or `WebhookVerificationError` is raised before anything is
    parsed.

    Whatever `body` and `headers` hold, only `QubicoError` subclasses are raised:
    `WebhookVerificationError` for a failed check, `ProtocolError` for a body that is not a task.
    Deliveries can repeat for one task: compare ``task.status`` to what you already have.
    """
    if secret is not None:
        _verify(headers, secret)
    try:
        return Task.from_dict(_decode(body))
    except QubicoError:
        raise
    except Exception as err:  # a body no case foresaw: still only a QubicoError escapes
        raise ProtocolError(f"webhook body could not be read ({type(err).__name__})") from None


def _verify(headers: object, secret: object) -> None:
    if not isinstance(secret, (str, bytes)) or not secret:
        raise WebhookVerificationError("secret must be a non-empty string")
    expected = secret.encode("utf-8", "surrogatepass") if isinstance(secret, str) else secret
    given: object = b""
    if isinstance(headers, Mapping):
        try:
            given = next(
                (
                    v
                    for k, v in headers.items()
                    if isinstance(k, (str, bytes)) and _text(k).lower() == SECRET_HEADER
                ),
                b"",
            )
        except Exception:  # a mapping whose iteration fails
            given = b""
    elif headers is not None:
        raise WebhookVerificationError(
            f"headers must be a mapping of header names to values, got {type(headers).__name__}"
        )
    given_bytes = (
        given.encode("utf-8", "surrogatepass")
        if isinstance(given, str)
        else given
        if isinstance(given, bytes)
        else b""
    )
    if not hmac.compare_digest(given_bytes, expected):
        raise WebhookVerificationError(
            "webhook rejected: the x-webhook-secret header is missing or does not match your "
            "secret; do not trust this delivery"
        )


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("latin-1")


def _size_in_bytes(body: bytes | bytearray | memoryview | str) -> int:
    """The body's size as sent: a memoryview's bytes (not items), a str's UTF-8 bytes."""
    if isinstance(body, memoryview):
        return body.nbytes
    if isinstance(body, str):
        if len(body) > MAX_WEBHOOK_BYTES:  # every character is at least one byte
            return len(body)
        return len(body.encode("utf-8", "surrogatepass"))
    return len(body)


def _decode(body: object) -> object:
    if isinstance(body, (bytes, bytearray, memoryview, str)):
        if _size_in_bytes(body) > MAX_WEBHOOK_BYTES:
            raise ProtocolError(f"webhook body is larger than {MAX_WEBHOOK_BYTES:,} bytes")
        try:
            return json.loads(bytes(body) if not isinstance(body, str) else body)
        except (ValueError, RecursionError):
            raise ProtocolError("webhook body is not JSON") from None
    if isinstance(body, Mapping):
        return body
    raise ProtocolError(f"webhook body must be bytes, str or a mapping, got {type(body).__name__}")
