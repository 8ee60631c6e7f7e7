"""Read a webhook Qubico sent: check its secret, then parse it into a `Task`."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from .errors import AuthenticationError, ProtocolError
from .models import Task

SECRET_HEADER = "x-webhook-secret"  # noqa: S105 - a header name, not a secret


def parse_webhook(body: bytes | str | Mapping[str, Any], headers: Mapping[str, str] | None = None,
                  *, secret: str | None = None) -> Task:
    """The Task a webhook carries. With `secret`, the ``x-webhook-secret`` header must match
    (compared in constant time), or `AuthenticationError` is raised before anything is parsed.

    Deliveries can repeat for one task: compare ``task.status`` to what you already have.
    """
    if secret is not None:
        given = next((v for k, v in (headers or {}).items() if k.lower() == SECRET_HEADER), "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise AuthenticationError(
                "webhook rejected: the x-webhook-secret header does not match your secret",
                status=401)
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ProtocolError("webhook body is not JSON") from None
    return Task.from_dict(body)
