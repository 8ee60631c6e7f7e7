"""Constants once: every environment variable name of ours is spelled in ``_constants.py`` only."""

from __future__ import annotations

import ast
from pathlib import Path

from qubico_nb import _constants

PACKAGE = Path(__file__).resolve().parent.parent / "qubico_nb"
PREFIXES = ("QUBICO_", "PIAPI_")


def spelled_names(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string literal (f-string pieces included) that starts with one of
    our variable prefixes: a variable name spelled where it should be imported."""
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith(PREFIXES)
    ]


def test_env_var_names_are_spelled_only_in_constants() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "_constants.py"
        for line, text in spelled_names(path.read_text(encoding="utf-8"))
    ]
    assert not found, "import these names from qubico_nb._constants:\n" + "\n".join(found)


def test_the_finder_finds_a_spelled_name() -> None:
    source = 'import os\nA = os.environ.get("QUBICO_X")\nB = f"PIAPI_{1}"\nC = "x QUBICO_Y"\n'
    assert spelled_names(source) == [(2, "QUBICO_X"), (3, "PIAPI_")]


def test_constants_holds_each_name_once() -> None:
    names = [
        value
        for key, value in vars(_constants).items()
        if key.endswith("_ENV") and isinstance(value, str)
    ]
    assert len(names) == len(set(names)), names
    assert {
        "QUBICO_NB_HUB_PROXY",
        "QUBICO_NB_PLAYBACK",
        "JUPYTERHUB_SERVICE_PREFIX",
        "QUBICO_DEMO_VIDEO",
        "QUBICO_RATER",
        "QUBICO_NB_DEMO_DIR",
        "QUBICO_NB_CACHE_DIR",
    } <= set(names)
