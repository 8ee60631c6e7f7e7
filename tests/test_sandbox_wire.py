"""The sandbox at wire speed: TCP_NODELAY on every connection, each answer in one send.

Two writes per answer (headers, then body) without TCP_NODELAY let Nagle's algorithm and the
client's delayed ACK stall every keep-alive request by ~40 ms; speed itself is measured in
benchmarks/bench.py, not here.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
import requests

from qubico_nb.sandbox import Sandbox, server


class _Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.writes.append(bytes(data))
        return len(data)


def _bare_handler() -> Any:
    handler = server._Handler.__new__(server._Handler)
    handler.wfile = _Recorder()
    handler.close_connection = False
    handler._slow_ms = 0.0
    handler.command = "GET"
    return handler


@pytest.mark.parametrize("status", [200, 404, 429])
def test_an_answer_is_one_write(status: int) -> None:
    handler = _bare_handler()
    handler._send(status, "application/json", b'{"code": 0}', headers={"Retry-After": "1"})
    (written,) = handler.wfile.writes
    head, body = written.split(b"\r\n\r\n", 1)
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"Content-Length: 11" in head and b"Retry-After: 1" in head
    assert body == b'{"code": 0}'


def test_connections_have_tcp_nodelay(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    original = server._Handler.setup

    def setup(self: Any) -> None:
        original(self)
        seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    monkeypatch.setattr(server._Handler, "setup", setup)
    with Sandbox() as sb, requests.Session() as session:
        for _ in range(3):
            assert session.get(f"{sb.url}/account/info", timeout=5).status_code == 200
    assert seen and all(seen)


def test_keep_alive_answers_stay_in_step() -> None:
    """Many answers on one connection, every kind: each is read whole and in order."""
    with Sandbox(preset="instant") as sb, requests.Session() as session:
        for _ in range(20):
            assert session.get(f"{sb.url}/account/info", timeout=5).status_code == 200
            assert session.get(f"{sb.url}/api/v1/task/x", timeout=5).status_code == 404
            assert session.head(f"{sb.url}/assets/demo.mp4", timeout=5).status_code == 200
            part = session.get(
                f"{sb.url}/assets/demo.mp4", headers={"Range": "bytes=0-9"}, timeout=5
            )
            assert part.status_code == 206 and len(part.content) == 10


def test_a_finished_task_is_rendered_once_per_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polling a finished task is a lookup; changing a render setting renders it afresh."""
    from qubico_nb.sandbox import render

    with Sandbox(preset="instant", schema="unified") as sb, requests.Session() as session:
        task_id = session.post(f"{sb.url}/api/v1/task", json=_body(), timeout=5).json()["data"][
            "task_id"
        ]
        first = session.get(f"{sb.url}/api/v1/task/{task_id}", timeout=5).content
        calls: list[str] = []
        real = render.Renderer.render
        monkeypatch.setattr(
            render.Renderer, "render", lambda self, *a: calls.append(a[0]) or real(self, *a)
        )
        for _ in range(5):
            assert session.get(f"{sb.url}/api/v1/task/{task_id}", timeout=5).content == first
        assert calls == []
        sb.public_url = "https://proxy.example.org/sb"  # as connect() does on JupyterHub
        moved = session.get(f"{sb.url}/api/v1/task/{task_id}", timeout=5).json()["data"]
        assert moved["output"]["audio_url"].startswith("https://proxy.example.org/sb/temp/")
        assert len(calls) == 1


def _body() -> dict[str, Any]:
    from .helpers.sandbox import create_body

    return create_body()
