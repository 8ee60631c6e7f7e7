"""Webhooks in tests: a loopback receiver that keeps every POST, and a create body that asks
the sandbox to deliver to it."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any

from .sandbox import create_body


class Receiver:
    """A loopback HTTP server that keeps every POST it gets."""

    def __init__(self) -> None:
        received: list[tuple[dict[str, str], Any]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                headers = {k.lower(): v for k, v in self.headers.items()}
                received.append((headers, json.loads(self.rfile.read(length))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def with_hook(endpoint: str, secret: str = "s3cret", **overrides: Any) -> dict[str, Any]:
    """`create_body` with a webhook to `endpoint` carrying `secret`."""
    body = create_body(**overrides)
    body["config"] = {"webhook_config": {"endpoint": endpoint, "secret": secret}}
    return body
