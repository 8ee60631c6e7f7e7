"""The sandbox's one route table: every route answers, wrong methods get 405 with Allow."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import requests

from qubico_nb.sandbox import ENDPOINTS, Sandbox, faults, routes, server

EXAMPLE_PATHS = {
    "create": "/api/v1/task",
    "get": "/api/v1/task/some-id",
    "cancel": "/api/v1/task/some-id",
    "history": "/api/open/tasks/histories",
    "account": "/account/info",
    "active": "/account/active_tasks",
    "upload": "/api/ephemeral_resource",
    "sync": "/sandbox/tasks/some-id/sync",
    "file": "/assets/demo.mp4",
}
PACKAGE = Path(routes.__file__).parent


def test_one_table_names_every_endpoint() -> None:
    assert set(EXAMPLE_PATHS) == set(ENDPOINTS)
    assert faults.ENDPOINTS is routes.ENDPOINTS
    for name, path in EXAMPLE_PATHS.items():
        route = next(r for r in routes.ROUTES if r.endpoint == name)
        for method in route.methods:
            assert routes.match(method, path).endpoint == name, (method, path)


def test_no_other_module_spells_a_route() -> None:
    """Paths live in routes.py only: server.py and faults.py hold no copy of them."""
    for module in ("server.py", "faults.py", "app.py"):
        source = (PACKAGE / module).read_text()
        for path in ("/api/v1/task", "/account/info", "/api/open/tasks", "ephemeral_resource"):
            assert path not in source, (module, path)
    assert '"405"' not in (PACKAGE / "server.py").read_text()


def test_server_module_is_only_plumbing() -> None:
    """server.py defines no endpoint behaviour: no World, Renderer or history of its own."""
    tree = ast.parse((PACKAGE / "server.py").read_text())
    names = {
        node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.ClassDef)
    }
    assert not names & {"_history", "_account", "_handle", "_file_bytes", "Sandbox"}
    assert server.SandboxHTTPServer.request_queue_size >= 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_wrong_method_is_405_with_allow(endpoint: str) -> None:
    route = next(r for r in routes.ROUTES if r.endpoint == endpoint)
    wrong = next(m for m in ("PUT", "PATCH", "DELETE", "POST", "GET") if m not in route.methods)
    with Sandbox() as sb:
        answer = requests.request(wrong, f"{sb.url}{EXAMPLE_PATHS[endpoint]}", timeout=5)
        assert answer.status_code == 405
        assert answer.json()["code"] == 405
        # One path may serve several routes (get and cancel): Allow lists all their methods.
        same_path = {m for r in routes.ROUTES if r.path == route.path for m in r.methods}
        assert set(answer.headers["Allow"].split(", ")) == same_path
        assert sb.requests["other"] == 1


def test_unknown_path_is_404_without_allow() -> None:
    with Sandbox() as sb:
        answer = requests.get(f"{sb.url}/api/v2/whatever", timeout=5)
        assert answer.status_code == 404 and "Allow" not in answer.headers
