"""The layering the architecture promises, read from the source: no import circles, and each
layer imports only what it may (client -> models -> frames -> html -> widgets)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "qubico_nb"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, *, module_level_only: bool) -> set[str]:
    """qubico_nb modules that `path` imports (TYPE_CHECKING imports included: a circle there is
    still a circle for a reader and for type checkers)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    nodes = ast.walk(tree) if not module_level_only else _module_level(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("qubico_nb"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("qubico_nb"):
                continue
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
    return {m for m in found if m in MODULES and m != name}


def _module_level(tree: ast.Module) -> list[ast.AST]:
    """Imports that run when the module is imported: top level, and under `if` (TYPE_CHECKING)."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        out.append(node)
        if isinstance(node, (ast.If, ast.Try)):
            stack.extend(ast.iter_child_nodes(node))
    return out


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _graph(*, module_level_only: bool) -> dict[str, set[str]]:
    return {
        name: _imports(path, module_level_only=module_level_only) for name, path in MODULES.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + ".") or node == "qubico_nb":
                continue  # a package re-exporting its own submodules is not a circle
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif not state.get(nxt):
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node)
    return cycles


def test_the_import_graph_has_no_circle() -> None:
    graph = _graph(module_level_only=False)
    assert _cycles(graph) == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def _external(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


WIDGETS = {"ipywidgets", "anywidget", "IPython", "traitlets"}
HTTP = {"requests", "urllib3", "http"}


#: Modules of pure facts the sandbox may share with the client side: leaves, importing nothing
#: else of qubico_nb, so sharing them makes neither side depend on the other.
SHARED_LEAVES = {
    "qubico_nb._media",
    "qubico_nb._constants",
    "qubico_nb._net",
    "qubico_nb.catalogue",
}


#: Small modules with one job each, importing nothing else of qubico_nb: anything may use them,
#: and they can never pull a layer in by the back door.
LEAVES = SHARED_LEAVES | {
    "qubico_nb._coerce",
    "qubico_nb._deadline",
    "qubico_nb._gc",
    "qubico_nb._version",
}


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_leaves_are_leaves(name: str) -> None:
    assert name in MODULES, f"{name} is gone: update LEAVES"
    assert _imports(MODULES[name], module_level_only=False) == set(), name


def test_the_leaf_check_finds_an_import() -> None:
    assert _imports(MODULES["qubico_nb.models"], module_level_only=False) >= {
        "qubico_nb._coerce",
        "qubico_nb._constants",
    }


def test_the_sandbox_imports_nothing_from_the_client_side() -> None:
    for name, path in MODULES.items():
        if name.startswith("qubico_nb.sandbox"):
            outside = {
                m
                for m in _imports(path, module_level_only=False)
                if not m.startswith("qubico_nb.sandbox")
            } - SHARED_LEAVES
            assert not outside, f"{name} imports {outside}"


PURE_LAYERS = sorted(
    {"qubico_nb.models", "qubico_nb.frames", "qubico_nb.errors", "qubico_nb.store.snapshot"}
    | {m for m in MODULES if m == "qubico_nb.html" or m.startswith("qubico_nb.html.")}
)


@pytest.mark.parametrize("module", PURE_LAYERS)
def test_pure_layers_touch_no_network_and_no_widgets(module: str) -> None:
    if module not in MODULES:
        pytest.skip(f"{module} does not exist")
    path = MODULES[module]
    assert not (_external(path) & (WIDGETS | HTTP)), module
    inner = _imports(path, module_level_only=False)
    assert not inner & {
        "qubico_nb.client",
        "qubico_nb._transport",
        "qubico_nb.viewer",
        "qubico_nb.connection",
    }, f"{module} imports {inner}"


def test_where_a_file_plays_from_is_decided_without_widgets_or_http() -> None:
    """`playback` sits between html and the widgets: it fetches bytes only through a function
    the widget hands it (the client's), so the views that call it stay free of HTTP."""
    path = MODULES["qubico_nb.playback"]
    assert not (_external(path) & (WIDGETS | HTTP))
    assert not _imports(path, module_level_only=False) & {
        "qubico_nb.client",
        "qubico_nb._transport",
        "qubico_nb.connection",
        "qubico_nb.viewer",
        "qubico_nb.comparison",
    }


def test_widgets_never_talk_http() -> None:
    for name, path in MODULES.items():
        if WIDGETS & _external(path) and not name.endswith("_hosts"):
            assert not (_external(path) & HTTP), f"{name} imports an HTTP library"
            assert "qubico_nb._transport" not in _imports(path, module_level_only=False), name


def test_listening_is_pure_and_knows_no_board() -> None:
    """qubico_nb.listening: functions over DataFrames, which the board calls, never the reverse."""
    listening = {n: p for n, p in MODULES.items() if n.startswith("qubico_nb.listening")}
    assert listening
    for name, path in listening.items():
        assert not (_external(path) & (WIDGETS | HTTP)), name
        outside = {
            m
            for m in _imports(path, module_level_only=False)
            if not m.startswith("qubico_nb.listening")
        }
        assert not outside, f"{name} imports {outside}"
